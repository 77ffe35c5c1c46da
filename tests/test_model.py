"""Presets, parameter counts, and saved models reloaded in a fresh process."""

import json
import subprocess
import sys

import numpy as np
import pytest

from fiftyone_videorec import config
from fiftyone_videorec.errors import VideorecError
from fiftyone_videorec.network.model import PRESETS, build_model, load_trained, save_trained


def test_tutorial_preset_is_the_seed_network():
    classifier, embedder = build_model("tutorial", num_classes=10)
    assert classifier.count_params() == 443_322
    assert embedder.output.shape[-1] == 128
    assert tuple(classifier.input.shape[1:]) == (10, 224, 224, 3)
    assert (PRESETS["tutorial"].n_frames, PRESETS["tutorial"].frame_step) == (10, 15)


def test_fast_is_smaller_input_than_tutorial_and_default():
    fast, tutorial = PRESETS["fast"], PRESETS["tutorial"]
    assert fast.n_frames * fast.image_size**2 * 5 <= tutorial.n_frames * tutorial.image_size**2
    assert build_model()[0].input.shape[1:] == (fast.n_frames, fast.image_size, fast.image_size, 3)


def test_embedder_shares_weights_with_classifier():
    classifier, embedder = build_model("tiny", num_classes=3)
    clip = np.random.default_rng(0).integers(0, 255, (2, 4, 32, 32, 3)).astype("uint8")
    before = embedder.predict(clip, verbose=0)
    stem = classifier.get_layer("stem_conv").spatial
    stem.kernel.assign(stem.kernel.numpy() + 0.5)
    assert not np.allclose(before, embedder.predict(clip, verbose=0))


def test_saved_model_reloads_in_a_new_process_with_same_embeddings(tmp_path):
    classifier, embedder = build_model("tiny", num_classes=3)
    clip = np.random.default_rng(1).integers(0, 255, (3, 4, 32, 32, 3)).astype("uint8")
    np.save(tmp_path / "clip.npy", clip)
    np.save(tmp_path / "expected.npy", embedder.predict(clip, verbose=0))
    save_trained(tmp_path / "m", classifier, {"preset": "tiny", "class_names": ["a", "b", "c"]})
    code = (
        "import numpy as np, sys; from fiftyone_videorec.network.model import load_trained;"
        f"t = load_trained({str(tmp_path / 'm')!r});"
        f"got = t.embedder.predict(np.load({str(tmp_path / 'clip.npy')!r}), verbose=0);"
        f"print(float(np.abs(got - np.load({str(tmp_path / 'expected.npy')!r})).max()), t.metadata['embedding_dim'], t.preset.name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) < 1e-5
    assert out[1:] == ["8", "tiny"]
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert (meta["n_frames"], meta["frame_step"], meta["image_size"]) == (4, 2, 32)


def test_loading_a_folder_that_is_not_a_model_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(VideorecError, match="not a videorec model folder") as err:
        load_trained(tmp_path)
    assert "\n" not in str(err.value)


def test_corrupt_model_file_is_one_line(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"junk")
    (tmp_path / "metadata.json").write_text('{"preset": "tiny"}')
    with pytest.raises(VideorecError, match="could not load model"):
        load_trained(tmp_path)


def test_unknown_preset_is_one_line():
    with pytest.raises(VideorecError, match="unknown preset"):
        build_model("huge")


def test_tiny_model_dir_fixture_is_a_loadable_model(tiny_model_dir):
    trained = load_trained(tiny_model_dir)
    assert trained.preset.name == "tiny" and len(trained.metadata["class_names"]) >= 2
    assert trained.metadata["embedding_dim"] == trained.embedder.output.shape[-1]


def test_default_preset_sees_both_what_a_scene_looks_like_and_what_moves():
    """The default's two stems: one on frames (appearance), one on frame differences (motion)."""
    classifier, embedder = build_model("fast", num_classes=3)
    size = PRESETS["fast"].image_size
    rng = np.random.default_rng(3)
    still = np.repeat(rng.integers(0, 255, (1, 1, size, size, 3)), PRESETS["fast"].n_frames, axis=1).astype("uint8")
    moving = np.stack([np.roll(still[0, 0], 4 * t, axis=1) for t in range(PRESETS["fast"].n_frames)])[None]
    differences = classifier.get_layer("differences_stem_conv").spatial
    frames = classifier.get_layer("frames_stem_conv").spatial
    before_still, before_moving = embedder.predict(still, verbose=0), embedder.predict(moving, verbose=0)
    differences.kernel.assign(differences.kernel.numpy() * 3)  # a still clip has no differences to see
    assert np.allclose(before_still, embedder.predict(still, verbose=0), atol=1e-6)
    assert not np.allclose(before_moving, embedder.predict(moving, verbose=0), atol=1e-4)
    frames.kernel.assign(frames.kernel.numpy() * 3)
    assert not np.allclose(before_still, embedder.predict(still, verbose=0), atol=1e-4)


def test_the_cli_and_operator_preset_list_names_every_preset():
    # config keeps the names so that the CLI and the App can list them without importing Keras
    assert sorted(config.PRESET_NAMES) == sorted(PRESETS) and len(set(config.PRESET_NAMES)) == len(PRESETS)
