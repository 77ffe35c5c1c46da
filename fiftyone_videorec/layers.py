"""The (2+1)D ResNet's building blocks: each layer does one idea and serialises with get_config.

Shapes are ``(batch, time, height, width, channels)`` throughout.
"""

from __future__ import annotations

import einops
import keras
from keras import layers

_PACKAGE = "videorec"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Conv2Plus1D(layers.Layer):
    """A (1, k, k) spatial Conv3D followed by a (k, 1, 1) temporal Conv3D."""

    def __init__(self, filters: int, kernel_size, padding: str = "same", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.padding = filters, tuple(kernel_size), padding
        t, h, w = self.kernel_size
        self.spatial = layers.Conv3D(filters, (1, h, w), padding=padding)
        self.temporal = layers.Conv3D(filters, (t, 1, 1), padding=padding)

    def call(self, x):
        return self.temporal(self.spatial(x))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "padding": self.padding}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResidualMain(layers.Layer):
    """Conv2Plus1D → LayerNorm → ReLU → Conv2Plus1D → LayerNorm: the residual branch."""

    def __init__(self, filters: int, kernel_size, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, tuple(kernel_size)
        self.seq = keras.Sequential([
            Conv2Plus1D(filters, kernel_size), layers.LayerNormalization(), layers.ReLU(),
            Conv2Plus1D(filters, kernel_size), layers.LayerNormalization(),
        ])

    def call(self, x):
        return self.seq(x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Project(layers.Layer):
    """Dense + LayerNorm: maps the shortcut to the branch's channel count."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.seq = keras.Sequential([layers.Dense(units), layers.LayerNormalization()])

    def call(self, x):
        return self.seq(x)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResidualBlock(layers.Layer):
    """``x + ResidualMain(x)``, projecting ``x`` first when the channel count changes."""

    def __init__(self, filters: int, kernel_size, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, tuple(kernel_size)
        self.main = ResidualMain(filters, kernel_size)
        self.project = None

    def build(self, input_shape):
        if input_shape[-1] != self.filters:
            self.project = Project(self.filters)

    def call(self, x):
        shortcut = self.project(x) if self.project is not None else x
        return shortcut + self.main(x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResizeVideo(layers.Layer):
    """Resizes every frame to ``(height, width)``: ``b t h w c -> (b t) h w c``, resize, back."""

    def __init__(self, height: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = height, width
        self.resize = layers.Resizing(height, width)

    def call(self, video):
        frames = einops.rearrange(video, "b t h w c -> (b t) h w c")
        frames = self.resize(frames)
        return einops.rearrange(frames, "(b t) h w c -> b t h w c", t=video.shape[1])

    def compute_output_shape(self, input_shape):
        b, t, _, _, c = input_shape
        return (b, t, self.height, self.width, c)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
