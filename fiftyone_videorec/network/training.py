"""The training loop: fit a preset on a dataset's labelled clips, save the model folder.

Frames come from the on-disk frame cache (:mod:`frame_cache`, each video decoded once) through
the tf.data pipeline (:mod:`input_pipeline`). Keras' ``ModelCheckpoint`` keeps the best weights;
:class:`ResumableStopping` adds what Keras' ``EarlyStopping`` cannot carry across processes:
early stopping, the time limit and the ``--resume`` checkpoint, all in ``checkpoint/state.json``.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from .. import config
from ..embedding.model_folder import METADATA_FILE
from ..errors import VideorecError
from .frame_cache import FrameCache, center_window, embed_cached
from .fusion import appearance_settings, fit_weight
from .input_pipeline import clip_dataset
from .model import Preset, build_model, get_preset, save_trained
from ..progress import ProgressFn, report, scaled

logger = logging.getLogger(__name__)

PATIENCE = 6  # epochs without a better val loss before early stopping ...
PATIENCE_STEPS = 120  # ... and at least this many optimizer steps (small sets have short epochs)
CHECKPOINT_DIR = "checkpoint"


@dataclass
class TrainResult:
    """What :func:`train` wrote: the model folder, its metadata and per-epoch history."""

    out_dir: Path
    metadata: dict
    history: dict
    skipped: dict = field(default_factory=dict)  # filepath -> reason it could not be decoded
    cache: dict = field(default_factory=dict)  # {"decoded": n, "hits": n}


def _split(dataset, tag: str) -> tuple[list[str], list[str]]:
    view = dataset.match_tags(tag).exists(f"{config.LABEL_FIELD}.label")
    return view.values("filepath"), view.values(f"{config.LABEL_FIELD}.label")


def _check_writable(out_dir: Path) -> None:
    try:
        (out_dir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise VideorecError(f"cannot write to output folder {out_dir}: {e.strerror or e}") from None


# --- the loop --------------------------------------------------------------------------------
def _callbacks(ckpt: Path, state: dict, epochs: int, steps: int, progress, time_limit: float | None,
               watched: str) -> list:
    """Keras' NaN guard and best-weights checkpoint (of the ``watched`` loss), our resumable stopping
    and the progress lines."""
    best = state["best_loss"] if math.isfinite(state["best_loss"]) else None  # a resumed run keeps its best
    return [keras.callbacks.TerminateOnNaN(),
            keras.callbacks.ModelCheckpoint(ckpt / "best.weights.h5", monitor=watched, save_best_only=True,
                                            save_weights_only=True, initial_value_threshold=best),
            ProgressLines(epochs, steps, progress),
            ResumableStopping(ckpt, state, epochs, max(PATIENCE, math.ceil(PATIENCE_STEPS / max(1, steps))),
                              time_limit)]


class ProgressLines(keras.callbacks.Callback):
    """A live tqdm bar per epoch in a terminal, one summary line per epoch in a log file, and the
    ``progress`` callback's fraction (decoding takes the first 20 %, epochs the next 70 %)."""

    def __init__(self, epochs: int, steps: int, progress):
        super().__init__()
        self.epochs, self.steps, self.progress = epochs, steps, progress

    def on_epoch_begin(self, epoch, logs=None):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", unit="batch", leave=True,
                        disable=not sys.stderr.isatty())
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{logs['loss']:.3f}", acc=f"{logs['accuracy']:.3f}")

    def on_epoch_end(self, epoch, logs=None):
        if "val_loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.3f}", acc=f"{logs['accuracy']:.3f}",
                                 val_loss=f"{logs['val_loss']:.3f}", val_acc=f"{logs['val_accuracy']:.3f}")
        self.bar.close()
        if self.bar.disable:
            print(f"epoch {epoch + 1}/{self.epochs}  " + "  ".join(f"{k} {float(v):.3f}" for k, v in logs.items()
                                                              if k != "learning_rate")
                  + f"  ({time.perf_counter() - self.started:.1f} s)", file=sys.stderr, flush=True)
        report(self.progress, 0.2 + 0.7 * (epoch + 1) / self.epochs,
               f"epoch {epoch + 1}/{self.epochs} loss {logs['loss']:.2f} acc {logs['accuracy']:.2f}")


