"""The copy-detection validation set: real recordings, their altered copies, excerpts and overlapping cuts.

Each recording of ``benchmarks/clips`` appears as itself (the file as shipped) and as copies made
by ffmpeg: a heavy re-encode, half size, a 25 % centre crop and a corner crop scaled back up,
letterbox and pillarbox bars, half the frame rate (12.5 or 15 fps), brightness/contrast, a
horizontal flip, and a caption bar with a watermark. A recording long enough also gives a
3-second excerpt from its middle and two cuts that overlap in time.

Truth is by time: two clips are copies when they come from the same recording and cover an
overlapping stretch of it. Different recordings of the same action are not copies.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from ..errors import VideorecError
from .real_footage import Recording
from .video_files import ffmpeg_convert, require_ffmpeg

ENCODE = ("-c:v", "libx264", "-crf", "23", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an", "-threads", "1")
CAPTION = ("drawbox=x=0:y=ih*0.78:w=iw:h=ih*0.16:color=black@0.6:t=fill,"
           "drawtext=text='copied clip 2024':fontcolor=white:fontsize=h/14:x=(w-tw)/2:y=h*0.81,"
           "drawbox=x=iw*0.72:y=ih*0.05:w=iw*0.22:h=ih*0.1:color=white@0.5:t=fill")
ALTERATIONS: dict[str, str] = {  # name -> ffmpeg video filter ("" keeps the picture as it is)
    "reencode_crf35": "",
    "half_size": "scale=trunc(iw/4)*2:trunc(ih/4)*2",
    "crop_25_centre": "crop=trunc(iw*0.375)*2:trunc(ih*0.375)*2,scale=trunc(iw/0.75/2)*2:trunc(ih/0.75/2)*2",
    "crop_20_corner": "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2:0:0,scale=trunc(iw/0.8/2)*2:trunc(ih/0.8/2)*2",
    "letterbox": "pad=iw:trunc(ih*2/3)*2:0:(oh-ih)/2",
    "pillarbox": "pad=trunc(iw*2/3)*2:ih:(ow-iw)/2:0",
    "half_frame_rate": "fps={half_fps}",
    "brightness_contrast": "eq=brightness=0.12:contrast=1.3:saturation=1.2",
    "hflip": "hflip",
    "caption_watermark": CAPTION,
}
EXCERPT_S = 3.0
EXCERPT_MIN_SOURCE_S = 8.0  # shorter recordings give no excerpt: 3 s would be most of them
CUTS_MIN_SOURCE_S = 6.0
CUT_SHARE = 0.6  # the two cuts are the first and the last 60 % of the recording: 20 % overlap


@dataclass(frozen=True)
class CopyClip:
    """One clip of the set: which recording it shows, how it was altered and which seconds of it."""

    path: Path
    recording: str
    action: str
    alteration: str  # "original", a key of ALTERATIONS, "excerpt", "cut_first" or "cut_last"
    start: float  # seconds of the recording the clip starts at
    end: float

    def overlaps(self, other: "CopyClip") -> bool:
        return self.recording == other.recording and min(self.end, other.end) > max(self.start, other.start)


def _duration(path) -> tuple[float, float]:
    from ..frames import probe

    frames, fps = probe(path)
    fps = fps or 25.0
    return frames / fps, fps


def _altered(rec: Recording, root: Path, duration: float, fps: float, alterations) -> list[CopyClip]:
    out = []
    for name in alterations:
        target = root / rec.label / f"{name}.mp4"
        if not target.is_file():
            vf = ALTERATIONS[name].format(half_fps=round(fps / 2, 3))
            quality = ["-crf", "35"] if name == "reencode_crf35" else []
            ffmpeg_convert(rec.path, target, *(["-vf", vf] if vf else []), *ENCODE, *quality)
        out.append(CopyClip(target, rec.label, rec.action, name, 0.0, duration))
    return out


def _cut(rec: Recording, root: Path, name: str, start: float, end: float) -> CopyClip:
    target = root / rec.label / f"{name}.mp4"
    if not target.is_file():
        ffmpeg_convert(rec.path, target, "-ss", f"{start:.3f}", "-t", f"{end - start:.3f}", *ENCODE)
    return CopyClip(target, rec.label, rec.action, name, start, end)


def build_copy_set(recordings: list[Recording], root, *, alterations=tuple(ALTERATIONS)) -> list[CopyClip]:
    """Write every recording's altered copies, excerpt and cuts under ``root``; return all clips,
    the recordings themselves first. Existing files are kept (a re-run finishes a broken build)."""
    require_ffmpeg("to make the altered copies")
    unknown = sorted(set(alterations) - set(ALTERATIONS))
    if unknown:
        raise VideorecError(f"unknown alteration {unknown[0]!r}; expected some of {', '.join(ALTERATIONS)}")
    root = Path(root)
    clips, made = [], []
    for rec in recordings:
        duration, fps = _duration(rec.path)
        clips.append(CopyClip(rec.path, rec.label, rec.action, "original", 0.0, duration))
        made += _altered(rec, root, duration, fps, alterations)
        if duration >= EXCERPT_MIN_SOURCE_S:
            middle = duration / 2
            made.append(_cut(rec, root, "excerpt", middle - EXCERPT_S / 2, middle + EXCERPT_S / 2))
        if duration >= CUTS_MIN_SOURCE_S:
            made.append(_cut(rec, root, "cut_first", 0.0, CUT_SHARE * duration))
            made.append(_cut(rec, root, "cut_last", (1 - CUT_SHARE) * duration, duration))
    return clips + made


def copy_pairs(clips: list[CopyClip]) -> set[frozenset[int]]:
    """Return the index pairs of ``clips`` that are copies: same recording, overlapping seconds."""
    return {frozenset((i, j)) for i, j in itertools.combinations(range(len(clips)), 2)
            if clips[i].overlaps(clips[j])}
