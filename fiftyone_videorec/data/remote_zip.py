"""Read a zip archive's directory and fetch chosen members, over HTTP Range requests or from disk.

For a URL only the central directory (read with ``remotezip``) and the chosen members cross the
wire: each member is one ``Range`` request spanning its local header and data. Several members
are fetched at once; each is written to ``<name>.part`` and renamed only when its CRC-32 matches
the directory, so an interrupted run resumes: files already present with the right size and CRC
are skipped. Transient failures (connection reset, timeout, 5xx) are retried with back-off.
"""

from __future__ import annotations

import concurrent.futures as cf
import http.client
import os
import re
import struct
import threading
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator, Mapping

import remotezip
import requests
import urllib3
from tqdm import tqdm

from .. import config
from ..errors import VideorecError
from ..progress import ProgressFn, report

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, 22 bytes we take from the directory, name/extra lengths
_LOCAL_MAGIC = b"PK\x03\x04"
_CHUNK = 1 << 16
_HEADERS = {"Accept-Encoding": "identity", "User-Agent": "fiftyone-videorec"}
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_TRANSIENT = (requests.ConnectionError, requests.Timeout, urllib3.exceptions.HTTPError,
              http.client.HTTPException, ConnectionError, TimeoutError, EOFError)


class _Transient(Exception):
    """A failure worth retrying: a 5xx/429 answer or a short body."""


class _Aborted(Exception):
    """Another member failed for good; the rest of the queue is dropped."""


@dataclass
class FetchSummary:
    """What ``ZipSource.fetch`` did: member names fetched now and already present."""

    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_fetched: int = 0


def is_url(location: str | os.PathLike) -> bool:
    """True when ``location`` is an http(s) URL rather than a local path."""
    return str(location).startswith(("http://", "https://"))


def unsafe_member_names(names: list[str]) -> list[str]:
    """Return the names that would land outside an extraction folder (absolute, drive, ``..``)."""
    bad = []
    for name in names:
        posix = PurePosixPath(name.replace("\\", "/"))
        if posix.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in posix.parts:
            bad.append(name)
    return bad


def _short_reason(exc: BaseException) -> str:
    """One short line from a requests/urllib3 error (their messages nest several reprs)."""
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if errno:
        return errno.group(0).strip()
    if "timed out" in text.lower():
        return "timed out"
    return (text.splitlines() or [type(exc).__name__])[0][:160] or type(exc).__name__


