"""The second synthetic set (motion families): layout, determinism, resuming, errors, and real motions."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fiftyone_videorec.data.motion_families import (CLASSES, background_frames, generate_motion_families,
                                                    render_clip)
from fiftyone_videorec.errors import VideorecError

TINY = dict(per_class_split=(2, 1, 1), frames=24, width=64, height=48)
SEEDS = range(4)


def decode(path: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return np.stack(frames)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("motion_families") / "a"
    calls = []
    clips = generate_motion_families(root, seed=3, progress=lambda f, label: calls.append(f), **TINY)
    return root, clips, calls


def test_layout_and_counts(tiny_set):
    root, clips, calls = tiny_set
    assert len(CLASSES) == 10 and len(clips) == 10 * 4
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.mp4"))
    assert files == sorted(c.relpath for c in clips)
    assert not [p for p in root.rglob("*") if p.is_file() and p.suffix != ".mp4"]  # no temp files left
    for label in CLASSES:
        mine = [c for c in clips if c.label == label]
        assert [c.split for c in mine] == ["train", "train", "val", "test"]
        assert all(c.relpath == f"{c.split}/{label}/{label}_{i:03d}.mp4" for i, c in enumerate(mine))
    video = decode(root / clips[0].relpath)
    assert video.shape == (24, 48, 64, 3)
    assert calls[-1] == 1.0 and len(calls) == 40


def test_same_seed_same_pixels_other_seed_differs(tiny_set, tmp_path):
    root, clips, _ = tiny_set
    same = generate_motion_families(tmp_path / "same", seed=3, **TINY)
    other = generate_motion_families(tmp_path / "other", seed=4, **TINY)
    assert same == clips == other
    for c in clips[::3]:
        a = decode(root / c.relpath)
        assert np.array_equal(a, decode(tmp_path / "same" / c.relpath))
        assert not np.array_equal(a, decode(tmp_path / "other" / c.relpath))
    a = render_clip("swing", np.random.default_rng(9), 24, 64, 48)
    assert np.array_equal(a, render_clip("swing", np.random.default_rng(9), 24, 64, 48))
    assert a.dtype == np.uint8 and a.shape == (24, 48, 64, 3)


def test_second_call_writes_nothing_and_a_lost_file_comes_back_identical(tiny_set):
    root, clips, _ = tiny_set
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*.mp4")}
    calls = []
    assert generate_motion_families(root, seed=3, progress=lambda f, label: calls.append(f), **TINY) == clips
    assert calls == [] and before == {p: p.stat().st_mtime_ns for p in root.rglob("*.mp4")}
    lost = root / clips[5].relpath
    data = lost.read_bytes()
    lost.unlink()
    generate_motion_families(root, seed=3, **TINY)
    assert lost.read_bytes() == data
    assert [p for p in before if p != lost and p.stat().st_mtime_ns != before[p]] == []


@pytest.mark.parametrize("kwargs, words", [
    (dict(per_class_split=(2, 1)), "per_class_split"),
    (dict(per_class_split=(0, 0, 0)), "per_class_split"),
    (dict(per_class_split=(2, -1, 1)), "per_class_split"),
    (dict(frames=3), "frames"),
    (dict(width=63), "width"),
    (dict(height=16), "height"),
    (dict(seed=-1), "seed"),
])
def test_bad_arguments_give_one_line_errors(tmp_path, kwargs, words):
    with pytest.raises(VideorecError) as err:
        generate_motion_families(tmp_path / "x", **{**TINY, **kwargs})
    msg = str(err.value)
    assert words in msg and "\n" not in msg and repr(next(iter(kwargs.values()))) in msg  # names the bad value
    assert not (tmp_path / "x").exists()
    with pytest.raises(VideorecError, match="unknown motion class 'spin'"):
        render_clip("spin", np.random.default_rng(0), 24, 64, 48)


def track(label: str, seed: int):
    """The main object's centroid, area and mask per frame (tiny size, rendered in memory)."""
    rng = np.random.default_rng([seed, CLASSES.index(label)])
    video, masks = render_clip(label, rng, 24, 64, 48, with_mask=True)
    area = masks.sum(axis=(1, 2))
    assert area.min() > 3, f"{label}: the object left the frame"
    ys, xs = np.mgrid[0:48, 0:64]
    cx, cy = (masks * xs).sum(axis=(1, 2)) / area, (masks * ys).sum(axis=(1, 2)) / area
    return video, masks, cx, cy, area


@pytest.mark.parametrize("seed", SEEDS)
def test_translate_right_and_left_move_the_object_that_way(seed):
    _, _, right, _, _ = track("translate_right", seed)
    _, _, left, _, _ = track("translate_left", seed)
    assert right[-1] - right[0] > 5 and np.polyfit(np.arange(24), right, 1)[0] > 0.2
    assert left[-1] - left[0] < -5 and np.polyfit(np.arange(24), left, 1)[0] < -0.2


