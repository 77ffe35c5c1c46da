"""The FiftyOne Model wrapper: video embeddings and class predictions from a model folder or ``pretrained``.

``dataset.compute_embeddings(load_model(DIR or "pretrained"))`` and ``dataset.apply_model(model)``
work like any FiftyOne video model (the reader FiftyOne passes is used only for its path). The
options live in :class:`VideoEmbeddingModelConfig`, as in FiftyOne's own wrappers.
:func:`~fiftyone_videorec.embedding.run.embed_dataset` is the fast path the CLI uses (decoding
ahead of the network, batched, incremental).
"""

from __future__ import annotations

import fiftyone.core.config as foc
import fiftyone.core.models as fom
import numpy as np

from ..config import DEFAULT_BATCH_SIZE, DEFAULT_CLIPS
from ..errors import VideorecError
from ..frames import Views, read_views
from ..vectors import fuse, softmax
from .model_folder import (METADATA_FILE, MODEL_FILE, PRETRAINED, Sampling, appearance_weight, is_model_folder,
                           model_fingerprint, read_metadata, resolve)
from .streams import AppearanceStream, MotionStream


class VideoEmbeddingModelConfig(foc.Config):
    """Configuration for a :class:`VideoEmbeddingModel`.

    Args:
        model_dir: a model folder written by training, or a built-in name such as ``"pretrained"``
        clips (``config.DEFAULT_CLIPS``): evenly spaced clips per video whose vectors are averaged
        batch_size (``config.DEFAULT_BATCH_SIZE``): clips per network call
    """

    def __init__(self, d: dict):
        self.model_dir = self.parse_raw(d, "model_dir")
        clips, batch_size = self.parse_raw(d, "clips", default=None), self.parse_raw(d, "batch_size", default=None)
        self.clips = int(DEFAULT_CLIPS if clips is None else clips)  # 0 is an error, not "default"
        self.batch_size = int(DEFAULT_BATCH_SIZE if batch_size is None else batch_size)


class VideoEmbeddingModel(fom.Model, fom.EmbeddingsMixin):
    """A model folder as a FiftyOne video model: ``embed`` gives the video's unit vector.

    Three kinds of folder: a trained (2+1)D network alone (motion), the built-in ``pretrained``
    model (ImageNet frame features alone: appearance), or a trained network fused with the frame
    features (the default). A fused vector is ``[sqrt(w) * appearance, sqrt(1 - w) * motion]`` of
    the two unit vectors, so its cosine is ``w * appearance cosine + (1 - w) * motion cosine``.
    One decode pass per video serves both streams.
    """

    def __init__(self, config: VideoEmbeddingModelConfig):
        self.config = config
        self.model_dir = resolve(config.model_dir)
        if not self.model_dir.is_dir():
            raise VideorecError(f"model folder {self.model_dir} does not exist")
        self.clips, self.batch_size = config.clips, config.batch_size
        if self.clips < 1 or self.batch_size < 1:
            raise VideorecError(f"clips and batch size must be at least 1, got {self.clips} and {self.batch_size}")
        if not is_model_folder(self.model_dir):
            raise VideorecError(f"{self.model_dir} is not a videorec model folder (expected {MODEL_FILE} and "
                                f"{METADATA_FILE}), nor the built-in name '{PRETRAINED}'")
        self.metadata = read_metadata(self.model_dir)
        self.motion = None  # the streams: a trained network on clips, ImageNet features of frames
        if self.metadata.get("kind") != PRETRAINED:
            self.motion = MotionStream(self.model_dir)
            self.metadata = self.motion.metadata
        self.sampling = Sampling.from_metadata(self.metadata)
        self.class_names = list(self.metadata.get("class_names") or [])
        self.appearance_weight = appearance_weight(self.metadata)
        appearance = self.metadata.get("appearance") or {}
        self.frame_spec = (int(appearance["frames"]), int(appearance["image_size"])) if self.appearance_weight else None
        self.appearance = AppearanceStream(self.frame_spec[1]) if self.frame_spec else None
        self._fingerprint = None

    @property
    def has_motion(self) -> bool:
        """True when a trained (2+1)D network is part of the model."""
        return self.motion is not None

    @property
    def fingerprint(self) -> str:
        """Return :func:`model_fingerprint` of this model folder and clip count."""
        if self._fingerprint is None:
            self._fingerprint = model_fingerprint(self.model_dir, self.clips)
        return self._fingerprint

    # --- FiftyOne Model interface: whole videos in, no FiftyOne-side transforms or batching
    media_type = "video"
    transforms = None
    ragged_batches = False
    has_embeddings = True

    @property
    def preprocess(self) -> bool:
        return False

    @preprocess.setter
    def preprocess(self, value) -> None:
        pass

    @property
    def has_logits(self) -> bool:
        return self.has_motion

    @property
    def clip_spec(self) -> tuple | None:
        """``(n_frames, frame_step, image_size, clips, reference_fps)`` of the motion clips, or None."""
        s = self.sampling
        return (s.n_frames, s.frame_step, s.image_size, self.clips, s.reference_fps) if self.has_motion else None

    def read(self, video) -> Views:
        """Return the motion clips and appearance frames of a path or a FiftyOne video reader."""
        return read_views(str(getattr(video, "inpath", video)), self.clip_spec, self.frame_spec)

    def motion_vectors(self, clip_stacks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Return (unit motion vectors, mean logits), one row per video, for stacks of clips."""
        return self.motion.vectors(clip_stacks, self.batch_size)

    def frame_features(self, frames: np.ndarray) -> np.ndarray:
        """Return the unit ImageNet feature of each ``(A, A, 3)`` uint8 frame, ``(len(frames), 1280)``."""
        return self.appearance.features(frames, self.batch_size)

    def appearance_vectors(self, frame_stacks: list[np.ndarray]) -> np.ndarray:
        """Return one unit appearance vector per video: the mean of its frames' unit features."""
        return self.appearance.vectors(frame_stacks, self.batch_size)

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

    def _run_all(self, args) -> tuple[np.ndarray, np.ndarray | None]:
        return self.run([a if isinstance(a, (np.ndarray, Views)) else self.read(a) for a in args])

    def embed(self, arg) -> np.ndarray:
        """Return the embedding of one video (a path, a FiftyOne video reader, Views or an array)."""
        return self.embed_all([arg])[0]

    def embed_all(self, args) -> np.ndarray:
        return self._run_all(args)[0]

    def predict(self, arg):
        return self.predict_all([arg])[0]

    def predict_all(self, args):
        self.check_predicts()
        return self.classifications(self._run_all(args)[1])

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
    return VideoEmbeddingModel(VideoEmbeddingModelConfig({"model_dir": model_dir, "clips": clips,
                                                          "batch_size": batch_size}))


def loaded_model(model, clips: int | None = None, batch_size: int | None = None) -> VideoEmbeddingModel:
    """Return ``model`` as it is when already loaded, else :func:`load_model` of the folder or name.

    A loaded model keeps the clips and batch size it was loaded with: passing them is an error.
    """
    if not isinstance(model, VideoEmbeddingModel):
        return load_model(model, clips=clips, batch_size=batch_size)
    if clips is not None or batch_size is not None:
        raise VideorecError("clips and batch size are set when a model is loaded; load_model(..., clips=N) instead")
    return model


# --- one loaded model per folder and settings in a process -------------------------------------------
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
