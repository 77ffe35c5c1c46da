"""Session-scoped data fixtures shared by every stage's tests (owned by the Data work)."""
