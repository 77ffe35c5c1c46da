"""Folder loader on a messy tree, and the load CLI's errors and end-to-end run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fiftyone_videorec.data.video_files import ffmpeg_convert, write_video


def _messy_tree(root):
    a = root / "train" / "walk"
    b = root / "test" / "run"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    mj = write_video(a / "mjpg.avi", fourcc="MJPG")
    write_video(a / "mp4v.mp4", fourcc="mp4v")
    ffmpeg_convert(mj, b / "h264.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p")
    ffmpeg_convert(mj, b / "clip.mkv", "-c:v", "libx264", "-pix_fmt", "yuv420p")
    ffmpeg_convert(mj, b / "frag.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                   "-movflags", "frag_keyframe+empty_moov")
    # a raw H.264 stream: no container duration (ffprobe says N/A), but OpenCV decodes it
    ffmpeg_convert(mj, b / "raw.h264", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "h264")
    ffmpeg_convert(mj, b / "anim.gif")
    (a / "empty.mp4").write_bytes(b"")
    data = (b / "h264.mp4").read_bytes()
    (a / "truncated.mp4").write_bytes(data[: len(data) // 8])
    (a / "notes.avi").write_text("this is not a video\n")
    return 7, 3


def test_messy_folder(tmp_path, dataset_name):
    from fiftyone_videorec.data.folder import load_folder

    good, bad = _messy_tree(tmp_path / "tree")
    dataset, summary = load_folder(tmp_path / "tree", dataset_name, cache_dir=tmp_path / "cache")
    assert summary.imported == good == len(dataset)
    assert len(summary.skipped) == bad
    assert summary.by_reason.get("empty file") == 1
    skipped = {p.rsplit("/", 1)[-1] for p, _ in summary.skipped}
    assert skipped == {"empty.mp4", "truncated.mp4", "notes.avi"}
    assert set(dataset.distinct("ground_truth.label")) == {"walk", "run"}
    assert all(fp.endswith(".mp4") for fp in dataset.values("filepath"))
    assert all(n and n > 0 for n in dataset.values("metadata.total_frame_count"))
    assert dataset.count_sample_tags() == {"train": 2, "test": 5}
    assert not dataset.has_field("videorec_import_warning")  # whole files of every kind: no false alarm
    # originals untouched and recorded; re-run adds nothing twice
    assert (tmp_path / "tree" / "test" / "run" / "anim.gif").exists()
    dataset, _ = load_folder(tmp_path / "tree", dataset_name, cache_dir=tmp_path / "cache")
    assert len(dataset) == good


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fiftyone_videorec", *args], capture_output=True, text=True)


@pytest.mark.parametrize("args,msg", [
    (["load", "synthetic", "--per-class", "6", "--split", "3,1,1"], "adds up to"),
    (["load", "synthetic", "--num-classes", "99"], "motion classes"),
    (["load", "dir", "/no/such/folder", "--dataset", "x"], "no folder"),
])
def test_cli_errors(args, msg):
    proc = _cli(*args)
    assert proc.returncode == 2
    assert msg in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_cli_empty_folder(tmp_path):
    proc = _cli("load", "dir", str(tmp_path), "--dataset", "x")
    assert proc.returncode == 2 and "no videos" in proc.stderr


@pytest.mark.pipeline
def test_cli_load_synthetic_end_to_end(tmp_path, dataset_name):
    import fiftyone as fo

    proc = _cli("load", "synthetic", "--num-classes", "3", "--per-class", "3", "--split", "1,1,1", "--frames", "20",
                "--size", "48", "--root", str(tmp_path / "clips"), "--dataset", dataset_name)
    assert proc.returncode == 0, proc.stderr
    assert f"dataset '{dataset_name}': 9 clips (train 3, val 3, test 3)" in proc.stdout
    dataset = fo.load_dataset(dataset_name)
    assert len(dataset) == 9 and dataset.media_type == "video"


def test_a_truncated_file_is_imported_by_name_with_its_reason(tmp_path, dataset_name):
    """The head of a 141-frame AVI opens and decodes a few frames: it is named, not silently short."""
    import fiftyone as fo

    from fiftyone_videorec import config

    folder = tmp_path / "tree" / "walk"
    folder.mkdir(parents=True)
    whole = write_video(folder / "whole.avi", fourcc="XVID", n_frames=141, size=(160, 120))
    head = folder / "head.avi"
    head.write_bytes(whole.read_bytes()[:20_000])
    proc = _cli("load", "dir", str(tmp_path / "tree"), "--dataset", dataset_name)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if "warning:" in ln)
    assert line.strip().startswith(f"warning: {head}: truncated: ") and "of 141 frames readable" in line
    assert "1 clips imported with a warning" in proc.stdout
    dataset = fo.load_dataset(dataset_name)
    warned = dataset.exists(config.IMPORT_WARNING_FIELD)
    assert len(dataset) == 2 and warned.values(config.ORIGINAL_PATH_FIELD) == [str(head)]
    assert warned.first().metadata.total_frame_count < 141 / 2
