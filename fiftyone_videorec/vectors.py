"""Vector maths shared by embedding, search and evaluation: unit vectors and cosine ranking.

Everything here works on plain NumPy arrays and imports nothing else from the package, so any
module may use it without pulling in models, datasets or indexes.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Return ``x`` with each row (last axis) scaled to unit length; all-zero rows stay zero."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Return class probabilities along the last axis (float64, stable for large logits)."""
    logits = np.asarray(logits, np.float64)
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def mean_of_clips(vectors: np.ndarray, clips_per_video: int | Sequence[int]) -> np.ndarray:
    """Return one unit vector per video: the mean of its unit-length clip vectors, renormalised.

    ``vectors`` holds the clip vectors of all videos, video after video. ``clips_per_video`` is
    either the number of clips every video has or each video's own count, in the same order.
    """
    vectors = np.asarray(vectors)
    if isinstance(clips_per_video, (int, np.integer)):
        counts = [int(clips_per_video)] * (len(vectors) // max(int(clips_per_video), 1))
    else:
        counts = [int(c) for c in clips_per_video]
    if min(counts, default=1) < 1 or sum(counts) != len(vectors):
        raise ValueError(f"clip counts {counts} do not split {len(vectors)} vectors into whole videos")
    unit = l2_normalize(vectors)
    bounds = np.cumsum([0] + counts)
    return l2_normalize(np.stack([unit[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])]))


def fuse(appearance: np.ndarray | None, motion: np.ndarray | None, weight: float) -> np.ndarray:
    """Return unit vectors joining two streams' unit vectors (rows are videos):
    ``[sqrt(weight) * appearance, sqrt(1 - weight) * motion]``, whose cosine is
    ``weight * appearance cosine + (1 - weight) * motion cosine``. A missing stream is left out."""
    if appearance is None or motion is None:
        return motion if appearance is None else appearance
    return np.concatenate([np.sqrt(weight) * np.asarray(appearance), np.sqrt(1.0 - weight) * np.asarray(motion)],
                          axis=1).astype(np.float32)


def rank_gallery(query_vectors: np.ndarray, gallery_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(indices, scores)`` of shape (queries, k): the k most cosine-similar gallery rows."""
    sims = l2_normalize(np.asarray(query_vectors, float)) @ l2_normalize(np.asarray(gallery_vectors, float)).T
    k = min(k, sims.shape[1])
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)


def top_k_cosine(unit_gallery: np.ndarray, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(indices, scores)`` of the ``k`` rows of ``unit_gallery`` (already unit length) most
    cosine-similar to ``vector``, best first; scores in the gallery's dtype.

    A partial sort: for one query over a large gallery this is faster than :func:`rank_gallery`.
    """
    sims = unit_gallery @ l2_normalize(np.asarray(vector, float)).astype(unit_gallery.dtype)
    k = min(k, len(sims))
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top], kind="stable")]
    return top, sims[top]
