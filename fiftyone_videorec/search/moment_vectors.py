"""A long video's windows as vectors, the way the model embeds a whole video.

A window's vector joins what the model joins: the mean of ``clips`` motion clips evenly spaced
inside it (cut from one decode of the whole video at the model's own sampling rate) and the mean
ImageNet feature of frames evenly spread over it. Overlapping windows share clips and frames, so
each is embedded once.
"""

from __future__ import annotations

import numpy as np

from ..frames import SampledVideo, clip_starts, frame_positions, read_sampled
from ..vectors import mean_of_clips

EMBED_CHUNK = 64  # clips per network call when embedding one video's windows


def _clip(frames: np.ndarray, start: int, n_frames: int) -> np.ndarray:
    """``n_frames`` samples from ``start``; past the end, the last frame repeats (as in ``read_clip``)."""
    clip = frames[start:start + n_frames]
    if len(clip) < n_frames:
        clip = np.concatenate([clip, np.repeat(clip[-1:], n_frames - len(clip), axis=0)])
    return clip


def sample_video(model, path) -> SampledVideo:
    """Return a whole video decoded the way ``model`` reads it: its motion frames and, when it
    uses ImageNet features, each sample's centre square."""
    sampling = model.sampling
    return read_sampled(path, sampling.frame_step, sampling.image_size if model.has_motion else None,
                        sampling.reference_fps, crop_size=model.frame_spec[1] if model.frame_spec else None)


def _window_rows(video: SampledVideo, bounds, count: int, positions) -> tuple[list[list[int]], list[int]]:
    """Sample rows used by each window (``positions(samples in window, count)`` offsets), and their union."""
    per_window = []
    for a, b in bounds:
        first, stop = np.searchsorted(video.times, [a - 1e-6, b - 1e-6])
        per_window.append([int(first) + s for s in positions(int(stop - first), count)])
    return per_window, sorted({s for rows in per_window for s in rows})


def embed_windows(model, video: SampledVideo, bounds: list[tuple[float, float]], clips: int) -> np.ndarray:
    """Return one unit vector per window, as the model embeds a whole video: the mean of ``clips``
    clips inside it (motion) and of its evenly spread frames' ImageNet features (appearance).

    Overlapping windows share clips and frames: each is embedded once.
    """
    motion = appearance = None
    if model.has_motion:
        n_frames = int(model.sampling.n_frames)
        last_start = max(0, len(video.frames) - n_frames)
        per_window, unique = _window_rows(video, bounds, clips, lambda n, c: clip_starts(n, n_frames, 1, c))
        per_window = [[min(s, last_start) for s in rows] for rows in per_window]
        unique = sorted({s for rows in per_window for s in rows})
        row = {s: i for i, s in enumerate(unique)}
        clip_vectors = []
        for chunk in range(0, len(unique), EMBED_CHUNK):
            stacks = [_clip(video.frames, s, n_frames)[None] for s in unique[chunk:chunk + EMBED_CHUNK]]
            clip_vectors.append(model.motion_vectors(stacks)[0])
        clip_vectors = np.concatenate(clip_vectors)
        motion = mean_of_clips(clip_vectors[[row[s] for rows in per_window for s in rows]], [len(r) for r in per_window])
    if model.frame_spec:
        per_window, unique = _window_rows(video, bounds, model.frame_spec[0], frame_positions)
        row = {s: i for i, s in enumerate(unique)}
        features = model.frame_features(video.crops[unique])
        appearance = mean_of_clips(features[[row[s] for rows in per_window for s in rows]], [len(r) for r in per_window])
    return model.fuse(appearance, motion)
