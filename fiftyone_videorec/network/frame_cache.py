"""Decoded frames per video on disk, so that training decodes each video once, not every epoch.

Each entry holds up to ``CACHE_FACTOR * n_frames`` frames sampled every ``frame_step`` (scaled
to the video's own frame rate), at the preset's image size: room for random temporal offsets.
The cache lives in ``config.cache_dir()`` and is safe to delete.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path

import numpy as np

from .. import config
from ..frames import DecodeError, clip_indices, clip_starts, probe, read_frames, step_for_rate
from .model import Preset
from ..progress import ProgressFn, report
from ..vectors import mean_of_clips

logger = logging.getLogger(__name__)

CACHE_FACTOR = 2  # frames stored per video = CACHE_FACTOR * n_frames (room for random offsets)


class FrameCache:
    """Decoded frames per video on disk, keyed by path + size + mtime + frame settings."""

    def __init__(self, preset: Preset, root: Path | None = None):
        self.preset, self.root = preset, Path(root or config.cache_dir())
        self.root.mkdir(parents=True, exist_ok=True)
        self.decoded = self.hits = 0

    def path_for(self, video: str) -> Path:
        st = Path(video).stat()
        p = self.preset
        key = (f"{Path(video).resolve()}|{st.st_size}|{st.st_mtime_ns}|{p.n_frames}|{p.frame_step}|{p.image_size}"
               f"|{p.reference_fps}|{CACHE_FACTOR}")
        return self.root / f"{hashlib.sha1(key.encode()).hexdigest()}.npy"

    def frames(self, video: str) -> np.ndarray:
        """Return the cached ``(k, S, S, 3)`` frames of ``video``, decoding it on a miss."""
        if not Path(video).is_file():
            raise DecodeError(video, "file not found")
        path = self.path_for(video)
        if path.is_file():
            self.hits += 1
            return np.load(path, mmap_mode="r")
        p = self.preset
        total, fps = probe(video)
        step = step_for_rate(p.frame_step, fps, p.reference_fps)  # the same seconds at any frame rate
        available = math.ceil(max(1, total) / step)
        stored = max(p.n_frames, min(CACHE_FACTOR * p.n_frames, available))
        frames = read_frames(video, clip_indices(0, stored, step), p.image_size)
        self.decoded += 1
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, frames)
        tmp.replace(path)  # atomic: a killed run never leaves half a cache entry
        return frames

    def load_splits(self, splits: dict, progress: ProgressFn | None = None) -> tuple[dict, dict]:
        """Decode (or read) every clip of ``{split: (paths, labels)}``; return ``{split: (frames, labels, paths)}``
        of the clips decoded and ``{path: reason}`` for those that could not be (skipped, not fatal)."""
        total = sum(len(f) for f, _ in splits.values()) or 1
        loaded, skipped, done = {}, {}, 0
        for name, (paths, labels) in splits.items():
            frames, kept, kept_paths = [], [], []
            for path, label in zip(paths, labels):
                try:
                    frames.append(self.frames(path))
                    kept.append(label)
                    kept_paths.append(path)
                except DecodeError as e:
                    skipped[path] = e.reason
                    logger.warning("skipping %s: %s", path, e.reason)
                done += 1
                report(progress, done / total, f"decoding clips {done}/{total}")
            loaded[name] = (frames, kept, kept_paths)
        return loaded, skipped


def center_window(frames: np.ndarray, n_frames: int) -> np.ndarray:
    """Return the middle ``n_frames`` of cached frames (the fixed inference offset)."""
    start = (len(frames) - n_frames) // 2
    return np.asarray(frames[start:start + n_frames])


def embed_cached(embedder, frames: list, preset: Preset, clips: int = config.DEFAULT_CLIPS,
                 batch_size: int = 32) -> np.ndarray:
    """Return one unit vector per cached video: the mean of ``clips`` evenly spaced unit-length
    window embeddings, averaged by the same code as the FiftyOne model's ``clips=N``."""
    n = preset.n_frames
    windows = np.stack([np.asarray(f[s:s + n]) for f in frames for s in clip_starts(len(f), n, 1, clips)])
    return mean_of_clips(embedder.predict(windows, batch_size=batch_size, verbose=0).astype(np.float32), clips)
