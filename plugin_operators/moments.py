"""Operator over the moment index: find the seconds inside long videos that look and move like a query."""

from __future__ import annotations

from pathlib import Path

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_videorec import config
from plugin_operators import forms


def moment_fields(dataset) -> list[str]:
    """Return the fields whose moments have a similarity index (ours first)."""
    from fiftyone_videorec.search.moments import INFO_KEY, moment_brain_key

    if dataset is None:
        return []
    runs = set(dataset.list_brain_runs())
    found = [f for f in dataset.info.get(INFO_KEY, {}) if moment_brain_key(f) in runs]
    return sorted(found, key=lambda f: (f != config.MOMENTS_FIELD, f))


def _query_of(ctx, field: str) -> tuple[str | None, float | None, float | None]:
    """Return ``(query, start, end)``: a typed video path; else the selected or open moment (a clip of
    the moments clips view); else the selected or open sample, with the form's start/end seconds."""
    from fiftyone_videorec.errors import VideorecError
    from fiftyone_videorec.search.moments import moment_range

    path = (ctx.params.get("video_path") or "").strip()
    if path:
        return path, None, None
    chosen = ctx.selected[0] if ctx.selected else ctx.current_sample
    if chosen is None:
        return None, None, None
    try:
        return moment_range(ctx.dataset, chosen, field)
    except VideorecError:  # a whole sample, not a moment
        return chosen, ctx.params.get("start"), ctx.params.get("end")


class FindSimilarMoments(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="find_similar_moments", label="Videorec: find similar moments", dynamic=True,
            description="Show the moments of long videos most like the selected moment (or a video file)")

    def resolve_input(self, ctx):
        inputs = types.Object()
        form = types.View(label="Find similar moments")
        fields = moment_fields(ctx.dataset)
        if not fields:
            forms.fail(inputs, "index_error", "No moment index yet: run 'videorec moments index --dataset "
                       f"{getattr(ctx.dataset, 'name', 'D')} --model pretrained' (or a trained model folder) first")
            return types.Property(inputs, view=form)
        forms.choice_field(inputs, "field", fields, "Moments field", default=fields[0])
        inputs.int("k", default=10, label="How many moments")
        inputs.int("per_video", default=1, label="Moments per video", description="At most this many from each video")
        inputs.str("video_path", label="Or a video file", description="A path on the server; used instead of the selection")
        inputs.float("start", label="Start (seconds)", description="For a whole sample: where the query starts")
        inputs.float("end", label="End (seconds)", description="For a whole sample: where the query ends")
        path = (ctx.params.get("video_path") or "").strip()
        query, start, end = _query_of(ctx, ctx.params.get("field") or fields[0])
        if query is None:
            forms.fail(inputs, "query_error", "Select a moment in the grid (or open one), or type a video file path")
        elif path and not Path(path).expanduser().is_file():
            forms.fail(inputs, "path_error", f"No video file at {path}")
        elif not path:
            span = f" {start:g}-{end:g} s" if start is not None and end is not None else ""
            forms.notice(inputs, "query_notice", f"Query: sample {query}{span}")
        if (ctx.params.get("k") or 10) < 1 or (ctx.params.get("per_video") or 1) < 1:
            forms.fail(inputs, "k_error", "'How many moments' and 'Moments per video' must be at least 1")
        return types.Property(inputs, view=form)

    def execute(self, ctx):
        from fiftyone_videorec.search.moments import find_moments, moments_view

        p = ctx.params
        field = p.get("field") or config.MOMENTS_FIELD
        query, start, end = _query_of(ctx, field)
        found, error = forms.run_library(ctx, lambda: find_moments(
            ctx.dataset, query, k=p.get("k") or 10, start=start, end=end, per_video=p.get("per_video"), field=field))
        if error:
            return {"error": error}
        ctx.ops.set_view(moments_view(ctx.dataset, found, field))
        ctx.ops.set_active_fields([config.MOMENT_SCORE_FIELD, field])
        return {"results": [{**m.to_dict(), "moment_id": m.moment_id} for m in found]}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        results = ctx.results.get("results")
        if results is not None:
            lines = [f"{i + 1}. {r['score']:.3f}  {r['start']:.1f}-{r['end']:.1f} s  {Path(r['filepath']).name}"
                     for i, r in enumerate(results)]
            outputs.str("summary", label="Most similar moments", default="\n".join(lines),
                        view=types.MarkdownView(read_only=True))
        return types.Property(outputs)
