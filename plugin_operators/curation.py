"""Operators for curation: a trained model's class predictions, and the ImageNet classes seen in each video."""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_videorec import config
from plugin_operators import forms


class PredictVideoClasses(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(**forms.delegated_config(
            "predict_video_classes", "Videorec: predict video classes",
            "Write a trained model's class, confidence and logits for each clip of the current view"))

    def resolve_input(self, ctx):
        inputs = types.Object()
        folders = forms.model_dirs()
        view = types.AutocompleteView(label="Model", description="A folder written by 'Train video embedder' "
                                      "(pick one or type its path)")
        for folder in folders:
            view.add_choice(folder, label=folder)
        inputs.str("model_dir", default=folders[0] if folders else None, view=view)
        model_dir = ctx.params.get("model_dir") or (folders[0] if folders else None)
        if model_dir == "pretrained":
            forms.fail(inputs, "model_error", "The built-in 'pretrained' model was not trained on your labels and "
                       "predicts no class: run 'Train video embedder' first")
        elif not forms.is_model_dir(model_dir):
            forms.fail(inputs, "model_error", f"No trained model in {model_dir}: run 'Train video embedder' first")
        inputs.str("field", default=config.PREDICTION_FIELD, label="Predictions field")
        inputs.bool("force", default=False, view=types.CheckboxView(), label="Predict again",
                    description="Also clips that already have a prediction from this model and settings")
        inputs.int("shards", default=1, label="Shards",
                   description="More than 1: queue this many delegated jobs over disjoint slices, for "
                               "several 'fiftyone delegated launch' workers sharing the database")
        if (ctx.params.get("shards") or 1) < 1:
            forms.fail(inputs, "shards_error", "'Shards' must be at least 1")
        return types.Property(inputs, view=types.View(label="Predict video classes"))

    def execute(self, ctx):
        from fiftyone_videorec.embedding.jobs import PREDICT_OPERATOR, queue_embedding_shards
        from fiftyone_videorec.embedding.predictions import predict_dataset

        p = ctx.params
        model = p.get("model_dir") or (forms.model_dirs() or [None])[0]
        field = p.get("field", config.PREDICTION_FIELD)
        options = dict(field=field, batch_size=p.get("batch_size"), clips=p.get("clips"), force=p.get("force", False))
        if (p.get("shards") or 1) > 1 and p.get("shard") is None:  # queue the slices; workers predict them
            planned, error = forms.run_library(ctx, lambda: queue_embedding_shards(
                ctx.view, model, p["shards"], operator=PREDICT_OPERATOR, **options))
            if error:
                return {"error": error}
            plans, already = planned
            queued = [plan for plan in plans if plan.note == "queued"]
            return {"field": field, "summary": f"{already} already predicted; queued {len(queued)} shard jobs "
                                              f"for {sum(plan.to_embed for plan in queued)} clips"}
        shard = (int(p["shard"]), int(p["shards"])) if p.get("shard") is not None else None
        summary, error = forms.run_library(ctx, lambda: predict_dataset(
            ctx.view, model, shard=shard, progress=forms.progress_to(ctx), **options))
        if error:
            return {"error": error}
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return {"field": field, "predicted": summary.predicted,
                "summary": f"{summary.already} already predicted; predicted {summary.predicted}, "
                           f"failed {len(summary.failed)}"}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        if ctx.results.get("summary"):
            outputs.str("summary", label="Predicted")
        return types.Property(outputs)


class TagImagenetClasses(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(**forms.delegated_config(
            "tag_imagenet_classes", "Videorec: tag videos with ImageNet classes",
            "Write each video's top ImageNet classes (frozen EfficientNet-Lite0, no training) into a "
            "Classifications field the sidebar can filter by"))

    def resolve_input(self, ctx):
        inputs = types.Object()
        form = types.View(label="Tag videos with ImageNet classes")
        if ctx.dataset is None or not len(ctx.dataset):
            forms.fail(inputs, "dataset_error", "No videos: load a dataset first")
            return types.Property(inputs, view=form)
        inputs.int("top", default=config.TAG_TOP, label="Classes per video",
                   description="At most this many classes are kept per video")
        inputs.float("min_confidence", default=config.TAG_MIN_CONFIDENCE, label="Minimum confidence",
                     description="Probability, averaged over the video's frames, that a class needs")
        inputs.bool("force", default=False, view=types.CheckboxView(),
                    label="Tag again the videos already tagged with these settings")
        top, confidence = ctx.params.get("top"), ctx.params.get("min_confidence")
        if top is not None and not 1 <= top <= 1000:
            forms.fail(inputs, "top_error", "Classes per video must be between 1 and 1000")
        if confidence is not None and not 0 <= confidence < 1:
            forms.fail(inputs, "confidence_error", "The minimum confidence must be a probability below 1")
        return types.Property(inputs, view=form)

    def execute(self, ctx):
        from fiftyone_videorec.curation.imagenet_tags import tag_counts, tag_dataset

        p = ctx.params
        summary, error = forms.run_library(ctx, lambda: tag_dataset(
            ctx.dataset, top=p.get("top", config.TAG_TOP),
            min_confidence=p.get("min_confidence", config.TAG_MIN_CONFIDENCE), force=bool(p.get("force")),
            progress=forms.progress_to(ctx)))
        if error:
            return {"error": error}
        if not ctx.delegated:
            ctx.ops.reload_dataset()
            ctx.ops.set_active_fields([config.LABEL_FIELD, config.IMAGENET_FIELD])
        return {"tagged": summary.tagged, "already": summary.already, "failed": summary.failed,
                "counts": dict(list(tag_counts(ctx.dataset, summary.field).items())[:20])}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        if "tagged" in ctx.results:
            counts = ctx.results.get("counts") or {}
            lines = [f"- {name}: {n}" for name, n in counts.items()] or ["No class reached the minimum confidence"]
            outputs.str("summary", label=f"Tagged {ctx.results['tagged']} videos "
                                         f"({ctx.results['already']} already, {len(ctx.results['failed'])} failed)",
                        default="\n".join(lines), view=types.MarkdownView(read_only=True))
        return types.Property(outputs)


def computable(ctx) -> dict[str, bool]:
    """Return, per score, whether the view has its inputs (what the form ticks by default)."""
    from fiftyone_videorec.curation.scores import REPRESENTATIVE_MIN

    p, view = ctx.params, ctx.view
    pred_field = p.get("pred_field") or config.PREDICTION_FIELD
    vectors = p.get("embeddings_field") or config.EMBEDDINGS_FIELD
    predicted = view.has_field(pred_field) and len(view.exists(pred_field)) > 0
    embedded = len(view.exists(vectors)) if view.has_field(vectors) else 0
    return {"mistakenness": predicted, "hardness": predicted, "uniqueness": embedded >= 2,
            "representativeness": embedded >= REPRESENTATIVE_MIN}


class CurateVideos(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(**forms.delegated_config(
            "curate_videos", "Videorec: score label mistakes, hard and unique clips",
            "Compute mistakenness, hardness, uniqueness and representativeness with the FiftyOne Brain "
            "from the predictions and embeddings, for sorting in the App"))

    def resolve_input(self, ctx):
        from fiftyone_videorec.curation.scores import SCORES, WHAT_IT_MEANS

        inputs = types.Object()
        form = types.View(label="Score clips for curation")
        if ctx.dataset is None or not len(ctx.dataset):
            forms.fail(inputs, "dataset_error", "No videos: load a dataset first")
            return types.Property(inputs, view=form)
        available = computable(ctx)
        for name in SCORES:
            inputs.bool(name, default=available[name], view=types.CheckboxView(), label=name.capitalize(),
                        description=WHAT_IT_MEANS[name])
        vectors = forms.vector_fields(ctx.dataset)
        if vectors:
            forms.choice_field(inputs, "embeddings_field", vectors, "Embeddings field",
                               default=config.EMBEDDINGS_FIELD if config.EMBEDDINGS_FIELD in vectors else None)
        inputs.str("pred_field", default=config.PREDICTION_FIELD, label="Predictions field",
                   description="Written by 'Predict video classes'")
        inputs.str("label_field", default=config.LABEL_FIELD, label="Labels field")
        if not any(available.values()):
            forms.fail(inputs, "scores_error", "Nothing to score yet: run 'Predict video classes' (mistakenness, "
                       "hardness) or 'Compute video embeddings' (uniqueness, representativeness) first")
        elif not any(ctx.params.get(name, available[name]) for name in SCORES):
            forms.fail(inputs, "scores_error", "Choose at least one score")
        return types.Property(inputs, view=form)

    def execute(self, ctx):
        from fiftyone_videorec.curation.scores import SCORES, curate

        p = ctx.params
        available = computable(ctx)
        scores = tuple(name for name in SCORES if p.get(name, available[name]))
        result, error = forms.run_library(ctx, lambda: curate(
            ctx.view, scores=scores, label_field=p.get("label_field") or config.LABEL_FIELD,
            pred_field=p.get("pred_field") or config.PREDICTION_FIELD,
            embeddings_field=p.get("embeddings_field") or config.EMBEDDINGS_FIELD, progress=forms.progress_to(ctx)))
        if error:
            return {"error": error}
        if not ctx.delegated:
            first = next(iter(result.computed))
            ctx.ops.set_view(ctx.view.sort_by(first, reverse=True))
            ctx.ops.set_active_fields([config.LABEL_FIELD, config.PREDICTION_FIELD, *result.computed])
        return result.to_dict()

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        for name, count in (ctx.results.get("computed") or {}).items():
            lines = [f"{i}. {entry[name]:.3f} {entry.get('label') or ''} `{entry['filepath'].rsplit('/', 1)[-1]}`"
                     for i, entry in enumerate(ctx.results["top"][name], 1)]
            outputs.str(name, label=f"{name.capitalize()} ({count} videos), highest first",
                        default="\n".join(lines), view=types.MarkdownView(read_only=True))
        return types.Property(outputs)
