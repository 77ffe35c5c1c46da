"""ImageNet tags on real clips: names mapped from the source file, Classifications the sidebar can filter by."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fiftyone_videorec import config

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT / "benchmarks" / "clips"
GUITAR, BIKE, BASKETBALL = "PlayingGuitar__g16c02.avi", "Biking__g02c05.mp4", "Basketball__g01c01.avi"


def test_the_1000_names_map_one_to_one_in_the_classifiers_order():
    from fiftyone_videorec.curation.imagenet_tags import CLASSES_FILE, class_names

    names = class_names()
    assert len(names) == 1000 and all(names)
    assert (names[0], names[430], names[603], names[999]) == ("tench", "basketball", "horse cart", "toilet tissue")
    assert "Source: voxel51-eta" in CLASSES_FILE.read_text()  # the file names where the facts come from


def test_the_real_frame_of_the_reference_fixture_gets_its_reference_classes():
    """The names and the network agree: the fixture's top-5 indices of a real frame, named."""
    from fiftyone_videorec.network.backbone import load_backbone
    from fiftyone_videorec.curation.imagenet_tags import class_names, frame_probabilities, top_classes

    reference = np.load(ROOT / "tests" / "fixtures" / "lite0_reference.npz")
    frame = reference["real_input"]  # (1, 160, 160, 3): one frame of benchmarks/clips/Basketball__g01c01.avi
    probabilities = frame_probabilities(load_backbone(frame.shape[1]), frame)[0]
    expected = [class_names()[i] for i in np.argsort(-reference["real_logits"][0])[:5]]
    assert [name for name, _ in top_classes(probabilities, top=5, min_confidence=0.0)] == expected


def test_a_malformed_names_file_is_a_one_line_error(tmp_path, monkeypatch):
    from fiftyone_videorec.curation import imagenet_tags
    from fiftyone_videorec.errors import VideorecError

    lines = imagenet_tags.CLASSES_FILE.read_text().splitlines()
    for broken, message in ((lines[:-1], "not ImageNet's 0..999"), ([*lines, "5:again"], "not a new 'index:name'"),
                            ([*lines[:-1], "999"], "not a new 'index:name'")):
        path = tmp_path / "classes.txt"
        path.write_text("\n".join(broken))
        monkeypatch.setattr(imagenet_tags, "CLASSES_FILE", path)
        imagenet_tags.class_names.cache_clear()
        with pytest.raises(VideorecError, match=message):
            imagenet_tags.class_names()
    imagenet_tags.class_names.cache_clear()


@pytest.fixture
def clips_dataset(dataset_name, tmp_path):
    """Three real recordings and a file that is not a video."""
    import fiftyone as fo

    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    dataset = fo.Dataset(dataset_name)
    dataset.add_samples([fo.Sample(filepath=str(path)) for path in
                         (CLIPS / GUITAR, CLIPS / BIKE, CLIPS / BASKETBALL, bad)], progress=False)
    return dataset


def _tags(dataset, name: str) -> list[tuple[str, float]]:
    sample = dataset.match({"filepath": str(CLIPS / name)}).first()
    return [(c.label, c.confidence) for c in sample[config.IMAGENET_FIELD].classifications]


def test_cli_tags_real_clips_incrementally_and_the_sidebar_can_filter(clips_dataset, capsys):
    from fiftyone import ViewField as F

    from fiftyone_videorec.cli.main import main
    from fiftyone_videorec.curation.imagenet_tags import class_names

    dataset = clips_dataset
    capsys.readouterr()
    assert main(["tag", "--dataset", dataset.name, "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # JSON alone on stdout
    bad = dataset.match({"filepath": {"$regex": "notes.mp4$"}}).first()
    assert result["tagged"] == 3 and result["already"] == 0 and list(result["failed"]) == [bad.id]
    assert f"skipped {bad.id}: " in captured.err
    print(f"\n{GUITAR}: {_tags(dataset, GUITAR)}\n{BIKE}: {_tags(dataset, BIKE)}\n"
          f"{BASKETBALL}: {_tags(dataset, BASKETBALL)}")
    capsys.readouterr()
    for name in (GUITAR, BIKE, BASKETBALL):
        tags = _tags(dataset, name)
        assert 1 <= len(tags) <= config.TAG_TOP
        assert all(label in class_names() and confidence >= config.TAG_MIN_CONFIDENCE for label, confidence in tags)
        assert [c for _, c in tags] == sorted((c for _, c in tags), reverse=True)
    assert {"acoustic guitar", "electric guitar"} & {label for label, _ in _tags(dataset, GUITAR)}
    assert {"mountain bike", "bicycle-built-for-two", "tricycle"} & {label for label, _ in _tags(dataset, BIKE)}
    label = _tags(dataset, GUITAR)[0][0]
    with_label = dataset.filter_labels(config.IMAGENET_FIELD, F("label") == label)
    assert str(CLIPS / GUITAR) in with_label.values("filepath")
    assert sum(result["counts"].values()) == sum(len(_tags(dataset, n)) for n in (GUITAR, BIKE, BASKETBALL))

    assert main(["tag", "--dataset", dataset.name, "--json"]) == 0  # again: only the failed file is tried
    again = json.loads(capsys.readouterr().out)
    assert again["tagged"] == 0 and again["already"] == 3 and list(again["failed"]) == [bad.id]

    assert main(["tag", "--dataset", dataset.name, "--top", "1", "--min-confidence", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tagged"] == 3  # other settings: tagged anew
    assert all(len(_tags(dataset, name)) == 1 for name in (GUITAR, BIKE, BASKETBALL))


def test_tags_are_the_frames_averaged_probabilities(clips_dataset):
    from fiftyone_videorec.network.backbone import load_backbone
    from fiftyone_videorec.frames import read_views
    from fiftyone_videorec.curation.imagenet_tags import frame_probabilities, tag_dataset, top_classes

    view = clips_dataset.match({"filepath": str(CLIPS / BIKE)})
    summary = tag_dataset(view, top=5, min_confidence=0.01)
    assert summary.tagged == 1
    frames = read_views(CLIPS / BIKE, frame_spec=(config.TAG_FRAMES, config.TAG_SIZE)).frames
    mean = frame_probabilities(load_backbone(config.TAG_SIZE), frames).mean(axis=0)
    expected = top_classes(mean, top=5, min_confidence=0.01)
    got = _tags(clips_dataset, BIKE)
    assert [label for label, _ in got] == [label for label, _ in expected]
    assert np.allclose([c for _, c in got], [c for _, c in expected], atol=1e-4)


@pytest.mark.parametrize("args, message", [
    (["--top", "0"], "top must be"),
    (["--min-confidence", "1"], "min confidence must be"),
    (["--field", "filepath"], "not ImageNet tags"),
])
def test_bad_input_is_one_line_and_exit_2(clips_dataset, capsys, args, message):
    from fiftyone_videorec.cli.main import main

    assert main(["tag", "--dataset", clips_dataset.name, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_operator_tags_and_refuses_a_bad_setting(clips_dataset):
    from tests.test_operators import form_error, run, triggered

    result = run("tag_imagenet_classes", clips_dataset, {"top": 2, "min_confidence": 0.1})
    assert result.result["tagged"] == 3 and len(result.result["failed"]) == 1
    assert config.IMAGENET_FIELD in triggered(result, "set_active_fields")[0]["fields"]
    assert all(len(_tags(clips_dataset, name)) <= 2 for name in (GUITAR, BIKE, BASKETBALL))
    assert "between 1 and 1000" in form_error("tag_imagenet_classes", clips_dataset, {"top": 0})
