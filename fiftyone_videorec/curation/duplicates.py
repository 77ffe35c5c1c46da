"""Near-duplicate videos and split leaks in a FiftyOne dataset, found with copy descriptors.

Copy detection asks another question than "more like this": two recordings of the same action
are alike, but only a re-encoded, resized, cropped, flipped or captioned version of the *same*
footage is a copy. So it uses its own per-frame descriptors (``copy_detection.py``), stored per
sample in ``config.DUPLICATE_DESCRIPTOR_FIELD`` and computed for the samples that lack them on
first use, not the recommendation embedding.

``find_duplicates`` scores each video against its ``k`` nearest neighbours with the temporally
aligned copy score and joins every pair closer than the threshold into groups (connected
components). Each group's first clip is its longest; every member comes with the stretch of it
that the member covers (``spans``), so a trimmed excerpt says where it was cut from.
``find_leaks`` keeps the groups whose members carry different split tags: a test clip with a
copy in train inflates every test metric.

``DUPLICATE_THRESHOLD`` (0.14, a distance ``1 - copy score``) is the middle of the range that
groups the validation set of ``benchmarks/duplicates.md`` exactly (28 real recordings, ten
altered copies of each, excerpts and overlapping cuts, every pair scored): 0.12 to 0.16 there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .. import config
from ..errors import VideorecError, one_line_reason
from ..progress import ProgressFn, report
from ..search.index import dataset_of

__all__ = ["DuplicateGroup", "compute_copy_descriptors", "find_duplicates", "find_leaks", "mark_duplicates",
           "duplicates_view"]

WRITE_BATCH = 32  # samples per database write


@dataclass
class DuplicateGroup:
    """Copies of one video: the kept clip (the longest) first, then its copies nearest first.

    ``max_distance`` is the largest copy distance of a member to the kept clip; it can pass the
    threshold when a member joined through another member. ``spans`` gives, per member, the
    seconds ``[start, end]`` of the kept clip that it covers.
    """

    ids: list[str]
    filepaths: list[str]
    max_distance: float
    spans: list[list[float]] = field(default_factory=list)
    splits: list[list[str]] | None = None  # split tags of each member; set by find_leaks

    def to_dict(self) -> dict:
        out = asdict(self)
        if self.splits is None:
            del out["splits"]
        return out


@dataclass
class DescriptorSummary:
    """How many samples got copy descriptors, how many had them already, why the others failed."""

    computed: int = 0
    already: int = 0
    failed: dict = field(default_factory=dict)


def check_threshold(threshold: float) -> None:
    """Raise a one-line error unless ``threshold`` is a copy distance in ``(0, 2)``."""
    if not 0 < threshold < 2:
        raise VideorecError(f"threshold must be a copy distance above 0 and below 2, got {threshold}")


def _prepare_field(dataset, field_name: str) -> None:
    """Add the descriptor field and its fingerprint field; refuse a field that holds something else."""
    import fiftyone as fo

    from ..fields import fingerprint_field

    schema = dataset.get_field_schema()
    kind = schema.get(field_name)
    if kind is not None and (not isinstance(kind, fo.ArrayField) or fingerprint_field(field_name) not in schema):
        raise VideorecError(f"field {field_name!r} already holds {type(kind).__name__} values that are not copy "
                            "descriptors; choose another --field")
    if kind is None:
        dataset.add_sample_field(field_name, fo.ArrayField)
        dataset.add_sample_field(fingerprint_field(field_name), fo.StringField)


def compute_copy_descriptors(dataset_or_view, field: str = config.DUPLICATE_DESCRIPTOR_FIELD, force: bool = False,
                             progress: ProgressFn | None = None) -> DescriptorSummary:
    """Compute the copy descriptors of the samples that lack current ones (all with ``force``) into ``field``.

    Undecodable samples are named in the summary and left without descriptors (tried again next time).
    """
    from .copy_detection import CopyDescriber, descriptor_fingerprint
    from ..embedding.run import samples_to_embed
    from ..fields import fingerprint_field

    dataset = dataset_of(dataset_or_view)
    _prepare_field(dataset, field)
    fingerprint = descriptor_fingerprint()
    ids, paths, already = samples_to_embed(dataset_or_view, field, fingerprint, force=force)
    summary, describer, done = DescriptorSummary(already=already), CopyDescriber(), {}
    for i, (sample_id, path) in enumerate(zip(ids, paths)):
        try:
            done[sample_id] = describer.describe(path)
        except (VideorecError, OSError, ValueError) as e:  # an unreadable file, never fatal to the others
            summary.failed[sample_id] = one_line_reason(e)
            done[sample_id] = None  # no stale descriptor of an older recipe stays behind
        if len(done) >= WRITE_BATCH or i == len(ids) - 1:
            dataset.set_values(field, done, key_field="id")
            dataset.set_values(fingerprint_field(field), {sid: fingerprint if d is not None else None
                                                          for sid, d in done.items()}, key_field="id")
            summary.computed += sum(d is not None for d in done.values())
            done = {}
        report(progress, (i + 1) / len(ids), f"copy descriptors {i + 1}/{len(ids)}")
    return summary


def _load(dataset_or_view, field: str):
    """Return (ids, paths to show, descriptors) of the samples that have copy descriptors."""
    have = dataset_or_view.exists(field)
    ids, paths, descriptors = have.values(["id", "filepath", field])
    if dataset_of(have).has_field(config.ORIGINAL_PATH_FIELD):  # the user's own file, not a transcoded copy
        originals = have.values(config.ORIGINAL_PATH_FIELD)
        paths = [original or path for original, path in zip(originals, paths)]
    return ids, paths, [np.asarray(d, np.float32) for d in descriptors]  # stored as float16


def find_duplicates(dataset_or_view, threshold: float = config.DUPLICATE_THRESHOLD,
                    field: str = config.DUPLICATE_DESCRIPTOR_FIELD, k: int = config.DUPLICATE_CANDIDATES,
                    progress: ProgressFn | None = None) -> list[DuplicateGroup]:
    """Return the groups of copies among the samples, computing missing copy descriptors first.

    ``threshold`` is a copy distance (``1 -`` the aligned chamfer similarity; see the module docstring).
    """
    from .copy_detection import group_copies

    check_threshold(threshold)
    if k < 1:
        raise VideorecError(f"k must be at least 1 neighbour per video, got {k}")
    compute_copy_descriptors(dataset_or_view, field=field, progress=progress)
    ids, paths, descriptors = _load(dataset_or_view, field)
    if len(ids) < 2:
        raise VideorecError(f"need two or more decodable videos to look for copies; {len(ids)} have descriptors")
    return [DuplicateGroup([ids[i] for i in group.members], [paths[i] for i in group.members],
                           round(max(group.distances), 6), group.spans)
            for group in group_copies(descriptors, threshold=threshold, k=k)]


def split_tags(dataset_or_view, splits: tuple[str, ...] = config.SPLITS) -> list[str]:
    """Return the tags of ``splits`` the samples carry; a one-line error unless there are two or more."""
    present = [tag for tag in splits if tag in set(dataset_or_view.distinct("tags"))]
    if len(present) < 2:
        raise VideorecError(f"dataset {dataset_of(dataset_or_view).name!r} needs two or more split tags of "
                            f"{', '.join(splits)} to look for leaks (found: {', '.join(present) or 'none'})")
    return present


def find_leaks(dataset_or_view, threshold: float = config.DUPLICATE_THRESHOLD,
               field: str = config.DUPLICATE_DESCRIPTOR_FIELD, splits: tuple[str, ...] = config.SPLITS,
               progress: ProgressFn | None = None) -> list[DuplicateGroup]:
    """Return the groups of copies whose members carry different split tags, with every member's tags."""
    present = split_tags(dataset_or_view, splits)
    groups = find_duplicates(dataset_or_view, threshold=threshold, field=field, progress=progress)
    tags_of = dict(zip(*dataset_or_view.values(["id", "tags"])))
    leaks = []
    for group in groups:
        group.splits = [[tag for tag in tags_of[sid] if tag in present] for sid in group.ids]
        if len({tag for tags in group.splits for tag in tags}) > 1:
            leaks.append(group)
    return leaks


