"""Training from a real FiftyOne dataset of real video files: cache, resume, skips, bad input."""

import json

import pytest

from fiftyone_videorec import config
from fiftyone_videorec.errors import VideorecError
from fiftyone_videorec.network.training import train
from tests.fixtures_data import DIRECTIONS, write_labelled_clips


def _make_dataset(root, name, per_split=(2, 1, 1), classes=DIRECTIONS, extra=()):
    """A tiny labelled video dataset: one class per motion direction, tags train/val/test."""
    import fiftyone as fo

    samples = [fo.Sample(filepath=str(path), tags=[split], **{config.LABEL_FIELD: fo.Classification(label=label)})
               for path, label, split in [*write_labelled_clips(root, per_split, classes), *extra]]
    dataset = fo.Dataset(name, overwrite=True)
    dataset.add_samples(samples)
    return dataset


@pytest.fixture(scope="module")
def motion_dataset(tmp_path_factory):
    name = "videorec-test-train-motion"
    root = tmp_path_factory.mktemp("motion")
    bad = root / "broken.mp4"
    bad.write_bytes(b"this is not a video")
    _make_dataset(root, name, extra=[(bad, "left", "train")])
    return name


@pytest.fixture(scope="module")
def first_run(motion_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("run1")
    calls = []
    result = train(motion_dataset, out, preset="tiny", epochs=2, progress=lambda f, label: calls.append((f, label)))
    return result, out, calls


def test_training_writes_model_folder_and_reports(first_run):
    result, out, calls = first_run
    for name in ("model.keras", "metadata.json", "history.json", "curves.png", "confusion_matrix.png"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["preset"] == "tiny" and meta["class_names"] == ["left", "right", "still"]
    assert meta["epochs_trained"] == 2 and len(result.history["loss"]) == 2 and "val_loss" in result.history
    assert {"tensorflow", "keras", "fiftyone"} <= set(meta["versions"]) and "test_accuracy" in meta["metrics"]
    assert any(label.startswith("epoch 2/2 loss") and " acc " in label for _, label in calls)
    assert calls[-1][0] == 1.0


def test_train_takes_a_view_and_trains_on_its_clips_only(motion_dataset, tmp_path):
    import fiftyone as fo
    from fiftyone import ViewField as F

    view = fo.load_dataset(motion_dataset).match(F(f"{config.LABEL_FIELD}.label") != "still")
    meta = train(view, tmp_path / "model", preset="tiny", epochs=1).metadata
    assert meta["class_names"] == ["left", "right"] and meta["dataset"] == motion_dataset
    assert meta["clips"]["train"] == 4  # 2 per class; the broken clip is skipped


def test_undecodable_clip_is_skipped_with_reason_and_training_goes_on(first_run):
    result, out, _ = first_run
    (path, reason), = result.skipped.items()
    assert path.endswith("broken.mp4") and "OpenCV" in reason
    assert json.loads((out / "metadata.json").read_text())["skipped"] == {path: reason}


def test_each_clip_decoded_once_then_cache_hit(first_run, motion_dataset, tmp_path):
    result, _, _ = first_run
    assert result.cache["decoded"] <= 12  # 12 good clips, 2 epochs: decoded once each, not per epoch
    again = train(motion_dataset, tmp_path / "run2", preset="tiny", epochs=1)
    assert again.cache == {"decoded": 0, "hits": 12}


def test_resume_continues_from_saved_epoch(first_run, motion_dataset):
    _, out, _ = first_run
    resumed = train(motion_dataset, out, preset="tiny", epochs=3, resume=True)
    assert resumed.metadata["epochs_trained"] == 3
    assert len(resumed.history["loss"]) == 3
    assert resumed.history["loss"][:2] == first_run[0].history["loss"]


def test_resume_with_other_preset_is_one_line(first_run, motion_dataset):
    with pytest.raises(VideorecError, match="--resume: the checkpoint .* preset 'tiny'"):
        train(motion_dataset, first_run[1], preset="fast", epochs=1, resume=True)


def test_resume_without_checkpoint_is_one_line(motion_dataset, tmp_path):
    with pytest.raises(VideorecError, match="no checkpoint"):
        train(motion_dataset, tmp_path, preset="tiny", resume=True)


def test_dataset_without_train_tag(motion_dataset, tmp_path):
    with pytest.raises(VideorecError, match="no labelled samples tagged 'nope'"):
        train(motion_dataset, tmp_path, preset="tiny", train_tag="nope")


def test_one_class_only(tmp_path):
    name = "videorec-test-one-class"
    _make_dataset(tmp_path, name, per_split=(2, 0, 0), classes={"right": 3})
    with pytest.raises(VideorecError, match="only one class"):
        train(name, tmp_path / "out", preset="tiny")


def test_class_with_no_decodable_clip(tmp_path):
    name = "videorec-test-undecodable-class"
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"junk")
    _make_dataset(tmp_path, name, per_split=(1, 0, 0), classes={"right": 3}, extra=[(bad, "left", "train")])
    with pytest.raises(VideorecError, match="class 'left' has no decodable clip"):
        train(name, tmp_path / "out", preset="tiny")


def test_unwritable_output_folder(motion_dataset, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(VideorecError, match="cannot write to output folder"):
        train(motion_dataset, blocker / "out", preset="tiny")


def test_missing_dataset(tmp_path):
    with pytest.raises(VideorecError, match="does not exist"):
        train("videorec-no-such-dataset", tmp_path, preset="tiny")


@pytest.mark.pipeline
def test_cli_train_end_to_end(motion_dataset, tmp_path, capsys):
    from fiftyone_videorec.cli.main import main
    from fiftyone_videorec.network.model import load_trained

    assert main(["train", "--dataset", motion_dataset, "--out", str(tmp_path / "m"), "--preset", "tiny",
                 "--epochs", "1", "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "broken.mp4" in out and "trained tiny for 1 epochs" in out
    trained = load_trained(tmp_path / "m")
    assert trained.metadata["batch_size"] == 2 and trained.embedder.output.shape[-1] == 8
    assert main(["train", "--dataset", "videorec-no-such", "--out", str(tmp_path / "x"), "--preset", "tiny"]) == 2
    assert "videorec: error: dataset 'videorec-no-such' does not exist" in capsys.readouterr().err


def test_cli_train_without_val_clips_says_what_early_stopping_watched(tmp_path):
    """A folder with only train and test clips trains, and the user is told what stopped it."""
    import subprocess
    import sys

    from fiftyone_videorec.data.folder import load_folder

    write_labelled_clips(tmp_path / "clips", per_split=(2, 0, 1))
    dataset, _ = load_folder(tmp_path / "clips", "videorec-test-train-no-val", overwrite=True)
    assert len(dataset.match_tags("val")) == 0
    result = subprocess.run([sys.executable, "-m", "fiftyone_videorec", "train", "--dataset", dataset.name,
                             "--out", str(tmp_path / "model"), "--preset", "tiny", "--epochs", "2"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "early stopping watched the training loss (no clips tagged 'val')" in result.stdout
    meta = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert meta["epochs_trained"] == 2 and meta["early_stopping_on"].startswith("training loss")
    assert meta["clips"] == {"train": 6, "val": 0, "test": 3}


def test_time_limit_must_be_positive(motion_dataset, tmp_path):
    with pytest.raises(VideorecError, match="time limit must be a positive number of seconds, got -5"):
        train(motion_dataset, tmp_path, preset="tiny", time_limit=-5)


def test_time_limit_stops_before_an_epoch_that_would_pass_it(motion_dataset, tmp_path):
    result = train(motion_dataset, tmp_path, preset="tiny", epochs=50, time_limit=0.001)
    meta = result.metadata
    assert meta["epochs_trained"] == 1 and meta["stopped_by_time_limit"] and meta["time_limit_s"] == 0.001
    assert (tmp_path / "model.keras").is_file()
