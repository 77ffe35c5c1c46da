"""Writing video files: running ffmpeg, frames to H.264 MP4, and small clips of a moving square.

ffmpeg always writes to a hidden temporary name beside the target, which is renamed only once the
output is complete, so no half-written video is left under the target's name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import VideorecError

FFMPEG_OPTIONS = ("-hide_banner", "-loglevel", "error", "-nostdin", "-y")
"""Options of every ffmpeg run: quiet but for errors, never reading the terminal, overwriting."""

H264_FROM_FRAMES = ("-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-threads", "1",
                    "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-an")
"""Output options of :func:`write_h264`: H.264, yuv420p, index at the front, no audio."""


def require_ffmpeg(purpose: str = "to write H.264 MP4 files", alternative: str = "") -> str:
    """Return the ffmpeg executable; else raise "ffmpeg is needed <purpose>; install it (make setup)<alternative>"."""
    exe = shutil.which("ffmpeg")
    if not exe:
        raise VideorecError(f"ffmpeg is needed {purpose}; install it (make setup){alternative}")
    return exe


def run_ffmpeg(args: Sequence[str], dst, *, stdin: Optional[bytes] = None,
               timeout: Optional[float] = None) -> Optional[str]:
    """Run ffmpeg with ``args`` (its inputs and output options) to write ``dst``.

    Returns None once ``dst`` holds the output, else why not in one line (ffmpeg's last error
    line, or its exit status). The container follows ``dst``'s suffix. On any failure, a
    ``subprocess.TimeoutExpired`` after ``timeout`` seconds included, no temporary file is left.
    """
    dst = Path(dst)
    exe = require_ffmpeg()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.part{os.getpid()}{dst.suffix}")
    try:
        proc = subprocess.run([exe, *FFMPEG_OPTIONS, *map(str, args), str(tmp)], input=stdin,
                              capture_output=True, timeout=timeout)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        lines = [line.strip() for line in proc.stderr.decode(errors="replace").splitlines() if line.strip()]
        return lines[-1][:200] if lines else f"exit {proc.returncode}"
    os.replace(tmp, dst)
    return None


def write_h264(frames: np.ndarray, path, fps: float = 25) -> None:
    """Write ``(n, h, w, 3)`` uint8 BGR frames to ``path`` as H.264 MP4 (see ``H264_FROM_FRAMES``)."""
    _, h, w, _ = frames.shape
    reason = run_ffmpeg(["-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-",
                         *H264_FROM_FRAMES], path, stdin=np.ascontiguousarray(frames).tobytes())
    if reason:
        raise VideorecError(f"ffmpeg could not write {path}: {reason}")


def ffmpeg_convert(src, dst, *args: str) -> Path:
    """Convert ``src`` to ``dst`` with ffmpeg output options ``args`` (e.g. ``-c:v libx264``); return ``dst``."""
    dst = Path(dst)
    reason = run_ffmpeg(["-i", str(src), *args], dst)
    if reason:
        raise VideorecError(f"ffmpeg could not make {dst.name}: {reason}")
    return dst


def moving_square_frames(n_frames: int = 24, size: tuple[int, int] = (64, 48), dx: int = 2,
                         color: tuple[int, int, int] = (0, 200, 255), seed: int = 0) -> list[np.ndarray]:
    """Return BGR frames of a square moving ``dx`` pixels per frame over a noisy background."""
    import cv2

    width, height = size
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    frames = []
    side = max(4, min(width, height) // 4)
    for i in range(n_frames):
        frame = background.copy()
        x = (5 + i * dx) % max(1, width - side)
        y = height // 2 - side // 2
        cv2.rectangle(frame, (x, y), (x + side, y + side), color, -1)
        frames.append(frame)
    return frames


def write_video(path, frames: Optional[list[np.ndarray]] = None, fourcc: str = "MJPG",
                fps: float = 25.0, **frame_kwargs) -> Path:
    """Write ``frames`` (default: :func:`moving_square_frames` of ``frame_kwargs``) with OpenCV's
    ``fourcc`` codec; return the path."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = frames if frames is not None else moving_square_frames(**frame_kwargs)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise VideorecError(f"OpenCV cannot write {fourcc} to {path}")
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path
