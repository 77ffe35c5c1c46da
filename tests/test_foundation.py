"""The foundation: the CLI's usage errors, the private test database, doctor, database failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SESSION_DIR
from fiftyone_videorec.private_mongod import MongodServer

VIDEOREC = [sys.executable, "-m", "fiftyone_videorec"]


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run videorec; an ``env`` value of None removes that variable."""
    merged = {**os.environ, **(env or {})}
    merged = {key: value for key, value in merged.items() if value is not None}
    return subprocess.run([*VIDEOREC, *args], capture_output=True, text=True, timeout=timeout,
                          env=merged, stdin=subprocess.DEVNULL)


def test_unknown_subcommand_prints_usage_and_exits_2():
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "usage: videorec" in result.stderr
    assert "invalid choice: 'frobnicate'" in result.stderr


def test_bad_flag_prints_usage_and_exits_2():
    result = run_cli("doctor", "--no-such-flag")
    assert result.returncode == 2
    assert "usage: videorec" in result.stderr and "--no-such-flag" in result.stderr


def test_tests_use_a_private_database_not_the_users():
    """Ask the running mongod itself which folder it stores data in."""
    import fiftyone as fo
    import fiftyone.core.odm.database as fod

    default_dir = Path.home() / ".fiftyone" / "var" / "lib" / "mongo"
    assert Path(fo.config.database_dir).resolve() != default_dir.resolve()
    opts = fod.get_db_conn().client.admin.command("getCmdLineOpts")["parsed"]
    served_from = Path(opts["storage"]["dbPath"]).resolve()
    assert SESSION_DIR.resolve() in served_from.parents
    assert os.environ["VIDEOREC_HOME"].startswith(str(SESSION_DIR))


def test_doctor_is_green_here():
    result = run_cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for check in ("python", "tensorflow", "database", "ffmpeg", "opencv", "plugin"):
        assert any(line.startswith("✔") and check in line for line in lines), (check, result.stdout)
    assert "Traceback" not in result.stderr


@pytest.mark.pipeline
def test_doctor_is_green_against_a_separate_mongod_server(tmp_path):
    server = MongodServer(tmp_path / "server")
    server.start()
    try:
        result = run_cli("doctor", env={"FIFTYONE_DATABASE_URI": server.uri})
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"server at {server.uri}" in result.stdout


def test_database_that_cannot_start_gives_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_cli("doctor", env={"FIFTYONE_DATABASE_DIR": str(blocker / "db"), "FIFTYONE_DATABASE_URI": None})
    assert result.returncode == 1
    failure = [line for line in result.stdout.splitlines() if line.startswith("✘")]
    assert len(failure) == 1 and "database" in failure[0], result.stdout
    assert "FIFTYONE_DATABASE_DIR" in failure[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_tensorflow_noise_is_hidden_by_default():
    result = run_cli("doctor")
    assert "oneDNN" not in result.stderr and "cuda" not in result.stderr.lower(), result.stderr


def test_a_database_served_from_another_folder_is_refused(tmp_path):
    """FiftyOne attaches to any running database service; we refuse one serving another folder."""
    server = MongodServer(tmp_path / "other")
    server.start()
    try:
        from fiftyone_videorec.errors import DatabaseError
        from fiftyone_videorec.runtime import _check_served_folder
        from pymongo import MongoClient

        class _Conn:  # the shape connect_database uses: get_db_conn().client
            def __init__(self):
                self.client = MongoClient(server.uri)

        class _Fod:
            conn = _Conn()

            def get_db_conn(self):
                return self.conn

        with pytest.raises(DatabaseError, match="already running from"):
            _check_served_folder(_Fod(), str(tmp_path / "mine"))
        _check_served_folder(_Fod(), str(tmp_path / "other"))  # same folder: fine
    finally:
        server.stop()
