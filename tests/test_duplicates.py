"""Copies told apart from look-alikes, on the project's own real clips and their altered copies.

Ten real recordings from ``benchmarks/clips`` each appear as themselves (train) and as copies made
by ffmpeg (test): a heavy re-encode, half size, 25 % and corner crops, letterbox and pillarbox,
half frame rate, brightness/contrast, a horizontal flip, a caption with a watermark; the long ones
also as a 3-second excerpt and two overlapping cuts. Copies are pairs from one recording that
overlap in time; different recordings of the same action are not copies. Among the ten: three
recordings of people waving and two of soccer juggling, the three recordings that
``benchmarks/duplicates.md`` finds closest to one another, and the one whose copies lie furthest
from each other.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fiftyone_videorec import config

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT / "benchmarks" / "clips"
RECORDINGS = ("Basketball__g01c01.avi", "Cartwheel__PippiMichel6.avi", "Handstand__Bodenturnen1.mp4",
              "RidingSegway__R6llTwEh07w.mp4", "SoccerJuggling__g23c01.avi", "SoccerJuggling__g24c01.avi",
              "Talk__Fellowship4.mp4", "Wave__RatRace37.avi", "Wave__SchoolRules0.avi", "Wave__TrumanShow26.avi")
DATASET = "videorec-test-duplicates"


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """The copy set's clips (``CopyClip``) of ``RECORDINGS``; the AVI originals also as H.264 MP4s,
    as 'load dir' keeps them (``filepath`` the MP4, ``original_filepath`` the user's AVI)."""
    from fiftyone_videorec.data import real_footage
    from fiftyone_videorec.data.copy_sets import build_copy_set

    recordings = [rec for rec in real_footage.read_manifest(CLIPS) if rec.path.name in RECORDINGS]
    return build_copy_set(recordings, tmp_path_factory.mktemp("copies"))


@pytest.fixture(scope="module")
def copies_dataset(copies, tmp_path_factory):
    """``copies`` in a dataset: originals tagged train, copies test; fields say which recording and seconds."""
    import fiftyone as fo

    from fiftyone_videorec.data.video_files import ffmpeg_convert

    cache = tmp_path_factory.mktemp("transcoded")
    samples = []
    for clip in copies:
        path = clip.path
        if path.suffix == ".avi":
            path = ffmpeg_convert(path, cache / f"{path.stem}.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-an")
        samples.append(fo.Sample(filepath=str(path), tags=["train" if clip.alteration == "original" else "test"],
                                 recording=clip.recording, alteration=clip.alteration, clip_start=clip.start,
                                 clip_end=clip.end, **{config.ORIGINAL_PATH_FIELD: str(clip.path)}))
    dataset = fo.Dataset(DATASET, overwrite=True)
    dataset.add_samples(samples)
    yield dataset
    dataset.delete()


def test_black_bars_are_cut_and_a_dark_video_is_kept_whole():
    from fiftyone_videorec.curation.copy_detection import content_box

    rng = np.random.default_rng(0)
    frames = np.zeros((3, 100, 120, 3), np.uint8)
    frames[:, 20:80, 10:110] = rng.integers(40, 255, (3, 60, 100, 3), dtype=np.uint8)
    assert content_box(frames) == (20, 80, 10, 110)
    assert content_box(np.full((2, 50, 50, 3), 5, np.uint8)) == (0, 50, 0, 50)


@pytest.mark.parametrize("fps, frames", [(25.0, 50), (12.5, 25)])
def test_frames_are_sampled_by_time_at_any_frame_rate(tmp_path, fps, frames):
    from fiftyone_videorec.curation.copy_detection import sampled_frames
    from fiftyone_videorec.data.video_files import write_video

    path = write_video(tmp_path / "clip.avi", n_frames=frames, size=(48, 32), fps=fps)
    assert len(list(sampled_frames(path, rate=2.0))) == 4  # two seconds, two frames per second


def test_alignment_candidates_and_groups_on_known_descriptors():
    from fiftyone_videorec.curation.copy_detection import align, candidate_pairs, connected_groups
    from fiftyone_videorec.vectors import l2_normalize

    rng = np.random.default_rng(1)
    reference = l2_normalize(rng.standard_normal((20, 32)))
    excerpt = l2_normalize(reference[6:12] + 0.05 * rng.standard_normal((6, 32)))
    found = align(excerpt, reference, rate=2.0)
    assert (found.start, found.end) == (3.0, 6.0) and found.score > 0.95
    vectors = l2_normalize(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]))
    assert candidate_pairs(vectors, k=1).tolist() == [[0, 1], [2, 3]]
    assert connected_groups(5, [(0, 1, 0.1), (3, 1, 0.1)]) == [[0, 1, 3]]


