"""The UCF101 subset: choose classes and clips in ``UCF101_videos.zip``, fetch only those, import them.

The archive holds flat members ``UCF101/v_<Class>_g<GG>_c<CC>.avi``. We read its directory over
HTTP Range (or from a local copy), pick a seeded subset with exact per-class split counts (by
default no ``gXX`` group in two splits), fetch the chosen clips into ``<root>/<split>/<Class>/``,
re-encode them to browser-playable H.264 MP4 beside the originals and import them into FiftyOne.
"""

from __future__ import annotations

import difflib
import random
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

from .. import config
from ..errors import VideorecError
from ..progress import ProgressFn, report, scaled
from .remote_zip import ZipSource
from .splits import resolve_counts, split_by_group, split_items
from .video_files import require_ffmpeg

MEMBER_NAME = re.compile(r"(?:^|/)v_(?P<label>[A-Za-z0-9]+)_g(?P<group>\d+)_c(?P<clip>\d+)\.avi$", re.IGNORECASE)
SPLIT_BY = ("group", "clip")


@dataclass(frozen=True, order=True)
class UcfClip:
    """One UCF101 clip of the archive: class label, group (``"g08"``), clip number and member name."""

    label: str
    group: str
    clip: int
    member: str

    @property
    def filename(self) -> str:
        """The member's file name, ``v_<Class>_g<GG>_c<CC>.avi``."""
        return PurePosixPath(self.member).name


def parse_member_name(name: str) -> UcfClip | None:
    """Return the clip a member name describes, or None when it is not UCF101-shaped."""
    match = MEMBER_NAME.search(name)
    if not match:
        return None
    return UcfClip(match["label"], f"g{match['group']}", int(match["clip"]), name)


def list_clips(source: ZipSource) -> list[UcfClip]:
    """Return every UCF101 clip of the archive, sorted; one-line error for oddly named ``.avi`` members."""
    videos = [info.filename for info in source.members if info.filename.lower().endswith(".avi")]
    clips = [parse_member_name(name) for name in videos]
    odd = [name for name, clip in zip(videos, clips) if clip is None]
    pattern = "UCF101/v_<Class>_g<GG>_c<CC>.avi"
    if not clips:
        example = source.members[0].filename if source.members else "nothing"
        raise VideorecError(f"{source.location}: no member is named like {pattern} (found e.g. {example!r}); "
                            "is this the UCF101 archive?")
    if odd:
        raise VideorecError(f"{source.location}: {len(odd)} .avi members are not named like {pattern} "
                            f"(e.g. {odd[0]!r}); is this the UCF101 archive?")
    return sorted(clips)


def _choose_classes(available: list[str], classes: Sequence[str] | str | None, num_classes: int) -> list[str]:
    if classes is None:
        if num_classes < 1:
            raise VideorecError(f"--num-classes must be at least 1, got {num_classes}")
        if num_classes > len(available):
            raise VideorecError(f"the archive has {len(available)} classes; {num_classes} were asked for")
        return available[:num_classes]
    wanted = [c.strip() for c in classes.split(",")] if isinstance(classes, str) else [c.strip() for c in classes]
    wanted = list(dict.fromkeys(c for c in wanted if c))
    if not wanted:
        raise VideorecError("no class names given; pass names such as ApplyEyeMakeup,Archery")
    by_lower = {name.lower(): name for name in available}
    for name in wanted:
        if name not in available:
            close = [by_lower[n] for n in difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)]
            hint = f"did you mean {', '.join(close)}?" if close else f"it has {', '.join(available[:5])}, ..."
            raise VideorecError(f"class {name!r} is not in the archive; {hint}")
    return wanted


def _check_request(per_class: int | None, split: str | Sequence[int] | None,
                   split_by: str) -> tuple[int, tuple[int, int, int]]:
    if split_by not in SPLIT_BY:
        raise VideorecError(f"split_by must be one of {', '.join(SPLIT_BY)}, got {split_by!r}")
    return resolve_counts(per_class, split, config.UCF101_PER_CLASS, config.UCF101_SPLIT)


