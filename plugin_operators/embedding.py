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
        found = forms.model_dirs()
        inputs.str("model_dir", default=found[0] if found else None, required=True,
                   label="Model folder", description="A folder written by 'Train video embedder'")
        model_dir = ctx.params.get("model_dir") or (found[0] if found else None)
        if not forms.is_model_dir(model_dir):
            forms.fail(inputs, "model_error",
                       f"No trained model in {model_dir}: run 'Train video embedder' first"
                       if model_dir else
                       "No trained model yet: run 'Train video embedder' first, or type a model folder")
        inputs.str("field", default=config.EMBEDDINGS_FIELD, label="Embeddings field")
        inputs.int("batch_size", label="Batch size", description="Leave empty for the default")
        inputs.int("clips", label="Clips per video",
                   description="Average the embeddings of this many evenly spaced clips (empty: default)")
        forms.notice(inputs, "target_notice", f"Embeds the {len(ctx.view)} clips of the current view")
        return types.Property(inputs, view=types.View(label="Compute video embeddings"))

    def execute(self, ctx):
        from fiftyone_videorec.embedder import embed_dataset

        p = ctx.params
        summary, error = forms.run_library(ctx, lambda: embed_dataset(
            ctx.view, p["model_dir"], field=p.get("field", config.EMBEDDINGS_FIELD),
            batch_size=p.get("batch_size"), clips=p.get("clips"), progress=forms.progress_to(ctx)))
        if error:
            return {"error": error}
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return {"field": p.get("field", config.EMBEDDINGS_FIELD), "summary": str(summary)}

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
                   description="An existing index of this name is replaced")
        forms.choice_field(inputs, "backend", ["sklearn", "lancedb"], "Backend",
                           "sklearn keeps the index in the database; lancedb on disk",
                           default="sklearn")
        return types.Property(inputs, view=types.View(label="Build video similarity index"))

    def execute(self, ctx):
        from fiftyone_videorec.similarity import build_index

        p = ctx.params
        _, error = forms.run_library(ctx, lambda: build_index(
            ctx.dataset, field=p.get("field", config.EMBEDDINGS_FIELD), brain_key=p.get("brain_key", config.BRAIN_KEY),
            backend=p.get("backend", "sklearn"), progress=forms.progress_to(ctx)))
        if error:
            return {"error": error}
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return {"brain_key": p.get("brain_key", config.BRAIN_KEY)}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        if ctx.results.get("brain_key"):
            outputs.str("brain_key", label="Index (brain key)")
        return types.Property(outputs)
