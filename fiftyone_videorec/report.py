"""The report: one self-contained HTML page (PNGs beside it) that shows what the pipeline did.

Sections: training curves, confusion matrix, precision@k against chance, the embeddings map, a
per-class table, and example recommendations (query strip + top-5 strips, right class marked).
"""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from . import config
from .errors import VideorecError

STRIP_FRAMES = 4
STRIP_SIZE = 96


@dataclass
class ReportInputs:
    """What the report shows, gathered before any file is written."""

    dataset_name: str
    brain_key: str
    metrics: dict
    per_class: list[dict]
    examples: list[dict] = field(default_factory=list)
    model_dir: Path | None = None


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_precision_vs_chance(metrics: dict, path: Path) -> Path:
    """Save a bar chart of precision@k and recall@k against their chance levels; return ``path``."""
    plt = _plt()
    ks = sorted(int(key.split("@")[1]) for key in metrics if key.startswith("precision@"))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.2
    x = np.arange(len(ks))
    series = [("precision", "tab:blue"), ("chance_precision", "lightsteelblue"),
              ("recall", "tab:green"), ("chance_recall", "palegreen")]
    for offset, (name, color) in enumerate(series):
        values = [metrics.get(f"{name}@{k}", np.nan) for k in ks]
        ax.bar(x + (offset - 1.5) * width, values, width, label=name.replace("_", " "), color=color)
    ax.set_xticks(x, [f"k={k}" for k in ks])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title("Retrieval quality vs chance (test queries, train gallery)")
    ax.legend(fontsize=8, ncols=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def frame_strip(filepath: str, label: str, caption: str, path: Path, border: tuple | None = None) -> Path:
    """Save ``STRIP_FRAMES`` evenly spaced frames of a video side by side as a PNG; return ``path``."""
    import cv2

    from .frames import count_frames, read_clip

    total = max(1, count_frames(filepath))
    step = max(1, total // STRIP_FRAMES)
    frames = read_clip(filepath, n_frames=STRIP_FRAMES, frame_step=step, image_size=STRIP_SIZE)
    strip = np.concatenate(list(frames), axis=1)
    if border is not None:
        strip = cv2.copyMakeBorder(strip, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=border)
    canvas = np.full((strip.shape[0] + 22, strip.shape[1], 3), 255, np.uint8)
    canvas[22:] = strip
    cv2.putText(canvas, caption[:60], (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    return path


def gather_examples(dataset, brain_key: str, n_queries: int = 4, k: int = 5,
                    query_tag: str = config.TEST_TAG, seed: int = 0) -> list[dict]:
    """Return up to ``n_queries`` test queries (distinct classes first) with their top-``k`` matches."""
    from .search.similarity import recommend

    queries = dataset.match_tags(query_tag)
    ids = queries.values("id")
    labels = queries.values(f"{config.LABEL_FIELD}.label")
    order = np.random.default_rng(seed).permutation(len(ids))
    chosen, seen = [], set()
    for pass_distinct in (True, False):
        for i in order:
            if len(chosen) == n_queries:
                break
            if ids[i] in {c[0] for c in chosen} or (pass_distinct and labels[i] in seen):
                continue
            chosen.append((ids[i], labels[i]))
            seen.add(labels[i])
    examples = []
    for sample_id, label in chosen:
        sample = dataset[sample_id]
        matches = recommend(dataset, sample_id, k=k, brain_key=brain_key)
        examples.append({"sample_id": sample_id, "filepath": sample.filepath, "label": label,
                         "matches": [{"sample_id": m.sample_id, "filepath": m.filepath,
                                      "label": m.label, "score": float(m.score),
                                      "correct": m.label == label} for m in matches]})
    return examples


def _table(rows: Sequence[dict]) -> str:
    if not rows:
        return "<p>(none)</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(row.get(c))}</td>" for c in cols) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _img(name: str | None, alt: str) -> str:
    if not name:
        return f"<p class='missing'>{html.escape(alt)}: not available</p>"
    return f"<img src='{html.escape(name)}' alt='{html.escape(alt)}'>"


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{margin-bottom:0}.sub{color:#666}img{max-width:100%;border:1px solid #ddd;margin:4px 0}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}.grid{display:flex;flex-wrap:wrap;gap:12px}.grid img{max-width:400px}
.example{border-top:1px solid #eee;padding-top:8px}.ok{color:#1a7f37}.bad{color:#cf222e}"""


def render_html(inputs: ReportInputs, images: dict[str, str | None]) -> str:
    """Return the report page's HTML; ``images`` maps section name -> PNG file name (or None)."""
    m = inputs.metrics
    headline = ", ".join(
        f"P@{k} {m[f'precision@{k}']:.3f} (chance {m.get(f'chance_precision@{k}', float('nan')):.3f})"
        for k in sorted(int(key.split("@")[1]) for key in m if key.startswith("precision@"))
    )
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>videorec report: "
        f"{html.escape(inputs.dataset_name)}</title><style>{CSS}</style></head><body>",
        f"<h1>Video recommendation report</h1><p class='sub'>dataset <b>{html.escape(inputs.dataset_name)}</b>, "
        f"similarity index <b>{html.escape(inputs.brain_key)}</b>"
        + (f", model <code>{html.escape(str(inputs.model_dir))}</code>" if inputs.model_dir else "")
        + f"</p><p>{html.escape(headline)}</p>",
        "<h2>Training</h2><div class='grid'>", _img(images.get("curves"), "training curves"),
        _img(images.get("confusion"), "confusion matrix"), "</div>",
        "<h2>Retrieval quality</h2>", _img(images.get("precision"), "precision@k vs chance"),
        _table([{"metric": key, "value": value} for key, value in sorted(m.items())
                if isinstance(value, (int, float))]),
        "<h2>Embeddings map</h2>", _img(images.get("map"), "embeddings map"),
        "<h2>Per class</h2>", _table(inputs.per_class),
        "<h2>Example recommendations</h2><p>Each query's frames, then its top matches by cosine "
        "similarity; <span class='ok'>✔</span> marks a match of the query's class.</p>",
    ]
    for i, example in enumerate(inputs.examples):
        parts.append(f"<div class='example'><h3>Query: {html.escape(example['label'])}</h3>")
        parts.append(_img(images.get(f"example{i}_query"), "query"))
        parts.append("<div class='grid'>")
        for j, match in enumerate(example["matches"]):
            mark = "<span class='ok'>✔</span>" if match["correct"] else "<span class='bad'>✘</span>"
            parts.append(f"<div>{mark} #{j + 1} {html.escape(match['label'])} "
                         f"(cosine {match['score']:.3f})<br>{_img(images.get(f'example{i}_match{j}'), 'match')}</div>")
        parts.append("</div></div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(dataset, brain_key: str = config.BRAIN_KEY, out_dir: str | Path | None = None,
                 model_dir: str | Path | None = None, k: Sequence[int] = (1, 5, 10),
                 query_tag: str = config.TEST_TAG, gallery_tag: str = config.TRAIN_TAG,
                 n_examples: int = 4) -> Path:
    """Write the report for the index ``brain_key`` of a dataset or view (or a dataset's name) into
    ``out_dir``; return the HTML path.

    ``model_dir`` (the trained model folder) supplies the training curves and confusion matrix;
    by default it is the model recorded with the index.
    """
    from .evaluation import evaluate_retrieval
    from .runtime import dataset_name_of, open_dataset

    dataset = open_dataset(dataset)
    dataset_name = dataset_name_of(dataset)
    if brain_key not in dataset.list_brain_runs():
        raise VideorecError(f"dataset {dataset_name!r} has no brain key {brain_key!r}; "
                            f"run 'videorec index' first (existing: {', '.join(dataset.list_brain_runs()) or 'none'})")
    out = Path(out_dir or config.reports_dir() / dataset_name).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VideorecError(f"cannot write the report to {out}: {exc.strerror}") from None
    if model_dir is None:
        model_dir = _index_model_dir(dataset, brain_key)

    evaluation = evaluate_retrieval(dataset, brain_key=brain_key, k=tuple(k), query_tag=query_tag,
                                    gallery_tag=gallery_tag)
    inputs = ReportInputs(dataset_name, brain_key, dict(evaluation.metrics),
                          _per_class_rows(evaluation.per_class),
                          gather_examples(dataset, brain_key, n_queries=n_examples, query_tag=query_tag),
                          Path(model_dir) if model_dir else None)
    images = {"precision": plot_precision_vs_chance(inputs.metrics, out / "precision_at_k.png").name}
    for name, source in (("curves", "curves.png"), ("confusion", "confusion_matrix.png")):
        src = inputs.model_dir / source if inputs.model_dir else None
        if src is not None and src.exists():
            shutil.copyfile(src, out / source)
            images[name] = source
    images["map"] = _embeddings_map(dataset, brain_key, out)
    for i, example in enumerate(inputs.examples):
        images[f"example{i}_query"] = frame_strip(
            example["filepath"], example["label"], f"query: {example['label']}",
            out / f"example{i}_query.png").name
        for j, match in enumerate(example["matches"]):
            color = (26, 127, 55) if match["correct"] else (207, 34, 46)
            images[f"example{i}_match{j}"] = frame_strip(
                match["filepath"], match["label"], f"#{j + 1} {match['label']}  cos {match['score']:.3f}",
                out / f"example{i}_match{j}.png", border=color).name
    (out / "metrics.json").write_text(json.dumps(inputs.metrics, indent=2))
    page = out / "index.html"
    page.write_text(render_html(inputs, images), encoding="utf-8")
    return page


def _per_class_rows(per_class: dict) -> list[dict]:
    """Turn ``{label: {metric: value}}`` into table rows with the label first."""
    return [{"class": label, **row} for label, row in per_class.items()]


def _index_model_dir(dataset, brain_key: str) -> Path | None:
    """Return the model folder recorded with the index, if any."""
    from .fields import recorded_model

    found = recorded_model(dataset, brain_key)
    return Path(found) if found else None


def _embeddings_map(dataset, brain_key: str, out: Path) -> str | None:
    """Write the embeddings map PNG next to the report; None when there are too few vectors."""
    from .search.index import index_field
    from .visualization import embeddings_map

    try:
        return embeddings_map(dataset, field=index_field(dataset, brain_key), out=out / "embeddings_map.png").name
    except VideorecError:
        return None
