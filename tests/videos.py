"""Real video files for tests, written with OpenCV (and ffmpeg where a codec needs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np


def moving_square_frames(n_frames: int = 24, size: tuple[int, int] = (64, 48), dx: int = 2,
                         color: tuple[int, int, int] = (0, 200, 255), seed: int = 0) -> list[np.ndarray]:
    """Return BGR frames of a square moving ``dx`` pixels per frame over a noisy background."""
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


def write_video(path: str | Path, frames: list[np.ndarray] | None = None, fourcc: str = "MJPG",
                fps: float = 25.0, **frame_kwargs) -> Path:
    """Write ``frames`` (default: a moving square) with OpenCV's ``fourcc`` codec; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = frames if frames is not None else moving_square_frames(**frame_kwargs)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} to {path}")
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def ffmpeg_convert(src: Path, dst: Path, *args: str) -> Path:
    """Run ffmpeg ``src`` -> ``dst`` with extra output ``args`` (e.g. ``-c:v libx264``)."""
    if not shutil.which("ffmpeg"):
        raise RuntimeError("ffmpeg is required for this test (make setup installs it)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return dst
