"""Building, saving and loading the (2+1)D ResNet; the presets that size it.

``tutorial`` is the network of TensorFlow's video classification tutorial, exactly (443,322
parameters for 10 classes, 128-d embedding). ``fast`` (the default) is the same family
at a smaller input, 8 frames at 64x64 (about 12x fewer input voxels than 10 x 224²), with two
stems: one sees the frames (what a scene looks like), one their differences (what moves), each
with its own BatchNorm, concatenated before BatchNorm residual blocks. Its clips are sampled in
time, not in frames: ``frame_step`` counts frames at ``reference_fps`` (25, UCF101's rate) and
is scaled to each video's own rate, so a 30 fps recording or a 12.5 fps copy gives clips that
span the same seconds. Training uses random crops (one box per clip), at least ``min_steps``
optimizer steps and a time limit. A ``fast`` model's vectors also join the frozen ImageNet
frame features of :mod:`backbone`, weighted on the run's validation clips (:mod:`fusion`);
the network itself trains without them. ``motion`` is an earlier default (differences only, 32 px):
best on motion made of synthetic shapes, blind to appearance. ``tiny`` exists for tests.

How the default was chosen, with the validation numbers of every candidate tried and why the
others were rejected: ``benchmarks/candidates.md``; the default's test numbers:
``benchmarks/quality.md``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
from keras import layers

from .. import config
from ..errors import VideorecError, one_line_reason
from .layers import Conv2Plus1D, FrameDifference, ResidualBlock, ResizeVideo

from ..embedding.model_folder import METADATA_FILE, MODEL_FILE, Sampling  # noqa: F401 (one place for the file names)


@dataclass(frozen=True)
class Preset:
    """How clips are sampled and how wide the network is."""

    name: str
    n_frames: int
    frame_step: int
    image_size: int
    stem_filters: int = 16
    widths: tuple = (16, 32, 64, 128)
    batch_size: int = 8
    epochs: int = 20
    min_steps: int = 0  # without --epochs, small sets train for more epochs to reach this many steps
    learning_rate: float = 1e-3
    bn_momentum: float = 0.9  # keras' 0.99 leaves the moving stats far off after a few hundred steps
    inputs: str = "frames"  # one of INPUTS: the stem sees frames, their differences, or both in two stems
    norm: str = "layer"  # the residual blocks' normalisation (layers.normalization)
    time_limit_s: float | None = None  # training stops before an epoch that would pass this many seconds
    crop_scale: float = 1.0  # training: random crops keep at least this fraction of each side (1.0: none)
    reference_fps: float | None = None  # frame_step counts frames at this rate; other rates are scaled (None: never)
    appearance_weight: float | str = 0.0  # > 0 or "auto": the embedding joins the frozen ImageNet frame features (fusion.py)


PRESETS: dict[str, Preset] = {
    "tutorial": Preset("tutorial", config.TUTORIAL_N_FRAMES, config.TUTORIAL_FRAME_STEP,
                       config.TUTORIAL_IMAGE_SIZE, epochs=50, learning_rate=1e-4, bn_momentum=0.99),
    "fast": Preset("fast", 8, 5, 64, batch_size=16, epochs=40, min_steps=800, time_limit_s=450,
                   inputs="two_pathways", norm="batch", crop_scale=0.7, reference_fps=25.0,
                   appearance_weight="auto"),
    "motion": Preset("motion", 8, 5, 32, batch_size=16, epochs=40, inputs="differences", norm="batch",
                     reference_fps=25.0),
    "tiny": Preset("tiny", 4, 2, 32, stem_filters=4, widths=(4, 8), batch_size=4, epochs=2),
}


def get_preset(name: str) -> Preset:
    """Return the preset called ``name`` or raise a one-line VideorecError."""
    if name not in PRESETS:
        raise VideorecError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


INPUTS = ("frames", "differences", "two_pathways")


def _stem(x, p: Preset, prefix: str):
    x = Conv2Plus1D(p.stem_filters, (3, 7, 7), name=f"{prefix}stem_conv")(x)
    x = layers.BatchNormalization(momentum=p.bn_momentum, name=f"{prefix}stem_bn")(x)
    return layers.ReLU(name=f"{prefix}stem_relu")(x)


def build_model(preset: str = config.DEFAULT_PRESET, num_classes: int = 10) -> tuple[keras.Model, keras.Model]:
    """Return ``(classifier, embedder)`` sharing weights; the embedder ends at GlobalAveragePooling3D.

    Input: uint8 or float clips ``(batch, n_frames, size, size, 3)`` with values in [0, 255].
    """
    p = get_preset(preset)
    size = p.image_size
    clip = keras.Input(shape=(p.n_frames, size, size, 3), name="clip")
    x = layers.Rescaling(1.0 / 255, name="rescale")(clip)
    if p.inputs == "two_pathways":  # a stem for frames and one for their differences, each normalised
        frames = _stem(x, p, "frames_")
        moves = _stem(FrameDifference(name="frame_difference")(x), p, "differences_")
        x = layers.Concatenate(name="stems")([layers.Cropping3D(((1, 0), (0, 0), (0, 0)), name="align")(frames), moves])
    else:
        if p.inputs == "differences":
            x = FrameDifference(name="frame_difference")(x)
        x = _stem(x, p, "")
    size //= 2
    x = ResizeVideo(size, size, name="resize_0")(x)
    for i, width in enumerate(p.widths):
        x = ResidualBlock(width, (3, 3, 3), norm=p.norm, name=f"block_{i + 1}")(x)
        if i < len(p.widths) - 1:
            size //= 2
            x = ResizeVideo(size, size, name=f"resize_{i + 1}")(x)
    embedding = layers.GlobalAveragePooling3D(name="embedding")(x)
    logits = layers.Dense(num_classes, dtype="float32", name="logits")(layers.Flatten(name="flatten")(embedding))
    classifier = keras.Model(clip, logits, name=f"videorec_{p.name}")
    return classifier, embedder_of(classifier)


def embedder_of(classifier: keras.Model) -> keras.Model:
    """Return the model from the classifier's input to its pooled embedding (shared weights)."""
    return keras.Model(classifier.input, classifier.get_layer("embedding").output, name="embedder")