def _cannot_connect(exc: BaseException) -> bool:
    """True for errors that mean the host cannot be reached at all (refused, DNS, connect timeout)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectTimeout) or isinstance(reason, urllib3.exceptions.NewConnectionError)


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:.1f} MB"


def _content_range_total(header: str | None) -> int | None:
    match = re.match(r"bytes [\d*-]+/(\d+)", header or "")
    return int(match.group(1)) if match else None


def _check_range_answer(response: requests.Response, url: str) -> None:
    """Raise unless ``response`` is a 206 answer to a Range request (5xx become ``_Transient``)."""
    status = response.status_code
    if status == 206:
        return
    if status == 200:
        size = response.headers.get("Content-Length")
        size_text = f" ({_megabytes(int(size))})" if size and size.isdigit() else ""
        raise VideorecError(
            f"{url}: the server ignores HTTP Range requests (answered 200 instead of 206); refusing to "
            f"download the whole archive{size_text} — download it yourself and pass its local path")
    if status in _RETRY_STATUS:
        raise _Transient(f"HTTP {status} {response.reason}")
    if status == 416:
        raise VideorecError(f"{url}: the server refused the byte range (HTTP 416): the file is empty or "
                            "shorter than its zip directory says")
    raise VideorecError(f"{url}: the server answered HTTP {status} {response.reason}")


def _destination(root: Path, relative: str | Path) -> Path:
    """Return ``root / relative``, refusing any path that would land outside ``root``."""
    text = str(relative)
    if unsafe_member_names([text]):
        raise VideorecError(f"refusing to write {text!r}: absolute paths and '..' would leave {root}")
    path = (root / text).resolve()
    if not path.is_relative_to(root.resolve()):
        raise VideorecError(f"refusing to write {text!r}: it resolves outside {root}")
    return path


def _crc32_of(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _is_complete(info: zipfile.ZipInfo, path: Path) -> bool:
    """True when ``path`` already holds this member (size and CRC-32 match); drops stale ``.part``."""
    path.with_name(path.name + ".part").unlink(missing_ok=True)
    return path.is_file() and path.stat().st_size == info.file_size and _crc32_of(path) == info.CRC


def _read_exact(stream, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError(f"the server sent {len(data)} of {size} bytes")
    return data


class _ByteCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0
        self.done = 0

    def add(self, n_bytes: int, done: int = 0) -> None:
        with self._lock:
            self.value += n_bytes
            self.done += done


class ZipSource:
    """A zip archive at a URL or a local path: its members, and fetching chosen ones to disk.

    Opening reads only the central directory. Raises ``VideorecError`` (one line) when the URL is
    unreachable, the server ignores ``Range``, the file is not a zip or is truncated, or a member
    name would write outside the target folder (``..``, absolute paths).
    """

    def __init__(self, location: str | os.PathLike, *, timeout: tuple[float, float] | None = None) -> None:
        self.location = str(location)
        self.is_remote = is_url(location)
        self.size = 0
        self._zip: zipfile.ZipFile | None = None
        self.timeout = timeout or config.HTTP_TIMEOUT_S
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        archive = self._open_remote() if self.is_remote else self._open_local()
        self.members = [info for info in archive.infolist() if not info.is_dir()]
        offsets = sorted({info.header_offset for info in archive.infolist()})
        start_dir = getattr(archive, "start_dir", None) or self.size
        self._ends = {info.filename: next((o for o in offsets if o > info.header_offset), start_dir)
                      for info in self.members}
        self._by_name = {info.filename: info for info in self.members}
        if self.is_remote:
            archive.close()
        else:
            self._zip = archive
        unsafe = unsafe_member_names([info.filename for info in archive.infolist()])
        if unsafe:
            self.close()
            raise VideorecError(f"{self.location}: refusing an archive whose member names would write outside "
                                f"the target folder ({len(unsafe)}, e.g. {unsafe[0]!r})")

    # --- reading the directory ---
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers.update(_HEADERS)
            with self._lock:
                self._sessions.append(session)
        return session

    def _open_local(self) -> zipfile.ZipFile:
        path = Path(self.location).expanduser()
        if not path.is_file():
            raise VideorecError(f"{self.location}: no such file (give the URL or the local path of the zip)")
        self.size = path.stat().st_size
        with open(path, "rb") as handle:
            magic = handle.read(4)
        try:
            return zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError, ValueError, struct.error) as exc:
            raise self._not_a_zip(magic, exc) from None

    def _open_remote(self, retries: int | None = None) -> zipfile.ZipFile:
        retries = config.DOWNLOAD_RETRIES if retries is None else retries
        for attempt in range(retries + 1):
            try:
                magic = self._probe()
                try:
                    return remotezip.RemoteZip(self.location, session=self._session(), timeout=self.timeout)
                except remotezip.RemoteIOError as exc:
                    cause = exc.__context__
                    if isinstance(cause, requests.HTTPError) and cause.response is not None:
                        _check_range_answer(cause.response, self.location)
                    raise _Transient(_short_reason(cause or exc)) from None
                except (zipfile.BadZipFile, remotezip.RemoteZipError, EOFError, ValueError, struct.error) as exc:
                    raise self._not_a_zip(magic, exc) from None
            except (_Transient, *_TRANSIENT) as exc:
                if attempt == retries:
                    raise VideorecError(f"{self.location}: reading the zip directory failed after "
                                        f"{attempt + 1} tries ({_short_reason(exc)})") from None
                threading.Event().wait(config.DOWNLOAD_BACKOFF_S * 2 ** attempt)
        raise AssertionError("unreachable")

    def _probe(self) -> bytes:
        """Check the URL answers Range requests; set ``self.size``; return the first 4 bytes."""
        try:
            with self._session().get(self.location, headers={"Range": "bytes=0-3"}, stream=True,
                                     timeout=self.timeout) as response:
                if response.status_code == 416:
                    raise VideorecError(f"{self.location} is empty (0 bytes), not a zip archive")
                _check_range_answer(response, self.location)
                self.size = _content_range_total(response.headers.get("Content-Range")) or 0
                return response.raw.read(4)
        except requests.RequestException as exc:
            if _cannot_connect(exc) or not isinstance(exc, _TRANSIENT):
                raise VideorecError(f"cannot reach {self.location}: {_short_reason(exc)} (check the URL and "
                                    "the network, or pass the path of a local copy)") from None
            raise

    def _not_a_zip(self, magic: bytes, exc: BaseException) -> VideorecError:
        if magic == _LOCAL_MAGIC:
            return VideorecError(f"{self.location} starts like a zip but its directory is missing or damaged "
                                 f"(truncated download? {self.size} bytes; {exc})")
        return VideorecError(f"{self.location} is not a zip archive (it starts with {magic!r})")

    # --- members ---
    def member(self, name: str) -> zipfile.ZipInfo:
        """Return the directory entry of member ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise VideorecError(f"{self.location} has no member {name!r}") from None

    @contextmanager
    def _open_member(self, info: zipfile.ZipInfo) -> Iterator[zipfile.ZipExtFile]:
        """Yield a reader of the member's uncompressed bytes that checks the CRC-32 at its end."""
        if not self.is_remote:
            with self._zip.open(info) as reader:
                yield reader
            return
        span = f"bytes={info.header_offset}-{self._ends[info.filename] - 1}"
        with self._session().get(self.location, headers={"Range": span}, stream=True,
                                 timeout=self.timeout) as response:
            _check_range_answer(response, self.location)
            magic, name_length, extra_length = _LOCAL_HEADER.unpack(_read_exact(response.raw, _LOCAL_HEADER.size))
            if magic != _LOCAL_MAGIC:
                raise VideorecError(f"{self.location}: no zip header where {info.filename!r} should start "
                                    f"(offset {info.header_offset}); the archive is damaged")
            _read_exact(response.raw, name_length + extra_length)
            with zipfile.ZipExtFile(response.raw, "r", info) as reader:
                yield reader

    def _fetch_one(self, info: zipfile.ZipInfo, path: Path, counter: _ByteCounter, abort: threading.Event,
                   retries: int, backoff: float) -> None:
        """Write one member to ``path`` via ``path.part``; retry transient failures with back-off."""
        partial = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(retries + 1):
            if abort.is_set():
                raise _Aborted()
            written = 0
            try:
                with self._open_member(info) as reader, open(partial, "wb") as out:
                    while chunk := reader.read(_CHUNK):
                        out.write(chunk)
                        written += len(chunk)
                        counter.add(len(chunk))
                os.replace(partial, path)
                counter.add(0, done=1)
                return
            except (_Transient, *_TRANSIENT) as exc:
                partial.unlink(missing_ok=True)
                counter.add(-written)
                if attempt == retries or abort.wait(backoff * 2 ** attempt):
                    raise VideorecError(f"{info.filename}: {_short_reason(exc)} (after {attempt + 1} tries)") from None
            except zipfile.BadZipFile:
                partial.unlink(missing_ok=True)
                raise VideorecError(f"{info.filename}: CRC-32 does not match the zip directory "
                                    f"(0x{info.CRC:08x}); the archive is damaged") from None
            except zlib.error as exc:
                partial.unlink(missing_ok=True)
                raise VideorecError(f"{info.filename}: its compressed data is damaged ({exc})") from None
            except OSError as exc:
                partial.unlink(missing_ok=True)
                raise VideorecError(f"cannot write {path}: {exc.strerror or exc}") from None
            except BaseException:
                partial.unlink(missing_ok=True)
                raise

    def fetch(self, plan: Mapping[str, str | Path], root: str | Path, *, workers: int | None = None,
              retries: int | None = None, backoff: float | None = None, progress: ProgressFn | None = None,
              bar: bool = True) -> FetchSummary:
        """Fetch members to ``root / plan[member]``; return what was fetched and what was already there.

        ``plan`` maps member names to paths relative to ``root`` (validated before anything is
        written: no ``..``, no absolute path). Members already present with the right size and
        CRC-32 are skipped. On failure nothing partial is left: complete files stay (a re-run
        resumes) and one ``VideorecError`` names the first failure.
        """
        root = Path(root)
        workers = workers or config.DOWNLOAD_WORKERS
        retries = config.DOWNLOAD_RETRIES if retries is None else retries
        backoff = config.DOWNLOAD_BACKOFF_S if backoff is None else backoff
        jobs = [(self.member(name), _destination(root, relative)) for name, relative in plan.items()]
        if len({path for _, path in jobs}) != len(jobs):
            raise VideorecError("two members would be written to the same file; check the plan")
        summary = FetchSummary()
        with cf.ThreadPoolExecutor(workers) as pool:
            present = list(pool.map(lambda job: _is_complete(*job), jobs))
        summary.skipped = [info.filename for (info, _), done in zip(jobs, present) if done]
        todo = [job for job, done in zip(jobs, present) if not done]
        total = sum(info.file_size for info, _ in todo)
        counter, abort, failures = _ByteCounter(), threading.Event(), []
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, disable=not bar or not todo,
                  desc=f"fetching {len(todo)} files") as progress_bar, cf.ThreadPoolExecutor(workers) as pool:
            futures = {pool.submit(self._fetch_one, info, path, counter, abort, retries, backoff): info
                       for info, path in todo}
            pending = set(futures)
            while pending:
                finished, pending = cf.wait(pending, timeout=0.2)
                for future in finished:
                    error = future.exception()
                    if error is None:
                        summary.fetched.append(futures[future].filename)
                    elif not isinstance(error, _Aborted):
                        failures.append(error)
                        abort.set()
                progress_bar.update(counter.value - progress_bar.n)
                report(progress, counter.value / total if total else 1.0,
                       f"fetched {counter.done}/{len(todo)} files ({counter.value / 1e6:.1f} MB)")
        self.close_sessions()
        summary.bytes_fetched = counter.value
        report(progress, 1.0, f"fetched {len(summary.fetched)} files, {len(summary.skipped)} already there")
        if failures:
            first = failures[0]
            if not isinstance(first, VideorecError):
                raise first
            kept = len(summary.fetched) + len(summary.skipped)
            raise VideorecError(f"{len(todo) - len(summary.fetched)} of {len(jobs)} files not fetched from "
                                f"{self.location} ({first}); the {kept} complete ones are kept in {root}: "
                                "run again to resume")
        return summary

    def close_sessions(self) -> None:
        """Close the HTTP connections this source opened (it reopens them when needed)."""
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    def close(self) -> None:
        """Release the connections and the open local zip file."""
        self.close_sessions()
        if getattr(self, "_zip", None) is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self) -> "ZipSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
