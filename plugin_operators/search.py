"""Operators that use the similarity index: find clips like one clip, and score retrieval quality."""

from __future__ import annotations

from pathlib import Path

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_videorec import config
from fiftyone_videorec.errors import VideorecError
from fiftyone_videorec.evaluation import parse_k_values
from plugin_operators import forms


def _queries_of(ctx) -> list[str]:
    """Return the queries: a typed video path, else every selected sample, else the modal's sample."""
    path = (ctx.params.get("video_path") or "").strip()
    if path:
        return [path]
    if ctx.selected:
        return list(ctx.selected)
    return [ctx.current_sample] if ctx.current_sample else []


def _negatives_of(ctx) -> list[str]:
    """Return the clips to steer away from: those with the chosen tag, and any ids passed directly."""
    tag = ctx.params.get("negative_tag")
    ids = list(ctx.params.get("negative_ids") or [])
    if tag:
        ids += [i for i in ctx.dataset.match_tags(tag).values("id") if i not in ids]
    return ids


def _index_choice(ctx, inputs: types.Object, label: str) -> bool:
    """Add the index dropdown; show a form error and return False when there is none."""
    keys = forms.similarity_keys(ctx.dataset)
    if not keys:
        forms.fail(inputs, "index_error", "No similarity index yet: run 'Compute video embeddings' "
                   "and then 'Build video similarity index' first")
        return False
    forms.choice_field(inputs, "brain_key", keys, label, default=keys[0])
    return True


class FindSimilarVideos(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="find_similar_videos", label="Videorec: find similar videos", dynamic=True,
            description="Show the clips most like the selected clips (or a video file), less like tagged ones")

    def resolve_input(self, ctx):
        inputs = types.Object()
        if not _index_choice(ctx, inputs, "Similarity index"):
            return types.Property(inputs, view=types.View(label="Find similar videos"))
        inputs.int("k", default=10, label="How many clips")
        inputs.bool("exclude_same_group", default=False, view=types.CheckboxView(),
                    label="Exclude clips from the query's source video group",
                    description=f"Skips clips with the same '{config.GROUP_FIELD}' as the query")
        inputs.str("video_path", label="Or a video file",
                   description="A path on the server; used instead of the selected clips")
        tags = sorted(ctx.dataset.distinct("tags"))
        if tags:
            inputs.enum("negative_tag", tags, label="Less like the clips tagged (optional)",
                        description="Ranks by the selected clips' direction minus these clips' direction")
        queries, negatives = _queries_of(ctx), _negatives_of(ctx)
        path = (ctx.params.get("video_path") or "").strip()
        both = set(queries) & set(negatives)
        if not queries:
            forms.fail(inputs, "query_error",
                       "Select one or more clips in the grid (or open one), or type a video file path")
        elif path and not Path(path).expanduser().is_file():
            forms.fail(inputs, "path_error", f"No video file at {path}")
        elif both:
            forms.fail(inputs, "negative_error", f"Sample {sorted(both)[0]} is selected and also tagged "
                       f"'{ctx.params.get('negative_tag')}': a clip cannot be a query and a negative")
        elif not path:
            more = f" and {len(queries) - 1} more" if len(queries) > 1 else ""
            less = f"; less like {len(negatives)} clips" if negatives else ""
            forms.notice(inputs, "query_notice", f"Query: sample {queries[0]}{more}{less}")
        k = ctx.params.get("k")
        if k is not None and k < 1:
            forms.fail(inputs, "k_error", "'How many clips' must be at least 1")
        return types.Property(inputs, view=types.View(label="Find similar videos"))

    def execute(self, ctx):
        from fiftyone_videorec.search.similarity import recommend

        p = ctx.params
        recommendations, error = forms.run_library(ctx, lambda: recommend(
            ctx.dataset, _queries_of(ctx), k=p.get("k", 10),
            brain_key=p.get("brain_key", config.BRAIN_KEY),
            exclude_same_group=p.get("exclude_same_group", False), negatives=_negatives_of(ctx)))
        if error:
            return {"error": error}
        ids = [r.sample_id for r in recommendations]
        ctx.dataset.set_values(config.SIMILARITY_SCORE_FIELD,
                               {r.sample_id: float(r.score) for r in recommendations}, key_field="id")
        ctx.ops.set_view(ctx.dataset.select(ids, ordered=True))
        ctx.ops.set_active_fields([config.LABEL_FIELD, config.SIMILARITY_SCORE_FIELD])
        return {"results": [{"sample_id": r.sample_id, "label": r.label, "score": float(r.score),
                             "filepath": r.filepath} for r in recommendations]}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        results = ctx.results.get("results")
        if results is not None:
            lines = [f"{i + 1}. {r['label']}  {r['score']:.3f}  {Path(r['filepath']).name}"
                     for i, r in enumerate(results)]
            outputs.str("summary", label="Most similar clips", default="\n".join(lines),
                        view=types.MarkdownView(read_only=True))
        return types.Property(outputs)


class EvaluateVideoRetrieval(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="evaluate_video_retrieval", label="Videorec: evaluate video retrieval", dynamic=True,
            description="Precision@k / mAP of test clips querying the train clips, with chance levels")

    def resolve_input(self, ctx):
        inputs = types.Object()
        if not _index_choice(ctx, inputs, "Similarity index"):
            return types.Property(inputs, view=types.View(label="Evaluate video retrieval"))
        tags = forms.split_tags(ctx.dataset)
        if len(tags) < 2:
            forms.fail(inputs, "splits_error", f"Dataset '{ctx.dataset.name}' needs split tags "
                       f"(e.g. '{config.TRAIN_TAG}' and '{config.TEST_TAG}') to evaluate retrieval")
            return types.Property(inputs, view=types.View(label="Evaluate video retrieval"))
        query_default = config.TEST_TAG if config.TEST_TAG in tags else tags[-1]
        gallery_default = config.TRAIN_TAG if config.TRAIN_TAG in tags else tags[0]
        forms.choice_field(inputs, "query_tag", tags, "Query clips (tag)", default=query_default)
        forms.choice_field(inputs, "gallery_tag", tags, "Gallery clips (tag)", default=gallery_default)
        inputs.str("k", default="1,5,10", label="k values", description="Comma-separated")
        try:
            parse_k_values(ctx.params.get("k") or "1,5,10")
        except VideorecError as e:
            forms.fail(inputs, "k_error", str(e))
        return types.Property(inputs, view=types.View(label="Evaluate video retrieval"))

    def execute(self, ctx):
        from fiftyone_videorec.evaluation import evaluate_retrieval

        p = ctx.params
        report, error = forms.run_library(ctx, lambda: evaluate_retrieval(
            ctx.dataset, brain_key=p.get("brain_key", config.BRAIN_KEY),
            k=parse_k_values(p.get("k") or "1,5,10"), query_tag=p.get("query_tag", config.TEST_TAG),
            gallery_tag=p.get("gallery_tag", config.TRAIN_TAG)))
        if error:
            return {"error": error}
        return {"metrics": {name: float(value) for name, value in report.metrics.items()}}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        metrics = ctx.results.get("metrics") or {}
        rows = [f"| {name} | {value:.3f} |" for name, value in metrics.items()]
        if rows:
            table = "| metric | value |\n|---|---|\n" + "\n".join(rows)
            outputs.str("table", label="Retrieval metrics (chance_* = a random ranking)",
                        default=table, view=types.MarkdownView(read_only=True))
        return types.Property(outputs)
