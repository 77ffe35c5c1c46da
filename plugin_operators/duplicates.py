"""Operator over the copy search: group copies of the same footage and show the groups together."""

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
            allow_immediate_execution=True, allow_delegated_execution=True,
            description="Group copies of the same footage (re-encoded, resized, cropped, flipped, captioned, "
                        "trimmed) by their per-frame copy descriptors")

    def resolve_input(self, ctx):
        inputs = types.Object()
        form = types.View(label="Find duplicate videos")
        if ctx.dataset is None or not len(ctx.dataset):
            forms.fail(inputs, "dataset_error", "No videos: load a dataset first")
            return types.Property(inputs, view=form)
        inputs.float("threshold", default=config.DUPLICATE_THRESHOLD, label="Distance threshold",
                     description="Copy distance (1 - aligned frame similarity) below which two videos are copies")
        inputs.bool("leaks_only", default=False, view=types.CheckboxView(),
                    label="Only groups that straddle the train/val/test split tags")
        threshold = ctx.params.get("threshold")
        if threshold is not None and not 0 < threshold < 2:
            forms.fail(inputs, "threshold_error", "The threshold must be a distance above 0 and below 2")
        missing = len(ctx.dataset) - len(ctx.dataset.exists(config.DUPLICATE_DESCRIPTOR_FIELD)) \
            if ctx.dataset.has_field(config.DUPLICATE_DESCRIPTOR_FIELD) else len(ctx.dataset)
        if missing:
            forms.notice(inputs, "descriptor_notice", f"{missing} videos get copy descriptors first "
                         "(about 0.5 s per 10 s of video); schedule it for a large dataset")
        return types.Property(inputs, view=form)

    def execute(self, ctx):
        from fiftyone_videorec.curation.duplicates import duplicates_view, find_duplicates, find_leaks, mark_duplicates

        p = ctx.params
        search = find_leaks if p.get("leaks_only") else find_duplicates
        groups, error = forms.run_library(ctx, lambda: search(
            ctx.dataset, threshold=p.get("threshold", config.DUPLICATE_THRESHOLD), progress=forms.progress_to(ctx)))
        if error:
            return {"error": error}
        mark_duplicates(ctx.dataset, groups)
        if groups and not ctx.delegated:
            ctx.ops.set_view(duplicates_view(ctx.dataset, groups))
            ctx.ops.set_active_fields([config.LABEL_FIELD, config.DUPLICATE_GROUP_FIELD])
        return {"groups": [group.to_dict() for group in groups]}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        groups = ctx.results.get("groups")
        if groups is not None:
            lines = [f"{i}. {len(g['ids'])} videos, max distance {g['max_distance']:.3f}"
                     for i, g in enumerate(groups, 1)] or ["No copies at this threshold"]
            outputs.str("summary", label=f"{len(groups)} groups, tagged '{config.DUPLICATE_TAG}'",
                        default="\n".join(lines), view=types.MarkdownView(read_only=True))
        return types.Property(outputs)