def test_an_unreadable_video_is_named_and_left_out(dataset_name, tmp_path, capsys):
    import fiftyone as fo

    from fiftyone_videorec.cli.main import main
    from fiftyone_videorec.data.video_files import write_video

    paths = [write_video(tmp_path / f"{i}.avi", n_frames=30, size=(64, 48), dx=2, seed=i) for i in range(2)]
    (tmp_path / "notes.mp4").write_text("not a video")
    dataset = fo.Dataset(dataset_name)
    dataset.add_samples([fo.Sample(filepath=str(p)) for p in [*paths, tmp_path / "notes.mp4"]], progress=False)
    capsys.readouterr()
    assert main(["duplicates", "--dataset", dataset_name, "--json"]) == 0
    captured = capsys.readouterr()
    bad = dataset.match({"filepath": str(tmp_path / "notes.mp4")}).first().id
    assert f"skipped {bad}: " in captured.err  # on stderr with --json; stdout is the JSON alone
    assert all(bad not in group["ids"] for group in json.loads(captured.out))
    assert len(dataset.exists(config.DUPLICATE_DESCRIPTOR_FIELD)) == 2


def _pair_precision_recall(dataset, groups) -> tuple[float, float]:
    """Pair precision and recall of ``groups``: true pairs come from one recording and overlap in time."""
    ids, recordings, starts, ends = dataset.values(["id", "recording", "clip_start", "clip_end"])
    span = {sid: (rec, start, end) for sid, rec, start, end in zip(ids, recordings, starts, ends)}
    truth = {frozenset((a, b)) for a, b in itertools.combinations(ids, 2)
             if span[a][0] == span[b][0] and min(span[a][2], span[b][2]) > max(span[a][1], span[b][1])}
    found = {frozenset(pair) for group in groups for pair in itertools.combinations(group.ids, 2)}
    return (len(found & truth) / len(found) if found else 0.0), len(found & truth) / len(truth)


def test_copies_are_grouped_with_pair_precision_and_recall_of_at_least_095(copies_dataset):
    from fiftyone_videorec.curation.duplicates import find_duplicates

    groups = find_duplicates(copies_dataset)
    precision, recall = _pair_precision_recall(copies_dataset, groups)
    print(f"\n{len(groups)} groups; pair precision {precision:.3f}, recall {recall:.3f} "
          f"at threshold {config.DUPLICATE_THRESHOLD}")
    assert precision >= 0.95 and recall >= 0.95
    assert len(groups) == len(RECORDINGS)


def test_the_threshold_holds_with_every_pair_scored(copies_dataset):
    """Not only each video's nearest neighbours: with every pair given the aligned score, the default
    threshold still joins no two recordings and misses no copy (what a larger library would test)."""
    from fiftyone_videorec.curation.copy_detection import copy_score, group_copies
    from fiftyone_videorec.curation.duplicates import compute_copy_descriptors

    compute_copy_descriptors(copies_dataset)  # done already when the test before ran
    descriptors = [np.asarray(d) for d in copies_dataset.values(config.DUPLICATE_DESCRIPTOR_FIELD)]
    recordings = copies_dataset.values("recording")
    groups = group_copies(descriptors, k=len(descriptors) - 1)
    assert sorted({recordings[i] for i in group.members} for group in groups) == [{r} for r in sorted(set(recordings))]
    assert sum(len(group.members) for group in groups) == len(descriptors)
    other = [copy_score(descriptors[i], descriptors[j]) for i, j in itertools.combinations(range(len(descriptors)), 2)
             if recordings[i] != recordings[j]]
    print(f"\nclosest different recordings: distance {1 - max(other):.3f} (threshold {config.DUPLICATE_THRESHOLD})")
    assert 1 - max(other) > config.DUPLICATE_THRESHOLD


def test_the_excerpt_is_found_where_it_was_cut(copies_dataset, copies):
    from fiftyone_videorec.curation.duplicates import find_duplicates

    excerpts = [clip for clip in copies if clip.alteration == "excerpt"]
    assert excerpts
    alteration_of = dict(zip(*copies_dataset.values(["id", "alteration"])))
    start_of = dict(zip(*copies_dataset.values(["id", "clip_start"])))
    for group in find_duplicates(copies_dataset):
        members = [alteration_of[sid] for sid in group.ids]
        if "excerpt" not in members:
            continue
        assert start_of[group.ids[0]] == 0  # the first clip covers the recording from its start
        clip = next(c for c in excerpts if c.recording == copies_dataset[group.ids[0]]["recording"])
        start, end = group.spans[members.index("excerpt")]
        print(f"\n{clip.recording}: excerpt found at {start:.2f}-{end:.2f} s, cut at {clip.start:.2f}-{clip.end:.2f} s")
        assert abs(start - clip.start) <= 1.0 and abs(end - clip.end) <= 1.0
        excerpts.remove(clip)
    assert not excerpts, f"excerpts not found: {[c.recording for c in excerpts]}"


