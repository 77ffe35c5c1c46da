"""The similarity indexes as search reads them: brain keys, queries, galleries and candidates.

``recommend`` (``similarity.py``), moment search (``moments.py``) and, through ``recommend``, the
App's "Similar videos" panel reach a FiftyOne Brain index only through this module:

- which index a brain key names and which embeddings field it was built from;
- a query, "a sample id or a video file", parsed in one place, and its vector;
- the index's vectors normalised once (a "gallery"), kept while the index is unchanged: a
  Brain index's for ``recommend``, a moment index's with each row's video and seconds for
  moment search;
- the candidates of a query with their cosine scores, by plain cosine on every backend.

It is also the one module that reads FiftyOne beyond its public API (:func:`dataset_of`,
:func:`view_stages`, :func:`_untouched`); each read names the FiftyOne version it was checked
against, so an upgrade is checked here. It imports nothing above ``errors`` and ``vectors``, so
embedding and curation use it as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import VideorecError
from ..vectors import l2_normalize, top_k_cosine


# --- FiftyOne beyond its public API --------------------------------------------------------------
def dataset_of(samples):
    """Return the dataset that a dataset or view reads its samples from (a dataset is its own).

    FiftyOne has no public equivalent: a generated view's (clips, patches, frames)
    ``dataset_name`` names its source dataset, not the generated one it reads.
    """
    # fiftyone 1.22.1: SampleCollection._dataset (fiftyone/core/collections.py; defined by Dataset in
    # core/dataset.py, DatasetView in core/view.py and the generated views, e.g. ClipsView in core/clips.py)
    return samples._dataset


def view_stages(samples) -> list[dict]:
    """Return the view stages of ``samples`` as plain dicts, the form an operator request carries its view in."""
    # fiftyone 1.22.1: DatasetView._serialize() (fiftyone/core/view.py); the operator executor
    # (fiftyone/operators/executor.py) serialises a request's view the same way
    return samples.view()._serialize()


def _untouched(results) -> bool:
    """True while a Brain sklearn index has never sorted, so its ``embeddings`` are still the plain vectors.

    Its first sort centres that array in place (subtracts the mean), for good.
    """
    # fiftyone 1.22.1 (fiftyone-brain 0.25.0): SklearnSimilarityIndex._neighbors_helper, None until the
    # first sort (fiftyone/brain/internal/core/sklearn.py); an index without the attribute counts as sorted
    return getattr(results, "_neighbors_helper", True) is None


# --- brain keys ----------------------------------------------------------------------------------
def has_index(dataset, brain_key: str) -> bool:
    """True when the dataset has a Brain run named ``brain_key``."""
    return brain_key in dataset.list_brain_runs()


def brain_info(dataset, brain_key: str):
    """Return the FiftyOne Brain run info of ``brain_key`` (one-line error naming the known keys)."""
    if not has_index(dataset, brain_key):
        known = ", ".join(dataset.list_brain_runs()) or "none"
        raise VideorecError(f"unknown brain key {brain_key!r} on dataset {dataset.name!r} (known: {known})")
    return dataset.get_brain_info(brain_key)


def index_info(dataset, brain_key: str):
    """Return (brain run info, embeddings field) of the ``brain_key`` index."""
    info = brain_info(dataset, brain_key)
    if not info.config.embeddings_field:
        raise VideorecError(f"brain run {brain_key!r} was not built from an embeddings field")
    return info, info.config.embeddings_field


def index_field(dataset, brain_key: str) -> str:
    """Return the embeddings field the ``brain_key`` index was built from."""
    return index_info(dataset, brain_key)[1]


def indexed_ids(results, method: str) -> set[str]:
    """Return the sample ids a loaded Brain index holds now (an sklearn index keeps them in memory)."""
    ids = results.sample_ids if method == "sklearn" else results.get_embeddings()[1]
    return {str(sid) for sid in ids}


# --- queries -------------------------------------------------------------------------------------
def parse_query(dataset, query) -> tuple[object | None, str | None]:
    """Return ``(sample, None)`` for a sample id of ``dataset``, ``(None, path)`` for a video file;
    anything else is a one-line error."""
    from bson import ObjectId

    if isinstance(query, str) and ObjectId.is_valid(query):
        try:
            return dataset[query], None
        except KeyError:
            raise VideorecError(f"no sample with id {query} in dataset {dataset.name!r}") from None
    if not Path(str(query)).is_file():
        raise VideorecError(f"query {query!r} is neither a sample id of {dataset.name!r} nor a video file")
    return None, str(query)


def query_vector(dataset, query, field_name: str,
                 embed_file: Callable[[str], np.ndarray]) -> tuple[np.ndarray, object | None]:
    """Return ``(vector, sample or None)``: a sample's vector in ``field_name``, or ``embed_file(path)``
    for a video file (the caller embeds it with the index's model)."""
    sample, path = parse_query(dataset, query)
    if sample is None:
        return np.asarray(embed_file(path), float), None
    vector = sample[field_name] if field_name in sample else None
    if vector is None:
        raise VideorecError(f"sample {query} has no embedding in {field_name!r}")
    return np.asarray(vector, float), sample


# --- galleries: an index's vectors, normalised once per version of the index ----------------------
@dataclass
class Gallery:
    """A Brain index's unit vectors, one row per sample id."""

    results: object
    index_ids: object  # the index's own sample ids array: an update replaces it
    ids: list
    unit: np.ndarray


@dataclass
class MomentGallery:
    """A moment index's unit vectors with each row's moment, video and seconds, rows grouped by video
    in time order."""

    results: object
    index_ids: object
    moment_ids: list
    unit: np.ndarray
    video: np.ndarray  # row -> position in sample_ids
    start: np.ndarray
    end: np.ndarray
    sample_ids: list
    filepaths: list


_GALLERIES: dict = {}  # (dataset name, brain key) -> Gallery or MomentGallery


def _cached(dataset, brain_key: str, results, make: Callable):
    """Return the gallery made for this ``results`` object, or make it again: a rebuilt index is a new
    results object, an updated one a new sample ids array."""
    key = (dataset.name, brain_key)
    cached = _GALLERIES.get(key)
    if cached is None or cached.results is not results or cached.index_ids is not results.sample_ids:
        cached = _GALLERIES[key] = make()
    return cached


def unit_gallery(dataset, brain_key: str, field_name: str) -> Gallery:
    """Return the unit vectors of the sklearn index ``brain_key``, normalised once per version of the index.

    The index's own array holds the plain vectors until the Brain first sorts by it; after that
    the vectors are read from ``field_name``. (Samples deleted since the index was last updated
    can be rows; ``recommend`` drops them, since they are no longer in the dataset.)
    """
    results = dataset.load_brain_results(brain_key, cache=True)

    def sample_gallery() -> Gallery:
        ids = [str(sid) for sid in results.sample_ids]
        if _untouched(results):
            vectors = np.asarray(results.embeddings, np.float32)
        else:
            by_id = dict(zip(*dataset.exists(field_name).values(["id", field_name])))
            ids = [sid for sid in ids if sid in by_id]
            vectors = np.asarray([by_id[sid] for sid in ids], np.float32).reshape(len(ids), -1)
        return Gallery(results, results.sample_ids, ids, l2_normalize(vectors))

    return _cached(dataset, brain_key, results, sample_gallery)


def moment_gallery(dataset, field_name: str, brain_key: str) -> MomentGallery:
    """Return the moment index ``brain_key`` over ``field_name`` as unit vectors grouped by video in
    time order, made once per version of the index.

    The index's own array is read while the Brain has not sorted by it, else the vectors stored on
    the moments (``<field>.detections.embedding``), as :func:`unit_gallery` does.
    """
    results = dataset.load_brain_results(brain_key, cache=True, load_view=False)

    def moments_gallery() -> MomentGallery:
        untouched = _untouched(results)
        names = ("id", "start", "end") if untouched else ("id", "start", "end", "embedding")
        sample_ids, paths, *columns = dataset.values(
            ["id", "filepath", *(f"{field_name}.detections.{name}" for name in names)])
        where = {mid: (v, s, e) for v, row in enumerate(zip(*columns[:3])) for mid, s, e in zip(*(x or [] for x in row))}
        rows = sorted((where[mid][:2], i) for i, mid in enumerate(results.sample_ids) if mid in where)
        order = np.asarray([i for _, i in rows], int)
        ids = [str(results.sample_ids[i]) for i in order]
        if untouched:
            vectors = np.asarray(results.embeddings, np.float32)[order]
        else:
            stored = {mid: vec for mids, vecs in zip(columns[0], columns[3]) for mid, vec in zip(mids or [], vecs or [])}
            vectors = np.asarray([stored[mid] for mid in ids], np.float32).reshape(len(ids), -1)
        return MomentGallery(results, results.sample_ids, ids, l2_normalize(vectors),
                             np.asarray([where[mid][0] for mid in ids], int),
                             np.asarray([where[mid][1] for mid in ids], float),
                             np.asarray([where[mid][2] for mid in ids], float), sample_ids, paths)

    return _cached(dataset, brain_key, results, moments_gallery)


# --- candidates ----------------------------------------------------------------------------------
def candidates(dataset, vector: np.ndarray, k: int, brain_key: str, method: str, field_name: str) -> dict[str, float]:
    """Return the ``k`` nearest indexed samples by plain cosine similarity: ``{sample id: cosine}``, best first.

    The Brain's sklearn backend centres the embeddings (subtracts their mean) before its cosine,
    so its ``sort_by_similarity`` order is the cosine of centred vectors. For that backend the
    exact plain-cosine top-k and its scores come from the index's own vectors (:func:`unit_gallery`).
    Other backends (LanceDB, Qdrant, ...) rank by plain cosine themselves; their scores are the
    cosine with the candidates' vectors in ``field_name``, read with the ranking (the Brain gives
    a backend's distances only by writing them into a field, and backends differ in what they
    call a distance). Rows of samples deleted or cleared since the index was built can be
    returned by the sklearn backend; callers drop them.
    """
    if method != "sklearn":
        ids, vectors = dataset.sort_by_similarity(vector, k=k, brain_key=brain_key).values(["id", field_name])
        query_unit = vector / (np.linalg.norm(vector) or 1)
        return {sid: float(query_unit @ np.asarray(vec, float) / (np.linalg.norm(vec) or 1))
                for sid, vec in zip(ids, vectors) if vec is not None}
    gallery = unit_gallery(dataset, brain_key, field_name)
    rows, scores = top_k_cosine(gallery.unit, vector, k)
    return {gallery.ids[i]: float(score) for i, score in zip(rows, scores)}
