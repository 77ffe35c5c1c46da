"""Operators that embed clips with a trained model and index the embeddings for similarity search."""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_videorec import config
from plugin_operators import forms


class ComputeVideoEmbeddings(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(**forms.delegated_config(
            "compute_video_embeddings", "Videorec: compute video embeddings",
            "Embed every clip of the current view with a trained model into a vector field"))

    def resolve_input(self, ctx):
        inputs = types.Object()
        choices = forms.model_choices()
        view = types.AutocompleteView(label="Model", description="'pretrained' works with no training; or a "
                                      "folder written by 'Train video embedder' (pick one or type its path)")
        for value, label in choices:
            view.add_choice(value, label=label)
        inputs.str("model_dir", default=choices[0][0], view=view)  # left empty: the first choice
        model_dir = ctx.params.get("model_dir") or choices[0][0]
        if not forms.is_model_dir(model_dir):
            forms.fail(inputs, "model_error", f"No trained model in {model_dir}: run 'Train video embedder' "
                       "first, or choose 'pretrained' (ImageNet features, no training)")
        inputs.str("field", default=config.EMBEDDINGS_FIELD, label="Embeddings field")
        inputs.int("batch_size", label="Batch size", description="Leave empty for the default")
        inputs.int("clips", label="Clips per video",
                   description="Average the embeddings of this many evenly spaced clips (empty: default)")
        inputs.bool("force", default=False, view=types.CheckboxView(), label="Embed again",
                    description="Also clips that already have a vector from this model and settings")
        inputs.int("shards", default=1, label="Shards",
                   description="More than 1: queue this many delegated jobs over disjoint slices, for "
                               "several 'fiftyone delegated launch' workers sharing the database")
        if (ctx.params.get("shards") or 1) < 1:
            forms.fail(inputs, "shards_error", "'Shards' must be at least 1")
        forms.notice(inputs, "target_notice", f"Embeds the clips of the current view ({len(ctx.view)}) "
                     "that lack a vector from this model")
        return types.Property(inputs, view=types.View(label="Compute video embeddings"))

    def execute(self, ctx):
        from fiftyone_videorec.embedding.run import embed_dataset
        from fiftyone_videorec.embedding.jobs import queue_embedding_shards

        p = ctx.params
        model = p.get("model_dir") or forms.model_choices()[0][0]
        field = p.get("field", config.EMBEDDINGS_FIELD)
        options = dict(field=field, batch_size=p.get("batch_size"), clips=p.get("clips"), force=p.get("force", False))
        if (p.get("shards") or 1) > 1 and p.get("shard") is None:  # queue the slices; workers embed them
            planned, error = forms.run_library(ctx, lambda: queue_embedding_shards(
                ctx.view, model, p["shards"], **options))
            if error:
                return {"error": error}
            plans, already = planned
            queued = [plan for plan in plans if plan.note == "queued"]
            return {"field": field, "summary": f"{already} already embedded; queued {len(queued)} shard jobs "
                                              f"for {sum(plan.to_embed for plan in queued)} clips"}
        shard = (int(p["shard"]), int(p["shards"])) if p.get("shard") is not None else None
        summary, error = forms.run_library(ctx, lambda: embed_dataset(
            ctx.view, model, shard=shard, progress=forms.progress_to(ctx), **options))
        if error:
            return {"error": error}
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return {"field": field, "embedded": summary.embedded,
                "summary": f"{summary.plan}; embedded {summary.embedded}, failed {len(summary.failed)}"}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        if ctx.results.get("summary"):
            outputs.str("summary", label="Embedded")
        return types.Property(outputs)


class BuildVideoSimilarityIndex(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(**forms.delegated_config(
            "build_video_similarity_index", "Videorec: build video similarity index",
            "Build a cosine similarity index (a Brain similarity run) over an embeddings field"))

    def resolve_input(self, ctx):
        inputs = types.Object()
        fields = forms.vector_fields(ctx.dataset)
        if not fields:
            forms.fail(inputs, "field_error",
                       "No embeddings field yet: run 'Compute video embeddings' first")
            return types.Property(inputs, view=types.View(label="Build video similarity index"))
        default = config.EMBEDDINGS_FIELD if config.EMBEDDINGS_FIELD in fields else fields[0]
        forms.choice_field(inputs, "field", fields, "Embeddings field", default=default)
        inputs.str("brain_key", default=config.BRAIN_KEY, label="Brain key",
                   description="An existing index of this name is updated, or replaced if you untick 'Update'")
        brain_key = ctx.params.get("brain_key") or config.BRAIN_KEY
        exists = brain_key in ctx.dataset.list_brain_runs()
        if exists:
            inputs.bool("update", default=True, view=types.CheckboxView(), label="Update in place",
                        description="Add new and re-embedded clips, drop deleted ones; untick to rebuild")
        if not (exists and ctx.params.get("update", True)):
            forms.choice_field(inputs, "backend", ["sklearn", "lancedb"], "Backend",
                               "sklearn keeps the index in the database; lancedb on disk",
                               default="sklearn")
        return types.Property(inputs, view=types.View(label="Build video similarity index"))

    def execute(self, ctx):
        from fiftyone_videorec.search.similarity import build_index, update_index

        p = ctx.params
        brain_key = p.get("brain_key", config.BRAIN_KEY)
        if p.get("update", True) and brain_key in ctx.dataset.list_brain_runs():
            change, error = forms.run_library(ctx, lambda: update_index(
                ctx.dataset, brain_key=brain_key, progress=forms.progress_to(ctx)))
            summary = (f"added {change.added}, updated {change.changed}, removed {change.removed}; "
                       f"{change.indexed} indexed") if change else None
        else:
            built, error = forms.run_library(ctx, lambda: build_index(
                ctx.dataset, field=p.get("field", config.EMBEDDINGS_FIELD), brain_key=brain_key,
                backend=p.get("backend", "sklearn"), progress=forms.progress_to(ctx)))
            summary = f"built: {built.indexed} indexed, {built.missing} without a vector" if built else None
        if error:
            return {"error": error}
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return {"brain_key": brain_key, "summary": summary}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        if ctx.results.get("brain_key"):
            outputs.str("brain_key", label="Index (brain key)")
            outputs.str("summary", label="Changes")
        return types.Property(outputs)
