"""Near-duplicates on real clips and their altered copies, with a model this project trained.

Each of ten real recordings from ``benchmarks/clips`` (ten actions, none of them in the model's
training set) is imported once as the original (train) and as four altered copies made by ffmpeg
(test): 40 kbit/s, half size, a cropped border, half frame rate. Every copy must land in its
original's group and no group may join two recordings; pair precision and recall are printed.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from fiftyone_videorec import config
from fiftyone_videorec.data import real_footage

CLIPS = Path(__file__).resolve().parents[1] / "benchmarks" / "clips"
RECORDINGS = ("BreastStroke__g01c01.mp4", "Cartwheel__PippiMichel6.avi", "ClimbStairs__BrunoWalksUpStairs0.mp4",
              "Dive__BASEJumping3.mp4", "Drink__50FirstDates29.mp4", "Handstand__Bodenturnen1.mp4",
              "Jump__LeParkourLondrina6.mp4", "PushUps__g02c03.avi", "ShootGun__DefensivePistol3.mp4",
              "Wave__RatRace37.avi")
"""Ten recordings of ten actions, all shorter than the recordings the model is trained on."""


ALTERATIONS = {**real_footage.ALTERATIONS,  # 40 kbit/s, half size, half frame rate as in the quality benchmark,
               # but a 5 % border cropped on each side: the benchmark's 10 % is a zoom more than a crop
               "cropped_border": ["-vf", "crop=trunc(iw*0.45)*2:trunc(ih*0.45)*2", "-c:v", "libx264", "-crf", "23"]}


@pytest.fixture(scope="module")
def real_model_dir(tmp_path_factory) -> Path:
    """A "motion" model trained for 30 s on windows of the other real recordings (none of ``RECORDINGS``),
    class = recording.

    The session's synthetic-motion model tells apart how squares move, not real scenes: on these
    clips it puts different recordings closer than a copy to its original.
    """
    from fiftyone_videorec.data.folder import load_folder
    from fiftyone_videorec.training import train

    others = [rec for rec in real_footage.read_manifest(CLIPS) if rec.path.name not in RECORDINGS]
    root = real_footage.build_same_recording(others, tmp_path_factory.mktemp("same-recording") / "set", window=24,
                                             per_split=(6, 1, 1))
    dataset, _ = load_folder(root, "videorec-test-duplicates-train", overwrite=True)
    out = tmp_path_factory.mktemp("real-model")
    train(dataset, out, preset="motion", time_limit=30)
    dataset.delete()
    return out


def _write_copies(recording, root: Path, frames: int = 48) -> None:
    """Write the middle ``frames`` of a recording as the original (train) and its altered copies (test)."""
    from fiftyone_videorec.data.video_files import ffmpeg_convert, write_h264
    from fiftyone_videorec.frames import probe

    decoded = real_footage.decode_all(recording.path)
    start = max(0, (len(decoded) - frames) // 2)
    original = root / "train" / recording.label / f"{recording.label}.mp4"
    write_h264(decoded[start:start + frames], original, fps=probe(recording.path)[1] or 25.0)
    for name, args in ALTERATIONS.items():
        ffmpeg_convert(original, root / "test" / recording.label / f"{recording.label}_{name}.mp4", *args,
                       "-pix_fmt", "yuv420p", "-an", "-threads", "1")


@pytest.fixture(scope="module")
def altered_dataset(tmp_path_factory, real_model_dir):
    """Originals (train) and altered copies (test) labelled by recording, embedded by a trained model."""
    import fiftyone as fo

    from fiftyone_videorec.data.folder import load_folder
    from fiftyone_videorec.embedder import embed_dataset

    root = tmp_path_factory.mktemp("altered") / "set"
    for recording in real_footage.read_manifest(CLIPS):
        if recording.path.name in RECORDINGS:
            _write_copies(recording, root)
    name = "videorec-test-duplicates"
    dataset, _ = load_folder(root, name, overwrite=True)
    embed_dataset(dataset, real_model_dir)
    yield dataset
    fo.delete_dataset(name)


def _centred_cosine_distances(vectors: np.ndarray) -> np.ndarray:
    """The distances the Brain's sklearn backend compares with the threshold (mean removed, then cosine)."""
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    unit = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    return 1 - unit @ unit.T


def _same_source_pairs(ids_by_source: dict) -> set:
    return {frozenset(pair) for ids in ids_by_source.values() for pair in itertools.combinations(ids, 2)}


def test_every_altered_copy_is_grouped_with_its_original_and_only_with_it(altered_dataset):
    from fiftyone_videorec.duplicates import find_duplicates

    dataset = altered_dataset
    ids, labels, vectors = dataset.values(["id", f"{config.LABEL_FIELD}.label", config.EMBEDDINGS_FIELD])
    source_of = dict(zip(ids, labels))
    distances = _centred_cosine_distances(np.asarray(vectors, float))
    same = np.equal.outer(np.asarray(labels), np.asarray(labels))
    off_diagonal = ~np.eye(len(ids), dtype=bool)
    print(f"\ncopy-to-same-recording distance: max {distances[same & off_diagonal].max():.3f}; "
          f"different recordings: min {distances[~same].min():.3f} (threshold {config.DUPLICATE_THRESHOLD})")

    groups = find_duplicates(dataset)

    ids_by_source = {}
    for sid, source in source_of.items():
        ids_by_source.setdefault(source, []).append(sid)
    truth = _same_source_pairs(ids_by_source)
    found = {frozenset(pair) for group in groups for pair in itertools.combinations(group.ids, 2)}
    precision = len(found & truth) / len(found) if found else 0.0
    recall = len(found & truth) / len(truth)
    print(f"pair precision {precision:.3f}, pair recall {recall:.3f} ({len(groups)} groups, "
          f"{len(found)} pairs found, {len(truth)} true pairs)")
    assert all(len({source_of[sid] for sid in group.ids}) == 1 for group in groups), "a group joins two recordings"
    assert sorted(len(group.ids) for group in groups) == [5] * len(RECORDINGS)  # original + 4 copies each
    assert precision == 1.0 and recall == 1.0
    print("largest copy-to-kept distance per group:", " ".join(f"{g.max_distance:.3f}" for g in groups))
    assert all(0 < group.max_distance < 1 for group in groups)


