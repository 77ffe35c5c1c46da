"""A UCF101-shaped zip of real clips and a Range-capable HTTP server on 127.0.0.1, for tests.

``build_ucf_zip`` writes an archive laid out like the public ``UCF101_videos.zip`` (flat
``UCF101/v_<Class>_g<GG>_c<CC>.avi`` members holding real XviD AVI clips). ``RangeServer`` serves
a folder over HTTP/1.1 with single-range ``Range`` support, counts every body byte it sends and can
misbehave on request: ignore ``Range``, fail requests with 500, drop connections mid-body, or stop
altogether once a byte budget is spent (then ``start()`` brings it back on the same port).
"""

from __future__ import annotations

import http.server
import re
import socket
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from fiftyone_videorec.data.video_files import moving_square_frames, write_video
from fiftyone_videorec.private_mongod import free_port  # noqa: F401  (re-exported for the data tests)

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def build_ucf_zip(path: str | Path, classes: Sequence[str] | Mapping[str, Sequence[int]],
                  groups_per_class: int = 4, clips_per_group: int | Sequence[int] = 4, *,
                  frames: int = 10, size: tuple[int, int] = (32, 24), fourcc: str = "XVID",
                  compression: int = zipfile.ZIP_DEFLATED, prefix: str = "UCF101/",
                  extra_members: Mapping[str, bytes] | None = None) -> Path:
    """Write a UCF101-shaped zip of real clips to ``path`` and return it.

    ``classes`` is a list of class names (each gets ``groups_per_class`` groups of
    ``clips_per_group`` clips; a sequence there gives each group's clip count), or a mapping
    ``class -> [clips in g01, clips in g02, ...]``. ``extra_members`` adds raw members by name
    (odd names, a README, ...). Every clip differs (its own seed), and its motion speed depends on
    its class, so labels mean something.
    """
    path = Path(path)
    if isinstance(classes, Mapping):
        layout = {name: list(counts) for name, counts in classes.items()}
    else:
        counts = ([clips_per_group] * groups_per_class if isinstance(clips_per_group, int)
                  else list(clips_per_group))
        layout = {name: counts for name in classes}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path, "w", compression) as archive:
        seed = 0
        for class_index, (name, counts) in enumerate(layout.items()):
            for group, n_clips in enumerate(counts, start=1):
                for clip in range(1, n_clips + 1):
                    seed += 1
                    member = f"{prefix}v_{name}_g{group:02d}_c{clip:02d}.avi"
                    clip_frames = moving_square_frames(n_frames=frames, size=size, seed=seed,
                                                       dx=1 + class_index % 5)
                    video = write_video(Path(tmp) / f"{seed}.avi", clip_frames, fourcc=fourcc)
                    archive.write(video, member)
        for name, data in (extra_members or {}).items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2012, 1, 1, 0, 0, 0)), data)
    return path


