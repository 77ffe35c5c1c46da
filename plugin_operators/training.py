"""Operator that trains the (2+1)D ResNet on the dataset's train split and writes a model folder."""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_videorec import config
from plugin_operators import forms


def _preset_names() -> list[str]:
    """The model presets, the default first."""
    return sorted(config.PRESET_NAMES, key=lambda name: (name != config.DEFAULT_PRESET, name))


def default_model_dir(dataset_name: str, preset: str) -> str:
    """Return where a model trained on ``dataset_name`` with ``preset`` goes by default."""
    return str(config.models_dir() / f"{dataset_name}-{preset}")


class TrainVideoEmbedder(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(**forms.delegated_config(
            "train_video_embedder", "Videorec: train video embedder",
            "Train the (2+1)D ResNet classifier on the train split; its pooled features are the embeddings"))

    def resolve_input(self, ctx):
        inputs = types.Object()
        tags = forms.split_tags(ctx.dataset)
        if config.TRAIN_TAG not in tags:
            forms.fail(inputs, "splits_error",
                       f"Dataset '{ctx.dataset.name}' has no '{config.TRAIN_TAG}' tagged clips: "
                       "tag samples train/val/test (the loaders do) before training")
            return types.Property(inputs, view=types.View(label="Train video embedder"))
        forms.choice_field(inputs, "preset", _preset_names(), "Preset",
                           "Clip sampling and network width", default=config.DEFAULT_PRESET)
        inputs.int("epochs", label="Epochs", description="Leave empty for the preset's default")
        inputs.int("batch_size", label="Batch size", description="Leave empty for the preset's default")
        for name, tag in (("train_tag", config.TRAIN_TAG), ("val_tag", config.VAL_TAG),
                          ("test_tag", config.TEST_TAG)):
            forms.choice_field(inputs, name, tags, f"{tag.capitalize()} split tag",
                               default=tag if tag in tags else tags[0])
        preset = ctx.params.get("preset") or config.DEFAULT_PRESET
        inputs.str("model_dir", default=default_model_dir(ctx.dataset.name, preset),
                   label="Model folder", description="Where model.keras and metadata.json are written")
        inputs.bool("resume", default=False, label="Resume from this folder's checkpoint",
                    view=types.CheckboxView())
        epochs = ctx.params.get("epochs")
        if epochs is not None and epochs < 1:
            forms.fail(inputs, "epochs_error", "Epochs must be at least 1")
        return types.Property(inputs, view=types.View(label="Train video embedder"))

    def execute(self, ctx):
        from fiftyone_videorec.network.training import train

        p = ctx.params
        preset = p.get("preset") or config.DEFAULT_PRESET
        model_dir = p.get("model_dir") or default_model_dir(ctx.dataset.name, preset)
        result, error = forms.run_library(ctx, lambda: train(
            ctx.dataset.name, model_dir, preset=preset,
            epochs=p.get("epochs"), batch_size=p.get("batch_size"), resume=p.get("resume", False),
            train_tag=p.get("train_tag", config.TRAIN_TAG), val_tag=p.get("val_tag", config.VAL_TAG),
            test_tag=p.get("test_tag", config.TEST_TAG), progress=forms.progress_to(ctx)))
        if error:
            return {"error": error}
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        epochs = len(next(iter(result.history.values()), []))
        return {"model_dir": str(result.out_dir), "epochs": epochs,
                "skipped": len(result.skipped)}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        if ctx.results.get("model_dir"):
            outputs.str("model_dir", label="Model folder")
            outputs.int("epochs", label="Epochs run")
            outputs.int("skipped", label="Clips skipped (undecodable)")
        return types.Property(outputs)
