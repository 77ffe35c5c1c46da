"""Session-scoped data fixtures shared by every stage's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

DIRECTIONS = {"right": 3, "left": -3, "still": 0}
"""Motion classes of :func:`write_labelled_clips`: a square's horizontal speed in pixels per frame."""


def write_labelled_clips(root: Path, per_split=(2, 1, 1), classes: dict = DIRECTIONS) -> list[tuple[Path, str, str]]:
    """Write ``<split>/<label>/<i>.avi`` tiny real clips (12 frames, 40x32) of a moving square;
    return ``(path, label, split)`` for each. The one builder of small labelled folders in tests."""
    from fiftyone_videorec.data.video_files import write_video

    written = []
    for label, dx in classes.items():
        for split, count in zip(("train", "val", "test"), per_split):
            for i in range(count):
                path = write_video(root / split / label / f"{i}.avi", n_frames=12, size=(40, 32), dx=dx, seed=i)
                written.append((path, label, split))
    return written


SYNTH_OPTIONS = dict(num_classes=4, per_class=6, split=(4, 1, 1), frames=48, size=64, seed=0)
"""Small enough to generate in a few seconds: 4 motion classes x 6 clips, 48 frames of 64 px."""


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A read-only folder ``<split>/<class>/<class>_<nnn>.mp4`` of synthetic motion clips (H.264)."""
    from fiftyone_videorec.data.synthetic import generate_synthetic

    root = tmp_path_factory.mktemp("synthetic") / "clips"
    generate_synthetic(root, show_bar=False, **SYNTH_OPTIONS)
    return root


@pytest.fixture(scope="session")
def synthetic_dataset(synthetic_root):
    """A persistent FiftyOne video dataset of ``synthetic_root`` (tags train/val/test, ``ground_truth``).

    Shared by the whole session: treat it as read-only (clone it before changing it).
    """
    from fiftyone_videorec.data.synthetic import load_synthetic

    return load_synthetic("videorec-test-synthetic", root=synthetic_root, overwrite=True, show_bar=False,
                          **SYNTH_OPTIONS)
