"""Turning a video file into clip tensors: sampling, sequential decoding, letterbox resizing.

OpenCV is the decoder: it reads files FiftyOne's ffmpeg reader rejects (e.g. MP4s without
duration metadata). Frames are read in one forward pass, with ``cap.grab()`` for the frames in
between, rather than seeking per frame (seeking is slow and inexact on many codecs).

Motion-JPEG files (every frame a JPEG image) skip FFmpeg's decoder: OpenCV hands over the raw
packets, the frames in between are never decoded, and the wanted ones are decoded by libjpeg
already scaled down by 1/2, 1/4 or 1/8 in the DCT, as far as the model's small input allows
(about 8x faster per video on 320x240 clips). A file whose packets are not plain JPEGs falls back
to FFmpeg's decoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

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
        return _frame_count(cap)
    finally:
        cap.release()


def _frame_count(cap: cv2.VideoCapture) -> int:
    return max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))


def _fps(cap: cv2.VideoCapture) -> float | None:
    fps = cap.get(cv2.CAP_PROP_FPS)
    return fps if 1 <= fps <= 480 else None  # missing or absurd rates: sample by frame count


def probe(path) -> tuple[int, float | None]:
    """Return ``(frames the container reports, frames per second or None)``."""
    cap = _open(path)
    try:
        return _frame_count(cap), _fps(cap)
    finally:
        cap.release()


def step_for_rate(frame_step: int, fps: float | None, reference_fps: float | None) -> float:
    """Frames between samples in a video at ``fps``: ``frame_step`` at ``reference_fps``, scaled so a
    clip spans the same seconds at any frame rate (at least one frame; unscaled without both rates)."""
    if not fps or not reference_fps:
        return frame_step
    return max(1.0, frame_step * fps / reference_fps)


def read_frames(path, indices, image_size: int) -> np.ndarray:
    """Return the frames at ``indices`` as ``(len(indices), S, S, 3)`` uint8 RGB.

    Reads forward from frame 0. An index past the end of the video gets the last sampled frame
    that was decoded: short videos repeat their last frame to fill the clip.
    """
    return _read(path, _open(path), indices, image_size)


def _read(path, cap: cv2.VideoCapture, indices, image_size: int) -> np.ndarray:
    """:func:`read_frames` from an already open ``cap`` (released here)."""
    got = _read_prepared(path, cap, indices, lambda _, frame: letterbox(frame, image_size), image_size)
    last = got[max(got)]
    return np.stack([got.get(int(i), last) for i in indices])


def _read_prepared(path, cap: cv2.VideoCapture, indices, prepare, decode_size) -> dict:
    """Return ``{index: prepare(index, BGR frame)}`` for the frames at ``indices`` that exist (see :func:`_decode`)."""
    wanted = sorted(set(int(i) for i in indices))
    return _decode(path, cap, lambda: wanted, prepare, decode_size)


def _decode(path, cap: cv2.VideoCapture, wanted, prepare, decode_size) -> dict:
    """Return ``{index: prepare(index, BGR frame)}`` for the frame indices ``wanted()`` gives, in one forward pass.

    Motion-JPEG packets are decoded by libjpeg, scaled down in the DCT as far as ``decode_size``
    (pixels, or a function of the frame index) allows; any other file, or one whose packets are
    not plain JPEGs, by FFmpeg's decoder. ``wanted`` returns the sorted indices afresh for each
    decoder tried. ``cap`` is released here. Raises :class:`DecodeError` when no frame decodes.
    """
    try:
        got = _jpeg_packets(cap, wanted(), prepare, decode_size)
        if got is None:
            if cap.get(cv2.CAP_PROP_FORMAT) == -1:  # raw packets were not plain JPEGs: start again with FFmpeg
                cap.release()
                cap = _open(path)
            got = _decoded(cap, wanted(), prepare)
    finally:
        cap.release()
    if not got:
        raise DecodeError(path, "no frame could be decoded")
    return got


def _scan(cap: cv2.VideoCapture, wanted: list[int]):
    """Yield ``(index, data)`` for the sorted ``wanted`` indices, grabbing past the others; stop at the end."""
    index = 0
    for target in wanted:
        while index < target:
            if not cap.grab():
                return
            index += 1
        ok, data = cap.read()
        if not ok or data is None:
            return
        index += 1
        yield target, data


def _decoded(cap: cv2.VideoCapture, wanted, prepare) -> dict:
    return {i: prepare(i, frame) for i, frame in _scan(cap, wanted)}


JPEG_FOURCCS = frozenset({"MJPG", "mjpg", "jpeg", "JPEG"})  # codecs whose packets are JPEG images
_JPEG_SCALES = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))


def _fourcc(cap: cv2.VideoCapture) -> str:
    return int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("latin-1")


def jpeg_decode_flag(width: int, height: int, image_size: int) -> int:
    """``cv2.imdecode`` flag: the largest DCT downscale that keeps frames at least twice ``image_size``."""
    for factor, flag in _JPEG_SCALES:
        if max(width, height) >= 2 * image_size * factor:
            return flag | cv2.IMREAD_IGNORE_ORIENTATION
    return cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION


def _jpeg_packets(cap: cv2.VideoCapture, wanted, prepare, decode_size) -> dict | None:
    """Decode only the wanted packets of a Motion-JPEG file, each as small as ``decode_size`` (pixels,
    or a function of the frame index: frames wanted at several sizes) allows; None if not plain JPEGs."""
    if _fourcc(cap) not in JPEG_FOURCCS or not cap.set(cv2.CAP_PROP_FORMAT, -1):  # raw packets, not frames
        return None
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    size_of = decode_size if callable(decode_size) else (lambda _: decode_size)
    got = {}
    for index, packet in _scan(cap, wanted):
        try:
            frame = cv2.imdecode(packet, jpeg_decode_flag(width, height, size_of(index))) if packet.size else None
        except cv2.error:
            frame = None
        if frame is None:
            return None
        got[index] = prepare(index, frame)
    return got


def clip_indices(start: int, n_frames: int, frame_step: float) -> list[int]:
    """Return the frame indices of one clip: ``n_frames`` every ``frame_step`` (rounded) from ``start``."""
    return [start + round(i * frame_step) for i in range(n_frames)]


def read_clip(path, n_frames: int, frame_step: int, image_size: int, start: int = 0) -> np.ndarray:
    """Return one clip ``(n_frames, S, S, 3)`` uint8 RGB: ``n_frames`` every ``frame_step`` from ``start``.

    A video shorter than ``start + (n_frames - 1) * frame_step + 1`` frames repeats its last
    sampled frame to fill the clip. Raises :class:`DecodeError` for files that cannot be decoded.
    """
    return read_frames(path, clip_indices(start, n_frames, frame_step), image_size)


def clip_starts(total_frames: int, n_frames: int, frame_step: float, clips: int) -> list[int]:
    """Return ``clips`` evenly spaced start offsets that keep each clip inside ``total_frames``."""
    span = round((n_frames - 1) * frame_step) + 1
    last_start = max(0, total_frames - span)
    if clips == 1:
        return [last_start // 2]
    return [round(i * last_start / (clips - 1)) for i in range(clips)]


def read_clips(path, n_frames: int, frame_step: int, image_size: int, clips: int = 1,
               reference_fps: float | None = None) -> np.ndarray:
    """Return ``(clips, n_frames, S, S, 3)`` uint8 RGB clips at evenly spaced starts, one decode pass.

    One clip is taken from the middle of the video. Short videos repeat their last frame. With
    ``reference_fps``, ``frame_step`` is scaled to the video's own rate (:func:`step_for_rate`).
    """
    cap = _open(path)  # one open for the frame count, the rate and the frames
    frame_step = step_for_rate(frame_step, _fps(cap), reference_fps)
    starts = clip_starts(_frame_count(cap), n_frames, frame_step, clips)
    flat = [i for s in starts for i in clip_indices(s, n_frames, frame_step)]
    frames = _read(path, cap, flat, image_size)
    return frames.reshape(clips, n_frames, image_size, image_size, 3)


def frame_positions(total_frames: int, count: int) -> list[int]:
    """Return ``count`` frame indices evenly spread over a video (the middle of ``count`` equal parts).

    A video that reports no frame count gets frames one second apart at 25 fps from its start
    (the decoder stops at the end; missing ones repeat the last decoded frame).
    """
    if total_frames <= 0:
        return [25 * i for i in range(count)]
    return [min(total_frames - 1, int((i + 0.5) * total_frames / count)) for i in range(count)]


class Views(NamedTuple):
    """What one decode pass gives a model: motion clips and appearance frames (either may be None)."""

    clips: np.ndarray | None  # (clips, n_frames, S, S, 3) uint8 RGB, letterboxed
    frames: np.ndarray | None  # (frames, A, A, 3) uint8 RGB, centre squares


def read_views(path, clip_spec: tuple | None = None, frame_spec: tuple[int, int] | None = None) -> Views:
    """Return a video's motion clips and appearance frames from one decode pass.

    ``clip_spec`` is ``(n_frames, frame_step, image_size, clips, reference_fps)`` as for
    :func:`read_clips` (same frames, same letterbox); ``frame_spec`` is ``(count, size)``: that many
    frames evenly spread over the video (:func:`frame_positions`), each its centre square at
    ``size`` pixels.
    """
    from .network.backbone import prepare_frame

    cap = _open(path)
    total = _frame_count(cap)
    wanted: dict[int, set] = {}
    clip_index = frame_index = []
    if clip_spec is not None:
        n_frames, frame_step, image_size, clips, reference_fps = clip_spec
        step = step_for_rate(frame_step, _fps(cap), reference_fps)
        clip_index = [i for s in clip_starts(total, n_frames, step, clips) for i in clip_indices(s, n_frames, step)]
        for i in clip_index:
            wanted.setdefault(i, set()).add("clip")
    if frame_spec is not None:
        frame_index = frame_positions(total, frame_spec[0])
        for i in frame_index:
            wanted.setdefault(i, set()).add("frame")

    def prepare(index, frame):
        kinds = wanted.get(index, ())
        return (letterbox(frame, clip_spec[2]) if "clip" in kinds else None,
                prepare_frame(frame, frame_spec[1]) if "frame" in kinds else None)

    def decode_size(index):  # the motion network's small frames may be decoded smaller than the others
        kinds = wanted.get(index, ())
        return max(clip_spec[2] if "clip" in kinds else 0, frame_spec[1] if "frame" in kinds else 0)

    got = _read_prepared(path, cap, list(wanted), prepare, decode_size)

    def pick(indices, slot):
        have = [i for i in sorted(got) if got[i][slot] is not None]
        if not have:
            raise DecodeError(path, "no frame could be decoded")
        last = got[have[-1]][slot]
        return np.stack([got[i][slot] if i in got and got[i][slot] is not None else last for i in indices])

    clips_out = pick(clip_index, 0).reshape(clip_spec[3], clip_spec[0], clip_spec[2], clip_spec[2], 3) \
        if clip_spec is not None else None
    return Views(clips_out, pick(frame_index, 1) if frame_spec is not None else None)


# --- whole videos, for moment search -------------------------------------------------------------
class SampledVideo(NamedTuple):
    """A whole video decoded at a model's sampling rate (see :func:`read_sampled`)."""

    frames: np.ndarray  # (samples, S, S, 3) uint8 RGB, in time order
    times: np.ndarray  # (samples,) seconds of each sample from the start of the video
    fps: float  # the video's frame rate (``reference_fps`` or ``default_fps`` when it reports none)
    duration: float  # seconds
    crops: np.ndarray | None = None  # (samples, A, A, 3) uint8 RGB centre squares, when asked for


