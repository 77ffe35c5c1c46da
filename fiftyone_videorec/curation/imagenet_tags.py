"""ImageNet tags of videos: what the frozen ImageNet network sees in each clip, for the App's sidebar.

Each video's frames (``config.TAG_FRAMES`` evenly spread, the centre square at
``config.TAG_SIZE`` pixels, the size the network was trained at) go through EfficientNet-Lite0's
classifier; the class probabilities are averaged over the frames, and the top classes above a
confidence become ``fo.Classifications`` in ``config.IMAGENET_FIELD``, so the App can filter by
"basketball" or "horse cart". The names are the 1000 ImageNet-1k classes in
``resources/imagenet_classes.txt`` (their source is named in that file).

Tagging is incremental like embedding: a sample keeps its tags while the weights, frames, size,
``top`` and ``min_confidence`` are unchanged; a video that cannot be decoded is named with its
reason and tried again next time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import config
from ..embedding.run import SampleRunSummary
from ..errors import VideorecError, one_line_reason
from ..fields import prepare_label_field
from ..progress import ProgressFn, report
from ..search.index import dataset_of
from ..vectors import softmax

__all__ = ["TagSummary", "class_names", "frame_probabilities", "tag_counts", "tag_dataset", "top_classes"]

CLASSES_FILE = Path(__file__).resolve().parent.parent / "resources" / "imagenet_classes.txt"
VIDEOS_PER_CALL = 8  # videos whose frames go through the network together
WRITE_BATCH = 32  # samples per database write


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """Return the 1000 ImageNet class names, index = the network's output; a malformed file is an error."""
    names: dict[int, str] = {}
    for number, line in enumerate(CLASSES_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        index, sep, name = line.partition(":")
        if not sep or not index.isdigit() or not name.strip() or int(index) in names:
            raise VideorecError(f"{CLASSES_FILE.name} line {number} is not a new 'index:name': {line!r}")
        names[int(index)] = name.strip()
    if sorted(names) != list(range(1000)):
        raise VideorecError(f"{CLASSES_FILE.name} holds {len(names)} classes, not ImageNet's 0..999")
    return tuple(names[i] for i in range(1000))


def frame_probabilities(network, frames: np.ndarray) -> np.ndarray:
    """Return the ImageNet class probabilities ``(n, 1000)`` of ``(n, S, S, 3)`` RGB uint8 frames."""
    _, logits = network(np.asarray(frames, np.float32), training=False)
    return softmax(np.asarray(logits))


def top_classes(probabilities: np.ndarray, top: int = config.TAG_TOP,
                min_confidence: float = config.TAG_MIN_CONFIDENCE) -> list[tuple[str, float]]:
    """Return up to ``top`` ``(name, probability)`` of one video's averaged probabilities, at least
    ``min_confidence`` each, most probable first."""
    names = class_names()
    order = np.argsort(-probabilities)[:top]
    return [(names[i], float(probabilities[i])) for i in order if probabilities[i] >= min_confidence]


@dataclass
class TagSummary(SampleRunSummary):
    """How many samples were tagged now, how many kept their tags, and why the others failed."""

    tagged: int = 0


def check_settings(top: int, min_confidence: float) -> None:
    """Raise a one-line error unless ``top`` is 1..1000 and ``min_confidence`` a probability below 1."""
    if not 1 <= top <= 1000:
        raise VideorecError(f"top must be between 1 and 1000 classes, got {top}")
    if not 0 <= min_confidence < 1:
        raise VideorecError(f"min confidence must be a probability from 0 up to (not including) 1, got {min_confidence}")


def tags_fingerprint(top: int, min_confidence: float, frames: int = config.TAG_FRAMES,
                     size: int = config.TAG_SIZE) -> str:
    """Return the id of what a sample's tags were made with (weights and settings)."""
    from ..network.backbone import backbone_fingerprint

    key = f"{backbone_fingerprint()}|{frames}|{size}|{top}|{min_confidence}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def tag_dataset(dataset_or_view, field: str = config.IMAGENET_FIELD, top: int = config.TAG_TOP,
                min_confidence: float = config.TAG_MIN_CONFIDENCE, force: bool = False,
                progress: ProgressFn | None = None) -> TagSummary:
    """Write each video's top ImageNet classes into ``field`` as ``fo.Classifications``.

    Only samples without tags made with these settings are tagged (all with ``force``).
    """
    import fiftyone as fo

    from ..network.backbone import load_backbone
    from ..embedding.run import samples_to_embed
    from ..fields import fingerprint_field
    from ..frames import read_views

    check_settings(top, min_confidence)
    dataset = dataset_of(dataset_or_view)
    import fiftyone as fo

    prepare_label_field(dataset, field, fo.Classifications, "ImageNet tags")
    fingerprint = tags_fingerprint(top, min_confidence)
    ids, paths, already = samples_to_embed(dataset_or_view, field, fingerprint, force=force)
    summary = TagSummary(field, already=already)
    report(progress, 0.0, f"{already} already tagged, {len(ids)} to tag")
    if not ids:
        return summary
    network = load_backbone(config.TAG_SIZE)
    done: dict = {}
    for start in range(0, len(ids), VIDEOS_PER_CALL):
        batch = []
        for sample_id, path in zip(ids[start:start + VIDEOS_PER_CALL], paths[start:start + VIDEOS_PER_CALL]):
            try:
                batch.append((sample_id, read_views(path, frame_spec=(config.TAG_FRAMES, config.TAG_SIZE)).frames))
            except Exception as e:  # noqa: BLE001 (any decode failure is that sample's, never fatal to the others)
                summary.failed[sample_id] = one_line_reason(e)
                done[sample_id] = None
        if batch:
            probabilities = frame_probabilities(network, np.concatenate([frames for _, frames in batch]))
            first = 0
            for sample_id, frames in batch:
                mean = probabilities[first:first + len(frames)].mean(axis=0)
                first += len(frames)
                done[sample_id] = fo.Classifications(classifications=[
                    fo.Classification(label=name, confidence=p) for name, p in top_classes(mean, top, min_confidence)])
            summary.tagged += len(batch)
        finished = min(start + VIDEOS_PER_CALL, len(ids))
        if len(done) >= WRITE_BATCH or finished == len(ids):
            dataset.set_values(field, done, key_field="id")
            dataset.set_values(fingerprint_field(field), {sid: fingerprint if tags is not None else None
                                                          for sid, tags in done.items()}, key_field="id")
            done = {}
        report(progress, finished / len(ids), f"tagged {summary.tagged} of {len(ids)}")
    return summary


def tag_counts(dataset_or_view, field: str = config.IMAGENET_FIELD) -> dict[str, int]:
    """Return ``{class name: videos tagged with it}``, most frequent first."""
    counts = dataset_or_view.count_values(f"{field}.classifications.label")
    return {name: n for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))) if name is not None}