class ResumableStopping(keras.callbacks.Callback):
    """Early stopping (``patience`` epochs without a better watched loss, never before half the
    epochs) and the time limit, with their state and the last model saved every epoch so that
    ``--resume`` continues exactly where a killed run stopped."""

    def __init__(self, ckpt: Path, state: dict, epochs: int, patience: int, time_limit: float | None):
        super().__init__()
        self.ckpt, self.state, self.epochs, self.patience, self.time_limit = ckpt, state, epochs, patience, time_limit

    def on_train_begin(self, logs=None):
        self.run_started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        state = self.state
        for key, value in logs.items():
            state["history"].setdefault(key, []).append(float(value))
        watched = float(logs.get("val_loss", logs["loss"]))
        if watched < state["best_loss"]:
            state.update(best_loss=watched, best_epoch=epoch + 1, wait=0)
        else:
            state["wait"] += 1
            self.model.stop_training = state["wait"] >= self.patience and epoch + 1 >= self.epochs // 2
        now = time.perf_counter()
        spent, last_epoch = state["train_seconds"] + now - self.run_started, now - self.started
        if self.time_limit and spent + last_epoch > self.time_limit and epoch + 1 < self.epochs:
            self.model.stop_training = True  # another epoch as long as this one would pass the limit
            state["stopped_by_time_limit"] = True
        state["epoch"] = epoch + 1
        state["stopped_early"] = bool(self.model.stop_training)
        self.model.save(self.ckpt / "last.keras")  # with optimizer state, for --resume
        (self.ckpt / "state.json").write_text(json.dumps(state))


def _compile(classifier, preset: Preset, total_steps: int) -> None:
    schedule = keras.optimizers.schedules.CosineDecay(preset.learning_rate, max(1, total_steps), alpha=0.05)
    classifier.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])


def _resume_state(ckpt: Path, preset: Preset, class_names: list[str]):
    state_path = ckpt / "state.json"
    if not state_path.is_file() or not (ckpt / "last.keras").is_file():
        raise VideorecError(f"--resume: no checkpoint in {ckpt.parent} to continue from")
    state = json.loads(state_path.read_text())
    if state["preset"] != preset.name or state["class_names"] != class_names:
        raise VideorecError(f"--resume: the checkpoint in {ckpt.parent} was trained with preset "
                            f"{state['preset']!r} on classes {state['class_names']}, not {preset.name!r} on {class_names}")
    return state, keras.models.load_model(ckpt / "last.keras")


def _use_accelerator() -> str:
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        keras.mixed_precision.set_global_policy("mixed_float16")
        return "gpu"
    keras.mixed_precision.set_global_policy("float32")
    return "cpu"


