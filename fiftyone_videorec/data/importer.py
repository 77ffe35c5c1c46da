"""Import video records into a persistent FiftyOne video dataset (split tags, labels, metadata)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from .. import config
from ..errors import VideorecError
from ..progress import ProgressFn, report


@dataclass
class VideoRecord:
    """One video to import: its file, class label, split tag and extra sample fields."""

    filepath: str
    label: Optional[str] = None
    split: Optional[str] = None
    fields: dict = field(default_factory=dict)
    tags: list = field(default_factory=list)


def import_records(records: Iterable[VideoRecord], dataset_name: str, *, overwrite: bool = False,
                   progress: ProgressFn | None = None, info: Optional[dict] = None):
    """Add ``records`` to the persistent video dataset ``dataset_name`` and return it.

    Samples whose absolute ``filepath`` is already in the dataset are not added again;
    ``overwrite=True`` deletes the dataset first. Metadata (frame counts etc.) is computed. A file
    holding well under the frames its container declares is imported with the reason in
    ``config.IMPORT_WARNING_FIELD`` (see :mod:`.integrity`).
    """
    from ..runtime import connect_database
    from .integrity import frame_shortfalls

    fo = connect_database()
    records = list(records)
    if fo.dataset_exists(dataset_name):
        if overwrite:
            fo.delete_dataset(dataset_name)
            dataset = fo.Dataset(dataset_name, persistent=True)
        else:
            dataset = fo.load_dataset(dataset_name)
            if dataset.media_type not in (None, "video") and len(dataset):
                raise VideorecError(f"dataset '{dataset_name}' holds {dataset.media_type} samples, not "
                                    "videos; pick another --dataset or pass --overwrite")
    else:
        dataset = fo.Dataset(dataset_name, persistent=True)
    existing = set(dataset.values("filepath")) if len(dataset) else set()
    samples, seen = [], set()
    new = [rec for rec in records if str(Path(rec.filepath).expanduser().resolve()) not in existing]
    report(progress, 0.0, f"checking {len(new)} files for truncation")
    truncated = frame_shortfalls(rec.fields.get(config.ORIGINAL_PATH_FIELD, rec.filepath) for rec in new)
    for rec in records:
        path = str(Path(rec.filepath).expanduser().resolve())
        if path in existing or path in seen:
            continue
        seen.add(path)
        tags = list(rec.tags) + ([rec.split] if rec.split and rec.split not in rec.tags else [])
        sample = fo.Sample(filepath=path, tags=tags)
        if rec.label is not None:
            sample[config.LABEL_FIELD] = fo.Classification(label=str(rec.label))
        for key, value in rec.fields.items():
            sample[key] = value
        warning = truncated.get(str(rec.fields.get(config.ORIGINAL_PATH_FIELD, rec.filepath)))
        if warning:
            sample[config.IMPORT_WARNING_FIELD] = warning
        samples.append(sample)
    report(progress, 0.1, f"adding {len(samples)} samples to '{dataset_name}'")
    if samples:
        dataset.add_samples(samples, progress=False) if _accepts_progress(dataset) else dataset.add_samples(samples)
    report(progress, 0.5, "computing metadata")
    dataset.compute_metadata()
    if info:
        dataset.info.update(info)
        dataset.save()
    report(progress, 1.0, f"'{dataset_name}': {len(dataset)} samples")
    return dataset


def _accepts_progress(dataset) -> bool:
    import inspect

    try:
        return "progress" in inspect.signature(dataset.add_samples).parameters
    except (TypeError, ValueError):
        return False
