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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import config
from ..embedding.embedder import shared_model
from ..errors import VideorecError
from ..fields import (MODEL_INFO_KEY, check_vector_field, fingerprint_field, index_field, index_info, record_model,
                     recorded_model, require_vector_field)
from ..progress import ProgressFn
from ..vectors import l2_normalize, top_k_cosine

__all__ = ["IndexChange", "IndexSummary", "Recommendation", "build_index", "recommend", "update_index",
           # the field bookkeeping, kept importable from here
           "MODEL_INFO_KEY", "check_vector_field", "index_field", "record_model", "recorded_model"]


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
    indexed = {str(sid) for sid in results.sample_ids} if info.config.method == "sklearn" else \
        {str(sid) for sid in results.get_embeddings()[1]}
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


def _query_vector(dataset, query, field_name: str, brain_key: str) -> tuple[np.ndarray, object]:
    """Return (vector, sample or None) for a sample id or a video file path."""
    from bson import ObjectId

    if isinstance(query, str) and ObjectId.is_valid(query):
        try:
            sample = dataset[query]
        except KeyError:
            raise VideorecError(f"no sample with id {query} in dataset {dataset.name!r}") from None
        vector = sample[field_name] if field_name in sample else None
        if vector is None:
            raise VideorecError(f"sample {query} has no embedding in {field_name!r}")
        return np.asarray(vector, float), sample
    path = Path(str(query))
    if not path.is_file():
        raise VideorecError(f"query {query!r} is neither a sample id of {dataset.name!r} nor a video file")
    model_dir = recorded_model(dataset, brain_key) or recorded_model(dataset, field_name)
    if not model_dir:
        raise VideorecError(f"no model is recorded for index {brain_key!r}; embed with 'videorec embed' to query by file")
    return np.asarray(shared_model(model_dir).embed(str(path)), float), None


_UNIT_GALLERIES: dict = {}  # (dataset name, brain key) -> (results, its sample ids array, gallery ids, unit vectors)


def _unit_gallery(dataset, brain_key: str, field_name: str) -> tuple[list[str], np.ndarray]:
    """Return (sample ids, unit vectors) of a sklearn index, normalising once per version of the index.

    The Brain's sklearn backend centres its own array in place the first time it sorts by
    similarity (its neighbours helper), so that array is the plain embeddings only until then:
    read it while it is untouched, else read the vectors from the field. A rebuilt or updated
    index is a new results object or a new sample ids array: either way the unit copy is made
    again. (Samples deleted since the index was last updated can be candidates; ``recommend``
    drops them, since they are no longer in the dataset.)
    """
    results = dataset.load_brain_results(brain_key, cache=True)
    cached = _UNIT_GALLERIES.get((dataset.name, brain_key))
    if cached is None or cached[0] is not results or cached[1] is not results.sample_ids:
        ids = [str(sid) for sid in results.sample_ids]
        if getattr(results, "_neighbors_helper", True) is None:  # never sorted: the array is untouched
            vectors = np.asarray(results.embeddings, np.float32)
        else:
            by_id = dict(zip(*dataset.exists(field_name).values(["id", field_name])))
            ids = [sid for sid in ids if sid in by_id]
            vectors = np.asarray([by_id[sid] for sid in ids], np.float32).reshape(len(ids), -1)
        cached = _UNIT_GALLERIES[(dataset.name, brain_key)] = (results, results.sample_ids, ids, l2_normalize(vectors))
    return cached[2], cached[3]


def _candidates(dataset, vector: np.ndarray, k: int, brain_key: str, method: str, field_name: str) -> list[str]:
    """Return the ids of the ``k`` nearest indexed samples by plain cosine similarity.

    The Brain's sklearn backend centres the embeddings (subtracts their mean) before its cosine,
    so its ``sort_by_similarity`` order is the cosine of centred vectors. For that backend the
    exact plain-cosine top-k is computed here from the index's own vectors (normalised once and
    kept while the index is unchanged); other backends (LanceDB, Qdrant, ...) rank by plain
    cosine themselves.
    """
    if method != "sklearn":
        return dataset.sort_by_similarity(vector, k=k, brain_key=brain_key).values("id")
    gallery_ids, gallery = _unit_gallery(dataset, brain_key, field_name)
    return [gallery_ids[i] for i in top_k_cosine(gallery, vector, k)]


def _as_list(queries) -> list:
    return [queries] if isinstance(queries, (str, Path)) else list(queries or [])


def _direction(dataset, queries: list, field_name: str, brain_key: str) -> tuple[np.ndarray | None, list]:
    """Return (mean of the queries' unit vectors, their samples) for sample ids and video files."""
    units, samples = [], []
    for query in queries:
        vector, sample = _query_vector(dataset, str(query), field_name, brain_key)
        units.append(vector / (np.linalg.norm(vector) or 1))
        if sample is not None:
            samples.append(sample)
    return (np.mean(units, axis=0) if units else None), samples


NEGATIVE_WEIGHT = 0.25
"""How far the negatives pull: the direction is mean(positives) - NEGATIVE_WEIGHT * mean(negatives).

Measured with the default model on two sets of the quality suite (their test queries against
their train clips; protocol: query, mark the first wrong result of the top 5 as a negative, query
again; P@5 gain beyond only hiding that clip, motion families / same recording): weight 0.25 +0.02 / +0.35, 0.5 -0.07 / +0.44, 1.0 (the
plain difference) -0.48 / -0.07: a full-weight negative drags the query toward whatever is least
like the negative rather than most like the positives.
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
    vector, samples = _direction(dataset, positives, field_name, brain_key)
    against, negative_samples = _direction(dataset, negatives, field_name, brain_key)
    if against is not None:
        vector = vector - negative_weight * against
        if not np.linalg.norm(vector) > 1e-9:
            raise VideorecError("the queries and the negatives point the same way; nothing is left to rank by")
    skip_ids = {s.id for s in samples + negative_samples}
    if exclude_same_group and dataset.has_field(config.GROUP_FIELD):
        groups = {s.get_field(config.GROUP_FIELD) for s in samples} - {None}
        if groups:
            skip_ids |= set(dataset.match({config.GROUP_FIELD: {"$in": sorted(groups)}}).values("id"))
    candidate_ids = _candidates(dataset, vector, k + len(skip_ids), brain_key, info.config.method, field_name)
    view = dataset.select(candidate_ids, ordered=True)
    label_path = f"{config.LABEL_FIELD}.label" if dataset.has_field(config.LABEL_FIELD) else None
    ids, paths, vectors = view.values(["id", "filepath", field_name])
    labels = view.values(label_path) if label_path else [None] * len(ids)
    query_unit = vector / (np.linalg.norm(vector) or 1)
    out = []
    for sid, path, vec, label in zip(ids, paths, vectors, labels):
        if sid in skip_ids or vec is None:
            continue
        vec = np.asarray(vec, float)
        out.append(Recommendation(sid, path, label, float(query_unit @ vec / (np.linalg.norm(vec) or 1))))
    out.sort(key=lambda r: -r.score)
    return out[:k]
