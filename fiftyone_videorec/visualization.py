"""The embeddings map: FiftyOne Brain ``compute_visualization`` plus a PNG scatter coloured by label."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from . import config
from .errors import VideorecError
from .fields import require_vector_field


def embeddings_map(dataset, field: str = config.EMBEDDINGS_FIELD, brain_key: str = config.VIS_BRAIN_KEY,
                   out=None, seed: int = config.DEFAULT_SEED) -> Path:
    """Compute a 2-D map (UMAP if umap-learn is installed, else t-SNE) of ``field``; return the PNG path."""
    import fiftyone.brain as fob
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    require_vector_field(dataset, field)
    view = dataset.exists(field)
    if len(view) < 3:
        raise VideorecError(f"need at least 3 embedded samples for a map, found {len(view)}")
    method = "umap" if importlib.util.find_spec("umap") else "tsne"
    if brain_key in dataset.list_brain_runs():
        dataset.delete_brain_run(brain_key)
    dim = len(view.first()[field])
    kwargs = ({"n_neighbors": min(15, len(view) - 1)} if method == "umap" else
              {"perplexity": min(30.0, (len(view) - 1) / 3), "pca_dims": 50 if min(dim, len(view)) > 50 else None})
    brain_logger = logging.getLogger("fiftyone.brain")
    level = brain_logger.level
    brain_logger.setLevel(logging.WARNING)  # its "Generating visualization..." line would break our one-line-per-stage output
    try:
        results = fob.compute_visualization(view, embeddings=field, method=method, brain_key=brain_key, seed=seed,
                                            progress=False, verbose=False, **kwargs)
    finally:
        brain_logger.setLevel(level)
    points = results.points
    labels = view.values(f"{config.LABEL_FIELD}.label") if dataset.has_field(config.LABEL_FIELD) else [None] * len(view)
    out = Path(out) if out else config.reports_dir() / f"{dataset.name}-{brain_key}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 6))
    for label in sorted({str(x) for x in labels}):
        idx = [i for i, x in enumerate(labels) if str(x) == label]
        ax.scatter(points[idx, 0], points[idx, 1], s=12, label=label)
    ax.set_title(f"{dataset.name}: {field} ({method})")
    ax.legend(fontsize=7, markerscale=1.5, loc="best")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
