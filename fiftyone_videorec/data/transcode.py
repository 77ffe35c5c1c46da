"""Re-encode videos to browser-friendly H.264 MP4 (the only video the FiftyOne App plays)."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Iterable, Optional

from tqdm import tqdm

from ..progress import ProgressFn, report
from .video_files import require_ffmpeg, run_ffmpeg

H264_ARGS = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
             "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-movflags", "+faststart", "-an"]


def is_up_to_date(src: Path, dst: Path) -> bool:
    """True when ``dst`` exists, is not empty and is newer than ``src``."""
    try:
        return dst.stat().st_size > 0 and dst.stat().st_mtime >= Path(src).stat().st_mtime
    except OSError:
        return False


def transcode(src, dst, *, force: bool = False) -> Optional[str]:
    """Re-encode ``src`` to H.264 MP4 at ``dst``; returns None on success, else a one-line reason.

    The output is written to a temporary name and renamed, so no half-written file is left.
    """
    src, dst = Path(src), Path(dst)
    if not force and is_up_to_date(src, dst):
        return None
    if not src.is_file():
        return f"no such file: {src}"
    try:
        reason = run_ffmpeg(["-i", str(src), *H264_ARGS], dst, timeout=600)
    except subprocess.TimeoutExpired:
        return "ffmpeg timed out"
    return None if reason is None else f"ffmpeg failed: {reason}"


def transcode_many(pairs: Iterable[tuple], *, workers: Optional[int] = None, progress: ProgressFn | None = None,
                   show_bar: bool = True, force: bool = False) -> dict:
    """Re-encode each ``(src, dst)`` in parallel; returns ``{src: None | reason}``."""
    pairs = [(Path(s), Path(d)) for s, d in pairs]
    results: dict = {}
    if not pairs:
        return results
    require_ffmpeg()
    workers = workers or max(1, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(pairs), desc="H.264", unit="video", disable=not show_bar, leave=False) as bar:
        futures = {pool.submit(transcode, s, d, force=force): s for s, d in pairs}
        for done, fut in enumerate(as_completed(futures), 1):
            src = futures[fut]
            try:
                results[src] = fut.result()
            except Exception as exc:  # one bad file never stops the rest
                results[src] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            bar.update(1)
            report(progress, done / len(pairs), f"re-encoded {done}/{len(pairs)} videos")
    return results