def choose_subset(clips: Sequence[UcfClip], classes: Sequence[str] | str | None = None,
                  num_classes: int = config.UCF101_NUM_CLASSES, per_class: int | None = None,
                  split: str | Sequence[int] | None = None, split_by: str = config.UCF101_SPLIT_BY,
                  seed: int = config.DEFAULT_SEED) -> dict[str, list[UcfClip]]:
    """Return ``{"train": [...], "val": [...], "test": [...]}`` with exact per-class counts.

    Classes default to the first ``num_classes`` names in sorted order. Each class is split on its
    own seeded generator, so adding a class never changes another's clips. ``split_by="group"``
    keeps every ``gXX`` group inside one split; ``"clip"`` is a plain random split.
    """
    per_class, counts = _check_request(per_class, split, split_by)
    by_class: dict[str, list[UcfClip]] = {}
    for clip in sorted(clips):
        by_class.setdefault(clip.label, []).append(clip)
    chosen = _choose_classes(sorted(by_class), classes, num_classes)
    short = [f"{name} has {len(by_class[name])}" for name in chosen if len(by_class[name]) < per_class]
    if short:
        raise VideorecError(f"{per_class} clips per class asked for, but {'; '.join(short[:3])}"
                            f"{' ...' if len(short) > 3 else ''}; lower --per-class")
    subset: dict[str, list[UcfClip]] = {name: [] for name in config.SPLITS}
    for name in chosen:
        rng = random.Random(f"{seed}/{name}")
        if split_by == "clip":
            parts = split_items(by_class[name], counts, rng)
        else:
            groups: dict[str, list[UcfClip]] = {}
            for clip in by_class[name]:
                groups.setdefault(clip.group, []).append(clip)
            parts = split_by_group(groups, counts, rng)
            if parts is None:
                raise VideorecError(
                    f"class {name}: its {len(by_class[name])} clips in {len(groups)} groups cannot give "
                    f"{'/'.join(map(str, counts))} with no group in two splits; lower --per-class or "
                    "use --split-by clip")
        for split_name, part in zip(config.SPLITS, parts):
            subset[split_name].extend(sorted(part))
    return subset


def load_ucf101(dataset_name: str = config.UCF101_DATASET, url: str = config.UCF101_URL,
                classes: Sequence[str] | str | None = None, num_classes: int = config.UCF101_NUM_CLASSES,
                per_class: int | None = None, split: str | Sequence[int] | None = None,
                split_by: str = config.UCF101_SPLIT_BY, seed: int = config.DEFAULT_SEED,
                root: str | Path | None = None, reencode: bool = True, overwrite: bool = False,
                progress: ProgressFn | None = None):
    """Fetch a seeded UCF101 subset and return it as a persistent FiftyOne video dataset.

    ``per_class`` defaults to 50 and ``split`` to 30,10,10 (either alone sets the other). Files go
    to ``<root>/<split>/<Class>/`` (root: ``config.data_dir()/"ucf101"``); with ``reencode`` each
    AVI gets an H.264 MP4 beside it, which becomes the sample's ``filepath``. Everything is checked
    before the first clip is fetched; a re-run skips finished files and adds no sample twice.
    """
    from ..runtime import connect_database

    per_class, counts = _check_request(per_class, split, split_by)
    if reencode:
        require_ffmpeg("to re-encode UCF101's AVI clips to MP4", " or pass --no-reencode")
    connect_database()
    root = Path(root) if root is not None else config.data_dir() / config.UCF101_ROOT_NAME
    report(progress, 0.0, f"reading the directory of {url}")
    with ZipSource(url) as source:
        subset = choose_subset(list_clips(source), classes, num_classes, per_class, counts, split_by, seed)
        plan = {clip.member: f"{name}/{clip.label}/{clip.filename}" for name, part in subset.items() for clip in part}
        source.fetch(plan, root, progress=scaled(progress, 0.02, 0.6))
    from .importer import VideoRecord, import_records

    records, pairs = [], []
    for name, part in subset.items():
        for clip in part:
            original = root / name / clip.label / clip.filename
            video = original.with_suffix(".mp4") if reencode else original
            pairs.append((original, video))
            records.append(VideoRecord(filepath=str(video), label=clip.label, split=name, fields={
                config.GROUP_FIELD: clip.group, config.CLIP_FIELD: clip.clip,
                config.SOURCE_FIELD: f"{url}#{clip.member}", config.ORIGINAL_PATH_FIELD: str(original)}))
    if reencode:
        from .transcode import transcode_many

        results = transcode_many(pairs, progress=scaled(progress, 0.6, 0.9))
        failed = [(src, reason) for src, reason in results.items() if reason]
        if failed:
            raise VideorecError(f"{len(failed)} clips could not be re-encoded to MP4 (first: {failed[0][0]}: "
                                f"{failed[0][1]}); pass --no-reencode to import the AVI files as they are")
    dataset = import_records(records, dataset_name, overwrite=overwrite, progress=scaled(progress, 0.9, 1.0))
    dataset.info["ucf101"] = {"url": url, "classes": sorted({clip.label for clip in subset["train"]}),
                              "per_class": per_class, "split": list(counts), "split_by": split_by,
                              "seed": seed, "root": str(root)}
    dataset.save()
    return dataset
