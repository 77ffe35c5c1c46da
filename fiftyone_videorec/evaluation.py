"""Retrieval metrics: queries from one split search a gallery from another by cosine similarity.

A gallery clip is relevant to a query when both carry the same label. For each cut-off k:

- ``precision@k``: mean fraction of the top-k that are relevant;
- ``recall@k``: hit rate, the fraction of queries with at least one relevant clip in the top-k;
- ``map@k``: mean over queries of AP@k = sum_i P@i * rel_i / min(k, relevant in gallery);
- ``chance_*``: the same metric for a random ranking, from the label frequencies of the gallery.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import config
from .errors import VideorecError
from .search.index import index_field
from .vectors import l2_normalize, rank_gallery

__all__ = ["RetrievalReport", "evaluate_retrieval", "evaluate_vectors", "l2_normalize", "parse_k_values",
           "rank_gallery", "retrieval_metrics"]


def parse_k_values(text: str) -> tuple[int, ...]:
    """Return the cut-offs of ``"1,5,10"`` as ``(1, 5, 10)``; one-line VideorecError for anything else."""
    try:
        values = tuple(int(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise VideorecError(f"k values must be positive integers separated by commas, got {text!r}")
    return values


@dataclass
class RetrievalReport:
    """Flat metrics (``{"precision@5": ...}``) and a per-class table (label -> metric -> value)."""

    metrics: dict
    per_class: dict = field(default_factory=dict)
    num_queries: int = 0
    num_gallery: int = 0

    def table(self) -> str:
        """Return the per-class table as aligned text."""
        if not self.per_class:
            return ""
        cols = list(next(iter(self.per_class.values())))
        lines = ["class".ljust(20) + "".join(c.rjust(14) for c in cols)]
        for label, row in self.per_class.items():
            lines.append(str(label)[:20].ljust(20) + "".join(f"{row[c]:14.3f}" for c in cols))
        return "\n".join(lines)


def retrieval_metrics(ranked_labels, query_labels, gallery_labels, k=(1, 5, 10)) -> tuple[dict, dict]:
    """Return ``(metrics, per_class)`` from each query's ranked gallery labels (queries x >=max(k)).

    ``per_class`` maps each query label to its own precision@k / recall@k / map@k.
    """
    ranked = np.asarray(ranked_labels, dtype=object)
    query_labels = np.asarray(query_labels, dtype=object)
    gallery_labels = np.asarray(gallery_labels, dtype=object)
    if ranked.ndim != 2 or len(ranked) != len(query_labels) or len(query_labels) == 0:
        raise VideorecError(f"need one ranked row per query; got {ranked.shape} for {len(query_labels)} queries")
    relevant = ranked == query_labels[:, None]  # queries x ranks
    labels, counts = np.unique(gallery_labels, return_counts=True)
    n_relevant = np.array([dict(zip(labels, counts)).get(q, 0) for q in query_labels], float)
    freq = n_relevant / max(len(gallery_labels), 1)
    per_query: dict[str, np.ndarray] = {}
    metrics: dict[str, float] = {}
    for cut in k:
        rel = relevant[:, :cut].astype(float)
        precision_at_i = np.cumsum(rel, axis=1) / np.arange(1, rel.shape[1] + 1)
        ap = (precision_at_i * rel).sum(axis=1) / np.maximum(np.minimum(cut, n_relevant), 1)
        per_query[f"precision@{cut}"] = rel.sum(axis=1) / cut
        per_query[f"recall@{cut}"] = (rel.sum(axis=1) > 0).astype(float)
        per_query[f"map@{cut}"] = ap
        for name, values in (("precision", per_query[f"precision@{cut}"]), ("recall", per_query[f"recall@{cut}"]),
                             ("map", ap)):
            metrics[f"{name}@{cut}"] = float(values.mean())
        # a random ranking: each slot relevant with the label's gallery frequency
        metrics[f"chance_precision@{cut}"] = float(freq.mean())
        metrics[f"chance_recall@{cut}"] = float((1 - (1 - freq) ** cut).mean())
        metrics[f"chance_map@{cut}"] = float(freq.mean())
    per_class = {
        str(label): {name: float(values[query_labels == label].mean()) for name, values in per_query.items()}
        for label in sorted(set(query_labels.tolist()))
    }
    return metrics, per_class


def evaluate_retrieval(dataset, brain_key: str = config.BRAIN_KEY, k=(1, 5, 10), query_tag: str = config.TEST_TAG,
                       gallery_tag: str = config.TRAIN_TAG) -> RetrievalReport:
    """Return a :class:`RetrievalReport` for ``query_tag`` clips searching ``gallery_tag`` clips.

    The vectors are the embeddings field the ``brain_key`` index was built from; labels come from
    ``config.LABEL_FIELD``.
    """
    return evaluate_field(dataset, index_field(dataset, brain_key), k, query_tag, gallery_tag)


def evaluate_field(dataset, field_name: str, k=(1, 5, 10), query_tag: str = config.TEST_TAG,
                   gallery_tag: str = config.TRAIN_TAG) -> RetrievalReport:
    """Return a :class:`RetrievalReport` of the vectors in ``field_name`` (no index needed)."""
    k = tuple(sorted({int(c) for c in k}))
    if not k or k[0] < 1:
        raise VideorecError(f"k must be positive integers, got {k}")
    parts = []
    for tag, role in ((query_tag, "query"), (gallery_tag, "gallery")):
        view = dataset.match_tags(tag).exists(field_name).exists(f"{config.LABEL_FIELD}.label")
        if len(view) == 0:
            raise VideorecError(f"no {role} clips: no sample tagged {tag!r} has both {field_name!r} and a label")
        vectors, labels = view.values([field_name, f"{config.LABEL_FIELD}.label"])
        parts.append((np.stack(vectors), labels))
    (query_vectors, query_labels), (gallery_vectors, gallery_labels) = parts
    return evaluate_vectors(query_vectors, query_labels, gallery_vectors, gallery_labels, k)


def evaluate_vectors(query_vectors: np.ndarray, query_labels, gallery_vectors: np.ndarray, gallery_labels,
                     k=(1, 5, 10)) -> RetrievalReport:
    """Return a :class:`RetrievalReport` for labelled query vectors searching labelled gallery vectors."""
    k = tuple(sorted({int(c) for c in k}))
    order, _ = rank_gallery(query_vectors, gallery_vectors, max(k))
    ranked = np.asarray(gallery_labels, dtype=object)[order]
    if ranked.shape[1] < max(k):  # a gallery smaller than k: missing slots are never relevant
        ranked = np.concatenate([ranked, np.full((len(ranked), max(k) - ranked.shape[1]), None, object)], axis=1)
    metrics, per_class = retrieval_metrics(ranked, query_labels, gallery_labels, k)
    return RetrievalReport(metrics, per_class, len(query_labels), len(gallery_labels))
