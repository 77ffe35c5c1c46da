"""Start FiftyOne's own ``mongod`` binary as a separate server process on a free loopback port."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from pathlib import Path


def mongod_binary() -> Path:
    """Return the mongod that FiftyOne uses, found without importing fiftyone."""
    spec = importlib.util.find_spec("fiftyone")
    return Path(spec.submodule_search_locations[0]) / "db" / "bin" / "mongod"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MongodServer:
    """A throw-away mongod on 127.0.0.1 with its own data folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 60) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "mongod.log", "w")
        self.process = subprocess.Popen(
            [str(mongod_binary()), "--dbpath", str(self.folder), "--bind_ip", "127.0.0.1",
             "--port", str(self.port), "--nounixsocket"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mongod exited early; see {self.folder / 'mongod.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("mongod did not start listening in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
