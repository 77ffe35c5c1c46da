"""``videorec demo``: load → pretrained → train → embed → index → evaluate → report, one line per stage.

The ``pretrained`` stage embeds the clips with the built-in ImageNet model and scores them before
any training; ``evaluate`` scores the trained model, each against chance.

Re-running reuses what is done (downloads, frame cache, trained model, embeddings, index) unless
``fresh=True``. Without network access to UCF101 it says so in one line and uses the synthetic
motion set.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from . import config
from .errors import VideorecError

STAGES = ("load", "pretrained", "train", "embed", "index", "evaluate", "report")


@dataclass
class DemoResult:
    """What the demo made: names and folders to open next, and the evaluation's numbers."""

    dataset_name: str
    source: str
    model_dir: Path
    report_path: Path
    metrics: dict
    stage_seconds: dict = field(default_factory=dict)


def ucf101_reachable(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    """Return (True, "") when ``url`` (or a local zip path) can be range-read, else (False, why)."""
    if not url.startswith(("http://", "https://")):
        return (Path(url).expanduser().is_file(), f"{url} is not a file")
    import requests

    try:
        response = requests.get(url, headers={"Range": "bytes=0-0"}, timeout=timeout, stream=True)
        response.close()
    except requests.RequestException as exc:
        return False, type(exc).__name__
    if response.status_code != 206:
        return False, f"HTTP {response.status_code} to a range request"
    return True, ""


class _StagePrinter:
    def __init__(self, echo: Callable[[str], None]):
        self.echo = echo
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        info = {"text": ""}
        start = time.perf_counter()
        yield info
        elapsed = time.perf_counter() - start
        self.seconds[name] = round(elapsed, 1)
        index = STAGES.index(name) + 1
        self.echo(f"[{index}/{len(STAGES)}] {name:<8} {info['text']}  ({elapsed:.1f} s)")


def run_demo(source: str = "auto", url: str = config.UCF101_URL, dataset_name: str | None = None,
             preset: str = config.DEFAULT_PRESET, epochs: int | None = None, fresh: bool = False,
             out_dir: str | Path | None = None, echo: Callable[[str], None] = print,
             load_options: dict | None = None) -> DemoResult:
    """Run the whole pipeline and return what it made; ``source`` is auto, ucf101 or synthetic."""
    from .runtime import connect_database

    if source not in ("auto", "ucf101", "synthetic"):
        raise VideorecError(f"unknown source {source!r}; expected auto, ucf101 or synthetic")
    fo = connect_database()
    if source == "auto":
        reachable, why = ucf101_reachable(url)
        source = "ucf101" if reachable else "synthetic"
        if not reachable:
            echo(f"UCF101 archive not reachable ({why}): using the synthetic motion set instead "
                 "(--source ucf101 to insist)")
    dataset_name = dataset_name or (config.UCF101_DATASET if source == "ucf101" else config.SYNTHETIC_DATASET)
    model_dir = config.models_dir() / f"{dataset_name}-{preset}"
    printer = _StagePrinter(echo)

    with printer.stage("load") as info:
        dataset = _load(fo, source, url, dataset_name, fresh, load_options or {})
        counts = dataset.count_sample_tags()
        info["text"] = (f"{source} → dataset '{dataset_name}': {len(dataset)} clips "
                        + " ".join(f"{t}={counts.get(t, 0)}" for t in config.SPLITS))
    with printer.stage("pretrained") as info:
        info["text"] = _pretrained(dataset, fresh)
    with printer.stage("train") as info:
        info["text"] = _train(dataset, model_dir, preset, epochs, fresh)
    with printer.stage("embed") as info:
        info["text"], embedded = _embed(dataset, model_dir, fresh)
    with printer.stage("index") as info:
        info["text"] = _index(dataset, fresh or embedded > 0)
    with printer.stage("evaluate") as info:
        from .evaluation import evaluate_retrieval

        metrics = dict(evaluate_retrieval(dataset, brain_key=config.BRAIN_KEY).metrics)
        info["text"] = f"trained model: {_precision_line(metrics)}"
    with printer.stage("report") as info:
        from .report import write_report

        report_path = write_report(dataset, config.BRAIN_KEY, out_dir=out_dir, model_dir=model_dir)
        info["text"] = f"{report_path}"
    return DemoResult(dataset_name, source, model_dir, report_path, metrics, printer.seconds)


def _load(fo, source: str, url: str, dataset_name: str, fresh: bool, options: dict):
    if fo.dataset_exists(dataset_name) and not fresh:
        return fo.load_dataset(dataset_name)
    if source == "ucf101":
        from .data.ucf101 import load_ucf101

        return load_ucf101(dataset_name, url=url, overwrite=True, **options)
    from .data.synthetic import load_synthetic

    return load_synthetic(dataset_name, overwrite=True, **options)


def _precision_line(metrics: dict) -> str:
    return "  ".join(f"P@{k} {metrics[f'precision@{k}']:.3f} (chance {metrics[f'chance_precision@{k}']:.3f})"
                     for k in (1, 5, 10) if f"precision@{k}" in metrics)


def _pretrained(dataset, fresh: bool) -> str:
    """Embed with the built-in ImageNet model and score test clips against train clips, before any training."""
    from .embedding.model_folder import PRETRAINED
    from .embedding.run import embed_dataset
    from .evaluation import evaluate_field

    embed_dataset(dataset, PRETRAINED, field=config.PRETRAINED_FIELD, force=fresh)
    metrics = evaluate_field(dataset, config.PRETRAINED_FIELD).metrics
    return f"ImageNet features, no training: {_precision_line(metrics)}"


def _train(dataset, model_dir: Path, preset: str, epochs: int | None, fresh: bool) -> str:
    import json

    from .embedding.model_folder import METADATA_FILE

    metadata_path = model_dir / METADATA_FILE
    if metadata_path.exists() and not fresh:
        metadata = json.loads(metadata_path.read_text())
        if metadata.get("dataset") == dataset.name:
            return f"reusing the model in {model_dir} (--fresh to retrain)"
    from .network.training import train

    result = train(dataset, model_dir, preset=preset, epochs=epochs)
    history = result.history
    epochs_run = len(next(iter(history.values()))) if history else 0
    val_acc = history.get("val_accuracy", [float("nan")])[-1] if history else float("nan")
    return f"preset {preset}, {epochs_run} epochs, val accuracy {val_acc:.3f} → {model_dir}"


def _embed(dataset, model_dir: Path, fresh: bool) -> tuple[str, int]:
    """Embed the clips that lack a vector from this model; return (line, number embedded)."""
    from .embedding.run import embed_dataset

    field_name = config.EMBEDDINGS_FIELD
    summary = embed_dataset(dataset, model_dir, field=field_name, force=fresh)
    if summary.embedded == 0 and not summary.failed:
        return f"all {len(dataset)} clips already have '{field_name}' from this model", 0
    failed = f", {len(summary.failed)} failed (reasons in '{config.EMBED_ERROR_FIELD}')" if summary.failed else ""
    return f"{summary.embedded} clips → '{field_name}'{failed}", summary.embedded


def _index(dataset, rebuild: bool) -> str:
    from .search.similarity import build_index

    if config.BRAIN_KEY in dataset.list_brain_runs() and not rebuild:
        return f"reusing brain key '{config.BRAIN_KEY}'"
    build_index(dataset, field=config.EMBEDDINGS_FIELD, brain_key=config.BRAIN_KEY)
    return f"cosine index '{config.BRAIN_KEY}' over {len(dataset.exists(config.EMBEDDINGS_FIELD))} clips"
