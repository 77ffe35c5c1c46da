"""A throwaway ``mongod`` on loopback for tests and benchmarks, with a data folder of its own.

It runs FiftyOne's own ``mongod`` binary as a separate server on a free 127.0.0.1 port, so a
test session or a benchmark reaches it through ``FIFTYONE_DATABASE_URI`` (as a shared MongoDB
is reached) and never sees a user's datasets. Nothing here imports fiftyone: the environment
that points FiftyOne at this server can be set before FiftyOne reads its configuration.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from pathlib import Path


def mongod_binary() -> Path:
    """Return the path of the mongod that FiftyOne uses, found without importing fiftyone."""
    spec = importlib.util.find_spec("fiftyone")
    return Path(spec.submodule_search_locations[0]) / "db" / "bin" / "mongod"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on at the moment of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MongodServer:
    """A throwaway mongod on 127.0.0.1 that stores its data (and ``mongod.log``) in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        """The ``mongodb://`` address to give FiftyOne as FIFTYONE_DATABASE_URI."""
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 60) -> None:
        """Start mongod and return once it accepts connections; RuntimeError if it exits or ``timeout`` s pass."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "mongod.log", "w") as log:  # the child keeps its own copy of the handle
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
        raise RuntimeError(f"mongod did not accept connections within {timeout:g} s; see {self.folder / 'mongod.log'}")

    def stop(self) -> None:
        """Terminate mongod (killed if it has not exited after 30 s); a stopped server stays stopped."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
