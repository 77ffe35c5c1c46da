"""One progress-callback shape for every long-running library function.

Library functions take ``progress: ProgressFn | None``; the CLI shows tqdm bars itself, and the
FiftyOne operators forward the calls to ``ctx.set_progress(progress=fraction, label=label)``.
"""

from __future__ import annotations

from typing import Callable, Optional

ProgressFn = Callable[[float, str], None]
"""``progress(fraction, label)``: ``fraction`` in [0, 1], ``label`` a short human-readable line."""


def report(progress: Optional[ProgressFn], fraction: float, label: str) -> None:
    """Call ``progress`` if given, clamping ``fraction`` to [0, 1]."""
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))), label)


def scaled(progress: Optional[ProgressFn], start: float, end: float) -> Optional[ProgressFn]:
    """``progress`` for one stage of a longer job: the stage's own 0..1 becomes ``start``..``end``.

    None stays None, so a stage without a caller to tell costs nothing.
    """
    if progress is None:
        return None
    return lambda fraction, label: report(progress, start + (end - start) * fraction, label)
