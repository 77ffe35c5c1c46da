"""Session-scoped model fixtures shared by every stage's tests."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(synthetic_dataset, tmp_path_factory) -> Path:
    """A model folder trained with preset "tiny" for 2 epochs on ``synthetic_dataset`` (read-only)."""
    from fiftyone_videorec.network.training import train

    out = tmp_path_factory.mktemp("tiny-model")
    train(synthetic_dataset.name, out, preset="tiny", epochs=2)
    return out
