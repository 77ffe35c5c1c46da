"""Session-scoped data fixtures shared by every stage's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

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
