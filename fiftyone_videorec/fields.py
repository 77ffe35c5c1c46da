"""Bookkeeping of embeddings fields and the indexes built on them.

Which model folder wrote a field or an index (kept in ``dataset.info``), which model wrote each
sample's value (its fingerprint field), and whether a field can hold vectors. Embedding, search,
evaluation and the report all ask these questions; keeping the answers here lets each of them
import downward only. Which field an index was built from: ``search/index.py``.
"""

from __future__ import annotations

from pathlib import Path

from .errors import VideorecError

MODEL_INFO_KEY = "videorec_models"  # dataset.info[key][field or brain key] = model folder


def fingerprint_field(field_name: str) -> str:
    """Return the sample field holding, per sample, the fingerprint of the model that wrote ``field_name``."""
    return f"{field_name}_fingerprint"


def prepare_label_field(dataset, field_name: str, label_type, what: str, string_fields: tuple[str, ...] = ()) -> None:
    """Add a label field of ``label_type`` (e.g. ``fo.Classification``), its fingerprint field and
    ``string_fields``; a one-line error when the field already holds another kind of value."""
    import fiftyone as fo

    schema = dataset.get_field_schema()
    kind = schema.get(field_name)
    if kind is None:
        dataset.add_sample_field(field_name, fo.EmbeddedDocumentField, embedded_doc_type=label_type)
    elif getattr(kind, "document_type", None) is not label_type:
        raise VideorecError(f"field {field_name!r} already holds {type(kind).__name__} values, not {what} "
                            f"({label_type.__name__}); choose another --field")
    for name in (fingerprint_field(field_name), *string_fields):
        if name not in schema:
            dataset.add_sample_field(name, fo.StringField)


def record_model(dataset, key: str, model_dir) -> None:
    """Remember which model folder produced ``key`` (an embeddings field or a brain key)."""
    models = dict(dataset.info.get(MODEL_INFO_KEY, {}))
    models[key] = str(Path(model_dir).resolve())
    dataset.info[MODEL_INFO_KEY] = models
    dataset.save()


def recorded_model(dataset, key: str) -> str | None:
    """Return the model folder recorded for ``key``, if any."""
    return dataset.info.get(MODEL_INFO_KEY, {}).get(key)


def check_vector_field(dataset, field_name: str) -> None:
    """Raise a one-line error unless ``field_name`` is absent or a vector/array field."""
    import fiftyone as fo

    schema = dataset.get_field_schema()
    if field_name in schema and not isinstance(schema[field_name], (fo.VectorField, fo.ArrayField)):
        kind = type(schema[field_name]).__name__
        raise VideorecError(f"field {field_name!r} already holds {kind} values, not embeddings; choose another --field")


def require_vector_field(dataset, field_name: str) -> None:
    """Raise a one-line error unless ``field_name`` exists and is a vector/array field."""
    if field_name not in dataset.get_field_schema():
        raise VideorecError(f"dataset {dataset.name!r} has no field {field_name!r}; run 'videorec embed' first")
    check_vector_field(dataset, field_name)
