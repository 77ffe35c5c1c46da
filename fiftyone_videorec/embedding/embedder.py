"""The FiftyOne Model wrapper: video embeddings and class predictions from a model folder or ``pretrained``.

``dataset.compute_embeddings(load_model(DIR or "pretrained"))`` and ``dataset.apply_model(model)``
work like any FiftyOne video model (the reader FiftyOne passes is used only for its path).
:func:`embed_dataset` is the fast path the CLI uses: decoding in a thread pool ahead of the
network, batched, failures recorded per sample (FiftyOne 1.22 runs video models one sample at a
time; speeds in ``benchmarks/embed.md``).

Embedding is incremental: each vector is written with a fingerprint of the model file and the
clip settings (``<field>_fingerprint``), and a re-run embeds only the samples whose fingerprint
differs or whose vector is missing. Vectors are written every ``WRITE_BATCH`` samples, each batch
before its fingerprints, so an interrupted run loses at most the batch in flight and never leaves
a sample marked done with another model's vector.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

import fiftyone.core.models as fom

from .. import config
from ..errors import VideorecError
from ..fields import check_vector_field, fingerprint_field, record_model
from ..frames import Views, read_views
from .model_folder import (METADATA_FILE, MODEL_FILE, PRETRAINED, appearance_weight, is_model_folder,
                           model_fingerprint, read_metadata, resolve)
from ..progress import ProgressFn
from ..vectors import fuse, l2_normalize, mean_of_clips, softmax


class VideoEmbeddingModel(fom.Model, fom.EmbeddingsMixin):
    """A model folder as a FiftyOne video model: ``embed`` gives the video's unit vector.

    Three kinds of folder: a trained (2+1)D network alone (motion), the built-in ``pretrained``
    model (ImageNet frame features alone: appearance), or a trained network fused with the frame
    features (the default). A fused vector is ``[sqrt(w) * appearance, sqrt(1 - w) * motion]`` of
    the two unit vectors, so its cosine is ``w * appearance cosine + (1 - w) * motion cosine``.
    One decode pass per video serves both streams.
    """

    def __init__(self, model_dir, clips: int | None = None, batch_size: int | None = None):
        self.model_dir = resolve(model_dir)
        if not self.model_dir.is_dir():
            raise VideorecError(f"model folder {self.model_dir} does not exist")
        self.clips = int(config.DEFAULT_CLIPS if clips is None else clips)  # 0 is an error, not "default"
        self.batch_size = int(config.DEFAULT_BATCH_SIZE if batch_size is None else batch_size)
        if self.clips < 1 or self.batch_size < 1:
            raise VideorecError(f"clips and batch size must be at least 1, got {self.clips} and {self.batch_size}")
        if not is_model_folder(self.model_dir):
            raise VideorecError(f"{self.model_dir} is not a videorec model folder (expected {MODEL_FILE} and "
                                f"{METADATA_FILE}), nor the built-in name '{PRETRAINED}'")
        metadata = read_metadata(self.model_dir)
        self._network = None
        if metadata.get("kind") != PRETRAINED:
            import keras

            from ..network.model import load_trained

            trained = load_trained(self.model_dir)
            metadata = trained.metadata
            self._network = keras.Model(trained.classifier.input, [trained.embedder.output, trained.classifier.output])
        self.metadata = metadata
        self.class_names = list(metadata.get("class_names") or [])
        appearance = metadata.get("appearance") or {}
        self.appearance_weight = appearance_weight(metadata)
        self.frame_spec = (int(appearance["frames"]), int(appearance["image_size"])) if self.appearance_weight else None
        self._backbone = None
        if self.frame_spec:
            from ..network.backbone import load_backbone

            self._backbone = load_backbone(self.frame_spec[1])
        self._forward = self._frame_forward = None  # the compiled inference calls, made on first use
        self._fingerprint = None
        self.config = None

    @property
    def has_motion(self) -> bool:
        """True when a trained (2+1)D network is part of the model."""
        return self._network is not None

    @property
    def fingerprint(self) -> str:
        """Return :func:`model_fingerprint` of this model folder and clip count."""
        if self._fingerprint is None:
            self._fingerprint = model_fingerprint(self.model_dir, self.clips)
        return self._fingerprint

    # --- FiftyOne Model interface
    @property
    def media_type(self) -> str:
        return "video"

    @property
    def transforms(self):
        return None

    @property
    def preprocess(self) -> bool:
        return False

    @preprocess.setter
    def preprocess(self, value) -> None:
        pass

    @property
    def ragged_batches(self) -> bool:
        return False

    @property
    def has_embeddings(self) -> bool:
        return True

    @property
    def has_logits(self) -> bool:
        return self.has_motion

    @property
    def clip_spec(self) -> tuple | None:
        """``(n_frames, frame_step, image_size, clips, reference_fps)`` of the motion clips, or None."""
        m = self.metadata
        return (m["n_frames"], m["frame_step"], m["image_size"], self.clips, m.get("reference_fps")) \
            if self.has_motion else None

    def read(self, video) -> Views:
        """Return the motion clips and appearance frames of a path or a FiftyOne video reader."""
        return read_views(str(getattr(video, "inpath", video)), self.clip_spec, self.frame_spec)

    def motion_vectors(self, clip_stacks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Return (unit motion vectors, mean logits), one row per video, for stacks of clips."""
        flat = np.concatenate(clip_stacks)
        if self._forward is None:  # a traced graph: eager calls cost more than the small network itself
            import tensorflow as tf

            self._forward = tf.function(lambda x: self._network(x, training=False), reduce_retracing=True)
        vectors, logits = [], []
        for start in range(0, len(flat), self.batch_size):
            emb, lg = self._forward(flat[start:start + self.batch_size])
            vectors.append(np.asarray(emb, np.float32))
            logits.append(np.asarray(lg, np.float32))
        vectors, logits = np.concatenate(vectors), np.concatenate(logits)
        bounds = np.cumsum([0] + [len(s) for s in clip_stacks])
        per_video_logits = np.stack([logits[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
        return mean_of_clips(vectors, [len(s) for s in clip_stacks]), per_video_logits

    def frame_features(self, frames: np.ndarray) -> np.ndarray:
        """Return the unit ImageNet feature of each ``(A, A, 3)`` uint8 frame, ``(len(frames), 1280)``."""
        if self._frame_forward is None:
            import tensorflow as tf

            self._frame_forward = tf.function(lambda x: self._backbone(x, training=False)[0], reduce_retracing=True)
        batch = max(self.batch_size, 16)
        out = [np.asarray(self._frame_forward(frames[i:i + batch]), np.float32) for i in range(0, len(frames), batch)]
        return l2_normalize(np.concatenate(out)) if out else np.zeros((0, 1280), np.float32)

    def appearance_vectors(self, frame_stacks: list[np.ndarray]) -> np.ndarray:
        """Return one unit appearance vector per video: the mean of its frames' unit features."""
        return mean_of_clips(self.frame_features(np.concatenate(frame_stacks)), [len(s) for s in frame_stacks])

    def fuse(self, appearance: np.ndarray | None, motion: np.ndarray | None) -> np.ndarray:
        """Return the model's unit vectors from its streams' unit vectors (rows are videos)."""
        return fuse(appearance, motion, self.appearance_weight)

    def run(self, inputs: list) -> tuple[np.ndarray, np.ndarray | None]:
        """Return (unit vectors, mean logits or None), one row per video, for :class:`Views` or clip arrays."""
        views = [v if isinstance(v, Views) else self._as_views(v) for v in inputs]
        motion = logits = appearance = None
        if self.has_motion:
            motion, logits = self.motion_vectors([v.clips for v in views])
        if self.frame_spec:
            appearance = self.appearance_vectors([v.frames for v in views])
        return self.fuse(appearance, motion), logits

    def _as_views(self, array: np.ndarray) -> Views:
        """An array argument: clips (or one clip) for a motion-only model, frames for ``pretrained``."""
        if self.has_motion and self.frame_spec:
            raise VideorecError("this model joins motion and appearance: give it a file or read(path)'s Views")
        if self.has_motion:
            return Views(array[None] if array.ndim == 4 else array, None)
        return Views(None, array[None] if array.ndim == 3 else array)

    def embed(self, arg) -> np.ndarray:
        """Return the embedding of one video (a path, a FiftyOne video reader, Views or an array)."""
        return self.embed_all([arg])[0]

    def embed_all(self, args) -> np.ndarray:
        return self.run([a if isinstance(a, (np.ndarray, Views)) else self.read(a) for a in args])[0]

    def predict(self, arg):
        return self.predict_all([arg])[0]

    def predict_all(self, args):
        self.check_predicts()
        _, logits = self.run([a if isinstance(a, (np.ndarray, Views)) else self.read(a) for a in args])
        return self.classifications(logits)

    def check_predicts(self) -> None:
        """Raise a one-line error unless the model has a classifier trained on the user's labels."""
        if not self.has_motion:
            raise VideorecError("the built-in 'pretrained' model was not trained on your labels and predicts no "
                                "class; train a model ('videorec train') to predict")

    def classifications(self, logits: np.ndarray) -> list:
        """Return one ``fo.Classification`` (label, softmax confidence, logits) per row of ``logits``."""
        import fiftyone as fo

        logits = np.asarray(logits)
        probs = softmax(logits)
        names = self.class_names or [str(i) for i in range(logits.shape[1])]
        return [fo.Classification(label=names[int(p.argmax())], confidence=float(p.max()), logits=lg)
                for p, lg in zip(probs, logits)]


def load_model(model_dir, clips: int | None = None, batch_size: int | None = None) -> VideoEmbeddingModel:
    """Return the FiftyOne Model for a model folder or a built-in name such as ``"pretrained"``."""
    return VideoEmbeddingModel(model_dir, clips=clips, batch_size=batch_size)


_LOADED: dict = {}  # (folder, model file's mtime and size, clips, batch size) -> VideoEmbeddingModel


def shared_model(model_dir, clips: int | None = None, batch_size: int | None = None) -> VideoEmbeddingModel:
    """Return this process's loaded model for a folder and settings, loading it on first use (queries
    by file reuse one traced network; a retrained model, with a new file time or size, is loaded afresh)."""
    folder = resolve(model_dir).resolve()
    try:
        stat = (folder / MODEL_FILE if (folder / MODEL_FILE).is_file() else folder / METADATA_FILE).stat()
    except OSError:
        return load_model(model_dir, clips=clips, batch_size=batch_size)  # its one-line error
    key = (str(folder), stat.st_mtime_ns, stat.st_size, clips, batch_size)
    if key not in _LOADED:
        _LOADED[key] = load_model(folder, clips=clips, batch_size=batch_size)
    return _LOADED[key]


@dataclass
class EmbedSummary:
    """How many samples were embedded, how many were already done, why the others failed (id -> reason)."""

    field: str
    embedded: int
    failed: dict = field(default_factory=dict)
    already: int = 0

    @property
    def plan(self) -> str:
        """Return the line said before embedding: what is done and what is left."""
        return f"{self.already} already embedded, {self.embedded + len(self.failed)} to embed"


WRITE_BATCH = 64  # samples per database write


def _prefetch(pool: ThreadPoolExecutor, fn, items, ahead: int):
    """Yield ``fn(item)`` in order, computed in ``pool`` at most ``ahead`` items in advance (``pool.map``
    would submit every item at once and hold all decoded clips in memory)."""
    items = iter(items)
    pending = deque(pool.submit(fn, item) for item in islice(items, ahead))
    while pending:
        result = pending.popleft().result()
        pending.extend(pool.submit(fn, item) for item in islice(items, 1))
        yield result


def embed_dataset(dataset_or_view, model, field: str = config.EMBEDDINGS_FIELD, batch_size: int | None = None,
                  clips: int | None = None, progress: ProgressFn | None = None, workers: int = 4,
                  force: bool = False, shard: tuple[int, int] | None = None) -> EmbedSummary:
    """Embed the samples that lack a vector from this model into ``field``; ``force`` embeds all.

    ``model`` is a model folder, a built-in name (``"pretrained"``) or a loaded
    :class:`VideoEmbeddingModel` (reused as it is: ``clips`` and ``batch_size`` must then be left
    out). Undecodable samples get a reason in ``config.EMBED_ERROR_FIELD`` (and are tried again
    next time). ``shard=(i, n)`` embeds only the samples :func:`shard_of` puts in slice ``i`` of
    ``n``. Decoding runs in a thread pool ahead of inference; vectors are written in batches.
    """
    if isinstance(model, VideoEmbeddingModel):
        if clips is not None or batch_size is not None:
            raise VideorecError("clips and batch size are set when a model is loaded; load_model(..., clips=N) instead")
    else:
        model = load_model(model, clips=clips, batch_size=batch_size)
    return embed_samples(dataset_or_view, model, field=field, progress=progress, workers=workers, force=force,
                         shard=shard)


def shard_of(sample_id: str, shards: int) -> int:
    """Return which of ``shards`` disjoint slices a sample belongs to (stable for a sample id)."""
    return int(str(sample_id), 16) % shards


def samples_to_embed(dataset_or_view, field: str, fingerprint: str, force: bool = False,
                     shard: tuple[int, int] | None = None) -> tuple[list[str], list[str], int]:
    """Return (ids, filepaths) of the samples still to embed with ``fingerprint``, and how many are done."""
    from fiftyone import ViewField as F

    dataset = dataset_or_view._dataset
    fp_field = fingerprint_field(field)
    todo = dataset_or_view
    if not force and dataset.has_field(fp_field) and dataset.has_field(field):
        todo = dataset_or_view.match((F(fp_field) != fingerprint) | (F(field) == None))  # noqa: E711 (a query)
    ids, paths = todo.values(["id", "filepath"])
    already = len(dataset_or_view) - len(ids)
    if shard is not None:
        index, count = shard
        if not 0 <= index < count:
            raise VideorecError(f"shard {index} of {count} does not exist (shards are numbered 0..{count - 1})")
        kept = [(i, p) for i, p in zip(ids, paths) if shard_of(i, count) == index]
        ids, paths = [i for i, _ in kept], [p for _, p in kept]
    return ids, paths, already


def _prepare_fields(dataset, field: str) -> None:
    import fiftyone as fo

    check_vector_field(dataset, field)
    schema = dataset.get_field_schema()
    for name, kind in ((field, fo.VectorField), (config.EMBED_ERROR_FIELD, fo.StringField),
                       (fingerprint_field(field), fo.StringField)):
        if name not in schema:
            dataset.add_sample_field(name, kind)


@dataclass
class OutputBatch:
    """One network call's worth of results: the samples it ran on and those that failed to decode."""

    ids: list[str]  # samples the network ran on, in order
    vectors: np.ndarray  # (len(ids), dim) unit embeddings
    logits: np.ndarray | None  # (len(ids), classes) for a trained model, else None
    failed: dict[str, str]  # sample id -> reason, for the samples of this call that could not be decoded
    done: int  # samples of the run handled so far, this call's included


def model_outputs(model: VideoEmbeddingModel, ids: list[str], paths: list[str], workers: int = 4):
    """Yield an :class:`OutputBatch` per network call over the videos ``paths`` (ids ``ids``).

    Decoding runs in a thread pool ahead of the network; any decode failure is recorded for that
    sample, never fatal to the others.
    """
    per_call = max(model.batch_size // model.clips, 1)  # videos per network call

    def decode(path):
        try:
            return model.read(path), None
        except Exception as e:  # noqa: BLE001 (any decode failure is recorded for that sample)
            return None, str(getattr(e, "reason", None) or e).splitlines()[0] or type(e).__name__

    with ThreadPoolExecutor(max_workers=workers) as pool:
        decoded = _prefetch(pool, decode, paths, ahead=2 * workers + per_call)
        for start in range(0, len(ids), per_call):
            stacks, failed = [], {}
            for sid in ids[start:start + per_call]:
                clip, reason = next(decoded)
                if clip is None:
                    failed[sid] = reason
                else:
                    stacks.append((sid, clip))
            vectors, logits = model.run([c for _, c in stacks]) if stacks else (np.zeros((0, 0), np.float32), None)
            yield OutputBatch([sid for sid, _ in stacks], vectors, logits, failed, min(start + per_call, len(ids)))


def embed_samples(dataset_or_view, model: VideoEmbeddingModel, field: str = config.EMBEDDINGS_FIELD,
                  progress: ProgressFn | None = None, workers: int = 4, force: bool = False,
                  shard: tuple[int, int] | None = None) -> EmbedSummary:
    """Like :func:`embed_dataset` with a model already loaded (benchmarks time this part alone)."""
    dataset = dataset_or_view._dataset
    _prepare_fields(dataset, field)
    fingerprint, fp_field = model.fingerprint, fingerprint_field(field)
    ids, paths, already = samples_to_embed(dataset_or_view, field, fingerprint, force=force, shard=shard)
    record_model(dataset, field, model.model_dir)
    summary = EmbedSummary(field, 0, {}, already)
    if progress:
        progress(0.0, f"{already} already embedded, {len(ids)} to embed")
    vectors: dict = {}  # written to the database every WRITE_BATCH samples, not per network batch
    written = 0

    def flush(done: int) -> None:
        """Write vectors, then reasons, then fingerprints: a sample is marked done only after its vector."""
        nonlocal written
        todo = ids[written:done]
        dataset.set_values(field, {sid: vectors.get(sid) for sid in todo}, key_field="id")
        dataset.set_values(config.EMBED_ERROR_FIELD, {sid: summary.failed.get(sid) for sid in todo}, key_field="id")
        dataset.set_values(fp_field, {sid: fingerprint if sid in vectors else None for sid in todo}, key_field="id")
        written = done
        vectors.clear()

    for batch in model_outputs(model, ids, paths, workers=workers):
        summary.failed.update(batch.failed)
        vectors.update(zip(batch.ids, batch.vectors))
        summary.embedded += len(batch.ids)
        if batch.done - written >= WRITE_BATCH or batch.done == len(ids):
            flush(batch.done)
            if progress:
                progress(batch.done / max(len(ids), 1), f"embedded {summary.embedded} of {len(ids)}")
    return summary
