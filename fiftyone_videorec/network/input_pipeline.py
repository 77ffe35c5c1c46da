"""The tf.data pipeline that feeds training from cached frames.

A random window of ``n_frames`` out of the cached ones (a random temporal offset), one random
crop box per clip (the same in every frame, so motion stays consistent), contrast and brightness
jitter, and no horizontal flip (it would turn "moves left" into "moves right").
"""

from __future__ import annotations

import numpy as np

from .model import Preset


def clip_dataset(frames: list, labels: np.ndarray, preset: Preset, batch_size: int, training: bool, seed: int):
    """Return a batched ``tf.data.Dataset`` of ``(clip uint8/float, label)``; shuffled and jittered when training."""
    import tensorflow as tf

    n, rng = preset.n_frames, np.random.default_rng(seed)

    def clips():
        order = rng.permutation(len(frames)) if training else range(len(frames))
        for i in order:
            f = frames[i]
            start = rng.integers(0, len(f) - n + 1) if training else (len(f) - n) // 2
            yield np.asarray(f[start:start + n]), labels[i]

    size = preset.image_size
    spec = (tf.TensorSpec((n, size, size, 3), tf.uint8), tf.TensorSpec((), tf.int32))
    ds = tf.data.Dataset.from_generator(clips, output_signature=spec)
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(frames)))  # Keras then knows an epoch's length
    if training:
        def jitter(clip, label):  # one factor per clip, so motion stays consistent over time
            x = tf.cast(clip, tf.float32)
            if preset.crop_scale < 1:  # one random crop per clip, the same box in every frame
                side = tf.random.uniform((2,), preset.crop_scale, 1.0)
                corner = tf.random.uniform((2,)) * (1.0 - side)
                box = tf.concat([corner, corner + side], axis=0)[None]
                x = tf.image.crop_and_resize(x, tf.repeat(box, n, axis=0), tf.range(n), (size, size))
            x = tf.image.adjust_contrast(x, tf.random.uniform((), 0.8, 1.2))
            x = x + tf.random.uniform((), -20.0, 20.0)
            return tf.clip_by_value(x, 0.0, 255.0), label
        ds = ds.map(jitter, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