@dataclass
class TrainedModel:
    """A reloaded model folder: the classifier, its embedder and the metadata it was saved with."""

    classifier: keras.Model
    embedder: keras.Model
    metadata: dict

    @property
    def preset(self) -> Preset:
        return get_preset(self.metadata["preset"])


def save_trained(folder, classifier: keras.Model, metadata: dict) -> Path:
    """Write ``model.keras`` and ``metadata.json`` into ``folder``; return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    preset = get_preset(metadata["preset"])
    meta = {**Sampling.from_metadata(asdict(preset)).as_dict(),
            "embedding_dim": int(classifier.get_layer("embedding").output.shape[-1]), **metadata}
    tmp = folder / (MODEL_FILE + ".tmp.keras")
    classifier.save(tmp)
    tmp.replace(folder / MODEL_FILE)
    (folder / METADATA_FILE).write_text(json.dumps(meta, indent=2, default=str))
    return folder


def load_trained(folder) -> TrainedModel:
    """Reload a folder written by :func:`save_trained`; one-line VideorecError if it is not one."""
    folder = Path(folder)
    model_path, meta_path = folder / MODEL_FILE, folder / METADATA_FILE
    if not model_path.is_file() or not meta_path.is_file():
        raise VideorecError(f"{folder} is not a videorec model folder (expected {MODEL_FILE} and {METADATA_FILE})")
    try:
        metadata = json.loads(meta_path.read_text())
        classifier = keras.models.load_model(model_path)
    except Exception as e:  # a corrupt file: say which and why on one line
        raise VideorecError(f"could not load model from {folder}: {one_line_reason(e)}") from None
    return TrainedModel(classifier, embedder_of(classifier), metadata)
