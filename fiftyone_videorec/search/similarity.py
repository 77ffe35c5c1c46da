"""Cosine similarity indexes (FiftyOne Brain) and ``recommend``: "more clips like this one".

``build_index`` runs ``fiftyone.brain.compute_similarity(..., metric="cosine")`` on an embeddings
field. The backend is a parameter: ``sklearn`` (default, in memory), ``lancedb`` (embedded, on
disk under ``config.home_dir() / "lancedb"``), or any other Brain backend (``qdrant``,
``milvus``, ``mongodb``, ``pinecone``, ...) configured as the Brain documents; those receive
``backend_kwargs`` unchanged. ``dataset.sort_by_similarity(id, brain_key=...)`` works on the
index like on any Brain index.

``update_index`` brings an index up to date in place, through the Brain index's own
``add_to_index``/``remove_from_index``: new and re-embedded vectors go in, deleted samples and
cleared vectors go out. An sklearn index reads its vectors from the field whenever it is loaded,
so in a new process it is already current; updating matters for one held in memory (the App, a
notebook). A LanceDB table is only changed by an update or a rebuild.

``recommend`` reads the index through ``index.py`` (queries, the normalised gallery, candidates
with their scores). How ``NEGATIVE_WEIGHT`` was chosen: ``benchmarks/candidates.md``, "How the
negative weight was chosen".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import config
from ..embedding.embedder import shared_model
from ..errors import VideorecError
from ..fields import fingerprint_field, record_model, recorded_model, require_vector_field
from ..progress import ProgressFn
from .index import candidates, index_info, indexed_ids, query_vector

__all__ = ["IndexChange", "IndexSummary", "Recommendation", "build_index", "recommend", "update_index"]


@dataclass
class Recommendation:
    """One recommended clip: its sample id, file, label and cosine similarity to the query."""

    sample_id: str
    filepath: str
    label: str | None
    score: float


@dataclass
class IndexSummary:
    """What ``build_index`` indexed and what it left out."""

    brain_key: str
    field: str
    backend: str
    indexed: int
    missing: int


def build_index(dataset, field: str = config.EMBEDDINGS_FIELD, brain_key: str = config.BRAIN_KEY,
                backend: str = "sklearn", progress: ProgressFn | None = None, **backend_kwargs) -> IndexSummary:
    """Index ``field`` by cosine similarity under ``brain_key``; samples without a vector are left out.

    Re-running with the same key replaces the index.
    """
    import fiftyone.brain as fob

    require_vector_field(dataset, field)
    with_vectors = dataset.exists(field)
    indexed, missing = len(with_vectors), len(dataset) - len(with_vectors)
    if indexed == 0:
        raise VideorecError(f"no sample of {dataset.name!r} has an embedding in {field!r}")
    if backend == "lancedb":
        backend_kwargs.setdefault("uri", str(config.home_dir() / "lancedb"))
        backend_kwargs.setdefault("table_name", f"{dataset.name}-{brain_key}".replace("/", "_"))
    if brain_key in dataset.list_brain_runs():
        dataset.delete_brain_run(brain_key)
    if progress:
        progress(0.0, f"indexing {indexed} vectors ({backend})")
    fob.compute_similarity(with_vectors, embeddings=field, metric="cosine", brain_key=brain_key, backend=backend,
                           progress=False, **backend_kwargs)
    model_dir = recorded_model(dataset, field)
    if model_dir:
        record_model(dataset, brain_key, model_dir)
    _record_indexed_fingerprints(dataset, brain_key, field)
    if progress:
        progress(1.0, "indexed")
    return IndexSummary(brain_key, field, backend, indexed, missing)


@dataclass
class IndexChange:
    """What ``update_index`` changed: vectors added, replaced and removed, and the size after."""

    brain_key: str
    backend: str
    added: int
    changed: int
    removed: int
    indexed: int


INDEXED_FINGERPRINTS_KEY = "videorec_indexed_fingerprints"  # dataset.info[key][brain key] = fingerprints


def _fingerprints(dataset, field_name: str) -> dict:
    """Return sample id -> the fingerprint of the model that wrote its vector (None if unknown)."""
    fp_field = fingerprint_field(field_name)
    if not dataset.has_field(fp_field):
        return {}
    return dict(zip(*dataset.exists(field_name).values(["id", fp_field])))


def _record_indexed_fingerprints(dataset, brain_key: str, field_name: str) -> None:
    """Remember which model fingerprints the index holds, so an update can tell re-embedded samples."""
    fp_field = fingerprint_field(field_name)
    known = dict(dataset.info.get(INDEXED_FINGERPRINTS_KEY, {}))
    known[brain_key] = sorted(fp for fp in dataset.exists(field_name).distinct(fp_field) if fp) \
        if dataset.has_field(fp_field) else []
    dataset.info[INDEXED_FINGERPRINTS_KEY] = known
    dataset.save()


def update_index(dataset, brain_key: str = config.BRAIN_KEY, progress: ProgressFn | None = None) -> IndexChange:
    """Add new and re-embedded vectors to the ``brain_key`` index and drop deleted samples, in place.

    A sample counts as re-embedded when its vector's fingerprint (``<field>_fingerprint``) is not
    one the index was built or last updated with.
    """
    info, field_name = index_info(dataset, brain_key)
    results = dataset.load_brain_results(brain_key, cache=True)
    indexed = indexed_ids(results, info.config.method)
    fingerprints = _fingerprints(dataset, field_name)
    ids, vectors = dataset.exists(field_name).values(["id", field_name])
    current = dict(zip(ids, vectors))
    known = set(dataset.info.get(INDEXED_FINGERPRINTS_KEY, {}).get(brain_key, []))
    added = [sid for sid in current if sid not in indexed]
    changed = [sid for sid in current if sid in indexed and fingerprints.get(sid) not in known]
    removed = [sid for sid in indexed if sid not in current]
    if progress:
        progress(0.0, f"adding {len(added)}, replacing {len(changed)}, removing {len(removed)}")
    if removed:
        results.remove_from_index(sample_ids=removed, allow_missing=True, reload=False)
    if added or changed:
        put = added + changed
        results.add_to_index(np.asarray([current[sid] for sid in put], np.float32), list(put),
                             overwrite=True, reload=False)
    results.reload()
    results.save()
    _record_indexed_fingerprints(dataset, brain_key, field_name)
    if progress:
        progress(1.0, "index updated")
    return IndexChange(brain_key, info.config.method, len(added), len(changed), len(removed), results.total_index_size)


def _file_embedder(dataset, brain_key: str, field_name: str) -> Callable[[str], np.ndarray]:
    """Return a function embedding a video file with the model recorded for the index (or its field)."""
    def embed(path: str) -> np.ndarray:
        model_dir = recorded_model(dataset, brain_key) or recorded_model(dataset, field_name)
        if not model_dir:
            raise VideorecError(f"no model is recorded for index {brain_key!r}; embed with 'videorec embed' "
                                "to query by file")
        return shared_model(model_dir).embed(path)

    return embed


def _as_list(queries) -> list:
    return [queries] if isinstance(queries, (str, Path)) else list(queries or [])


def _direction(dataset, queries: list, field_name: str, embed_file: Callable[[str], np.ndarray]
               ) -> tuple[np.ndarray | None, list]:
    """Return (mean of the queries' unit vectors, their samples) for sample ids and video files."""
    units, samples = [], []
    for query in queries:
        vector, sample = query_vector(dataset, str(query), field_name, embed_file)
        units.append(vector / (np.linalg.norm(vector) or 1))
        if sample is not None:
            samples.append(sample)
    return (np.mean(units, axis=0) if units else None), samples


NEGATIVE_WEIGHT = 0.25
"""How far the negatives pull: the direction is mean(positives) - NEGATIVE_WEIGHT * mean(negatives).

A full-weight negative drags the query toward whatever is least like the negative rather than
most like the positives; the measurements: ``benchmarks/candidates.md``, "How the negative weight
was chosen".
"""


def recommend(dataset, query, k: int = 10, brain_key: str = config.BRAIN_KEY, exclude_same_group: bool = False,
              negatives=(), negative_weight: float = NEGATIVE_WEIGHT) -> list[Recommendation]:
    """Return the ``k`` clips most similar to ``query``, best first.

    ``query`` is a sample id or a new video file, or a list of them ("more like these");
    ``negatives`` likewise ("less like those"). The ranking direction is the mean of the
    positives' unit vectors minus ``negative_weight`` times the mean of the negatives' (Rocchio's
    query update), and a score is the cosine similarity to that direction (to the query itself
    when there is one query and no negative). Query and negative samples are never returned; with
    ``exclude_same_group`` neither are clips sharing a positive's ``config.GROUP_FIELD``.
    """
    if k < 1:
        raise VideorecError(f"k must be at least 1, got {k}")
    positives, negatives = _as_list(query), _as_list(negatives)
    if not positives:
        raise VideorecError("give at least one query clip (a sample id or a video file)")
    both = {str(q) for q in positives} & {str(q) for q in negatives}
    if both:
        raise VideorecError(f"{sorted(both)[0]} is both a query and a negative; give each clip once")
    info, field_name = index_info(dataset, brain_key)
    embed_file = _file_embedder(dataset, brain_key, field_name)
    vector, samples = _direction(dataset, positives, field_name, embed_file)
    against, negative_samples = _direction(dataset, negatives, field_name, embed_file)
    if against is not None:
        vector = vector - negative_weight * against
        if not np.linalg.norm(vector) > 1e-9:
            raise VideorecError("the queries and the negatives point the same way; nothing is left to rank by")
    skip_ids = {s.id for s in samples + negative_samples}
    if exclude_same_group and dataset.has_field(config.GROUP_FIELD):
        groups = {s.get_field(config.GROUP_FIELD) for s in samples} - {None}
        if groups:
            skip_ids |= set(dataset.match({config.GROUP_FIELD: {"$in": sorted(groups)}}).values("id"))
    scores = candidates(dataset, vector, k + len(skip_ids), brain_key, info.config.method, field_name)
    # samples deleted or cleared since the index was last updated are not in this view
    view = dataset.select(list(scores), ordered=True).exists(field_name)
    label_path = f"{config.LABEL_FIELD}.label" if dataset.has_field(config.LABEL_FIELD) else None
    ids, paths = view.values(["id", "filepath"])
    labels = view.values(label_path) if label_path else [None] * len(ids)
    out = [Recommendation(sid, path, label, scores[sid])
           for sid, path, label in zip(ids, paths, labels) if sid not in skip_ids]
    out.sort(key=lambda r: -r.score)
    return out[:k]
