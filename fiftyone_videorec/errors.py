"""The project's user-facing error: one line that says what failed and how to fix it."""


class VideorecError(Exception):
    """An error caused by the user's input or environment; the CLI prints it on one line (exit 2)."""


class DatabaseError(VideorecError):
    """FiftyOne's database could not be started or reached."""
