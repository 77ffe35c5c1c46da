"""Per-frame ImageNet features per video on disk, so each video goes through the frame network once.

Training's evaluation of the fused vector and the benchmarks need the appearance stream of the
same clips again and again; the frozen network's features never change for a given file,
weights file and frame settings. Each entry is ``(frames, 1280)`` float32 unit vectors, keyed by
the video's path, size and mtime, the weights' sha256 and the frame settings. It lives beside
the frame cache (``config.cache_dir()``) and is safe to delete.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from .. import config
from ..frames import DecodeError, read_views
from ..progress import ProgressFn, report
from ..vectors import l2_normalize, mean_of_clips

logger = logging.getLogger(__name__)


class AppearanceCache:
    """Unit ImageNet features of ``frames`` evenly spread frames per video, at ``size`` pixels."""

    def __init__(self, frames: int = config.APPEARANCE_FRAMES, size: int = config.APPEARANCE_SIZE,
                 root: Path | None = None):
        from .backbone import backbone_fingerprint

        self.frames, self.size = int(frames), int(size)
        self.root = Path(root or config.cache_dir() / "appearance")
        self.root.mkdir(parents=True, exist_ok=True)
        self.weights_sha = backbone_fingerprint()
        self._network = None
        self.computed = self.hits = 0

    def path_for(self, video: str) -> Path:
        st = Path(video).stat()
        key = f"{Path(video).resolve()}|{st.st_size}|{st.st_mtime_ns}|{self.weights_sha}|{self.frames}|{self.size}"
        return self.root / f"{hashlib.sha1(key.encode()).hexdigest()}.npy"

    def _features(self, frames: np.ndarray) -> np.ndarray:
        if self._network is None:  # a traced call: Keras' predict costs ~80 ms a call, more than 4 frames
            import tensorflow as tf

            from .backbone import load_backbone

            backbone = load_backbone(self.size)
            self._network = tf.function(lambda x: backbone(x, training=False)[0], reduce_retracing=True)
        return l2_normalize(np.concatenate([np.asarray(self._network(frames[i:i + 32]), np.float32)
                                            for i in range(0, len(frames), 32)]))

    def frame_features(self, video: str) -> np.ndarray:
        """Return the cached ``(frames, 1280)`` unit features of ``video``, computing them on a miss."""
        if not Path(video).is_file():
            raise DecodeError(video, "file not found")
        path = self.path_for(video)
        if path.is_file():
            try:
                features = np.load(path)
                if features.shape == (self.frames, 1280):
                    self.hits += 1
                    return features
            except (OSError, ValueError):
                pass  # a damaged entry: compute it again
        features = self._features(read_views(video, frame_spec=(self.frames, self.size)).frames)
        self.computed += 1
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, features)
        tmp.replace(path)  # atomic: a killed run never leaves half an entry
        return features

    def video_vectors(self, videos: list[str], progress: ProgressFn | None = None) -> np.ndarray:
        """Return one unit appearance vector per video (the mean of its frames' unit features)."""
        stacks = []
        for i, video in enumerate(videos):
            stacks.append(self.frame_features(video))
            report(progress, (i + 1) / max(len(videos), 1), f"ImageNet features {i + 1}/{len(videos)}")
        if not stacks:
            return np.zeros((0, 1280), np.float32)
        return mean_of_clips(np.concatenate(stacks), [len(s) for s in stacks])
