"""Operators that bring clips into FiftyOne: the UCF101 subset and a folder of videos."""

from __future__ import annotations

from pathlib import Path

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_videorec import config
from plugin_operators import forms

FOLDER_DATASET = "videorec-folder"


def _dataset_name_input(ctx, inputs: types.Object, default: str) -> None:
    """Ask for the dataset name; explain what happens when it already exists."""
    import fiftyone as fo

    inputs.str("dataset_name", default=default, label="Dataset name")
    inputs.bool("overwrite", default=False, label="Replace an existing dataset of this name",
                view=types.CheckboxView())
    name = ctx.params.get("dataset_name") or default
    if fo.dataset_exists(name) and not ctx.params.get("overwrite", False):
        forms.notice(inputs, "exists_notice",
                     f"Dataset '{name}' exists: clips already in it are skipped, new ones are added")


def _finish(ctx, dataset_name: str) -> dict:
    """Open the loaded dataset in the App (immediate runs) and return the result."""
    if not ctx.delegated:
        ctx.ops.open_dataset(dataset_name)
        ctx.ops.reload_dataset()
    return {"dataset_name": dataset_name}


class LoadUCF101Subset(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(**forms.delegated_config(
            "load_ucf101_subset", "Videorec: load UCF101 subset",
            "Download a seeded, group-aware UCF101 subset (only the needed clips) and import it"))

    def resolve_input(self, ctx):
        inputs = types.Object()
        _dataset_name_input(ctx, inputs, config.UCF101_DATASET)
        inputs.int("num_classes", default=config.UCF101_NUM_CLASSES,
                   label="Classes", description="How many action classes to take (seeded)")
        train, val, test = config.UCF101_SPLIT
        inputs.int("train", default=train, label="Train clips per class")
        inputs.int("val", default=val, label="Validation clips per class")
        inputs.int("test", default=test, label="Test clips per class")
        inputs.int("seed", default=config.DEFAULT_SEED, label="Seed")
        inputs.str("url", default=config.UCF101_URL, label="Archive URL")
        for name in ("num_classes", "train", "val", "test"):
            value = ctx.params.get(name)
            if value is not None and value < (2 if name == "num_classes" else 1):
                forms.fail(inputs, f"{name}_error", f"'{name}' must be at least "
                           f"{2 if name == 'num_classes' else 1}")
        return types.Property(inputs, view=types.View(label="Load UCF101 subset"))

    def execute(self, ctx):
        from fiftyone_videorec.data.ucf101 import load_ucf101

        p = ctx.params
        name = p.get("dataset_name") or config.UCF101_DATASET
        split = tuple(p.get(tag) or default for tag, default in zip(config.SPLITS, config.UCF101_SPLIT))
        _, error = forms.run_library(ctx, lambda: load_ucf101(
            name, url=p.get("url") or config.UCF101_URL,
            num_classes=p.get("num_classes") or config.UCF101_NUM_CLASSES,
            per_class=sum(split), split=split, seed=p.get("seed", config.DEFAULT_SEED),
            overwrite=p.get("overwrite", False), progress=forms.progress_to(ctx)))
        return {"error": error} if error else _finish(ctx, name)

    def resolve_output(self, ctx):
        return types.Property(forms.error_output(ctx))


class LoadVideoFolder(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(**forms.delegated_config(
            "load_video_folder", "Videorec: load video folder",
            "Import a folder of videos laid out as <split>/<class>/<clip> or <class>/<clip>"))

    def resolve_input(self, ctx):
        inputs = types.Object()
        inputs.str("path", required=True, label="Folder",
                   description="Absolute path on the machine that runs FiftyOne")
        _dataset_name_input(ctx, inputs, FOLDER_DATASET)
        path = ctx.params.get("path")
        if path and not Path(path).expanduser().is_dir():
            forms.fail(inputs, "path_error", f"No folder at {path}")
        return types.Property(inputs, view=types.View(label="Load video folder"))

    def execute(self, ctx):
        from fiftyone_videorec.data.folder import load_folder

        p = ctx.params
        name = p.get("dataset_name") or FOLDER_DATASET
        result, error = forms.run_library(ctx, lambda: load_folder(
            p["path"], name, overwrite=p.get("overwrite", False),
            progress=forms.progress_to(ctx)))
        if error:
            return {"error": error}
        summary = result[1]
        return {**_finish(ctx, name), "summary": str(summary)}

    def resolve_output(self, ctx):
        outputs = forms.error_output(ctx)
        if ctx.results.get("summary"):
            outputs.str("summary", label="Imported")
        return types.Property(outputs)