def test_cli_prints_the_groups_as_json_and_marks_them_for_the_app(copies_dataset, capsys):
    from fiftyone_videorec.cli.main import main

    dataset = copies_dataset
    assert main(["duplicates", "--dataset", dataset.name, "--json", "--mark"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert len(groups) == len(RECORDINGS)
    assert all(set(group) == {"ids", "filepaths", "max_distance", "spans"} for group in groups)
    assert all(len(group["ids"]) == len(group["filepaths"]) == len(group["spans"]) for group in groups)
    paths = {path for group in groups for path in group["filepaths"]}
    assert {str(CLIPS / name) for name in RECORDINGS} <= paths  # the user's AVIs, not the transcoded MP4s
    dataset.reload()
    numbers = dict(zip(*dataset.values(["id", config.DUPLICATE_GROUP_FIELD])))
    assert {numbers[sid] for sid in groups[0]["ids"]} == {1}
    assert dataset.count_sample_tags()[config.DUPLICATE_TAG] == sum(len(group["ids"]) for group in groups)


def test_leaks_are_the_groups_across_train_and_test(copies_dataset, capsys):
    from fiftyone_videorec.cli.main import main

    assert main(["leaks", "--dataset", copies_dataset.name, "--json"]) == 0
    leaks = json.loads(capsys.readouterr().out)
    assert len(leaks) == len(RECORDINGS)  # each original (train) has its copies in test
    assert all(sorted(map(tuple, leak["splits"])).count(("train",)) == 1 for leak in leaks)


@pytest.mark.parametrize("args, message", [
    (["--threshold", "0"], "threshold must be"),
    (["--threshold", "-0.1"], "threshold must be"),
    (["--field", "filepath"], "not copy descriptors"),
    (["--field", "tags"], "not copy descriptors"),
])
def test_bad_input_is_one_line_and_exit_2(copies_dataset, capsys, args, message):
    from fiftyone_videorec.cli.main import main

    assert main(["duplicates", "--dataset", copies_dataset.name, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_unknown_dataset_is_one_line_and_exit_2(capsys):
    from fiftyone_videorec.cli.main import main

    for command in ("duplicates", "leaks"):
        assert main([command, "--dataset", "no-such-dataset"]) == 2
        err = capsys.readouterr().err
        assert "does not exist" in err and len(err.strip().splitlines()) == 1, err


def test_operator_shows_the_groups_together_and_refuses_a_bad_threshold(copies_dataset):
    from tests.test_operators import form_error, run, triggered

    dataset = copies_dataset
    result = run("find_duplicate_videos", dataset.name, {"threshold": config.DUPLICATE_THRESHOLD})
    groups = result.result["groups"]
    assert len(groups) == len(RECORDINGS)
    view = triggered(result, "set_view")
    assert view, "the App's view was not set"
    assert "The threshold must be" in form_error("find_duplicate_videos", dataset.name, {"threshold": 0})


def test_operator_on_one_video_says_why(dataset_name):
    import fiftyone as fo

    from tests.test_operators import run

    dataset = fo.Dataset(dataset_name)
    dataset.add_sample(fo.Sample(filepath=str(CLIPS / RECORDINGS[0])))
    result = run("find_duplicate_videos", dataset.name, {})
    assert "need two or more decodable videos" in result.result["error"]


TILE_GROUPS_JS = """(field) => Array.from(document.querySelectorAll('[data-cy="looker"]')).map(el => {
    const box = el.getBoundingClientRect();
    const title = Array.from(el.querySelectorAll('[title]')).map(t => t.title).find(t => t.startsWith(field + ': '));
    return {x: box.x, y: box.y, group: title ? Number(title.split(': ')[1]) : null};
})"""


@pytest.mark.browser
def test_the_app_shows_each_group_together(copies_dataset, tmp_path, artifacts_dir):
    """Run find_duplicate_videos from the App's operator browser; the grid lists the groups in order."""
    from tests.app import chromium_page, open_operator, running_app

    dataset = copies_dataset
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


def test_the_benchmark_runs_quick_and_reports_every_figure(tmp_path):
    """``scripts/benchmark.py duplicates --quick``: the script works end to end at tiny sizes."""
    import os

    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), "duplicates", "--quick", "--out",
                           str(out)], capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "VIDEOREC_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "duplicates.json").read_text())
    assert (out / "duplicates.md").read_text().startswith("#")
    for method in ("copy_descriptor", "imagenet_pooled", "thumbnail_8x8"):
        row = result["methods"][method]
        assert 0 <= row["at_default"]["precision"] <= 1 and 0 <= row["at_default"]["recall"] <= 1, method
    assert result["scores"]["copies"]["count"] > 0 and result["scores"]["non_copies"]["count"] > 0
    assert result["excerpts"] and all("error_s" in e for e in result["excerpts"])
    assert {row["clips"] for row in result["speed"]["library"]} >= {100}
    assert all(row["seconds"] > 0 and row["pairs_per_s"] > 0 for row in result["speed"]["library"])
