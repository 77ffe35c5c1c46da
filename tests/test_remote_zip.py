"""Remote zip reading against a real Range-capable HTTP server on 127.0.0.1 (tests/ucf_server.py)."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import pytest

from fiftyone_videorec.data.remote_zip import ZipSource
from fiftyone_videorec.errors import VideorecError
from tests.ucf_server import RangeServer, build_ucf_zip, free_port

CLASSES = [f"Class{letter}" for letter in "ABCDEFGHIJKL"]


@pytest.fixture(scope="module")
def zip_path(tmp_path_factory) -> Path:
    """12 classes x 5 groups x 4 clips of real XviD AVI, laid out like UCF101_videos.zip."""
    folder = tmp_path_factory.mktemp("served")
    return build_ucf_zip(folder / "UCF101_videos.zip", CLASSES, groups_per_class=5, clips_per_group=4,
                         frames=16, size=(48, 32))


@pytest.fixture
def server(zip_path):
    with RangeServer(zip_path.parent) as running:
        yield running


def _plan(source: ZipSource, count: int, step: int = 7) -> dict[str, str]:
    names = [info.filename for info in source.members][::step][:count]
    return {name: name.split("/")[-1] for name in names}


def _crc_ok(source: ZipSource, name: str, path: Path) -> bool:
    info = source.member(name)
    return path.stat().st_size == info.file_size and zlib.crc32(path.read_bytes()) == info.CRC


def _member_requests(server: RangeServer, source: ZipSource) -> list[str]:
    """Names of the members whose byte span was requested (a request starting at its header)."""
    by_offset = {info.header_offset: info.filename for info in source.members}
    starts = [int(r.range[6:].split("-")[0]) for r in server.requests if r.range and not r.range.startswith("bytes=-")]
    return [by_offset[start] for start in starts if start in by_offset]


def _one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text and text
    return text


def test_only_the_directory_and_chosen_members_cross_the_wire(server, zip_path, tmp_path):
    source = ZipSource(server.url(zip_path.name))
    assert len(source.members) == 12 * 5 * 4
    listing_bytes = server.bytes_sent
    server.reset_counters()
    plan = _plan(source, 15)
    summary = source.fetch(plan, tmp_path, workers=4, bar=False)

    assert sorted(summary.fetched) == sorted(plan) and summary.skipped == []
    assert sorted(_member_requests(server, source)) == sorted(plan)  # one request per chosen member
    assert len(server.requests) == len(plan)
    spans = sum(source._ends[name] - source.member(name).header_offset for name in plan)
    assert server.bytes_sent == spans  # exactly each member's span, nothing else
    total = listing_bytes + server.bytes_sent
    print(f"zip {zip_path.stat().st_size} B; directory {listing_bytes} B + 15 members {server.bytes_sent} B "
          f"= {total / zip_path.stat().st_size:.1%} of the archive")
    assert total < 0.15 * zip_path.stat().st_size
    with zipfile.ZipFile(zip_path) as archive:
        for name, relative in plan.items():
            assert (tmp_path / relative).read_bytes() == archive.read(name)


def test_rerun_skips_complete_files_and_refetches_damaged_ones(server, zip_path, tmp_path):
    source = ZipSource(server.url(zip_path.name))
    plan = _plan(source, 6)
    source.fetch(plan, tmp_path, bar=False)
    damaged = next(iter(plan.values()))
    data = bytearray((tmp_path / damaged).read_bytes())
    data[100] ^= 0xFF  # same size, wrong CRC
    (tmp_path / damaged).write_bytes(bytes(data))
    server.reset_counters()

    summary = source.fetch(plan, tmp_path, bar=False)

    assert len(summary.skipped) == 5 and [plan[n] for n in summary.fetched] == [damaged]
    assert len(server.requests) == 1
    assert all(_crc_ok(source, name, tmp_path / rel) for name, rel in plan.items())


def test_resume_after_the_server_stops_mid_download(server, zip_path, tmp_path):
    source = ZipSource(server.url(zip_path.name))
    plan = _plan(source, 20)
    needed = sum(source._ends[name] - source.member(name).header_offset for name in plan)
    server.reset_counters()
    server.stop_after(int(needed * 0.4))

    with pytest.raises(VideorecError) as error:
        source.fetch(plan, tmp_path, workers=3, retries=2, backoff=0.02, bar=False)

    assert "run again to resume" in _one_line(error)
    assert server.stopped
    assert not list(tmp_path.rglob("*.part"))  # nothing partial left behind
    present = {name for name, rel in plan.items() if (tmp_path / rel).exists()}
    assert 0 < len(present) < len(plan)
    assert all(_crc_ok(source, name, tmp_path / plan[name]) for name in present)  # nothing corrupt either

    server.start()  # back on the same port
    server.reset_counters()
    summary = source.fetch(plan, tmp_path, workers=3, bar=False)

    assert set(summary.skipped) == present
    assert set(_member_requests(server, source)) == set(plan) - present  # nothing complete fetched twice
    assert all(_crc_ok(source, name, tmp_path / rel) for name, rel in plan.items())


def test_transient_errors_are_retried_with_backoff(server, zip_path, tmp_path):
    source = ZipSource(server.url(zip_path.name))
    plan = _plan(source, 8)
    server.reset_counters()
    server.fail_next(2)  # two 500s
    server.drop_requests(1)  # then a connection closed without an answer
    summary = source.fetch(plan, tmp_path, workers=2, retries=4, backoff=0.01, bar=False)
    statuses = [r.status for r in server.requests]
    assert statuses.count(500) == 2
    server.reset_counters()
    server.drop_next(2, after_bytes=700)  # two bodies cut short mid-transfer
    plan2 = {name: "again/" + rel for name, rel in plan.items()}
    summary2 = source.fetch(plan2, tmp_path, workers=2, retries=4, backoff=0.01, bar=False)

    assert sorted(summary.fetched) == sorted(plan) == sorted(summary2.fetched)
    assert len(server.requests) == len(plan) + 2  # the two cut bodies were asked for again
    assert all(_crc_ok(source, name, tmp_path / rel) for name, rel in [*plan.items(), *plan2.items()])
    assert not list(tmp_path.rglob("*.part"))


def test_a_member_with_a_wrong_crc_is_detected(tmp_path):
    folder = tmp_path / "served"
    path = build_ucf_zip(folder / "UCF101_videos.zip", ["Alpha"], groups_per_class=2, clips_per_group=2,
                         compression=zipfile.ZIP_STORED)
    with zipfile.ZipFile(path) as archive:
        bad = archive.infolist()[1]
        data_start = bad.header_offset + 30 + len(bad.filename) + len(bad.extra)
    raw = bytearray(path.read_bytes())
    raw[data_start + bad.compress_size // 2] ^= 0x55  # one byte inside the member's data
    path.write_bytes(bytes(raw))
    plan = {info: info.split("/")[-1] for info in zipfile.ZipFile(path).namelist()}

    with RangeServer(folder) as server:
        source = ZipSource(server.url(path.name))
        with pytest.raises(VideorecError) as error:
            source.fetch(plan, tmp_path / "out", workers=1, bar=False)
    assert "CRC-32 does not match" in _one_line(error) and bad.filename in str(error.value)
    assert not (tmp_path / "out" / plan[bad.filename]).exists()
    assert not list((tmp_path / "out").rglob("*.part"))

    with pytest.raises(VideorecError, match="CRC-32 does not match"):  # a local copy too
        ZipSource(path).fetch(plan, tmp_path / "local", bar=False)


def test_a_local_zip_path_works_like_a_url(zip_path, tmp_path):
    with ZipSource(zip_path) as source:
        plan = _plan(source, 5)
        summary = source.fetch(plan, tmp_path, bar=False)
        assert sorted(summary.fetched) == sorted(plan)
        assert all(_crc_ok(source, name, tmp_path / rel) for name, rel in plan.items())


def test_unreachable_url_is_one_clear_line():
    with pytest.raises(VideorecError) as error:
        ZipSource(f"http://127.0.0.1:{free_port()}/UCF101_videos.zip")
    assert _one_line(error).startswith("cannot reach http://127.0.0.1:") and "Connection refused" in str(error.value)


def test_a_server_that_ignores_range_is_refused(tmp_path):
    archive = tmp_path / "UCF101_videos.zip"
    with open(archive, "wb") as handle:  # as big as the real one, sparse on disk
        handle.truncate(6_500_000_000)
    with RangeServer(tmp_path, ignore_range=True) as server:
        with pytest.raises(VideorecError) as error:
            ZipSource(server.url(archive.name))
    assert "ignores HTTP Range" in _one_line(error)
    assert "refusing to download the whole archive (6.5 GB)" in str(error.value)
    assert len(server.requests) == 1  # the client hung up after the first answer's headers
    assert server.bytes_sent < 64e6  # what the socket buffers took, not 6.5 GB


def test_not_a_zip_and_a_truncated_zip(zip_path, tmp_path):
    (tmp_path / "page.zip").write_text("<!DOCTYPE html><html>Not here</html>" * 50)
    (tmp_path / "cut.zip").write_bytes(zip_path.read_bytes()[: zip_path.stat().st_size * 6 // 10])
    (tmp_path / "empty.zip").write_bytes(b"")
    with RangeServer(tmp_path) as server:
        for make in (server.url, lambda name: tmp_path / name):
            with pytest.raises(VideorecError) as error:
                ZipSource(make("page.zip"))
            assert "is not a zip archive (it starts with b'<!DO')" in _one_line(error)
            with pytest.raises(VideorecError) as error:
                ZipSource(make("cut.zip"))
            assert "starts like a zip but its directory is missing or damaged (truncated" in _one_line(error)
            with pytest.raises(VideorecError) as error:
                ZipSource(make("empty.zip"))
            assert "not a zip" in _one_line(error)
    with pytest.raises(VideorecError, match="no such file"):
        ZipSource(tmp_path / "missing.zip")


@pytest.mark.parametrize("evil", ["UCF101/../../v_Evil_g01_c01.avi", "/etc/v_Evil_g01_c01.avi"])
def test_member_names_that_would_escape_are_refused(evil, tmp_path):
    path = build_ucf_zip(tmp_path / "served" / "UCF101_videos.zip", ["Alpha"], 1, 2,
                         extra_members={evil: b"RIFF...."})
    with RangeServer(path.parent) as server:
        with pytest.raises(VideorecError) as error:
            ZipSource(server.url(path.name))
    assert "would write outside the target folder" in _one_line(error) and evil in str(error.value)

    with ZipSource(build_ucf_zip(tmp_path / "ok.zip", ["Alpha"], 1, 2)) as source:
        name = source.members[0].filename
        for target in ("../escape.avi", "/tmp/escape.avi", "a/../../escape.avi"):
            with pytest.raises(VideorecError, match="refusing to write"):
                source.fetch({name: target}, tmp_path / "out", bar=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.avi").exists()


class _Unseekable:
    """A write-only stream: zipfile then writes data descriptors after each member (bit 3)."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def write(self, data: bytes) -> int:
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def test_zip64_headers_and_data_descriptors_are_read(zip_path, tmp_path):
    with zipfile.ZipFile(zip_path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()[:4]}
    (tmp_path / "served").mkdir()
    with zipfile.ZipFile(tmp_path / "served" / "zip64.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            with archive.open(zipfile.ZipInfo(name, (2012, 1, 1, 0, 0, 0)), "w", force_zip64=True) as member:
                member.write(data)
    with open(tmp_path / "served" / "streamed.zip", "wb") as handle:
        with zipfile.ZipFile(_Unseekable(handle), "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    with RangeServer(tmp_path / "served") as server:
        for name in ("zip64.zip", "streamed.zip"):
            source = ZipSource(server.url(name))
            plan = {member: f"{name}/{member.split('/')[-1]}" for member in members}
            source.fetch(plan, tmp_path / "out", bar=False)
            assert all((tmp_path / "out" / rel).read_bytes() == members[m] for m, rel in plan.items())
    streamed = zipfile.ZipFile(tmp_path / "served" / "streamed.zip").infolist()[0]
    assert streamed.flag_bits & 0x08  # really written with data descriptors
