"""The project's user-facing error: one line that says what failed and how to fix it."""


class VideorecError(Exception):
    """An error caused by the user's input or environment; the CLI prints it on one line (exit 2)."""


class DatabaseError(VideorecError):
    """FiftyOne's database could not be started or reached."""


def one_line_reason(error: BaseException) -> str:
    """Return why a sample failed, on one line: the error's ``reason`` if it has one, else its message or type.

    Kept on the sample (and printed by the CLI), so a bad file is named but never fatal to the others.
    """
    lines = str(getattr(error, "reason", None) or error).splitlines()
    return lines[0] if lines and lines[0] else type(error).__name__
