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
from tests.mongod import free_port

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
