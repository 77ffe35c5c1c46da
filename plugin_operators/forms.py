"""Small helpers the operators share: choices read from the dataset, validation, progress, errors."""

from __future__ import annotations


import fiftyone.operators.types as types

from fiftyone_videorec import config



def delegated_config(name: str, label: str, description: str, **kwargs) -> dict:
    """Return OperatorConfig kwargs for a long-running operator: immediate or delegated, delegated first."""
    return dict(name=name, label=label, description=description, dynamic=True,
                allow_immediate_execution=True, allow_delegated_execution=True,
                default_choice_to_delegated=True, **kwargs)


def fail(inputs: types.Object, name: str, message: str) -> None:
    """Show ``message`` as a form error on a read-only field ``name``, which blocks execution."""
    prop = inputs.str(name, label="Cannot run", default=message, view=types.Error(label=message))
    prop.invalid = True
    prop.error_message = message


def notice(inputs: types.Object, name: str, message: str) -> None:
    """Show an informational line in the form."""
    inputs.view(name, types.Notice(label=message))


def split_tags(dataset) -> list[str]:
    """Return the dataset's sample tags that name a split, in train/val/test order."""
    tags = set(dataset.distinct("tags")) if dataset is not None else set()
    return [tag for tag in config.SPLITS if tag in tags] + sorted(tags - set(config.SPLITS))


def vector_fields(dataset) -> list[str]:
    """Return the dataset's fields that hold embedding vectors."""
    import fiftyone as fo

    if dataset is None:
        return []
    return sorted(dataset.get_field_schema(ftype=fo.VectorField))


def similarity_keys(dataset) -> list[str]:
    """Return the dataset's similarity-index brain keys (ours first)."""
    if dataset is None:
        return []
    keys = []
    for key in dataset.list_brain_runs():
        info = dataset.get_brain_info(key)
        if "Similarity" in type(info.config).__name__:
            keys.append(key)
    return sorted(keys, key=lambda key: (key != config.BRAIN_KEY, key))


def is_model_dir(path: str | None) -> bool:
    """True when ``path`` names a usable model: a built-in name or a trained videorec model folder."""
    from fiftyone_videorec.embedding.model_folder import BUILTIN_MODELS, is_model_folder

    return bool(path) and (path in BUILTIN_MODELS or is_model_folder(path))


def model_dirs() -> list[str]:
    """Return trained model folders under the default models folder, newest first."""
    from fiftyone_videorec.embedding.model_folder import is_model_folder

    root = config.models_dir()
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if is_model_folder(p)]
    return [str(p) for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


def model_choices() -> list[tuple[str, str]]:
    """Return ``(value, label)`` of every model the user can pick: the built-in ones first, then trained folders."""
    from fiftyone_videorec.embedding.model_folder import BUILTIN_MODELS

    return [(name, f"{name}: {text}") for name, text in BUILTIN_MODELS.items()] + \
        [(folder, folder) for folder in model_dirs()]


def choice_field(inputs: types.Object, name: str, choices: list[str], label: str,
                 description: str = "", default: str | None = None):
    """Add a dropdown of ``choices`` (optional: the operator falls back to ``default``); return it."""
    dropdown = types.Dropdown(label=label, description=description)
    for choice in choices:
        dropdown.add_choice(choice, label=choice)
    return inputs.enum(name, dropdown.values(), default=default or (choices[0] if choices else None),
                       view=dropdown)


def progress_to(ctx):
    """Return a library ``progress(fraction, label)`` callback that forwards to the App."""

    def progress(fraction: float, label: str) -> None:
        ctx.set_progress(progress=fraction, label=label)

    return progress


def run_library(ctx, call):
    """Run ``call()``; turn the library's one-line error into a result the App shows, not a traceback.

    Delegated runs re-raise it (as one line), so the run is recorded as failed with that reason.
    """
    from fiftyone_videorec.errors import VideorecError

    try:
        return call(), None
    except VideorecError as error:
        if ctx.delegated:
            raise RuntimeError(str(error)) from None
        ctx.ops.notify(str(error), variant="error")
        return None, str(error)


def error_output(ctx) -> types.Object:
    """Return an output form that shows ``error`` (when the result has one); add more to it."""
    outputs = types.Object()
    if ctx.results.get("error"):
        outputs.str("error", label="Error", view=types.Error(label=ctx.results["error"]))
    return outputs
