"""find_similar_moments in the real FiftyOne App: the grid becomes the moments' clips view, best first.

The App server runs in a subprocess on a free loopback port; Debian's Chromium drives it.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from fiftyone_videorec import config
from tests.app import chromium_page, open_grid, open_operator, running_app
from tests.test_app_browser import PLAY_JS, TILES_JS
from tests.test_moments import LONG_VIDEOS, write_long_videos

pytestmark = pytest.mark.browser

K = 3

PLAY_FROM_JS = PLAY_JS.replace("video.currentTime > 0", "video.currentTime > START").replace(
    "(src) =>", "([src, START]) =>")
"""PLAY_JS for a media fragment ``#t=start,end``: resolves once playback has passed ``START`` seconds."""


@pytest.fixture
def moments_dataset(tmp_path, dataset_name, tiny_model_dir):
    """Three 12-second H.264 videos of three known motions each, their moments indexed by a trained model."""
    import fiftyone as fo

    from fiftyone_videorec.search.moments import index_moments

    files = write_long_videos(tmp_path, size=96)
    dataset = fo.Dataset(dataset_name, persistent=True)
    dataset.add_samples([fo.Sample(filepath=str(files[name]), name=name) for name in LONG_VIDEOS])
    dataset.compute_metadata()
    index_moments(dataset, tiny_model_dir)
    return dataset, files


def _tile_scores(page) -> list[float]:
    """Return each tile's score in reading order."""
    tiles = sorted(page.evaluate(TILES_JS), key=lambda t: (round(t["y"]), t["x"]))
    prefix = f"{config.MOMENT_SCORE_FIELD}: "
    return [float(next(t[len(prefix):] for t in tile["titles"] if t.startswith(prefix))) for tile in tiles]


def test_find_similar_moments_sets_a_sorted_clips_view(moments_dataset, tmp_path, artifacts_dir):
    from fiftyone_videorec.search.moments import find_moments

    dataset, files = moments_dataset
    query = str(files["copy"])
    expected = find_moments(dataset, query, k=K, per_video=1)
    long_a = dataset.match({"name": "long_a"}).first()
    with running_app(tmp_path / "app.log") as app, chromium_page() as page:
        open_grid(page, app, dataset)
        open_operator(page, "find similar moments", "Select a moment in the grid")
        page.locator("xpath=//*[text()='Or a video file']/following::input[1]").fill(query)
        page.locator("xpath=//*[text()='How many moments']/following::input[1]").fill(str(K))
        page.get_by_text("Select a moment in the grid").first.wait_for(state="detached", timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "find_moments_form.png"))
        page.get_by_role("button", name="Execute").click()
        page.get_by_text("Most similar moments").wait_for(timeout=120_000)
        page.get_by_role("button", name="Close").click()
        page.wait_for_function(  # the grid is the clips view of the K moments, each showing its score
            f"document.querySelectorAll('[title^=\"{config.MOMENT_SCORE_FIELD}: \"]').length == {K}",
            timeout=60_000)
        scores = _tile_scores(page)
        page.screenshot(path=str(artifacts_dir / "find_moments_grid.png"))
        # the browser plays each found moment of its video from the moment's start
        playback = [page.evaluate(PLAY_FROM_JS, [f"/media?filepath={quote(m.filepath)}#t={m.start},{m.end}", m.start])
                    for m in expected]
        error_tiles = page.locator('[class*="lookerError"]').count()
        page_errors = list(page.errors)

    assert expected[0].sample_id == long_a.id and expected[0].start < 8 and expected[0].end > 4
    assert scores == pytest.approx([round(m.score, 4) for m in expected], abs=1e-4)
    assert all(p["error"] is None and p["time"] > m.start for p, m in zip(playback, expected)), playback
    assert error_tiles == 0
    assert page_errors == []
