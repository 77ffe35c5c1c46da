"""The "Similar videos" panel in the real FiftyOne App: open a clip, read the tiles, go on, click one.

Also what the panel lays out (``browse.panel_items``) and what it asks for without an index.

The App server runs in a subprocess on a free loopback port; Debian's Chromium drives it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fiftyone_videorec import config
from tests.app import chromium_page, open_grid, real_clip_dataset, running_app

REAL_CLIPS = ("SoccerJuggling__g23c01.avi", "SoccerJuggling__g24c01.avi", "RidingSegway__R6llTwEh07w.mp4",
              "RidingSegway__SOX5yA1l24A.mp4", "Basketball__g01c01.avi", "Basketball__torchvisionGallery.mp4",
              "Wave__RatRace37.avi", "Wave__SchoolRules0.avi")
"""Real recordings from benchmarks/clips, two takes of four actions: stills a person can tell apart."""


@pytest.fixture
def panel_dataset(tmp_path, dataset_name):
    """Eight real clips as H.264 MP4s with fixed embeddings, source groups and a cosine index.

    Clips of one action get nearby vectors, so a clip's nearest neighbour is the other take of its
    action; each take is its own source group.
    """
    return real_clip_dataset(dataset_name, tmp_path, REAL_CLIPS, seconds=3, seed=11, groups=True)


STILLS = 'img[src*="thumbnails"]'
"""The panel's stills: the only images served from the thumbnails folder."""

TILES_JS = """(sel) => Array.from(document.querySelectorAll(sel)).map(img => ({
    alt: img.alt, text: img.parentElement.parentElement.parentElement.innerText}))"""
COUNT_JS = """([sel, n]) => { const imgs = Array.from(document.querySelectorAll(sel));
    return imgs.length == n && imgs.every(img => img.complete && img.naturalWidth > 0); }"""


def _open_id(page) -> str:
    """The id of the sample the modal shows (the App keeps it in the page's address)."""
    from urllib.parse import parse_qs, urlparse

    return parse_qs(urlparse(page.url).query)["id"][0]


def _panel_tiles(page, count: int) -> list[dict]:
    """Wait until the panel shows ``count`` loaded stills; return its tiles in order as {label, score}."""
    import re

    page.wait_for_function(COUNT_JS, arg=[STILLS, count], timeout=60_000)
    tiles = []
    for tile in page.evaluate(TILES_JS, STILLS):
        score = re.search(r"score (-?[0-9.]+)", tile["text"])
        tiles.append({"label": tile["alt"], "score": float(score.group(1)) if score else None})
    return tiles


def _expected(dataset, sample_id: str) -> list[dict]:
    """What the panel must show for ``sample_id``: recommend()'s clips, in its order, with its scores."""
    from fiftyone_videorec.search.similarity import recommend

    return [{"id": r.sample_id, "label": r.label, "score": pytest.approx(r.score, abs=1e-3)}
            for r in recommend(dataset, sample_id, k=config.PANEL_K)]


def _shown(tiles: list[dict]) -> list[dict]:
    return [{"label": t["label"], "score": t["score"]} for t in tiles]


def _wanted(expected: list[dict]) -> list[dict]:
    return [{"label": e["label"], "score": e["score"]} for e in expected]


def _wait_for_new_sample(page, old_id: str) -> str:
    page.wait_for_function("(old) => !window.location.search.includes(old)", arg=old_id, timeout=30_000)
    return _open_id(page)


def _wait_for_labels(page, expected: list[dict]) -> None:
    """Wait until the panel's tiles are ``expected``'s clips (it redraws after the modal's sample changes)."""
    page.wait_for_function("([sel, labels]) => JSON.stringify(Array.from(document.querySelectorAll(sel))"
                           ".map(img => img.alt)) == JSON.stringify(labels)",
                           arg=[STILLS, [e["label"] for e in expected]], timeout=30_000)


