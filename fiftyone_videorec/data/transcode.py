"""Re-encode videos to browser-friendly H.264 MP4 (the only video the FiftyOne App plays)."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Iterable, Optional

from ..errors import VideorecError
from ..progress import ProgressFn, report

H264_ARGS = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
             "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-movflags", "+faststart", "-an"]


def _require_ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if not exe:
        raise VideorecError("ffmpeg is needed to write H.264 MP4 files; install it (make setup)")
    return exe


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
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.part{os.getpid()}.mp4")
    cmd = [_require_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(src),
           *H264_ARGS, str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        tmp.unlink(missing_ok=True)
        return "ffmpeg timed out"
    if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()]
        return "ffmpeg failed: " + (lines[-1][:200] if lines else f"exit {proc.returncode}")
    os.replace(tmp, dst)
    return None


def transcode_many(pairs: Iterable[tuple], *, workers: Optional[int] = None, progress: ProgressFn | None = None,
                   show_bar: bool = True, force: bool = False) -> dict:
    """Re-encode each ``(src, dst)`` in parallel; returns ``{src: None | reason}``."""
    pairs = [(Path(s), Path(d)) for s, d in pairs]
    results: dict = {}
    if not pairs:
        return results
    _require_ffmpeg()
    workers = workers or max(1, os.cpu_count() or 1)
    try:
        from tqdm import tqdm
        bar = tqdm(total=len(pairs), desc="H.264", unit="video", disable=not show_bar, leave=False)
    except ImportError:  # pragma: no cover
        bar = None
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(transcode, s, d, force=force): s for s, d in pairs}
        for done, fut in enumerate(as_completed(futures), 1):
            src = futures[fut]
            try:
                results[src] = fut.result()
            except Exception as exc:  # one bad file never stops the rest
                results[src] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            if bar is not None:
                bar.update(1)
            report(progress, done / len(pairs), f"re-encoded {done}/{len(pairs)} videos")
    if bar is not None:
        bar.close()
    return results
