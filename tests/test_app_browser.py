"""The plugin in the real FiftyOne App: select a clip, run find_similar_videos, read the grid.

The App server runs in a subprocess on a free loopback port; Debian's Chromium drives it.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from fiftyone_videorec import config
from tests.app import chromium_page, open_grid, open_operator, real_clip_dataset, running_app

pytestmark = pytest.mark.browser

K = 4

TILES_JS = """() => Array.from(document.querySelectorAll('[data-cy="looker"]')).map(el => {
    const box = el.getBoundingClientRect();
    return {x: box.x, y: box.y, titles: Array.from(el.querySelectorAll('[title]')).map(t => t.title)};
})"""

PLAY_JS = """(src) => new Promise(resolve => {
    const video = document.createElement('video');
    video.muted = true;
    video.onerror = () => resolve({error: video.error ? video.error.code : -1, time: 0});
    video.ontimeupdate = () => { if (video.currentTime > 0) resolve({error: null, time: video.currentTime}); };
    video.src = src;
    video.play().catch(e => resolve({error: String(e), time: 0}));
    setTimeout(() => resolve({error: 'timeout', time: video.currentTime}), 20000);
})"""


REAL_CLIPS = ("SoccerJuggling__g23c01.avi", "SoccerJuggling__g24c01.avi", "RidingSegway__R6llTwEh07w.mp4",
              "RidingSegway__SOX5yA1l24A.mp4", "Basketball__g01c01.avi", "Basketball__torchvisionGallery.mp4")
"""Real recordings from benchmarks/clips, two of each action, so the screenshots show clips a person can tell apart."""


@pytest.fixture
def indexed_video_dataset(tmp_path, dataset_name):
    """Six real clips as H.264 MP4s with fixed embeddings and a cosine index (no model needed in the App).

    Clips of one action get nearby vectors, so a query's nearest clip is the other take of its action.
    """
    return real_clip_dataset(dataset_name, tmp_path, REAL_CLIPS, seconds=4, seed=7)


def _grid_tiles(page) -> list[dict]:
    """Return the grid's tiles in reading order, each as {label, score}."""
    tiles = sorted(page.evaluate(TILES_JS), key=lambda t: (round(t["y"]), t["x"]))
    out = []
    for tile in tiles:
        fields = dict(title.split(": ", 1) for title in tile["titles"] if ": " in title)
        score = fields.get(config.SIMILARITY_SCORE_FIELD)
        out.append({"label": fields.get(config.LABEL_FIELD),
                    "score": float(score) if score is not None else None})
    return out


def _first_tile_label(page, timeout: float = 60) -> str:
    """The first tile's label, once the App has drawn it (tiles appear before their labels)."""
    import time

    deadline = time.time() + timeout
    while True:
        label = _grid_tiles(page)[0]["label"]
        if label or time.time() > deadline:
            assert label, "the first tile never showed its label"
            return label
        time.sleep(0.5)


def _select_first_tile(page) -> None:
    first = page.locator('[data-cy="looker"]').first
    first.hover()
    first.locator('[data-cy="looker-checkbox-"]').click(force=True)


def test_find_similar_videos_from_operator_browser(indexed_video_dataset, tmp_path, artifacts_dir):
    from fiftyone_videorec.search.similarity import recommend

    dataset = indexed_video_dataset
    with running_app(tmp_path / "app.log") as app, chromium_page() as page:
        open_grid(page, app, dataset)
        query_label = _first_tile_label(page)
        query_id = dataset.match({f"{config.LABEL_FIELD}.label": query_label}).first().id

        # The App serves each clip and this browser decodes and plays it (H.264 MP4)
        playback = [page.evaluate(PLAY_JS, f"/media?filepath={quote(path)}")
                    for path in dataset.values("filepath")]

        # Select the first clip, then run the operator from the operator browser
        _select_first_tile(page)
        open_operator(page, "find similar videos", f"Query: sample {query_id}")
        k_box = page.locator("xpath=//*[text()='How many clips']/following::input[1]")
        k_box.fill(str(K))
        page.screenshot(path=str(artifacts_dir / "find_similar_form.png"))
        page.get_by_role("button", name="Execute").click()
        page.get_by_text("Most similar clips").wait_for(timeout=60_000)
        page.wait_for_function(
            f"document.querySelectorAll('[data-cy=\"looker\"]').length == {K}", timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "find_similar_result.png"))
        page.get_by_role("button", name="Close").click()
        page.wait_for_function(  # every tile shows its score
            f"document.querySelectorAll('[title^=\"{config.SIMILARITY_SCORE_FIELD}: \"]').length == {K}",
            timeout=30_000)
        tiles = _grid_tiles(page)
        page.screenshot(path=str(artifacts_dir / "find_similar_grid.png"))
        error_tiles = page.locator('[class*="lookerError"]').count()
        page_errors = list(page.errors)

    expected = recommend(dataset, query_id, k=K)
    assert [t["label"] for t in tiles] == [r.label for r in expected]
    assert [t["score"] for t in tiles] == pytest.approx([r.score for r in expected], abs=1e-3)
    assert query_label not in [t["label"] for t in tiles]
    assert all(p["error"] is None and p["time"] > 0 for p in playback), playback
    assert error_tiles == 0
    assert page_errors == []
    assert (artifacts_dir / "find_similar_grid.png").stat().st_size > 10_000


def test_apps_own_similarity_search_uses_our_index(indexed_video_dataset, tmp_path, artifacts_dir):
    """The similarity button over the grid searches with our Brain index (no extra set-up)."""
    dataset = indexed_video_dataset
    with running_app(tmp_path / "app.log") as app, chromium_page() as page:
        open_grid(page, app, dataset)
        _select_first_tile(page)
        page.locator('[data-cy="action-sort-by-similarity"]').click()
        page.get_by_text("Show similar samples").click()
        # FiftyOne 1.22 runs the search in its Similarity Search panel
        page.get_by_text("Completed").wait_for(timeout=60_000)
        panel = page.locator("body").inner_text()
        page.screenshot(path=str(artifacts_dir / "app_similarity_search.png"))
        page_errors = list(page.errors)

    assert config.BRAIN_KEY in panel
    assert f"{len(dataset)} results" in panel  # every indexed clip ranked (k=25 > 6 clips)
    assert page_errors == []


def test_find_similar_without_a_selection_shows_the_reason_in_the_form(indexed_video_dataset, tmp_path,
                                                                       artifacts_dir):
    from playwright.sync_api import expect

    dataset = indexed_video_dataset
    with running_app(tmp_path / "app.log") as app, chromium_page() as page:
        open_grid(page, app, dataset)
        open_operator(page, "find similar videos", "Select one or more clips in the grid")
        expect(page.get_by_role("button", name="Execute")).to_be_disabled(timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "find_similar_no_selection.png"))
        body = page.locator("body").inner_text()
        page_errors = list(page.errors)

    assert "Traceback" not in body
    assert page_errors == []