@dataclass
class RequestLog:
    """One request as the server saw it: what was asked and how many body bytes went back."""

    method: str
    path: str
    range: str | None
    status: int
    body_bytes: int = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real file server
    server: "_Server"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def _serve(self, send_body: bool) -> None:
        owner = self.server.owner
        entry = RequestLog(self.command, self.path, self.headers.get("Range"), 0)
        owner._record(entry)
        if owner._take(owner._drop_next_request):  # a connection dropped before any answer
            self.close_connection = True
            return
        if owner._take(owner._fail_next):
            entry.status = 500
            self._send_headers(500, 0)
            return
        target = owner.root / self.path.lstrip("/").split("?")[0]
        if not self.path.strip("/") or not target.is_file():
            entry.status = 404
            self._send_headers(404, 0)
            return
        size = target.stat().st_size
        start, end = 0, size - 1
        wanted = entry.range if not owner.ignore_range else None
        status = 200
        if wanted:
            match = _RANGE.match(wanted.strip())
            if not match or not (match.group(1) or match.group(2)):
                wanted = None  # a range we do not understand: the whole file, as servers do
            elif match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                status = 206
            else:
                start, status = max(0, size - int(match.group(2))), 206
            if wanted and (start > end or start >= size):
                entry.status = 416
                self._send_headers(416, 0, {"Content-Range": f"bytes */{size}"})
                return
        entry.status = status
        extra = {"Accept-Ranges": "bytes"}
        if status == 206:
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1
        self._send_headers(status, length, extra)
        if send_body:
            self._send_body(target, start, length, entry)

    def _send_headers(self, status: int, length: int, extra: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/zip" if status < 300 else "text/plain")
        self.send_header("Content-Length", str(length))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _send_body(self, target: Path, start: int, length: int, entry: RequestLog) -> None:
        owner = self.server.owner
        drop_after = owner._drop_after_bytes if owner._take(owner._drop_next) else None
        with open(target, "rb") as source:
            source.seek(start)
            left = length
            while left > 0:
                chunk = source.read(min(owner.chunk_size, left))
                if drop_after is not None:
                    chunk = chunk[:max(0, drop_after - entry.body_bytes)]
                chunk = owner._spend(chunk)
                if chunk:
                    try:
                        self.wfile.write(chunk)
                    except OSError:
                        break
                    entry.body_bytes += len(chunk)
                    left -= len(chunk)
                if not chunk or owner.stopped or (drop_after is not None and entry.body_bytes >= drop_after):
                    self.close_connection = True  # the client sees a short body
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "RangeServer"

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up early (the loader stops reading a non-zip page) is normal here:
        no traceback on stderr, where the tests read the CLI's one-line errors."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class RangeServer:
    """Serve the files of ``root`` on 127.0.0.1 with HTTP Range support; count what goes out.

    Use as a context manager or call ``start()`` / ``stop()``. ``bytes_sent`` counts response body
    bytes; ``requests`` logs each request. Misbehaviour, for the tests of a client's error handling:
    ``ignore_range`` (answer 200 with the whole file), ``fail_next(k)`` (the next k requests get a
    500), ``drop_next(k, after_bytes)`` (the next k bodies stop after that many bytes, connection
    closed), ``drop_requests(k)`` (the next k requests are closed without an answer) and
    ``stop_after(n)`` (stop serving - listening socket closed, open bodies cut - once n more body
    bytes have gone out).
    """

    def __init__(self, root: str | Path, *, ignore_range: bool = False, chunk_size: int = 4096,
                 port: int = 0) -> None:
        root = Path(root)
        self.root = root if root.is_dir() else root.parent
        self.ignore_range = ignore_range
        self.chunk_size = chunk_size
        self.port = port
        self.bytes_sent = 0
        self.requests: list[RequestLog] = []
        self.stopped = True
        self._lock = threading.Lock()
        self._fail_next = [0]
        self._drop_next = [0]
        self._drop_next_request = [0]
        self._drop_after_bytes = 0
        self._budget: int | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---
    def start(self) -> "RangeServer":
        """Start serving (again, on the same port after a stop); return self."""
        if not self.stopped:
            return self
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self._budget = None
        self.stopped = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: close the listening socket; bodies in flight are cut at their next chunk."""
        with self._lock:
            if self.stopped:
                return
            self.stopped = True
            server = self._server
        server.shutdown()
        server.server_close()

    def __enter__(self) -> "RangeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, name: str) -> str:
        """Return the URL of the file ``name`` under the served folder."""
        return f"http://127.0.0.1:{self.port}/{name}"

    # --- misbehaviour and counters ---
    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` requests with 500 Internal Server Error."""
        self._fail_next[0] = count

    def drop_next(self, count: int, after_bytes: int = 1000) -> None:
        """Cut the next ``count`` response bodies after ``after_bytes`` bytes (connection closed)."""
        self._drop_next[0], self._drop_after_bytes = count, after_bytes

    def drop_requests(self, count: int) -> None:
        """Close the next ``count`` connections without answering (a connection reset)."""
        self._drop_next_request[0] = count

    def stop_after(self, n_bytes: int) -> None:
        """Stop the server once ``n_bytes`` more body bytes have been sent."""
        self._budget = n_bytes

    def reset_counters(self) -> None:
        """Forget the bytes and requests counted so far."""
        with self._lock:
            self.bytes_sent = 0
            self.requests = []

    def _record(self, entry: RequestLog) -> None:
        with self._lock:
            self.requests.append(entry)

    def _take(self, counter: list[int]) -> bool:
        with self._lock:
            if counter[0] > 0:
                counter[0] -= 1
                return True
            return False

    def _spend(self, chunk: bytes) -> bytes:
        """Count ``chunk`` as sent, cut to the remaining budget; stop the server when it is spent."""
        with self._lock:
            if self.stopped:
                return b""
            if self._budget is not None:
                chunk = chunk[:self._budget]
                self._budget -= len(chunk)
            self.bytes_sent += len(chunk)
            spent = self._budget is not None and self._budget <= 0
        if spent:
            threading.Thread(target=self.stop, daemon=True).start()
        return chunk
