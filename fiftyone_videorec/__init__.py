"""fiftyone-videorec: content-based video recommendation for FiftyOne.

The public API is loaded lazily, so ``import fiftyone_videorec`` stays cheap until a function
that needs TensorFlow or FiftyOne is used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> "module:attribute"; filled as the pipeline stages land
_PUBLIC = {
    "VideorecError": "errors:VideorecError",
    "run_doctor": "doctor:run_doctor",
    # data
    "load_ucf101": "data.ucf101:load_ucf101",
    "load_synthetic": "data.synthetic:load_synthetic",
    "load_folder": "data.folder:load_folder",
    # model and training
    "train": "network.training:train",
    "build_model": "network.model:build_model",
    "load_trained": "network.model:load_trained",
    "read_clip": "frames:read_clip",
    # embeddings, similarity, evaluation
    "load_model": "embedding.embedder:load_model",
    "embed_dataset": "embedding.run:embed_dataset",
    "build_index": "search.similarity:build_index",
    "recommend": "search.similarity:recommend",
    "index_moments": "search.moments:index_moments",
    "find_moments": "search.moments:find_moments",
    "find_duplicates": "curation.duplicates:find_duplicates",
    "find_leaks": "curation.duplicates:find_leaks",
    "tag_dataset": "curation.imagenet_tags:tag_dataset",
    "evaluate_retrieval": "evaluation:evaluate_retrieval",
    "embeddings_map": "visualization:embeddings_map",
    "VideoEmbeddingModel": "embedding.embedder:VideoEmbeddingModel",
    # report and demo
    "write_report": "report:write_report",
    "run_demo": "demo:run_demo",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'fiftyone_videorec' has no attribute {name!r}")
    module_name, attr = _PUBLIC[name].split(":")
    value = getattr(importlib.import_module(f".{module_name}", __name__), attr)
    globals()[name] = value
    return value