def train(dataset, out_dir, preset: str = config.DEFAULT_PRESET, epochs: int | None = None,
          batch_size: int | None = None, resume: bool = False, seed: int = config.DEFAULT_SEED,
          train_tag: str = config.TRAIN_TAG, val_tag: str = config.VAL_TAG, test_tag: str = config.TEST_TAG,
          time_limit: float | None = None, appearance_weight: float | str | None = None,
          progress: ProgressFn | None = None) -> TrainResult:
    """Train ``preset`` on the ``train_tag`` clips of a dataset or view (or a dataset's name);
    return what was written to ``out_dir``.

    Writes ``model.keras``, ``metadata.json``, ``history.json``, ``curves.png`` and
    ``confusion_matrix.png`` (test split). Undecodable clips are skipped, their reasons kept.
    Early stopping watches the ``val_tag`` clips' loss, or the training loss when there are none
    (``metadata["early_stopping_on"]`` says which). ``time_limit`` (seconds, default the preset's)
    ends training before an epoch that would pass it. ``appearance_weight`` (default the preset's)
    joins the frozen ImageNet frame features to the trained network's vector with that weight, or
    one chosen on the validation clips (``"auto"``, see :mod:`fusion`); 0: the trained network
    alone. It changes embedding, not training.
    """
    from ..runtime import dataset_name_of, open_dataset

    p = get_preset(preset)
    if time_limit is not None and not time_limit > 0:
        raise VideorecError(f"the time limit must be a positive number of seconds, got {time_limit}")
    appearance = appearance_settings(p.appearance_weight, appearance_weight)
    epochs_given, batch_size = epochs, batch_size or p.batch_size
    dataset = open_dataset(dataset)
    dataset_name = dataset_name_of(dataset)
    out_dir = Path(out_dir)
    _check_writable(out_dir)
    tags = {"train": train_tag, "val": val_tag, "test": test_tag}
    splits, class_names = _labelled_splits(dataset, dataset_name, tags)

    keras.utils.set_random_seed(seed)
    device = _use_accelerator()
    cache = FrameCache(p)
    arrays, kept_paths, skipped = _cached_arrays(cache, splits, class_names, train_tag, progress)

    ckpt = out_dir / CHECKPOINT_DIR
    steps = math.ceil(len(arrays["train"][0]) / batch_size)
    # a small set gets more epochs, so that it sees the preset's minimum number of optimizer steps
    epochs = epochs_given or max(p.epochs, math.ceil(p.min_steps / steps))
    if resume:
        state, classifier = _resume_state(ckpt, p, class_names)
    else:
        state = {"preset": p.name, "class_names": class_names, "epoch": 0, "history": {},
                 "best_loss": float("inf"), "best_epoch": 0, "wait": 0, "stopped_early": False, "train_seconds": 0.0}
        classifier, _ = build_model(p.name, len(class_names))
        _compile(classifier, p, epochs * steps)
    time_limit = p.time_limit_s if time_limit is None else time_limit
    watched = _fit(classifier, state, arrays, p, batch_size=batch_size, seed=seed, epochs=epochs, ckpt=ckpt,
                   progress=progress, time_limit=time_limit, val_tag=val_tag)

    report(progress, 0.92, "evaluating on the test split")
    metrics = evaluate_and_plot(classifier, arrays, p, class_names, state["history"], out_dir)
    if appearance:
        report(progress, 0.95, "ImageNet features of the clips; the appearance weight")
        appearance, fused_metrics = fit_weight(classifier, arrays, kept_paths, p, appearance)
        metrics.update(fused_metrics)
    metadata = {
        "preset": p.name, "class_names": class_names, "dataset": dataset_name, "tags": tags,
        "epochs_requested": epochs, "early_stopping_on": watched, "time_limit_s": time_limit,
        **_run_record(state), "batch_size": batch_size, "seed": seed, "device": device,
        "clips": {k: len(v[0]) for k, v in arrays.items()}, "skipped": skipped,
        "cache": {"decoded": cache.decoded, "hits": cache.hits}, "metrics": metrics, "versions": _versions(),
    }
    if appearance:
        metadata["appearance"] = appearance
    save_trained(out_dir, classifier, metadata)
    (out_dir / "history.json").write_text(json.dumps(state["history"], indent=2))
    report(progress, 1.0, f"trained {p.name}: test accuracy {metrics.get('test_accuracy', float('nan')):.2f}")
    return TrainResult(out_dir, json.loads((out_dir / METADATA_FILE).read_text()), state["history"],
                       skipped, dict(metadata["cache"]))


def _labelled_splits(dataset, dataset_name: str, tags: dict) -> tuple[dict, list[str]]:
    """Return ``({split: (file paths, labels)}, class names)``; one-line errors without two training classes."""
    splits = {name: _split(dataset, tag) for name, tag in tags.items()}
    if not splits["train"][0]:
        raise VideorecError(f"dataset {dataset_name!r} has no labelled samples tagged {tags['train']!r}")
    class_names = sorted(set(splits["train"][1]))
    if len(class_names) < 2:
        raise VideorecError(f"dataset {dataset_name!r} has only one class in {tags['train']!r} ({class_names[0]}); "
                            "need two or more")
    return splits, class_names


def _cached_arrays(cache: FrameCache, splits: dict, class_names: list[str], train_tag: str,
                   progress: ProgressFn | None) -> tuple[dict, dict, dict]:
    """Return ``(arrays, paths, skipped)``: per split the cached frames and class indices, and their files.

    Clips of classes unseen in training are left out; undecodable clips are in ``skipped`` with a reason.
    """
    loaded, skipped = cache.load_splits(splits, scaled(progress, 0.0, 0.2))
    missing = sorted(set(class_names) - set(loaded["train"][1]))
    if missing:
        raise VideorecError(f"class {missing[0]!r} has no decodable clip in {train_tag!r} "
                            f"(e.g. {next(iter(skipped.values()), '?')})")
    index = {name: i for i, name in enumerate(class_names)}
    arrays, kept_paths = {}, {}
    for name, (frames, labels, paths) in loaded.items():
        keep = [i for i, label in enumerate(labels) if label in index]
        arrays[name] = ([frames[i] for i in keep], np.array([index[labels[i]] for i in keep], np.int32))
        kept_paths[name] = [paths[i] for i in keep]
    return arrays, kept_paths, skipped


