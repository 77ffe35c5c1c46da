"""Operator over the ImageNet tags: what the frozen ImageNet network sees in each video, for the sidebar."""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_videorec import config
from plugin_operators import forms


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
        from fiftyone_videorec.imagenet_tags import tag_counts, tag_dataset

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