def _every(step: float):
    """Frame indices ``0, step, 2*step, ...`` (rounded), without end: the decoder stops at the last frame."""
    i = 0
    while True:
        yield round(i * step)
        i += 1


def read_sampled(path, frame_step: int, image_size: int | None, reference_fps: float | None = None,
                 default_fps: float = 25.0, crop_size: int | None = None) -> SampledVideo:
    """Return the whole video sampled every ``frame_step`` frames (scaled as :func:`read_clips` does), in one pass.

    ``n_frames`` consecutive samples from here are exactly a clip the model was trained on, so every
    clip of a long video can be cut from one decode. Videos without a frame rate are timed at
    ``reference_fps`` (else ``default_fps``). With ``crop_size``, each sample's centre square at that
    size comes too (``crops``; and ``frames`` when ``image_size`` is None). Raises
    :class:`DecodeError` when no frame decodes.
    """
    from .network.backbone import prepare_frame

    def prepare(_, frame):
        return (letterbox(frame, image_size) if image_size else None,
                prepare_frame(frame, crop_size) if crop_size else None)

    cap = _open(path)
    fps = _fps(cap)
    step = step_for_rate(frame_step, fps, reference_fps)
    total = _frame_count(cap)

    def wanted():  # a fresh iterator for each decoder tried; without a frame count, up to the end
        return _every(step) if total == 0 else (round(i * step) for i in range(int(np.ceil(total / step))))

    got = _decode(path, cap, wanted, prepare, max(image_size or 0, crop_size or 0))
    rate = fps or reference_fps or default_fps
    indices = sorted(got)
    frames_seen = total if total and indices[-1] + step >= total else indices[-1] + 1
    crops = np.stack([got[i][1] for i in indices]) if crop_size else None
    frames = np.stack([got[i][0] for i in indices]) if image_size else crops
    return SampledVideo(frames, np.asarray(indices, float) / rate, rate, frames_seen / rate, crops)