@pytest.mark.parametrize("seed", SEEDS)
def test_zoom_in_grows_and_zoom_out_shrinks_the_object(seed):
    assert np.all(np.diff(track("zoom_in", seed)[4]) > -1)
    assert track("zoom_in", seed)[4][-1] > 1.4 * track("zoom_in", seed)[4][0]
    area = track("zoom_out", seed)[4]
    assert area[-1] < area[0] / 1.4


def rotation_step(a: np.ndarray, b: np.ndarray) -> float:
    """The angle (cv2 sense: + is counter-clockwise on screen) that best turns mask a into mask b."""
    ys, xs = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    ga, gb = [np.array([(m * xs).sum(), (m * ys).sum()]) / m.sum() for m in (a, b)]
    errs = []
    angles = np.arange(-64, 65, 2.0)
    for t in angles:  # turn about a's centroid, then move that centroid onto b's
        mat = cv2.getRotationMatrix2D((float(ga[0]), float(ga[1])), t, 1.0)
        mat[:, 2] += gb - ga
        errs.append(np.abs(cv2.warpAffine(a, mat, a.shape[::-1]) - b).sum())
    return float(angles[int(np.argmin(errs))])


@pytest.mark.parametrize("seed", SEEDS)
def test_rotate_cw_turns_clockwise_on_screen(seed):
    for label, sign in (("rotate_cw", -1), ("rotate_ccw", 1)):
        masks = track(label, seed)[1]  # 8 frames turn it by 20-56 degrees
        steps = [rotation_step(masks[i], masks[i + 8]) for i in (0, 8, 15)]
        assert all(sign * s >= 10 for s in steps), (label, steps)


@pytest.mark.parametrize("seed", SEEDS)
def test_orbits_swing_and_bounce_have_their_shapes(seed):
    def signed_area(x, y):  # > 0: clockwise on screen (y points down)
        x, y = x - x.mean(), y - y.mean()
        return float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))

    assert signed_area(*track("orbit_cw", seed)[2:4]) > 50
    assert signed_area(*track("orbit_ccw", seed)[2:4]) < -50
    _, _, x, y, _ = track("swing", seed)
    assert np.ptp(x) > 8 and np.ptp(x) > 1.5 * np.ptp(y)
    _, _, x, y, _ = track("bounce", seed)
    assert np.ptp(y) > 8 and np.ptp(y) > 2 * np.ptp(x)
    assert np.any(np.diff(y) < 0) and np.any(np.diff(y) > 0)  # up and down again


def test_translate_shakes_the_camera_and_the_main_object_stands_out():
    rng = np.random.default_rng(0)  # a busy background dominates the frame-to-frame shift
    busy = cv2.resize(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8), (320, 240), interpolation=cv2.INTER_NEAREST)

    def camera_motion(label, seed):
        grey = render_clip(label, np.random.default_rng(seed), 24, 64, 48, [busy]).astype(np.float32).mean(axis=3)
        return np.median([np.hypot(*cv2.phaseCorrelate(grey[i], grey[i + 1])[0]) for i in range(23)])

    shaky = [camera_motion("translate_right", seed) for seed in SEEDS]
    steady = [camera_motion("rotate_cw", seed) for seed in SEEDS]  # some have a little shake
    assert min(shaky) > 0.4 and np.mean(shaky) > 2 * np.mean(steady), (shaky, steady)
    for label in CLASSES:  # the main object stands out from what is around it
        video, masks, *_ = track(label, 2)
        near = np.stack([cv2.dilate(m, np.ones((7, 7), np.uint8)) for m in masks]) > 0
        inside, around = masks > 0.5, near & (masks < 0.05)
        lum = video.astype(np.float32).mean(axis=3)
        assert abs(lum[inside].mean() - lum[around].mean()) > 20, label


def test_photographic_backgrounds_from_real_videos(tmp_path):
    rng = np.random.default_rng(0)
    photo = cv2.resize(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8), (160, 120), interpolation=cv2.INTER_CUBIC)
    writer = cv2.VideoWriter(str(tmp_path / "real.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 120))
    for i in range(10):
        writer.write(np.roll(photo, 3 * i, axis=1))
    writer.release()
    (tmp_path / "notes.txt").write_text("not a video")
    frames = background_frames([tmp_path / "real.avi", tmp_path / "missing.mp4"], np.random.default_rng(1))
    assert len(frames) == 3 and frames[0].shape == (120, 160, 3)
    a = render_clip("orbit_cw", np.random.default_rng(2), 24, 64, 48, frames)
    assert a.shape == (24, 48, 64, 3)
    split = dict(TINY, per_class_split=(1, 0, 0))
    with_bg = generate_motion_families(tmp_path / "bg", seed=1, background_videos=tmp_path, **split)
    plain = generate_motion_families(tmp_path / "plain", seed=1, background_videos=tmp_path / "empty", **split)
    assert with_bg == plain and len(plain) == 10
    c = plain[0].relpath
    assert not np.array_equal(decode(tmp_path / "bg" / c), decode(tmp_path / "plain" / c))
