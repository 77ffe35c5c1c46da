"""Near-duplicate videos and split leaks, found by the FiftyOne Brain on an embeddings field.

``find_duplicates`` runs ``fiftyone.brain.compute_near_duplicates`` on the vectors a trained model
wrote (``videorec embed``): the Brain keeps the largest set of clips that are all further apart than
the threshold and attaches every other clip to its nearest kept clip. Each kept clip with at least
one attached copy is a :class:`DuplicateGroup`. ``find_leaks`` keeps the groups whose members carry
different split tags, as ``fiftyone.brain.compute_leaky_splits`` names them: a test clip with a
near-copy in train inflates every test metric.

Distances are the Brain's cosine distances (``1 - cosine``) of the embeddings after it subtracts
their mean over the clips searched, so they are larger than plain cosine distances and depend a
little on what else is in the dataset.

``DUPLICATE_THRESHOLD`` (``config``, 0.2) was chosen on measurements with models this project
trains (presets ``fast`` and ``motion``, 30-45 s on windows of real recordings, five models): ten
other real recordings of ``benchmarks/clips`` and their copies at 40 kbit/s, half size, 5 % border
cropped and half frame rate (``tests/test_duplicates.py``). A copy lay 0.03-0.11 from its original
(half size and half frame rate under 0.01; low bitrate and the crop furthest); two different
recordings 0.08-0.38 apart. At 0.2 three of the five models grouped every copy with its original
and joined no two recordings, one split a group (pair recall 0.96), and the weakest joined
recordings (pair precision 0.67); at 0.15 only two were exact, at 0.25 two joined recordings.
The test's own 30-s ``motion`` models put copies 0.13-0.16 from their originals and different
recordings 0.35-0.38 apart: exact groups at 0.2. The distances depend on the model: check a new model's groups
(``--json`` gives each group's ``max_distance``) before trusting the default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from . import config
from .errors import VideorecError
from .fields import require_vector_field

__all__ = ["DuplicateGroup", "find_duplicates", "find_leaks", "mark_duplicates", "duplicates_view"]


@dataclass
class DuplicateGroup:
    """Near-identical videos: the kept clip first, then its copies nearest first.

    ``max_distance`` is the largest distance of a copy to the kept clip (cosine distance of the
    centred vectors, as the Brain compares them; see the module docstring). It can pass the
    threshold: a copy joins its nearest kept clip, even when the clip that made it a copy was not kept.
    """

    ids: list[str]
    filepaths: list[str]
    max_distance: float
    splits: list[list[str]] | None = None  # split tags of each member; set by find_leaks

    def to_dict(self) -> dict:
        out = asdict(self)
        if self.splits is None:
            del out["splits"]
        return out


def check_threshold(threshold: float) -> None:
    """Raise a one-line error unless ``threshold`` is a distance in ``(0, 2)``."""
    if not 0 < threshold < 2:
        raise VideorecError(f"threshold must be a cosine distance above 0 and below 2, got {threshold}")


def _near_duplicates(dataset, field: str, threshold: float):
    """Return (the Brain's near-duplicates index, {sample id: its centred unit vector}) over the
    samples that have a vector in ``field``."""
    import fiftyone.brain as fob

    check_threshold(threshold)
    require_vector_field(dataset, field)
    with_vectors = dataset.exists(field)
    if len(with_vectors) < 2:
        raise VideorecError(f"need two or more samples with an embedding in {field!r}; "
                            f"{len(with_vectors)} have one (run 'videorec embed' first)")
    ids, vectors = with_vectors.values(["id", field])
    # The vectors go in as an array: given a field name on a view, this Brain version indexes the
    # whole dataset and returns clips from outside the view.
    vectors = np.asarray(vectors, np.float32).reshape(len(ids), -1)
    index = fob.compute_near_duplicates(with_vectors, threshold=threshold, embeddings=vectors, progress=False)
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    units = centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    return index, dict(zip(ids, units))


def _groups(dataset, neighbors_map: dict, units: dict) -> list[DuplicateGroup]:
    """Turn the Brain's ``{kept id: [(copy id, distance), ...]}`` into groups, in the dataset's order.

    ``max_distance`` is computed from the centred vectors: above 15,000 clips the Brain reports
    Euclidean distances of unit vectors instead of cosine distances.
    """
    ids, paths = dataset.values(["id", "filepath"])
    path_of, order = dict(zip(ids, paths)), {sid: i for i, sid in enumerate(ids)}
    groups = []
    for kept, copies in neighbors_map.items():
        members = [str(kept)] + [str(copy_id) for copy_id, _ in copies]
        distance = max(1.0 - float(units[members[0]] @ units[sid]) for sid in members[1:])
        groups.append(DuplicateGroup(members, [path_of[sid] for sid in members], round(distance, 6)))
    return sorted(groups, key=lambda g: order[g.ids[0]])


def find_duplicates(dataset, field: str = config.EMBEDDINGS_FIELD,
                    threshold: float = config.DUPLICATE_THRESHOLD) -> list[DuplicateGroup]:
    """Return the groups of near-identical videos: clips closer than ``threshold`` to a group's kept clip.

    ``threshold`` is a cosine distance (see the module docstring for the default and why).
    """
    index, units = _near_duplicates(dataset, field, threshold)
    return _groups(dataset, index.neighbors_map, units)


def find_leaks(dataset, field: str = config.EMBEDDINGS_FIELD, threshold: float = config.DUPLICATE_THRESHOLD,
               splits: tuple[str, ...] = config.SPLITS) -> list[DuplicateGroup]:
    """Return the near-duplicate groups that straddle split tags (e.g. a train clip and its copy in test).

    The Brain's ``compute_leaky_splits`` names the leaking clips; each group holding one is returned,
    with every member's split tags.
    """
    import fiftyone.brain as fob

    present = [tag for tag in splits if tag in set(dataset.distinct("tags"))]
    if len(present) < 2:
        raise VideorecError(f"dataset {dataset.name!r} needs two or more split tags of {', '.join(splits)} "
                            f"to look for leaks (found: {', '.join(present) or 'none'})")
    index, units = _near_duplicates(dataset, field, threshold)
    leaks = fob.compute_leaky_splits(dataset.exists(field), splits=present, similarity_index=index,
                                     threshold=threshold, progress=False)
    leak_ids = set(leaks.leak_ids)
    groups = [g for g in _groups(dataset, index.neighbors_map, units) if leak_ids & set(g.ids)]
    for group in groups:
        tags = dict(zip(*dataset.select(group.ids).values(["id", "tags"])))
        group.splits = [[tag for tag in tags[sid] if tag in present] for sid in group.ids]
    return groups


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