def test_cli_prints_the_groups_as_json_and_marks_them_for_the_app(altered_dataset, capsys):
    from fiftyone_videorec.cli import main

    dataset = altered_dataset
    assert main(["duplicates", "--dataset", dataset.name, "--json", "--mark"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert len(groups) == len(RECORDINGS)
    assert all(set(group) == {"ids", "filepaths", "max_distance"} for group in groups)
    assert all(len(group["ids"]) == len(group["filepaths"]) == 5 for group in groups)
    dataset.reload()
    numbers = dict(zip(*dataset.values(["id", config.DUPLICATE_GROUP_FIELD])))
    assert {numbers[sid] for sid in groups[0]["ids"]} == {1}
    assert dataset.count_sample_tags()[config.DUPLICATE_TAG] == 5 * len(RECORDINGS)


def test_leaks_are_the_groups_across_train_and_test(altered_dataset, capsys):
    from fiftyone_videorec.cli import main

    assert main(["leaks", "--dataset", altered_dataset.name, "--json"]) == 0
    leaks = json.loads(capsys.readouterr().out)
    assert len(leaks) == len(RECORDINGS)  # each original (train) has its copies in test
    assert all(sorted(map(tuple, leak["splits"])) == [("test",)] * 4 + [("train",)] for leak in leaks)


@pytest.mark.parametrize("args, message", [
    (["--threshold", "0"], "threshold must be"),
    (["--threshold", "-0.1"], "threshold must be"),
    (["--field", "no_such_field"], "has no field 'no_such_field'"),
    (["--field", "filepath"], "not embeddings"),
])
def test_bad_input_is_one_line_and_exit_2(altered_dataset, capsys, args, message):
    from fiftyone_videorec.cli import main

    assert main(["duplicates", "--dataset", altered_dataset.name, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_unknown_dataset_is_one_line_and_exit_2(capsys):
    from fiftyone_videorec.cli import main

    for command in ("duplicates", "leaks"):
        assert main([command, "--dataset", "no-such-dataset"]) == 2
        err = capsys.readouterr().err
        assert "does not exist" in err and len(err.strip().splitlines()) == 1, err


def test_operator_shows_the_groups_together_and_refuses_a_bad_threshold(altered_dataset):
    from tests.test_operators import form_error, run, triggered

    dataset = altered_dataset
    result = run("find_duplicate_videos", dataset.name, {"threshold": config.DUPLICATE_THRESHOLD})
    groups = result.result["groups"]
    assert len(groups) == len(RECORDINGS)
    view = triggered(result, "set_view")
    assert view, "the App's view was not set"
    assert "The threshold must be" in form_error("find_duplicate_videos", dataset.name, {"threshold": 0})


TILE_GROUPS_JS = """(field) => Array.from(document.querySelectorAll('[data-cy="looker"]')).map(el => {
    const box = el.getBoundingClientRect();
    const title = Array.from(el.querySelectorAll('[title]')).map(t => t.title).find(t => t.startsWith(field + ': '));
    return {x: box.x, y: box.y, group: title ? Number(title.split(': ')[1]) : null};
})"""


@pytest.mark.browser
def test_the_app_shows_each_group_together(altered_dataset, tmp_path, artifacts_dir):
    """Run find_duplicate_videos from the App's operator browser; the grid lists the groups in order."""
    from tests.app import chromium_page, open_operator, running_app

    dataset = altered_dataset
    field = config.DUPLICATE_GROUP_FIELD
    with running_app(tmp_path / "app.log") as app, chromium_page() as page:
        page.goto(app.dataset_url(dataset.name))
        page.wait_for_function("document.querySelectorAll('[data-cy=looker]').length >= 10", timeout=90_000)
        dismiss = page.get_by_role("button", name="Dismiss")  # the App's one-time promotion popover
        if dismiss.count():
            dismiss.click()
        open_operator(page, "find duplicate videos", "Distance threshold")
        page.get_by_role("button", name="Execute").click()
        page.get_by_text(f"{len(RECORDINGS)} groups, tagged").wait_for(timeout=120_000)
        page.get_by_role("button", name="Close").click()
        page.wait_for_function(f"document.querySelectorAll('[title^=\"{field}: \"]').length >= 10", timeout=60_000)
        page.wait_for_timeout(1000)  # let the visible tiles draw their stills
        page.screenshot(path=str(artifacts_dir / "duplicates_grid.png"))
        tiles = sorted(page.evaluate(TILE_GROUPS_JS, field), key=lambda t: (round(t["y"]), t["x"]))
        page_errors = list(page.errors)

    shown = [t["group"] for t in tiles if t["group"] is not None]
    assert len(shown) >= 10 and shown == sorted(shown) and shown[0] == 1  # group after group, from the first
    assert page_errors == []


def test_operator_without_embeddings_says_what_to_run(dataset_name):
    import fiftyone as fo

    from tests.test_operators import form_error

    dataset = fo.Dataset(dataset_name)
    dataset.add_sample(fo.Sample(filepath=str(CLIPS / RECORDINGS[0])))
    assert "No embeddings yet" in form_error("find_duplicate_videos", dataset.name)
