"""Curation in the App: the curate operator run from the operator browser sorts the grid by mistakenness."""

from __future__ import annotations

import pytest

from fiftyone_videorec import config

CLIPS = ("SoccerJuggling__g23c01.avi", "SoccerJuggling__g24c01.avi", "RidingSegway__R6llTwEh07w.mp4",
         "RidingSegway__SOX5yA1l24A.mp4", "Basketball__g01c01.avi", "Basketball__torchvisionGallery.mp4",
         "Wave__RatRace37.avi", "Wave__SchoolRules0.avi")
"""Real recordings, two of each of four actions."""

TILES_JS = """(field) => Array.from(document.querySelectorAll('[data-cy="looker"]')).map(el => {
    const box = el.getBoundingClientRect();
    const title = Array.from(el.querySelectorAll('[title]')).map(t => t.title).find(t => t.startsWith(field + ': '));
    return {x: box.x, y: box.y, value: title ? Number(title.split(': ')[1]) : null};
})"""


@pytest.fixture
def predicted(dataset_name, tmp_path):
    """Eight real clips labelled by action, one label wrong, with a tiny model's predictions (with logits)."""
    import fiftyone as fo

    from fiftyone_videorec.embedding.predictions import predict_dataset
    from fiftyone_videorec.network.training import train
    from tests.app import real_clip_dataset

    dataset = real_clip_dataset(dataset_name, tmp_path / "clips", CLIPS, seconds=3, seed=5)
    actions = [label.split()[0] for label in dataset.values(f"{config.LABEL_FIELD}.label")]
    dataset.set_values(config.LABEL_FIELD, [fo.Classification(label=a) for a in actions])
    dataset.tag_samples(config.TRAIN_TAG)
    train(dataset, tmp_path / "model", preset="tiny", epochs=3)
    predict_dataset(dataset, tmp_path / "model")
    wrong = dataset.first()
    wrong[config.LABEL_FIELD] = fo.Classification(label="Wave" if actions[0] != "Wave" else "Basketball")
    wrong.save()
    return dataset


@pytest.mark.browser
def test_the_app_sorts_the_grid_by_mistakenness(predicted, tmp_path, artifacts_dir):
    from tests.app import chromium_page, open_grid, open_operator, running_app

    dataset = predicted
    with running_app(tmp_path / "app.log") as app, chromium_page() as page:
        open_grid(page, app, dataset)
        open_operator(page, "score label mistakes", "Mistakenness")
        page.get_by_role("button", name="Execute").click()
        page.get_by_text(f"Mistakenness ({len(dataset)} videos), highest first").wait_for(timeout=120_000)
        page.get_by_role("button", name="Close").click()
        page.wait_for_function("document.querySelectorAll('[title^=\"mistakenness: \"]').length >= "
                               f"{len(dataset)}", timeout=60_000)
        page.wait_for_timeout(1000)  # let the tiles draw their stills
        page.screenshot(path=str(artifacts_dir / "curate_mistakenness.png"))
        tiles = sorted(page.evaluate(TILES_JS, "mistakenness"), key=lambda t: (round(t["y"]), t["x"]))
        page_errors = list(page.errors)

    shown = [t["value"] for t in tiles if t["value"] is not None]
    dataset.reload()
    assert len(shown) == len(dataset) and shown == sorted(shown, reverse=True)  # the grid, highest first
    assert shown[0] == pytest.approx(max(dataset.values("mistakenness")), abs=1e-3)
    assert dataset.count("hardness") == dataset.count("uniqueness") == len(dataset)  # each ticked score written
    assert page_errors == []
