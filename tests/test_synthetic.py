"""The synthetic motion set: seeded, H.264, exact splits, classes defined by motion only."""

from __future__ import annotations

import hashlib
import json
import subprocess

import cv2
import numpy as np
import pytest

from fiftyone_videorec.data.synthetic import MOTIONS, check_options, generate_synthetic, render_clip
from fiftyone_videorec.errors import VideorecError
from tests.fixtures_data import SYNTH_OPTIONS


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.mp4"))}


def test_same_seed_same_files(tmp_path, synthetic_root):
    opts = dict(SYNTH_OPTIONS, num_classes=2)
    generate_synthetic(tmp_path / "a", show_bar=False, **opts)
    generate_synthetic(tmp_path / "b", show_bar=False, **opts)
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a == b and len(a) == 2 * opts["per_class"]


def test_counts_per_split_and_layout(synthetic_root):
    for split, n in zip(("train", "val", "test"), SYNTH_OPTIONS["split"]):
        for label in MOTIONS[:SYNTH_OPTIONS["num_classes"]]:
            files = sorted((synthetic_root / split / label).glob(f"{label}_*.mp4"))
            assert len(files) == n


def test_h264_output(synthetic_root):
    f = next(synthetic_root.rglob("*.mp4"))
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=codec_name,pix_fmt,nb_frames", "-of", "json", str(f)],
                         capture_output=True, text=True, check=True).stdout
    s = json.loads(out)["streams"][0]
    assert s["codec_name"] == "h264" and s["pix_fmt"] == "yuv420p"
    assert int(s["nb_frames"]) == SYNTH_OPTIONS["frames"]


def _centroid_dx(frames):
    """Median per-frame shift of the moving object's centroid (foreground = far from the median frame)."""
    f = frames.astype(np.float32)
    fg = np.abs(f - np.median(f, axis=0)).sum(-1) > 60
    xs = np.arange(f.shape[2])
    cx = [float((m.sum(0) * xs).sum() / m.sum()) for m in fg if m.sum() > 0]
    return float(np.median(np.diff(cx)))


def test_time_reversed_move_right_moves_left():
    rng = np.random.default_rng(5)
    right = render_clip("move_right", rng, frames=30, size=64)
    left = render_clip("move_left", np.random.default_rng(6), frames=30, size=64)
    assert _centroid_dx(right) > 0.05
    assert _centroid_dx(right[::-1]) < -0.05
    assert _centroid_dx(left) < -0.05


def test_bad_options_are_clear():
    with pytest.raises(VideorecError, match="adds up to"):
        check_options(3, 10, "5,2,2", 30, 64)
    with pytest.raises(VideorecError, match="motion classes"):
        check_options(len(MOTIONS) + 1, None, None, 30, 64)


def test_per_class_alone_scales_the_default_split():
    assert check_options(3, None, None, 30, 64) == (50, (30, 10, 10))
    assert check_options(3, 5, None, 30, 64) == (5, (3, 1, 1))
    assert check_options(3, None, "4,1,1", 30, 64) == (6, (4, 1, 1))


@pytest.mark.parametrize("split", ["5,2", "a,b,c", (0, 2, 2), (4, -1, 1), "4,1,1,", (4.5, 1, 1)])
def test_a_bad_split_is_refused_in_the_same_words_as_for_ucf101(split):
    from fiftyone_videorec.data.ucf101 import choose_subset

    with pytest.raises(VideorecError) as synthetic:
        check_options(3, None, split, 30, 64)
    with pytest.raises(VideorecError) as ucf101:
        choose_subset([], split=split)
    assert str(synthetic.value) == str(ucf101.value) and "\n" not in str(synthetic.value)


def test_load_checks_its_options_once_and_reports_progress_in_order(synthetic_root, dataset_name, monkeypatch):
    from fiftyone_videorec.data import synthetic

    checks, calls = [], []
    check = synthetic.check_options
    monkeypatch.setattr(synthetic, "check_options", lambda *args: checks.append(args) or check(*args))
    dataset = synthetic.load_synthetic(dataset_name, root=synthetic_root, show_bar=False,
                                       progress=lambda fraction, label: calls.append(fraction), **SYNTH_OPTIONS)
    assert len(checks) == 1 and len(dataset) == sum(SYNTH_OPTIONS["split"]) * SYNTH_OPTIONS["num_classes"]
    assert calls == sorted(calls) and calls[-1] == 1.0 and all(0.8 <= f <= 1.0 for f in calls)  # clips all there