def _fit(classifier, state: dict, arrays: dict, p: Preset, *, batch_size: int, seed: int, epochs: int, ckpt: Path,
         progress: ProgressFn | None, time_limit: float, val_tag: str) -> str:
    """Train from ``state["epoch"]`` on, keep the best weights in ``classifier``; return what early stopping watched."""
    train_ds = clip_dataset(*arrays["train"], p, batch_size, training=True, seed=seed + state["epoch"])
    val_ds = clip_dataset(*arrays["val"], p, batch_size, training=False, seed=seed) if arrays["val"][0] else None
    if val_ds is None:
        logger.warning("no clips tagged %r: early stopping watches the training loss", val_tag)
    steps = math.ceil(len(arrays["train"][0]) / batch_size)
    started = time.perf_counter()
    if state["epoch"] < epochs and not state["stopped_early"]:
        classifier.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=state["epoch"], verbose=0,
                       shuffle=False, callbacks=_callbacks(ckpt, state, epochs, steps, progress, time_limit,
                                                          "val_loss" if val_ds is not None else "loss"))
    state["train_seconds"] += time.perf_counter() - started
    (ckpt / "state.json").write_text(json.dumps(state))
    if (ckpt / "best.weights.h5").is_file():
        classifier.load_weights(ckpt / "best.weights.h5")
    if val_ds is not None:
        return f"val loss ({len(arrays['val'][0])} clips tagged {val_tag!r})"
    return f"training loss (no clips tagged {val_tag!r})"


def _run_record(state: dict) -> dict:
    """The metadata's account of the run: epochs, why it stopped, seconds."""
    return {"epochs_trained": state["epoch"], "best_epoch": state["best_epoch"], "stopped_early": state["stopped_early"],
            "stopped_by_time_limit": bool(state.get("stopped_by_time_limit")),
            "train_seconds": round(state["train_seconds"], 2),
            "seconds_per_epoch": round(state["train_seconds"] / max(1, state["epoch"]), 2)}


def _versions() -> dict:
    import cv2
    import fiftyone
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "fiftyone": fiftyone.__version__,
            "opencv": cv2.__version__, "numpy": np.__version__}


# --- evaluation and plots -------------------------------------------------------------------------
def evaluate_and_plot(classifier, arrays: dict, preset: Preset, class_names: list, history: dict, out_dir: Path) -> dict:
    """Write curves.png and confusion_matrix.png; return test accuracy and test-vs-train precision@5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    from ..evaluation import evaluate_vectors
    from .model import embedder_of

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix in ("", "val_"):
            if prefix + metric in history:
                ax.plot(range(1, len(history[prefix + metric]) + 1), history[prefix + metric], label=prefix + metric)
        ax.set_xlabel("epoch"), ax.set_title(metric), ax.legend()
    fig.tight_layout(), fig.savefig(out_dir / "curves.png", dpi=100), plt.close(fig)

    metrics = {}
    test_frames, test_labels = arrays["test"]
    if not test_frames:
        return metrics
    clips = np.stack([center_window(f, preset.n_frames) for f in test_frames])
    predicted = classifier.predict(clips, batch_size=32, verbose=0).argmax(axis=1)
    metrics["test_accuracy"] = float((predicted == test_labels).mean())
    matrix = confusion_matrix(test_labels, predicted, labels=range(len(class_names)))
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(class_names),) * 2)
    ConfusionMatrixDisplay(matrix, display_labels=class_names).plot(ax=ax, xticks_rotation=45, colorbar=False)
    ax.set_title("test split")
    fig.tight_layout(), fig.savefig(out_dir / "confusion_matrix.png", dpi=100), plt.close(fig)

    embedder = embedder_of(classifier)
    gallery = embed_cached(embedder, arrays["train"][0], preset)
    query = embed_cached(embedder, test_frames, preset)
    retrieval = evaluate_vectors(query, test_labels, gallery, arrays["train"][1], k=(5,))
    metrics["test_vs_train_precision@5"] = retrieval.metrics["precision@5"]
    metrics["eval_clips_per_video"] = config.DEFAULT_CLIPS
    return metrics

