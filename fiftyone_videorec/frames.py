"""Turning a video file into clip tensors: sampling, sequential decoding, letterbox resizing.

OpenCV is the decoder: it reads files FiftyOne's ffmpeg reader rejects (e.g. MP4s without
duration metadata). Frames are read in one forward pass, with ``cap.grab()`` for the frames in
between, rather than seeking per frame (seeking is slow and inexact on many codecs).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import VideorecError


class DecodeError(VideorecError):
    """A video file that could not be decoded; ``.path`` and ``.reason`` say which and why."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"cannot decode {self.path}: {reason}")


def letterbox(frame_bgr: np.ndarray, size: int) -> np.ndarray:
    """Return ``frame`` as a ``(size, size, 3)`` RGB uint8 image, resized keeping aspect, black padding."""
    h, w = frame_bgr.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame_bgr, (nw, nh), interpolation=interp)
    out = np.zeros((size, size, 3), np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top:top + nh, left:left + nw] = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
    return out


def _open(path) -> cv2.VideoCapture:
    if not Path(path).is_file():
        raise DecodeError(path, "file not found")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DecodeError(path, "OpenCV cannot open it (not a video, or unsupported codec)")
    return cap


def count_frames(path) -> int:
    """Return the number of frames the container reports (0 if it reports none)."""
    cap = _open(path)
    try:
        return max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        cap.release()


def read_frames(path, indices, image_size: int) -> np.ndarray:
    """Return the frames at sorted ``indices`` as ``(len(indices), S, S, 3)`` uint8 RGB.

    Decodes sequentially from frame 0. An index past the end of the video gets the last sampled
    frame that was decoded: short videos repeat their last frame to fill the clip.
    """
    wanted = sorted(set(int(i) for i in indices))
    cap = _open(path)
    got: dict[int, np.ndarray] = {}
    last = None
    try:
        index = 0
        for target in wanted:
            while index < target:  # skip without decoding to RGB
                if not cap.grab():
                    break
                index += 1
            if index < target:
                break
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            index += 1
            last = got[target] = letterbox(frame, image_size)
    finally:
        cap.release()
    if last is None:
        raise DecodeError(path, "no frame could be decoded")
    return np.stack([got.get(i, last) for i in indices])


def clip_indices(start: int, n_frames: int, frame_step: int) -> list[int]:
    """Return the frame indices of one clip: ``n_frames`` every ``frame_step`` from ``start``."""
    return [start + i * frame_step for i in range(n_frames)]


def read_clip(path, n_frames: int, frame_step: int, image_size: int, start: int = 0) -> np.ndarray:
    """Return one clip ``(n_frames, S, S, 3)`` uint8 RGB: ``n_frames`` every ``frame_step`` from ``start``.

    A video shorter than ``start + (n_frames - 1) * frame_step + 1`` frames repeats its last
    sampled frame to fill the clip. Raises :class:`DecodeError` for files that cannot be decoded.
    """
    return read_frames(path, clip_indices(start, n_frames, frame_step), image_size)


def clip_starts(total_frames: int, n_frames: int, frame_step: int, clips: int) -> list[int]:
    """Return ``clips`` evenly spaced start offsets that keep each clip inside ``total_frames``."""
    span = (n_frames - 1) * frame_step + 1
    last_start = max(0, total_frames - span)
    if clips == 1:
        return [last_start // 2]
    return [round(i * last_start / (clips - 1)) for i in range(clips)]


def read_clips(path, n_frames: int, frame_step: int, image_size: int, clips: int = 1) -> np.ndarray:
    """Return ``(clips, n_frames, S, S, 3)`` uint8 RGB clips at evenly spaced starts, one decode pass.

    One clip is taken from the middle of the video. Short videos repeat their last frame.
    """
    starts = clip_starts(count_frames(path), n_frames, frame_step, clips)
    per_clip = [clip_indices(s, n_frames, frame_step) for s in starts]
    flat = [i for idx in per_clip for i in idx]
    frames = read_frames(path, flat, image_size)
    return frames.reshape(clips, n_frames, image_size, image_size, 3)