def mark_duplicates(dataset, groups: list[DuplicateGroup], field: str = config.DUPLICATE_GROUP_FIELD,
                    tag: str = config.DUPLICATE_TAG) -> None:
    """Write each member's group number (1, 2, ...) into ``field`` and tag it ``tag``.

    Marks from an earlier run are cleared first, so the field and tag always describe ``groups``.
    """
    if dataset.has_field(field):
        dataset.set_field(field, None).save()
    dataset.untag_samples(tag)
    numbers = {sid: number for number, group in enumerate(groups, 1) for sid in group.ids}
    if not numbers:
        return
    dataset.set_values(field, numbers, key_field="id")
    dataset.select(list(numbers)).tag_samples(tag)


def duplicates_view(dataset, groups: list[DuplicateGroup] | None = None, field: str = config.DUPLICATE_GROUP_FIELD):
    """Return the clips of ``groups`` group by group, each kept clip first; without ``groups``, the
    clips marked by :func:`mark_duplicates`, sorted by group number."""
    if groups is not None:
        return dataset.select([sid for group in groups for sid in group.ids], ordered=True)
    if not dataset.has_field(field):
        raise VideorecError(f"dataset {dataset.name!r} has no field {field!r}; find duplicates first")
    return dataset.exists(field).sort_by(field)
