"""Each layer's output shape and that it survives get_config → from_config."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fiftyone_videorec.network.layers import (Conv2Plus1D, FrameDifference, Project, ResidualBlock, ResidualMain,
                                     ResizeVideo)

VIDEO = np.random.default_rng(0).random((2, 4, 16, 16, 3)).astype("float32")


@pytest.mark.parametrize("layer, shape", [
    (Conv2Plus1D(5, (3, 3, 3)), (2, 4, 16, 16, 5)),
    (ResidualMain(3, (3, 3, 3)), (2, 4, 16, 16, 3)),
    (Project(7), (2, 4, 16, 16, 7)),
    (ResidualBlock(6, (3, 3, 3)), (2, 4, 16, 16, 6)),
    (ResidualBlock(3, (3, 3, 3)), (2, 4, 16, 16, 3)),
    (ResizeVideo(8, 6), (2, 4, 8, 6, 3)),
    (FrameDifference(), (2, 3, 16, 16, 3)),
    (ResidualBlock(6, (3, 3, 3), norm="batch"), (2, 4, 16, 16, 6)),
    (ResidualMain(3, (3, 3, 3), norm="batch"), (2, 4, 16, 16, 3)),
])
def test_layer_output_shape_and_config_round_trip(layer, shape):
    assert tuple(layer(VIDEO).shape) == shape
    clone = type(layer).from_config(layer.get_config())
    assert tuple(clone(VIDEO).shape) == shape


def test_residual_block_projects_only_when_channels_change():
    same, wider = ResidualBlock(3, (3, 3, 3)), ResidualBlock(6, (3, 3, 3))
    same(VIDEO), wider(VIDEO)
    assert same.project is None and wider.project is not None


def test_frame_difference_cancels_what_does_not_move():
    still = np.repeat(VIDEO[:, :1], 4, axis=1)
    assert np.abs(np.asarray(FrameDifference()(still))).max() == 0
    moved = np.asarray(FrameDifference()(VIDEO))
    assert np.allclose(moved[:, 0], VIDEO[:, 1] - VIDEO[:, 0])


def test_norm_choice_is_kept_through_config():
    block = ResidualBlock(6, (3, 3, 3), norm="batch")
    block(VIDEO)
    assert type(block).from_config(block.get_config()).norm == "batch"
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in block.main.seq.layers)
    with pytest.raises(ValueError, match="unknown normalization"):
        ResidualMain(3, (3, 3, 3), norm="instance")
