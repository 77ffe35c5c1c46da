"""Import a folder of videos: ``<class>/<video>``, ``<split>/<class>/<video>``, or videos with no label.

Videos directly in the folder are imported without a label (recommendations with the built-in
``pretrained`` model need none).

Every file is probed (OpenCV must decode a frame); good files become video samples, bad ones are
skipped with a reason. Files that are not H.264 MP4 (and GIFs) are re-encoded to H.264 MP4 in a
cache folder, never beside or over the user's originals; the original path is kept in a field.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .. import config
from ..errors import VideorecError
from ..progress import ProgressFn, report, scaled

VIDEO_EXTS = {".avi", ".mp4", ".m4v", ".mkv", ".mov", ".webm", ".gif", ".mpg", ".mpeg", ".wmv", ".flv", ".h264", ".ts"}


@dataclass
class ImportSummary:
    imported: int = 0
    skipped: list = field(default_factory=list)  # [(path, reason)]

    @property
    def by_reason(self) -> dict:
        return dict(Counter(reason for _, reason in self.skipped))

    def table(self) -> str:
        lines = [f"imported  {self.imported}"]
        for reason, n in sorted(self.by_reason.items()):
            lines.append(f"skipped   {n}  {reason}")
        return "\n".join(lines)

    def __str__(self) -> str:
        parts = [f"{self.imported} imported"] + [f"{n} skipped ({r})" for r, n in sorted(self.by_reason.items())]
        return ", ".join(parts)


def probe(path: Path) -> tuple[Optional[str], Optional[dict]]:
    """``(reason, info)``: reason is None when OpenCV decodes a frame; info from ffprobe (may be None)."""
    import cv2

    try:
        if path.stat().st_size == 0:
            return "empty file", None
    except OSError as exc:
        return f"unreadable: {exc.strerror}", None
    cap = cv2.VideoCapture(str(path))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
    finally:
        cap.release()
    if not ok or frame is None:
        return "not a decodable video", None
    info = None
    if shutil.which("ffprobe"):
        proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                               "stream=codec_name,pix_fmt:format=format_name,duration", "-of", "json", str(path)],
                              capture_output=True, text=True)
        if proc.returncode == 0:
            try:
                info = json.loads(proc.stdout)
            except ValueError:
                info = None
    return None, info


def _browser_playable(path: Path, info: Optional[dict]) -> bool:
    if path.suffix.lower() != ".mp4" or not info:
        return False
    streams = info.get("streams") or [{}]
    fmt = info.get("format") or {}
    return (streams[0].get("codec_name") == "h264" and streams[0].get("pix_fmt") == "yuv420p"
            and fmt.get("duration") not in (None, "N/A"))


def _scan(root: Path):
    """Yield ``(path, label, split)`` for every file in a class or split/class tree (loose files: no label)."""
    for f in sorted(root.iterdir()):
        if f.is_file() and not f.name.startswith("."):
            yield f, None, None
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    split_dirs = [d for d in subdirs if d.name.lower() in config.SPLITS]
    if split_dirs:
        for sd in split_dirs:
            for cd in sorted(p for p in sd.iterdir() if p.is_dir() and not p.name.startswith(".")):
                for f in sorted(cd.rglob("*")):
                    if f.is_file() and not f.name.startswith("."):
                        yield f, cd.name, sd.name.lower()
    else:
        for cd in subdirs:
            for f in sorted(cd.rglob("*")):
                if f.is_file() and not f.name.startswith("."):
                    yield f, cd.name, None


def load_folder(path, dataset_name: str, *, overwrite: bool = False, cache_dir=None,
                progress: ProgressFn | None = None, workers: Optional[int] = None):
    """Import every decodable video under ``path``; returns ``(dataset, ImportSummary)``."""
    from .importer import VideoRecord, import_records
    from .transcode import transcode_many

    root = Path(path).expanduser()
    if not root.exists():
        raise VideorecError(f"no folder at {root}")
    if not root.is_dir():
        raise VideorecError(f"{root} is not a folder; expected videos, <class>/<video> or <split>/<class>/<video>")
    root = root.resolve()
    files = list(_scan(root))
    if not files:
        raise VideorecError(f"no videos in {root}; expected videos, <class>/<video> or <split>/<class>/<video>")
    cache = Path(cache_dir) if cache_dir else config.data_dir() / "folder-cache" / hashlib.sha1(
        str(root).encode()).hexdigest()[:12]
    summary = ImportSummary()
    records, pairs = [], []
    probing = scaled(progress, 0.0, 0.3)
    for i, (f, label, split) in enumerate(files):
        report(probing, i / len(files), f"probing {f.name}")
        reason, info = probe(f)
        if reason:
            summary.skipped.append((str(f), reason))
            continue
        target = f
        if not _browser_playable(f, info):
            target = (cache / f.relative_to(root)).with_suffix(".mp4")
            if target == f:
                target = target.with_name(target.stem + ".h264.mp4")
            pairs.append((f, target))
        records.append(VideoRecord(filepath=str(target), label=label, split=split, fields={
            config.ORIGINAL_PATH_FIELD: str(f), config.SOURCE_FIELD: f"folder:{root}"}))
    if pairs:
        results = transcode_many(pairs, workers=workers, progress=scaled(progress, 0.3, 0.8))
        bad = {str(src): r for src, r in results.items() if r}
        for src, r in bad.items():
            summary.skipped.append((src, "could not re-encode to H.264 MP4"))
        records = [r for r in records if r.fields[config.ORIGINAL_PATH_FIELD] not in bad]
    if not records:
        raise VideorecError(f"none of the {len(files)} files under {root} could be decoded as video")
    dataset = import_records(records, dataset_name, overwrite=overwrite, progress=scaled(progress, 0.8, 1.0))
    summary.imported = len(records)
    return dataset, summary
