"""The (2+1)D ResNet's building blocks: each layer does one idea and serialises with get_config.

Shapes are ``(batch, time, height, width, channels)`` throughout.
"""

from __future__ import annotations

import einops
import keras
from keras import layers

_PACKAGE = "videorec"
NORMS = ("layer", "batch")


def normalization(kind: str = "layer") -> layers.Layer:
    """The residual blocks' normalisation: the tutorial's per-position ``layer`` norm or ``batch`` norm.

    Per-position LayerNorm scales every pixel's channels to unit variance, so a plain background
    weighs as much as the moving object once pooled; BatchNorm keeps the contrast.
    """
    if kind == "layer":
        return layers.LayerNormalization()
    if kind == "batch":
        return layers.BatchNormalization(momentum=0.9)
    raise ValueError(f"unknown normalization {kind!r}; expected one of {NORMS}")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Conv2Plus1D(layers.Layer):
    """A (1, k, k) spatial Conv3D followed by a (k, 1, 1) temporal Conv3D."""

    def __init__(self, filters: int, kernel_size, padding: str = "same", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.padding = filters, tuple(kernel_size), padding
        t, h, w = self.kernel_size
        self.spatial = layers.Conv3D(filters, (1, h, w), padding=padding)
        self.temporal = layers.Conv3D(filters, (t, 1, 1), padding=padding)

    def build(self, input_shape):
        self.spatial.build(input_shape)
        self.temporal.build(self.spatial.compute_output_shape(input_shape))

    def call(self, x):
        return self.temporal(self.spatial(x))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "padding": self.padding}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResidualMain(layers.Layer):
    """Conv2Plus1D → norm → ReLU → Conv2Plus1D → norm: the residual branch.

    ``norm``: ``layer`` (LayerNorm) in the tutorial's network, ``batch`` in the ``fast`` and ``motion`` presets.
    """

    def __init__(self, filters: int, kernel_size, norm: str = "layer", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.norm = filters, tuple(kernel_size), norm
        self.seq = keras.Sequential([
            Conv2Plus1D(filters, kernel_size), normalization(norm), layers.ReLU(),
            Conv2Plus1D(filters, kernel_size), normalization(norm),
        ])

    def call(self, x):
        return self.seq(x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size, "norm": self.norm}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Project(layers.Layer):
    """Dense + norm (LayerNorm in the tutorial's network): maps the shortcut to the branch's channel count."""

    def __init__(self, units: int, norm: str = "layer", **kwargs):
        super().__init__(**kwargs)
        self.units, self.norm = units, norm
        self.seq = keras.Sequential([layers.Dense(units), normalization(norm)])

    def call(self, x):
        return self.seq(x)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "norm": self.norm}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResidualBlock(layers.Layer):
    """``x + ResidualMain(x)``, projecting ``x`` first when the channel count changes."""

    def __init__(self, filters: int, kernel_size, norm: str = "layer", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.norm = filters, tuple(kernel_size), norm
        self.main = ResidualMain(filters, kernel_size, norm)
        self.project = None

    def build(self, input_shape):
        if input_shape[-1] != self.filters:
            self.project = Project(self.filters, self.norm)

    def call(self, x):
        shortcut = self.project(x) if self.project is not None else x
        return shortcut + self.main(x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size, "norm": self.norm}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResizeVideo(layers.Layer):
    """Resizes every frame to ``(height, width)``: ``b t h w c -> (b t) h w c``, resize, back."""

    def __init__(self, height: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = height, width
        self.resize = layers.Resizing(height, width)

    def build(self, input_shape):
        self.resize.build((None, *input_shape[2:]))

    def call(self, video):
        frames = einops.rearrange(video, "b t h w c -> (b t) h w c")
        frames = self.resize(frames)
        return einops.rearrange(frames, "(b t) h w c -> b t h w c", t=video.shape[1])

    def compute_output_shape(self, input_shape):
        b, t, _, _, c = input_shape
        return (b, t, self.height, self.width, c)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FrameDifference(layers.Layer):
    """``t`` frames -> the ``t - 1`` differences between consecutive frames.

    The static background and distractors cancel out, leaving only what moves; measured on the
    synthetic motion set, a network fed raw frames stays at chance while one fed differences learns.
    """

    def call(self, video):
        return video[:, 1:] - video[:, :-1]

    def compute_output_shape(self, input_shape):
        b, t, *rest = input_shape
        return (b, None if t is None else t - 1, *rest)

