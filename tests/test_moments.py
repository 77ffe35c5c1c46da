"""Moment search on real long videos (ffmpeg H.264), a real trained model and the test database."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fiftyone_videorec import config
from fiftyone_videorec.cli.main import main

FPS = 25
SEGMENT_FRAMES = 100  # 4 s per segment
LONG_VIDEOS = {"long_a": ("move_right", "rotate_cw", "grow"),
               "long_b": ("orbit_cw", "move_up", "shrink"),
               "long_c": ("move_left", "rotate_ccw", "orbit_ccw")}


def write_long_videos(root: Path, size: int = 64) -> dict[str, Path]:
    """Write three 12-second videos of three known 4-second motions each, a 1-second video, and two
    queries: a low-bitrate half-size copy of long_a's middle segment (4-8 s) and a file that is not a
    video; return their paths by name."""
    from fiftyone_videorec.data.synthetic import render_clip
    from fiftyone_videorec.data.video_files import ffmpeg_convert, write_h264

    rng = np.random.default_rng(3)
    files = {}
    for name, motions in LONG_VIDEOS.items():
        segments = [render_clip(motion, rng, frames=SEGMENT_FRAMES, size=size) for motion in motions]
        write_h264(np.concatenate(segments), root / f"{name}.mp4", fps=FPS)
        files[name] = root / f"{name}.mp4"
    write_h264(render_clip("grow", rng, frames=FPS, size=size), root / "short.mp4", fps=FPS)
    files["short"] = root / "short.mp4"
    files["copy"] = ffmpeg_convert(files["long_a"], root / "copy_of_middle.mp4", "-ss", "4", "-t", "4",
                                   "-vf", f"scale={size // 2}:{size // 2}", "-c:v", "libx264", "-b:v", "40k", "-an")
    files["not_video"] = root / "notes.mp4"
    files["not_video"].write_text("not a video")
    return files


@pytest.fixture(scope="module")
def long_videos(tmp_path_factory) -> dict[str, Path]:
    return write_long_videos(tmp_path_factory.mktemp("moments"))


@pytest.fixture
def long_dataset(long_videos, dataset_name):
    import fiftyone as fo

    dataset = fo.Dataset(dataset_name, persistent=True)
    dataset.add_samples([fo.Sample(filepath=str(long_videos[name]), name=name)
                         for name in (*LONG_VIDEOS, "short")])
    return dataset


def _iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def _search(capsys, *args) -> list[dict]:
    capsys.readouterr()
    assert main(["moments", "search", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_index_then_search_finds_the_copied_segment(long_dataset, long_videos, tiny_model_dir, capsys):
    ds = long_dataset
    assert main(["moments", "index", "--dataset", ds.name, "--model", str(tiny_model_dir)]) == 0
    out = capsys.readouterr().out
    short = ds.match({"name": "short"}).first()
    assert f"skipped {short.id}: video is 1.00 s long, shorter than the 2 s window" in out
    assert "moments of 3 videos embedded, 0 already done; 33 moments indexed" in out
    assert short[config.MOMENTS_FIELD] is None and "shorter than" in short[f"{config.MOMENTS_FIELD}_error"]
    long_a = ds.match({"name": "long_a"}).first()
    windows = long_a[config.MOMENTS_FIELD].detections
    assert [(d.start, d.end) for d in windows[:3]] == [(0, 2), (1, 3), (2, 4)] and len(windows) == 11
    assert windows[1].support == [26, 75] and len(windows[0].embedding) > 0

    found = _search(capsys, "--dataset", ds.name, "--video", str(long_videos["copy"]), "-k", "5")
    assert set(found[0]) == {"sample_id", "filepath", "start", "end", "score"}
    assert found[0]["sample_id"] == long_a.id
    assert _iou((found[0]["start"], found[0]["end"]), (4.0, 8.0)) >= 0.5
    assert [f["score"] for f in found] == sorted((f["score"] for f in found), reverse=True)

    per_video = _search(capsys, "--dataset", ds.name, "--video", str(long_videos["copy"]), "--per-video", "1")
    assert len({f["sample_id"] for f in per_video}) == len(per_video) == 3  # the short video has no moments

    # the query's own range is left out: long_a 4-8 s finds long_a elsewhere or another video, never 4-8 s
    own = _search(capsys, "--dataset", ds.name, "--sample-id", long_a.id, "--start", "4", "--end", "8", "-k", "10")
    assert all(not (f["sample_id"] == long_a.id and f["start"] < 8 and f["end"] > 4) for f in own)

    # re-running skips every video already done with this model and these settings
    ids_before = ds.values(f"{config.MOMENTS_FIELD}.detections.id")
    assert main(["moments", "index", "--dataset", ds.name, "--model", str(tiny_model_dir)]) == 0
    assert "moments of 0 videos embedded, 4 already done; 33 moments indexed" in capsys.readouterr().out
    assert ds.values(f"{config.MOMENTS_FIELD}.detections.id") == ids_before
    assert main(["moments", "index", "--dataset", ds.name, "--model", str(tiny_model_dir), "--force"]) == 0
    assert "moments of 3 videos embedded, 0 already done" in capsys.readouterr().out


def test_moments_are_clips_the_brain_index_and_the_app_view_work_on(long_dataset, long_videos, tiny_model_dir):
    import fiftyone_videorec as vr
    from fiftyone_videorec.search.moments import moment_brain_key, moment_range, moments_view

    ds = long_dataset
    summary = vr.index_moments(ds, tiny_model_dir, window=2.0, stride=1.0)
    assert (summary.embedded, summary.moments) == (3, 33) and len(summary.failed) == 1
    clips = ds.to_clips(config.MOMENTS_FIELD)
    assert len(clips) == 33
    query_clip = clips.first()
    nearest = clips.sort_by_similarity(query_clip.id, k=2, brain_key=moment_brain_key(config.MOMENTS_FIELD))
    assert nearest.first().id == query_clip.id
    assert moment_range(ds, query_clip.id) == (query_clip.sample_id, 0.0, 2.0)

    found = vr.find_moments(ds, str(long_videos["copy"]), k=3)
    view = moments_view(ds, found)
    assert view.values("id") == [m.moment_id for m in found]
    assert view.values(config.MOMENT_SCORE_FIELD) == pytest.approx([m.score for m in found], abs=1e-4)


def test_bad_input_is_one_line_and_exit_2_with_nothing_written(long_dataset, long_videos, tiny_model_dir, capsys):
    ds = long_dataset
    schema_before = set(ds.get_field_schema())
    for args in (["--stride", "0"], ["--stride", "-1"], ["--window", "0"]):
        assert main(["moments", "index", "--dataset", ds.name, "--model", str(tiny_model_dir), *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("videorec: error: --window and --stride must be positive") and err.count("\n") == 1
    assert set(ds.get_field_schema()) == schema_before and not ds.list_brain_runs()

    # a window longer than every video: each gets its reason, and the command fails in one line
    assert main(["moments", "index", "--dataset", ds.name, "--model", str(tiny_model_dir), "--window", "60"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no video" in err and not ds.list_brain_runs()
    assert ds.count(f"{config.MOMENTS_FIELD}_error") == 4

    assert main(["moments", "index", "--dataset", ds.name, "--model", str(tiny_model_dir)]) == 0
    capsys.readouterr()
    searches = (["--sample-id", "0" * 24],
                ["--video", str(long_videos["not_video"])],
                ["--video", str(long_videos["copy"].with_name("missing.mp4"))],
                ["--sample-id", ds.first().id, "--start", "5", "--end", "3"],
                ["--video", str(long_videos["copy"]), "-k", "0"])
    for args in searches:
        assert main(["moments", "search", "--dataset", ds.name, *args]) == 2, args
        captured = capsys.readouterr()
        assert captured.err.startswith("videorec: error: ") and captured.err.count("\n") == 1, args
        assert captured.out == ""


@pytest.mark.parametrize("fourcc", ["MJPG", "mp4v"])
def test_a_whole_video_is_sampled_in_one_pass_at_the_models_rate(tmp_path, fourcc):
    from fiftyone_videorec.data.video_files import write_video
    from fiftyone_videorec.frames import read_sampled

    path = write_video(tmp_path / f"v_{fourcc}.avi", fourcc=fourcc, n_frames=50, size=(64, 48), dx=1)
    video = read_sampled(path, frame_step=4, image_size=32, reference_fps=50.0)  # 4 frames at 50 fps: every 2nd at 25
    assert video.frames.shape == (25, 32, 32, 3) and video.fps == 25.0 and video.duration == pytest.approx(2.0)
    assert video.times[:3].tolist() == pytest.approx([0.0, 0.08, 0.16])


def test_operator_queries_with_the_selected_moment_and_refuses_without_an_index(long_dataset, tiny_model_dir):
    import fiftyone as fo

    from fiftyone_videorec.search.moments import index_moments
    from tests.test_operators import form_error, run, triggered

    ds = long_dataset
    assert "No moment index yet" in form_error("find_similar_moments", ds, {"k": 3})
    index_moments(ds, tiny_model_dir)
    selected = ds.to_clips(config.MOMENTS_FIELD).skip(4).first()  # long_a, 4-6 s
    result = run("find_similar_moments", ds, {"k": 3, "per_video": 1}, selected=[selected.id])
    found = result.result["results"]
    assert len(found) == 3 and len({f["sample_id"] for f in found}) == 3
    assert all(not (f["sample_id"] == selected.sample_id and f["start"] < 6 and f["end"] > 4) for f in found)
    (params,) = triggered(result, "set_view")
    view = fo.DatasetView._build(ds, params["view"])  # as the App rebuilds it from its stages
    assert view.values("id") == [f["moment_id"] for f in found]
    assert view.values(config.MOMENT_SCORE_FIELD) == pytest.approx([f["score"] for f in found], abs=1e-4)
