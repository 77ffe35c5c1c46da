"""Building, saving and loading the (2+1)D ResNet; the presets that size it.

``tutorial`` is the seed's network exactly (TensorFlow's "video classification" tutorial:
443,322 parameters for 10 classes, 128-d embedding). ``fast`` (the default) is the same family
at a smaller input, 8 frames every 5th frame at 32x32 (about 49x fewer input voxels than
10 x 224²), with two changes that the synthetic motion set showed to be needed: the stem sees
frame *differences* (layers.FrameDifference) and the residual blocks use BatchNorm instead of
per-position LayerNorm. Measured on ``videorec load synthetic`` (10 classes, 30/10/10, 2 CPUs),
test-vs-train precision@5:

- raw frames, LayerNorm blocks: 0.08 after 12 epochs at 32 px (chance 0.10);
- differences + LayerNorm: 0.29 after 15; differences + BatchNorm: 0.93 after 15;
- differences + BatchNorm, 25 epochs: 0.948 and 0.968 (seeds 42 and 7; one clip per video);
- the same with 40 epochs and early stopping (stopped at 37 and 31): 0.978 and 0.978 with one
  clip per video, 0.990 and 0.992 averaging 3 clips (``config.DEFAULT_CLIPS``), 0.994 with 5.

Hence 40 epochs (about 3 min of training on 2 CPUs with the frame cache). ``benchmarks/train.md``
compares its speed and precision with the seed's recipe. ``tiny`` exists for tests.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
from keras import layers

from . import config
from .errors import VideorecError
from .layers import Conv2Plus1D, FrameDifference, FramesAndDifferences, ResidualBlock, ResizeVideo

MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"


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
    learning_rate: float = 1e-3
    bn_momentum: float = 0.9  # keras' 0.99 leaves the moving stats far off after a few hundred steps
    inputs: str = "frames"  # what the stem sees: "frames", "differences" or "frames+differences"
    norm: str = "layer"  # the residual blocks' normalisation (layers.normalization)
    pooling: str = "last"  # embedding: pool the last block ("last") or every stage, concatenated ("stages")
    time_limit_s: float | None = None  # training stops before an epoch that would pass this many seconds
    crop_scale: float = 1.0  # training: random crops keep at least this fraction of each side (1.0: none)


PRESETS: dict[str, Preset] = {
    "tutorial": Preset("tutorial", config.TUTORIAL_N_FRAMES, config.TUTORIAL_FRAME_STEP,
                       config.TUTORIAL_IMAGE_SIZE, epochs=50, learning_rate=1e-4, bn_momentum=0.99),
    "fast": Preset("fast", 8, 5, 32, batch_size=16, epochs=40, inputs="differences", norm="batch"),
    "tiny": Preset("tiny", 4, 2, 32, stem_filters=4, widths=(4, 8), batch_size=4, epochs=2),
}


def get_preset(name: str) -> Preset:
    """Return the preset called ``name`` or raise a one-line VideorecError."""
    if name not in PRESETS:
        raise VideorecError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


INPUTS = {"frames": None, "differences": FrameDifference, "frames+differences": FramesAndDifferences}


def build_model(preset: str | Preset = config.DEFAULT_PRESET, num_classes: int = 10) -> tuple[keras.Model, keras.Model]:
    """Return ``(classifier, embedder)`` sharing weights; the embedder ends at GlobalAveragePooling3D.

    Input: uint8 or float clips ``(batch, n_frames, size, size, 3)`` with values in [0, 255].
    """
    p = preset if isinstance(preset, Preset) else get_preset(preset)
    size = p.image_size
    clip = keras.Input(shape=(p.n_frames, size, size, 3), name="clip")
    x = layers.Rescaling(1.0 / 255, name="rescale")(clip)
    if INPUTS[p.inputs] is not None:
        x = INPUTS[p.inputs](name=p.inputs.replace("+", "_and_"))(x)
    x = Conv2Plus1D(p.stem_filters, (3, 7, 7), name="stem_conv")(x)
    x = layers.BatchNormalization(momentum=p.bn_momentum, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    size //= 2
    x = ResizeVideo(size, size, name="resize_0")(x)
    stages = []
    for i, width in enumerate(p.widths):
        x = ResidualBlock(width, (3, 3, 3), norm=p.norm, name=f"block_{i + 1}")(x)
        stages.append(x)
        if i < len(p.widths) - 1:
            size //= 2
            x = ResizeVideo(size, size, name=f"resize_{i + 1}")(x)
    if p.pooling == "stages":
        pooled = [layers.GlobalAveragePooling3D(name=f"pool_{i + 1}")(s) for i, s in enumerate(stages)]
        embedding = layers.Concatenate(name="embedding")(pooled)
    else:
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
    meta = {**{k: v for k, v in asdict(preset).items() if k in ("n_frames", "frame_step", "image_size")},
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
        raise VideorecError(f"could not load model from {folder}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return TrainedModel(classifier, embedder_of(classifier), metadata)
