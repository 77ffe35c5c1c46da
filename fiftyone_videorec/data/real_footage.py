"""Benchmark sets cut from real, labelled recordings listed in a manifest (``benchmarks/clips``).

Three sets, each a ``<root>/<split>/<label>/<file>.mp4`` tree that ``load_folder`` imports:

- ``same_recording``: one class per recording; train windows from its first 55 %, val windows
  ending before its last 35 %, test windows from that last 35 % (the same scene, later in time);
- ``across_recordings``: one class per action; whole groups (a UCF101 ``gXX``, one film) go to
  train or test, so a test clip never shares a person or scene with a train clip;
- ``altered_copies``: each recording once as the original (train) and as altered copies (test:
  low bitrate, half size, cropped border, half frame rate), labelled by recording, so P@1 says
  whether a copy finds its own original first.

Windows are decoded with OpenCV and written as H.264; the copies are made by ffmpeg filters.
Existing files are kept, so re-running finishes an interrupted build.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VideorecError
from .video_files import ffmpeg_convert, require_ffmpeg, write_h264

MANIFEST = "manifest.json"
ALTERATIONS = {  # name -> ffmpeg output arguments
    "low_bitrate": ["-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-c:v", "libx264", "-b:v", "40k"],
    "half_size": ["-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2", "-c:v", "libx264", "-crf", "23"],
    "cropped_border": ["-vf", "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2", "-c:v", "libx264", "-crf", "23"],
    "half_frame_rate": ["-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2,framestep=2", "-c:v", "libx264", "-crf", "23"],
}


@dataclass(frozen=True)
class Recording:
    """One manifest entry: a real clip, its action and the group (person/scene) it comes from."""

    path: Path
    action: str
    recording: str
    group: str
    sha256: str

    @property
    def label(self) -> str:
        return self.path.stem


def read_manifest(clips_dir) -> list[Recording]:
    """Return the manifest's recordings whose files are present and match their sha256."""
    clips_dir = Path(clips_dir)
    manifest = clips_dir / MANIFEST
    if not manifest.is_file():
        raise VideorecError(f"no {MANIFEST} in {clips_dir}; expected the real clips and their manifest there")
    out = []
    for entry in json.loads(manifest.read_text())["clips"]:
        path = clips_dir / entry["file"]
        if not path.is_file():
            raise VideorecError(f"{path} is listed in {manifest} but missing")
        if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            raise VideorecError(f"{path} does not match the sha256 in {manifest}")
        out.append(Recording(path, entry["action"], entry["recording"], entry["group"], entry["sha256"]))
    return sorted(out, key=lambda r: r.path.name)


def decode_all(path) -> np.ndarray:
    """Return every frame of ``path`` as ``(n, h, w, 3)`` uint8 BGR (real clips here are short and small)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    if not frames:
        raise VideorecError(f"cannot decode {path}")
    return np.stack(frames)


def window_starts(begin: int, end: int, length: int, count: int) -> list[int]:
    """Return up to ``count`` evenly spaced starts of ``length``-frame windows inside ``[begin, end)``."""
    last = end - length
    if last < begin:
        return []
    if count == 1 or last == begin:
        return [begin + (last - begin) // 2]
    return sorted({round(begin + i * (last - begin) / (count - 1)) for i in range(count)})


def _write_windows(frames: np.ndarray, starts: list[int], length: int, folder: Path, stem: str, fps: float) -> int:
    for i, start in enumerate(starts):
        target = folder / f"{stem}_w{i:02d}.mp4"
        if not target.is_file():
            write_h264(frames[start:start + length], target, fps=fps)
    return len(starts)


def _fps(path) -> float:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS)
    finally:
        cap.release()
    return fps if 1 <= fps <= 120 else 25.0


def build_same_recording(recordings: list[Recording], root, *, window: int = 48, per_split=(8, 2, 4),
                         min_frames: int = 120) -> Path:
    """Write the same-recording set: class = recording; train / val / test by time (55 / 10 / 35 %)."""
    root = Path(root)
    used = 0
    for rec in recordings:
        frames = decode_all(rec.path)
        n = len(frames)
        if n < min_frames:
            continue
        length = min(window, int(0.35 * n))
        # val windows end where the test region starts (they may reach back into train frames, never into test)
        regions = {"train": (0, int(0.55 * n)), "val": (max(0, int(0.6 * n) - length), int(0.65 * n)),
                   "test": (int(0.65 * n), n)}
        for (split, (begin, end)), count in zip(regions.items(), per_split):
            _write_windows(frames, window_starts(begin, min(end, n), length, count), length,
                           root / split / rec.label, rec.label, _fps(rec.path))
        used += 1
    if used < 2:
        raise VideorecError(f"need two or more recordings of at least {min_frames} frames; found {used}")
    return root


def split_groups(recordings: list[Recording], fold: int = 0) -> dict[str, str]:
    """Return ``{group: split}``: per action with two or more groups, the ``fold``-th in name order
    (cycling) is test and the rest train.

    There is no val split: too few groups per action to spare one, so training early-stops on its
    own loss, as it does for any folder without val clips.
    """
    out = {}
    for groups in _groups_of(recordings).values():
        ordered = sorted(groups)
        if len(ordered) >= 2:
            out.update({group: "test" if i == fold % len(ordered) else "train" for i, group in enumerate(ordered)})
    return out


def _groups_of(recordings: list[Recording]) -> dict[str, set[str]]:
    groups_of = defaultdict(set)
    for rec in recordings:
        groups_of[rec.action].add(rec.group)
    return groups_of


def across_folds(recordings: list[Recording]) -> int:
    """How many folds give every usable action a different test group: its fewest groups (0 if none)."""
    counts = [len(groups) for groups in _groups_of(recordings).values() if len(groups) >= 2]
    return min(counts, default=0)


def build_across_recordings(recordings: list[Recording], root, *, window: int = 48, per_recording: int = 6,
                            fold: int = 0) -> Path:
    """Write one fold of the across-recordings set: class = action, splits by group (see :func:`split_groups`)."""
    root = Path(root)
    split_of = split_groups(recordings, fold)
    actions = {rec.action for rec in recordings if rec.group in split_of}
    if len(actions) < 2:
        raise VideorecError("need two or more actions with recordings from at least two groups each")
    for rec in recordings:
        split = split_of.get(rec.group)
        if split is None:
            continue
        frames = decode_all(rec.path)
        length = min(window, len(frames))
        starts = window_starts(0, len(frames), length, per_recording)
        _write_windows(frames, starts, length, root / split / rec.action, rec.label, _fps(rec.path))
    return root


def build_altered_copies(recordings: list[Recording], root, *, max_frames: int = 96) -> Path:
    """Write the altered-copies set: originals under ``train``, four altered copies each under ``test``."""
    require_ffmpeg("to make the altered copies")
    root = Path(root)
    for rec in recordings:
        frames = decode_all(rec.path)
        original = root / "train" / rec.label / f"{rec.label}.mp4"
        if not original.is_file():
            middle = max(0, (len(frames) - max_frames) // 2)
            write_h264(frames[middle:middle + max_frames], original, fps=_fps(rec.path))
        for name, args in ALTERATIONS.items():
            target = root / "test" / rec.label / f"{rec.label}_{name}.mp4"
            if target.is_file():
                continue
            ffmpeg_convert(original, target, *args, "-pix_fmt", "yuv420p", "-an", "-threads", "1",
                           "-movflags", "+faststart")
    return root