@pytest.mark.browser
def test_panel_follows_the_modal_and_opens_the_clicked_clip(panel_dataset, tmp_path, artifacts_dir):
    dataset = panel_dataset
    with running_app(tmp_path / "app.log") as app, chromium_page() as page:
        open_grid(page, app, dataset)
        page.locator('[data-cy="looker"]').first.click()
        page.locator('[data-cy="panel-tab-similar_videos"]').click()
        first_id = _open_id(page)
        first_tiles = _panel_tiles(page, config.PANEL_K)
        page.screenshot(path=str(artifacts_dir / "similar_videos_panel.png"))

        page.locator('[data-cy="nav-right-button"]').click()  # the next sample of the grid
        next_id = _wait_for_new_sample(page, first_id)
        expected_next = _expected(dataset, next_id)
        _wait_for_labels(page, expected_next)
        next_tiles = _panel_tiles(page, config.PANEL_K)

        page.locator(STILLS).nth(1).click()  # the second most similar clip opens in the modal
        clicked_id = _wait_for_new_sample(page, next_id)
        page.get_by_text(clicked_id).first.wait_for(timeout=30_000)  # the modal's sidebar shows its id
        expected_clicked = _expected(dataset, clicked_id)
        _wait_for_labels(page, expected_clicked)
        clicked_tiles = _panel_tiles(page, config.PANEL_K)
        page_errors = list(page.errors)

    assert _shown(first_tiles) == _wanted(_expected(dataset, first_id))
    assert next_id == dataset.values("id")[1]
    assert _shown(next_tiles) == _wanted(expected_next)
    assert clicked_id == expected_next[1]["id"]
    assert _shown(clicked_tiles) == _wanted(expected_clicked)
    assert page_errors == []
    assert (artifacts_dir / "similar_videos_panel.png").stat().st_size > 10_000


@pytest.mark.browser
def test_without_an_index_the_panel_names_the_operator_and_opens_it(panel_dataset, tmp_path, artifacts_dir):
    dataset = panel_dataset
    dataset.delete_brain_run(config.BRAIN_KEY)
    with running_app(tmp_path / "app.log") as app, chromium_page() as page:
        page.goto(app.dataset_url(dataset.name))
        page.wait_for_function(f"document.querySelectorAll('[data-cy=looker]').length == {len(dataset)}",
                               timeout=90_000)
        dismiss = page.get_by_role("button", name="Dismiss")
        if dismiss.count():
            dismiss.click()
        page.locator('[data-cy="looker"]').first.click()
        page.locator('[data-cy="panel-tab-similar_videos"]').click()
        page.get_by_text("No similarity index").wait_for(timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "similar_videos_panel_no_index.png"))
        page.get_by_role("button", name="Run build video similarity index").click()
        page.get_by_role("button", name="Execute").wait_for(timeout=60_000)  # the operator's own form
        body = page.locator("body").inner_text()
        page_errors = list(page.errors)

    assert "Build video similarity index" in body or "build_video_similarity_index" in body, body[-2000:]
    assert page_errors == []


def test_fiftyone_lists_the_panel():
    """Panels are unlisted operators: ``fiftyone operators list --panels-only -u`` shows ours."""
    import os
    import subprocess
    import sys

    fiftyone = Path(sys.executable).with_name("fiftyone")
    listing = subprocess.run([str(fiftyone), "operators", "list", "--panels-only", "--include-unlisted"],
                             capture_output=True, text=True, env=os.environ, timeout=300, check=True).stdout
    assert f"{config.PLUGIN_NAME}/similar_videos" in listing, listing


def test_panel_items_follow_recommend_hide_the_group_and_cache_one_still_per_clip(panel_dataset):
    from fiftyone_videorec.browse import missing_step, panel_items, thumbnails_dir
    from fiftyone_videorec.search.similarity import recommend

    dataset = panel_dataset
    # both SoccerJuggling takes share a source group here, so hiding it drops the other take
    dataset.set_values(config.GROUP_FIELD, ["g23"] * 2 + dataset.values(config.GROUP_FIELD)[2:])
    query = dataset.first().id
    items = panel_items(dataset, query, k=3)
    assert [i["sample_id"] for i in items] == [r.sample_id for r in recommend(dataset, query, k=3)]
    assert items[0]["label"] == "SoccerJuggling g24c01" and items[0]["group"] == "g23"
    hidden = panel_items(dataset, query, k=3, hide_same_group=True)
    assert "g23" not in [i["group"] for i in hidden] and len(hidden) == 3
    stills = sorted(thumbnails_dir().glob("*.jpg"))
    assert all(i["image"].startswith("/media?filepath=") for i in items + hidden)
    panel_items(dataset, query, k=3)
    assert sorted(thumbnails_dir().glob("*.jpg")) == stills  # made once, then reused

    assert missing_step(dataset) is None
    dataset.delete_brain_run(config.BRAIN_KEY)
    assert missing_step(dataset) == "index"
    dataset.delete_sample_field(config.EMBEDDINGS_FIELD)
    assert missing_step(dataset) == "embeddings"
