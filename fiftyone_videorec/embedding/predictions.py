"""Class predictions of a trained model for every video, as ``fo.Classification`` with logits.

The Brain's mistakenness and hardness read them (``curation.py``); the App shows and filters
them. Predicting is incremental and batched like embedding (the same decode-ahead pipeline,
``embedder.model_outputs``): each prediction is written with the model's fingerprint in
``<field>_fingerprint``, a re-run predicts only samples without a current one, and ``shard=(i, n)``
predicts one of ``n`` disjoint slices (``embedding.jobs`` queues them for delegated workers).
A model with no classifier of the user's labels (the built-in ``pretrained``) says so in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import config
from ..errors import VideorecError
from ..fields import prepare_label_field
from ..progress import ProgressFn, report

__all__ = ["PredictSummary", "predict_dataset"]

WRITE_BATCH = 64  # samples per database write


@dataclass
class PredictSummary:
    """How many samples got a prediction, how many had one already, why the others failed (id -> reason)."""

    field: str
    predicted: int = 0
    already: int = 0
    failed: dict = field(default_factory=dict)


def predict_dataset(dataset_or_view, model, field: str = config.PREDICTION_FIELD, batch_size: int | None = None,
                    clips: int | None = None, progress: ProgressFn | None = None, workers: int = 4,
                    force: bool = False, shard: tuple[int, int] | None = None) -> PredictSummary:
    """Write the model's class, confidence and logits for each sample lacking a current prediction.

    ``model`` is a trained model folder or a loaded ``VideoEmbeddingModel`` (``clips`` and
    ``batch_size`` then left out). Undecodable samples get their reason in
    ``config.EMBED_ERROR_FIELD`` and are tried again next time; ``force`` predicts every sample.
    """
    from .embedder import VideoEmbeddingModel, load_model, model_outputs, samples_to_embed
    from ..fields import fingerprint_field, record_model

    if isinstance(model, VideoEmbeddingModel):
        if clips is not None or batch_size is not None:
            raise VideorecError("clips and batch size are set when a model is loaded; load_model(..., clips=N) instead")
    else:
        model = load_model(model, clips=clips, batch_size=batch_size)
    model.check_predicts()
    dataset = dataset_or_view._dataset
    import fiftyone as fo

    prepare_label_field(dataset, field, fo.Classification, "predictions", string_fields=(config.EMBED_ERROR_FIELD,))
    fingerprint, fp_field = model.fingerprint, fingerprint_field(field)
    ids, paths, already = samples_to_embed(dataset_or_view, field, fingerprint, force=force, shard=shard)
    record_model(dataset, field, model.model_dir)
    summary = PredictSummary(field, already=already)
    report(progress, 0.0, f"{already} already predicted, {len(ids)} to predict")
    labels: dict = {}
    written = 0
    for batch in model_outputs(model, ids, paths, workers=workers):
        summary.failed.update(batch.failed)
        if batch.ids:
            labels.update(zip(batch.ids, model.classifications(batch.logits)))
            summary.predicted += len(batch.ids)
        if batch.done - written >= WRITE_BATCH or batch.done == len(ids):
            todo = ids[written:batch.done]  # predictions, then reasons, then fingerprints
            dataset.set_values(field, {sid: labels.get(sid) for sid in todo}, key_field="id")
            dataset.set_values(config.EMBED_ERROR_FIELD, {sid: summary.failed.get(sid) for sid in todo},
                               key_field="id")
            dataset.set_values(fp_field, {sid: fingerprint if sid in labels else None for sid in todo}, key_field="id")
            written, labels = batch.done, {}
            report(progress, batch.done / len(ids), f"predicted {summary.predicted} of {len(ids)}")
    return summary
