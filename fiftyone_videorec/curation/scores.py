"""Curation scores through the FiftyOne Brain on our models' outputs: label mistakes, hard, unique
and representative clips.

``fob.compute_mistakenness`` compares the predictions (``videorec predict``, with logits) with the
labels; ``compute_hardness`` is the entropy of the predictions' logits; ``compute_uniqueness`` and
``compute_representativeness`` read the embeddings field as it is (no recomputation). Each score
goes into the Brain's own field name (``SCORES``), so the App sorts by it; each is computed on
the samples that have what it needs, and a run with other inputs replaces the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import config
from ..errors import VideorecError
from ..progress import ProgressFn, report
from ..search.index import dataset_of

__all__ = ["SCORES", "CurationResult", "curate"]

SCORES = ("mistakenness", "hardness", "uniqueness", "representativeness")
"""The scores, each written into the sample field of that name (the Brain's default)."""
REPRESENTATIVE_MIN = 20  # the Brain clusters with k-means into 20 clusters: fewer videos cannot be ranked
WHAT_IT_MEANS = {
    "mistakenness": "how likely the label is wrong: a confident prediction of another class scores high",
    "hardness": "how unsure the model is (entropy of its prediction): hard clips are worth labelling next",
    "uniqueness": "how far a clip is from its nearest neighbours: copies and near-copies score low",
    "representativeness": "how close a clip is to the centre of a cluster of similar clips",
}


@dataclass
class CurationResult:
    """Per score: the samples it was computed on and the top ``n`` of them, highest first."""

    computed: dict[str, int] = field(default_factory=dict)
    top: dict[str, list[dict]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # score -> why (only when no score was asked for)

    def to_dict(self) -> dict:
        return {"computed": self.computed, "top": self.top, "skipped": self.skipped}


def _with(samples, field_name: str, what: str, how: str):
    """Return the samples that have ``field_name``; a one-line error when none has it."""
    if not dataset_of(samples).has_field(field_name):
        raise VideorecError(f"no field {field_name!r} on this dataset for {what}: {how}")
    having = samples.exists(field_name)
    if not len(having):
        raise VideorecError(f"no sample has a value in {field_name!r} for {what}: {how}")
    return having


def _fresh(samples, key: str) -> None:
    """Delete a previous Brain run under ``key`` (it may have read other fields)."""
    dataset = dataset_of(samples)
    if key in dataset.list_brain_runs():
        dataset.delete_brain_run(key)


def _top(samples, score: str, n: int) -> list[dict]:
    """Return the ``n`` samples with the highest ``score``: id, file, label, score."""
    view = samples.exists(score).sort_by(score, reverse=True).limit(n)
    label_field = config.LABEL_FIELD if dataset_of(samples).has_field(config.LABEL_FIELD) else None
    ids, paths, values = view.values(["id", "filepath", score])
    labels = view.values(f"{label_field}.label") if label_field else [None] * len(ids)
    return [{"sample_id": sid, "filepath": path, "label": label, score: float(value)}
            for sid, path, label, value in zip(ids, paths, labels, values)]


def _plan(samples, name: str, label_field: str, pred_field: str, embeddings_field: str):
    """Return ``(samples to score, compute(samples))`` for one score; a one-line error if its inputs are missing."""
    import fiftyone.brain as fob

    predict_hint = "run 'videorec predict --dataset D --model DIR' first"
    embed_hint = "run 'videorec embed --dataset D --model DIR|pretrained' first"
    if name == "mistakenness":
        labelled = _with(_with(samples, pred_field, name, predict_hint), label_field, name,
                         "give the field that holds the labels (--label-field)")
        return labelled, lambda s: fob.compute_mistakenness(s, pred_field, label_field=label_field, use_logits=True,
                                                            progress=False)
    if name == "hardness":
        return _with(samples, pred_field, name, predict_hint), lambda s: fob.compute_hardness(s, pred_field,
                                                                                              progress=False)
    minimum, compute = {"uniqueness": (2, fob.compute_uniqueness),
                        "representativeness": (REPRESENTATIVE_MIN, fob.compute_representativeness)}[name]
    having = _with(samples, embeddings_field, name, embed_hint)
    if len(having) < minimum:
        raise VideorecError(f"{name} needs at least {minimum} videos with an embedding in {embeddings_field!r}; "
                            f"{len(having)} have one")
    return having, lambda s: compute(s, embeddings=embeddings_field, progress=False)


def curate(dataset_or_view, scores: tuple[str, ...] | None = None, label_field: str = config.LABEL_FIELD,
           pred_field: str = config.PREDICTION_FIELD, embeddings_field: str = config.EMBEDDINGS_FIELD,
           top: int = 10, progress: ProgressFn | None = None) -> CurationResult:
    """Compute each of ``scores`` into its field and return how many samples got it and the top ``top``.

    ``scores=None`` computes every score whose inputs exist and names why the others were skipped;
    asked-for scores must all have their inputs (checked before the first one is written).
    """
    unknown = sorted(set(scores or ()) - set(SCORES))
    if unknown or scores == ():
        raise VideorecError(f"choose scores among {', '.join(SCORES)} (got {', '.join(unknown) or 'none'})")
    if top < 1:
        raise VideorecError(f"top must be at least 1, got {top}")
    result, plan = CurationResult(), []
    for name in (s for s in SCORES if scores is None or s in scores):
        try:
            plan.append((name, *_plan(dataset_or_view, name, label_field, pred_field, embeddings_field)))
        except VideorecError as e:
            if scores is not None:
                raise
            result.skipped[name] = str(e)
    if not plan:
        raise VideorecError("no score can be computed: " + "; ".join(result.skipped.values()))
    for step, (name, samples, compute) in enumerate(plan):
        report(progress, step / len(plan), f"computing {name} on {len(samples)} videos")
        _fresh(samples, name)
        compute(samples)
        result.computed[name] = len(samples)
        result.top[name] = _top(samples, name, top)
    report(progress, 1.0, f"computed {', '.join(result.computed)}")
    return result
