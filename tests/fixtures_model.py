"""Session-scoped model fixtures shared by every stage's tests (owned by the Model work)."""
