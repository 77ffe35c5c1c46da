"""Class predictions of a trained model for every video, as ``fo.Classification`` with logits.

The Brain's mistakenness and hardness read them (``curation.py``); the App shows and filters
them. Predicting is incremental and batched like embedding (the same decode-ahead pipeline and
writer, ``run.write_outputs``): each prediction is written with the model's fingerprint in
``<field>_fingerprint``, a re-run predicts only samples without a current one, and ``shard=(i, n)``
predicts one of ``n`` disjoint slices (``embedding.jobs`` queues them for delegated workers).
A model with no classifier of the user's labels (the built-in ``pretrained``) says so in one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import config
from ..fields import prepare_label_field
from ..progress import ProgressFn, report
from ..search.index import dataset_of
from .run import SampleRunSummary

__all__ = ["PredictSummary", "predict_dataset"]


@dataclass
class PredictSummary(SampleRunSummary):
    """How many samples got a prediction, how many had one already, why the others failed (id -> reason)."""

    predicted: int = 0


def predict_dataset(dataset_or_view, model, field: str = config.PREDICTION_FIELD, batch_size: int | None = None,
                    clips: int | None = None, progress: ProgressFn | None = None, workers: int = 4,
                    force: bool = False, shard: tuple[int, int] | None = None) -> PredictSummary:
    """Write the model's class, confidence and logits for each sample lacking a current prediction.

    ``model`` is a trained model folder or a loaded ``VideoEmbeddingModel`` (``clips`` and
    ``batch_size`` then left out). Undecodable samples get their reason in
    ``config.EMBED_ERROR_FIELD`` and are tried again next time; ``force`` predicts every sample.
    """
    from ..fields import record_model
    from .embedder import loaded_model
    from .run import samples_to_embed, write_outputs

    model = loaded_model(model, clips=clips, batch_size=batch_size)
    model.check_predicts()
    dataset = dataset_of(dataset_or_view)
    import fiftyone as fo

    prepare_label_field(dataset, field, fo.Classification, "predictions", string_fields=(config.EMBED_ERROR_FIELD,))
    ids, paths, already = samples_to_embed(dataset_or_view, field, model.fingerprint, force=force, shard=shard)
    record_model(dataset, field, model.model_dir)
    summary = PredictSummary(field, already=already)
    report(progress, 0.0, f"{already} already predicted, {len(ids)} to predict")
    summary.predicted = write_outputs(
        dataset, model, field, ids, paths, values_of=lambda batch: model.classifications(batch.logits),
        failed=summary.failed, workers=workers,
        on_write=lambda done, count: report(progress, done / len(ids), f"predicted {count} of {len(ids)}"))
    return summary
