"""The model's two streams as traced inference calls: motion from clips, appearance from frames.

Motion is the trained (2+1)D network of a model folder; appearance is the frozen ImageNet frame
network (:mod:`..network.backbone`). Each is wrapped in ``tf.function`` on first use: eager calls
cost more than the small network itself. Rows of every result are unit vectors.
"""

from __future__ import annotations

import numpy as np

from ..vectors import l2_normalize, mean_of_clips


class MotionStream:
    """The trained network of a model folder: stacks of clips in, a unit vector and mean logits per video out."""

    def __init__(self, model_dir):
        import keras

        from ..network.model import load_trained

        trained = load_trained(model_dir)
        self.metadata = trained.metadata  # what training saved, the sampling of its clips included
        self.network = keras.Model(trained.classifier.input, [trained.embedder.output, trained.classifier.output])
        self._forward = None

    def vectors(self, clip_stacks: list[np.ndarray], batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (unit motion vectors, mean logits), one row per video, ``batch_size`` clips per call."""
        flat = np.concatenate(clip_stacks)
        if self._forward is None:
            import tensorflow as tf

            self._forward = tf.function(lambda x: self.network(x, training=False), reduce_retracing=True)
        vectors, logits = [], []
        for start in range(0, len(flat), batch_size):
            emb, lg = self._forward(flat[start:start + batch_size])
            vectors.append(np.asarray(emb, np.float32))
            logits.append(np.asarray(lg, np.float32))
        vectors, logits = np.concatenate(vectors), np.concatenate(logits)
        bounds = np.cumsum([0] + [len(s) for s in clip_stacks])
        per_video_logits = np.stack([logits[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
        return mean_of_clips(vectors, [len(s) for s in clip_stacks]), per_video_logits


class AppearanceStream:
    """The ImageNet frame network at ``image_size`` pixels: frames in, unit features out."""

    def __init__(self, image_size: int):
        from ..network.backbone import load_backbone

        self.network = load_backbone(image_size)
        self._forward = None

    def features(self, frames: np.ndarray, batch_size: int) -> np.ndarray:
        """Return the unit ImageNet feature of each ``(A, A, 3)`` uint8 frame, ``(len(frames), 1280)``."""
        if self._forward is None:
            import tensorflow as tf

            self._forward = tf.function(lambda x: self.network(x, training=False)[0], reduce_retracing=True)
        batch = max(batch_size, 16)
        out = [np.asarray(self._forward(frames[i:i + batch]), np.float32) for i in range(0, len(frames), batch)]
        return l2_normalize(np.concatenate(out)) if out else np.zeros((0, 1280), np.float32)

    def vectors(self, frame_stacks: list[np.ndarray], batch_size: int) -> np.ndarray:
        """Return one unit appearance vector per video: the mean of its frames' unit features."""
        return mean_of_clips(self.features(np.concatenate(frame_stacks), batch_size), [len(s) for s in frame_stacks])
