"""The real FiftyOne App for browser tests: its server in a subprocess, driven by Debian's Chromium.

The server subprocess inherits the test session's environment (private database, plugins folder
that links this checkout), so it sees the datasets the test wrote and runs our operators.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator
from fiftyone_videorec.private_mongod import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]


class AppServer:
    """The FiftyOne App server (``fiftyone.server.main``) on a free loopback port."""

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self._process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 120.0) -> "AppServer":
        """Start the server and wait until it answers HTTP; raise with its log if it does not."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        env = {**os.environ, "FIFTYONE_DO_NOT_TRACK": "true"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "fiftyone.server.main", "--port", str(self.port),
             "--address", "127.0.0.1"], stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"App server exited: {self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if response.status == 200:
                        return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"App server did not answer in {timeout_s:.0f} s: "
                           f"{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        """Stop the server process this object started."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def dataset_url(self, name: str) -> str:
        """Return the App's page for dataset ``name``."""
        return f"{self.url}/datasets/{urllib.request.quote(name)}"


@contextlib.contextmanager
def running_app(log_path: Path) -> Iterator[AppServer]:
    """Yield a started :class:`AppServer`; stop it afterwards."""
    server = AppServer(log_path).start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def chromium_page(width: int = 1600, height: int = 1000):
    """Yield a Playwright page in headless Debian Chromium; console errors go to ``page.errors``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.errors = []
            page.on("pageerror", lambda error: page.errors.append(str(error)))
            yield page
        finally:
            browser.close()


REAL_CLIPS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "clips"


def real_clip_dataset(name: str, folder: Path, clip_names, seconds: float, seed: int, groups: bool = False):
    """A dataset of real clips from benchmarks/clips as H.264 MP4s, with fixed embeddings and a cosine index.

    File names are ``<Action>__<take>.<ext>``. Takes of one action get nearby vectors, so a
    clip's nearest neighbour is another take of its action (what a model that knows the actions
    returns) and the App needs no model; with ``groups`` each take is its own source group.
    """
    import fiftyone as fo
    import numpy as np

    from fiftyone_videorec import config
    from fiftyone_videorec.data.video_files import ffmpeg_convert
    from fiftyone_videorec.search.similarity import build_index

    dataset = fo.Dataset(name, persistent=True)
    rng = np.random.default_rng(seed)
    action_vectors = {}
    for clip_name in clip_names:
        action, take = Path(clip_name).stem.split("__")
        base = action_vectors.setdefault(action, rng.normal(size=8))
        clip = ffmpeg_convert(REAL_CLIPS_DIR / clip_name, folder / f"{Path(clip_name).stem}.mp4", "-t", str(seconds),
                              "-vf", "scale=320:-2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags",
                              "+faststart", "-an")
        fields = {config.LABEL_FIELD: fo.Classification(label=f"{action} {take}"),
                  config.EMBEDDINGS_FIELD: base + 0.3 * rng.normal(size=8)}
        if groups:
            fields[config.GROUP_FIELD] = take
        dataset.add_sample(fo.Sample(filepath=str(clip), **fields))
    dataset.compute_metadata()
    build_index(dataset)
    return dataset


def open_operator(page, name: str, form_text: str) -> None:
    """Open the App's operator browser, pick the operator typed as ``name``, wait for ``form_text``."""
    page.locator('[data-cy="action-browse-operations"]').click()
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    page.get_by_text(form_text).first.wait_for(timeout=60_000)


def open_grid(page, app, dataset) -> None:
    """Open ``dataset`` in the App and wait until every clip's tile is in the grid."""
    page.goto(app.dataset_url(dataset.name))
    page.wait_for_function(f"document.querySelectorAll('[data-cy=\"looker\"]').length == {len(dataset)}",
                           timeout=90_000)
    dismiss = page.get_by_role("button", name="Dismiss")  # the App's one-time promotion popover
    if dismiss.count():
        dismiss.click()
