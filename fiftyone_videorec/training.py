"""The input pipeline and the training loop.

Each video is decoded once into an on-disk cache of uint8 frames (``config.cache_dir()``, safe
to delete); epochs are fed from that cache with ``tf.data``: a random window of ``n_frames`` out
of the ``CACHE_FACTOR * n_frames`` frames stored (a random temporal offset), brightness/contrast
jitter, no horizontal flip (it would turn "moves left" into "moves right").
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import config
from .errors import VideorecError
from .frames import DecodeError, clip_indices, probe, read_frames, step_for_rate
from .model import Preset, build_model, get_preset, save_trained
from .progress import ProgressFn, report

logger = logging.getLogger(__name__)

CACHE_FACTOR = 2  # frames stored per video = CACHE_FACTOR * n_frames (room for random offsets)
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


# --- the frame cache ------------------------------------------------------------------------
class FrameCache:
    """Decoded frames per video on disk, keyed by path + size + mtime + frame settings."""

    def __init__(self, preset: Preset, root: Path | None = None):
        self.preset, self.root = preset, Path(root or config.cache_dir())
        self.root.mkdir(parents=True, exist_ok=True)
        self.decoded = self.hits = 0

    def path_for(self, video: str) -> Path:
        st = Path(video).stat()
        p = self.preset
        key = f"{Path(video).resolve()}|{st.st_size}|{st.st_mtime_ns}|{p.n_frames}|{p.frame_step}|{p.image_size}|{p.reference_fps}|{CACHE_FACTOR}"
        return self.root / f"{hashlib.sha1(key.encode()).hexdigest()}.npy"

    def frames(self, video: str) -> np.ndarray:
        """Return the cached ``(k, S, S, 3)`` frames of ``video``, decoding it on a miss."""
        if not Path(video).is_file():
            raise DecodeError(video, "file not found")
        path = self.path_for(video)
        if path.is_file():
            self.hits += 1
            return np.load(path, mmap_mode="r")
        p = self.preset
        total, fps = probe(video)
        step = step_for_rate(p.frame_step, fps, p.reference_fps)  # the same seconds at any frame rate
        available = math.ceil(max(1, total) / step)
        stored = max(p.n_frames, min(CACHE_FACTOR * p.n_frames, available))
        frames = read_frames(video, clip_indices(0, stored, step), p.image_size)
        self.decoded += 1
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, frames)
        tmp.replace(path)  # atomic: a killed run never leaves half a cache entry
        return frames


def center_window(frames: np.ndarray, n_frames: int) -> np.ndarray:
    """Return the middle ``n_frames`` of cached frames (the fixed inference offset)."""
    start = (len(frames) - n_frames) // 2
    return np.asarray(frames[start:start + n_frames])


# --- reading the dataset ------------------------------------------------------------------------
def _split(dataset, tag: str) -> tuple[list[str], list[str]]:
    view = dataset.match_tags(tag).exists(f"{config.LABEL_FIELD}.label")
    return view.values("filepath"), view.values(f"{config.LABEL_FIELD}.label")


def _load_splits(cache: FrameCache, splits: dict, progress) -> tuple[dict, dict]:
    """Decode (or read from cache) every clip; return ``{split: (frames, labels)}`` and skipped reasons."""
    total = sum(len(f) for f, _ in splits.values()) or 1
    loaded, skipped, done = {}, {}, 0
    for name, (paths, labels) in splits.items():
        frames, kept = [], []
        for path, label in zip(paths, labels):
            try:
                frames.append(cache.frames(path))
                kept.append(label)
            except DecodeError as e:
                skipped[path] = e.reason
                logger.warning("skipping %s: %s", path, e.reason)
            done += 1
            report(progress, 0.2 * done / total, f"decoding clips {done}/{total}")
        loaded[name] = (frames, kept)
    return loaded, skipped


def _check_writable(out_dir: Path) -> None:
    try:
        (out_dir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise VideorecError(f"cannot write to output folder {out_dir}: {e.strerror or e}") from None


# --- tf.data ----------------------------------------------------------------------------------
def _dataset(frames: list, labels: np.ndarray, preset: Preset, batch_size: int, training: bool, seed: int):
    import tensorflow as tf

    n, rng = preset.n_frames, np.random.default_rng(seed)

    def clips():
        order = rng.permutation(len(frames)) if training else range(len(frames))
        for i in order:
            f = frames[i]
            start = rng.integers(0, len(f) - n + 1) if training else (len(f) - n) // 2
            yield np.asarray(f[start:start + n]), labels[i]

    size = preset.image_size
    spec = (tf.TensorSpec((n, size, size, 3), tf.uint8), tf.TensorSpec((), tf.int32))
    ds = tf.data.Dataset.from_generator(clips, output_signature=spec)
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(frames)))  # Keras then knows an epoch's length
    if training:
        def jitter(clip, label):  # one factor per clip, so motion stays consistent over time
            x = tf.cast(clip, tf.float32)
            if preset.crop_scale < 1:  # one random crop per clip, the same box in every frame
                side = tf.random.uniform((2,), preset.crop_scale, 1.0)
                corner = tf.random.uniform((2,)) * (1.0 - side)
                box = tf.concat([corner, corner + side], axis=0)[None]
                x = tf.image.crop_and_resize(x, tf.repeat(box, n, axis=0), tf.range(n), (size, size))
            x = tf.image.adjust_contrast(x, tf.random.uniform((), 0.8, 1.2))
            x = x + tf.random.uniform((), -20.0, 20.0)
            return tf.clip_by_value(x, 0.0, 255.0), label
        ds = ds.map(jitter, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# --- the loop --------------------------------------------------------------------------------
def _epoch_callback(ckpt: Path, state: dict, epochs: int, steps: int, progress, time_limit: float | None = None):
    patience = max(PATIENCE, math.ceil(PATIENCE_STEPS / max(1, steps)))

    import keras
    from tqdm.auto import tqdm

    class EpochEnd(keras.callbacks.Callback):
        """Per-epoch tqdm bar, progress calls, best weights, early stopping and the resume checkpoint."""

        def on_train_begin(self, logs=None):
            self.run_started = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            # a live bar in a terminal; in a log file (not a TTY) one summary line per epoch instead
            self.bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=True,
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
                print(f"epoch {epoch + 1}/{epochs}  " + "  ".join(f"{k} {float(v):.3f}" for k, v in logs.items()
                                                                  if k != "learning_rate")
                      + f"  ({time.perf_counter() - self.started:.1f} s)", file=sys.stderr, flush=True)
            for key, value in logs.items():
                state["history"].setdefault(key, []).append(float(value))
            watched = float(logs.get("val_loss", logs["loss"]))
            if watched < state["best_loss"]:
                state.update(best_loss=watched, best_epoch=epoch + 1, wait=0)
                self.model.save_weights(ckpt / "best.weights.h5")
            else:
                state["wait"] += 1
                self.model.stop_training = state["wait"] >= patience and epoch + 1 >= epochs // 2
            now = time.perf_counter()
            spent, last_epoch = state["train_seconds"] + now - self.run_started, now - self.started
            if time_limit and spent + last_epoch > time_limit and epoch + 1 < epochs:
                self.model.stop_training = True  # another epoch as long as this one would pass the limit
                state["stopped_by_time_limit"] = True
            state["epoch"] = epoch + 1
            state["stopped_early"] = bool(self.model.stop_training)
            self.model.save(ckpt / "last.keras")  # with optimizer state, for --resume
            (ckpt / "state.json").write_text(json.dumps(state))
            report(progress, 0.2 + 0.7 * (epoch + 1) / epochs,
                   f"epoch {epoch + 1}/{epochs} loss {logs['loss']:.2f} acc {logs['accuracy']:.2f}")

    return EpochEnd()


def _compile(classifier, preset: Preset, total_steps: int) -> None:
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(preset.learning_rate, max(1, total_steps), alpha=0.05)
    classifier.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])


def _resume_state(ckpt: Path, preset: Preset, class_names: list[str]):
    import keras

    state_path = ckpt / "state.json"
    if not state_path.is_file() or not (ckpt / "last.keras").is_file():
        raise VideorecError(f"--resume: no checkpoint in {ckpt.parent} to continue from")
    state = json.loads(state_path.read_text())
    if state["preset"] != preset.name or state["class_names"] != class_names:
        raise VideorecError(f"--resume: the checkpoint in {ckpt.parent} was trained with preset "
                            f"{state['preset']!r} on classes {state['class_names']}, not {preset.name!r} on {class_names}")
    return state, keras.models.load_model(ckpt / "last.keras")


def _use_accelerator() -> str:
    import keras
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        keras.mixed_precision.set_global_policy("mixed_float16")
        return "gpu"
    keras.mixed_precision.set_global_policy("float32")
    return "cpu"


def train(dataset_name: str, out_dir, preset: str = config.DEFAULT_PRESET, epochs: int | None = None,
          batch_size: int | None = None, resume: bool = False, seed: int = config.DEFAULT_SEED,
          train_tag: str = config.TRAIN_TAG, val_tag: str = config.VAL_TAG, test_tag: str = config.TEST_TAG,
          time_limit: float | None = None, progress: ProgressFn | None = None) -> TrainResult:
    """Train ``preset`` on the dataset's ``train_tag`` clips; return what was written to ``out_dir``.

    Writes ``model.keras``, ``metadata.json``, ``history.json``, ``curves.png`` and
    ``confusion_matrix.png`` (test split). Undecodable clips are skipped, their reasons kept.
    Early stopping watches the ``val_tag`` clips' loss, or the training loss when there are none
    (``metadata["early_stopping_on"]`` says which). ``time_limit`` (seconds, default the preset's)
    ends training before an epoch that would pass it.
    """
    from .runtime import connect_database

    fo = connect_database()
    p = get_preset(preset)
    if time_limit is not None and not time_limit > 0:
        raise VideorecError(f"the time limit must be a positive number of seconds, got {time_limit}")
    epochs_given, batch_size = epochs, batch_size or p.batch_size
    if not fo.dataset_exists(dataset_name):
        raise VideorecError(f"dataset {dataset_name!r} does not exist (load one with 'videorec load ...')")
    dataset = fo.load_dataset(dataset_name)
    out_dir = Path(out_dir)
    _check_writable(out_dir)
    splits = {name: _split(dataset, tag) for name, tag in (("train", train_tag), ("val", val_tag), ("test", test_tag))}
    if not splits["train"][0]:
        raise VideorecError(f"dataset {dataset_name!r} has no labelled samples tagged {train_tag!r}")
    class_names = sorted(set(splits["train"][1]))
    if len(class_names) < 2:
        raise VideorecError(f"dataset {dataset_name!r} has only one class in {train_tag!r} ({class_names[0]}); need two or more")

    import keras

    keras.utils.set_random_seed(seed)
    device = _use_accelerator()
    cache = FrameCache(p)
    loaded, skipped = _load_splits(cache, splits, progress)
    missing = sorted(set(class_names) - set(loaded["train"][1]))
    if missing:
        raise VideorecError(f"class {missing[0]!r} has no decodable clip in {train_tag!r} (e.g. {next(iter(skipped.values()), '?')})")
    index = {name: i for i, name in enumerate(class_names)}
    arrays = {}  # split -> (cached frames, class indices); clips of classes unseen in train are left out
    for name, (frames, labels) in loaded.items():
        keep = [i for i, label in enumerate(labels) if label in index]
        arrays[name] = ([frames[i] for i in keep], np.array([index[labels[i]] for i in keep], np.int32))

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
    train_ds = _dataset(*arrays["train"], p, batch_size, True, seed + state["epoch"])
    val_ds = _dataset(*arrays["val"], p, batch_size, False, seed) if arrays["val"][0] else None
    watched = f"val loss ({len(arrays['val'][0])} clips tagged {val_tag!r})" if val_ds is not None else \
        f"training loss (no clips tagged {val_tag!r})"
    if val_ds is None:
        logger.warning("no clips tagged %r: early stopping watches the training loss", val_tag)
    time_limit = p.time_limit_s if time_limit is None else time_limit
    started = time.perf_counter()
    if state["epoch"] < epochs and not state["stopped_early"]:
        classifier.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=state["epoch"], verbose=0, shuffle=False,
                       callbacks=[_epoch_callback(ckpt, state, epochs, steps, progress, time_limit)])
    state["train_seconds"] += time.perf_counter() - started
    (ckpt / "state.json").write_text(json.dumps(state))
    if (ckpt / "best.weights.h5").is_file():
        classifier.load_weights(ckpt / "best.weights.h5")

    report(progress, 0.92, "evaluating on the test split")
    metrics = evaluate_and_plot(classifier, arrays, p, class_names, state["history"], out_dir)
    metadata = {
        "preset": p.name, "class_names": class_names, "dataset": dataset_name,
        "tags": {"train": train_tag, "val": val_tag, "test": test_tag},
        "epochs_requested": epochs, "epochs_trained": state["epoch"], "best_epoch": state["best_epoch"],
        "stopped_early": state["stopped_early"], "early_stopping_on": watched, "time_limit_s": time_limit,
        "stopped_by_time_limit": bool(state.get("stopped_by_time_limit")), "batch_size": batch_size, "seed": seed, "device": device,
        "train_seconds": round(state["train_seconds"], 2),
        "seconds_per_epoch": round(state["train_seconds"] / max(1, state["epoch"]), 2),
        "clips": {k: len(v[0]) for k, v in arrays.items()}, "skipped": skipped,
        "cache": {"decoded": cache.decoded, "hits": cache.hits}, "metrics": metrics, "versions": _versions(),
    }
    save_trained(out_dir, classifier, metadata)
    (out_dir / "history.json").write_text(json.dumps(state["history"], indent=2))
    report(progress, 1.0, f"trained {p.name}: test accuracy {metrics.get('test_accuracy', float('nan')):.2f}")
    return TrainResult(out_dir, json.loads((out_dir / "metadata.json").read_text()), state["history"],
                       skipped, dict(metadata["cache"]))


def _versions() -> dict:
    import cv2
    import fiftyone
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "fiftyone": fiftyone.__version__,
            "opencv": cv2.__version__, "numpy": np.__version__}


# --- evaluation and plots -------------------------------------------------------------------------
def embed_cached(embedder, frames: list, preset: Preset, clips: int = config.DEFAULT_CLIPS,
                 batch_size: int = 32) -> np.ndarray:
    """Return L2-normalised embeddings of cached videos, each the mean of ``clips`` evenly spaced
    unit-length window embeddings (as the FiftyOne model embeds a file with ``clips=N``)."""
    from .evaluation import l2_normalize
    from .frames import clip_starts

    n = preset.n_frames
    windows = np.stack([np.asarray(f[s:s + n]) for f in frames for s in clip_starts(len(f), n, 1, clips)])
    vectors = embedder.predict(windows, batch_size=batch_size, verbose=0).astype(np.float32)
    vectors = l2_normalize(vectors).reshape(len(frames), clips, -1).mean(axis=1)
    return l2_normalize(vectors)


def precision_at_k(query: np.ndarray, query_labels, gallery: np.ndarray, gallery_labels, k: int = 5) -> float:
    """Return mean precision@k of cosine-nearest gallery items sharing the query's label."""
    nearest = np.argsort(-(query @ gallery.T), axis=1)[:, :k]
    return float((np.asarray(gallery_labels)[nearest] == np.asarray(query_labels)[:, None]).mean())


def evaluate_and_plot(classifier, arrays: dict, preset: Preset, class_names: list, history: dict, out_dir: Path) -> dict:
    """Write curves.png and confusion_matrix.png; return test accuracy and test-vs-train precision@5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

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
    metrics["test_vs_train_precision@5"] = precision_at_k(query, test_labels, gallery, arrays["train"][1], 5)
    metrics["eval_clips_per_video"] = config.DEFAULT_CLIPS
    return metrics
