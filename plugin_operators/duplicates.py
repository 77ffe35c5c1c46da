"""Operator over the near-duplicates search: group near-identical videos and show the groups together."""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_videorec import config
from plugin_operators import forms


class FindDuplicateVideos(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="find_duplicate_videos", label="Videorec: find duplicate videos", dynamic=True,
            description="Group near-identical videos (re-encoded, resized, cropped copies) by their embeddings")

    def resolve_input(self, ctx):
        inputs = types.Object()
        form = types.View(label="Find duplicate videos")
        fields = forms.vector_fields(ctx.dataset)
        if not fields:
            forms.fail(inputs, "field_error", "No embeddings yet: run 'Compute video embeddings' first")
            return types.Property(inputs, view=form)
        default = config.EMBEDDINGS_FIELD if config.EMBEDDINGS_FIELD in fields else fields[0]
        forms.choice_field(inputs, "field", fields, "Embeddings field", default=default)
        inputs.float("threshold", default=config.DUPLICATE_THRESHOLD, label="Distance threshold",
                     description="Cosine distance below which two clips count as copies")
        inputs.bool("leaks_only", default=False, view=types.CheckboxView(),
                    label="Only groups that straddle the train/val/test split tags")
        threshold = ctx.params.get("threshold")
        if threshold is not None and not 0 < threshold < 2:
            forms.fail(inputs, "threshold_error", "The threshold must be a distance above 0 and below 2")
        return types.Property(inputs, view=form)

    def execute(self, ctx):
        from fiftyone_videorec.duplicates import duplicates_view, find_duplicates, find_leaks, mark_duplicates

        p = ctx.params
        search = find_leaks if p.get("leaks_only") else find_duplicates
        groups, error = forms.run_library(ctx, lambda: search(
            ctx.dataset, field=p.get("field", config.EMBEDDINGS_FIELD),
            threshold=p.get("threshold", config.DUPLICATE_THRESHOLD)))
        if error:
            return {"error": error}
        mark_duplicates(ctx.dataset, groups)
        if groups:
            ctx.ops.set_view(duplicates_view(ctx.dataset, groups))
            ctx.ops.set_active_fields([config.LABEL_FIELD, config.DUPLICATE_GROUP_FIELD])
        return {"groups": [group.to_dict() for group in groups]}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        groups = ctx.results.get("groups")
        if groups is not None:
            lines = [f"{i}. {len(g['ids'])} videos, max distance {g['max_distance']:.3f}"
                     for i, g in enumerate(groups, 1)] or ["No near-duplicates at this threshold"]
            outputs.str("summary", label=f"{len(groups)} groups, tagged '{config.DUPLICATE_TAG}'",
                        default="\n".join(lines), view=types.MarkdownView(read_only=True))
        return types.Property(outputs)
