"""Test-session isolation: a private FiftyOne database, plugin folder and VIDEOREC_HOME.

This runs before anything imports fiftyone, so FiftyOne never sees the user's database.
With VIDEOREC_TEST_DB=server the session starts its own ``mongod`` process on a free loopback
port and reaches it through FIFTYONE_DATABASE_URI (the shared-MongoDB set-up teams use).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

# Shared, session-scoped fixtures of each pipeline stage (small synthetic clips, a tiny model).
pytest_plugins = ["tests.fixtures_data", "tests.fixtures_model"]

REPO = Path(__file__).resolve().parent.parent
SESSION_DIR = Path(tempfile.mkdtemp(prefix="videorec-tests-"))
ARTIFACTS = REPO / "test-artifacts"

os.environ.pop("FIFTYONE_DATABASE_URI", None)  # never a user's server
os.environ["FIFTYONE_DATABASE_DIR"] = str(SESSION_DIR / "fiftyone-db")
os.environ["FIFTYONE_DATABASE_VALIDATION"] = "false"
os.environ["FIFTYONE_DO_NOT_TRACK"] = "true"
os.environ["FIFTYONE_DATASET_ZOO_DIR"] = str(SESSION_DIR / "zoo-datasets")
os.environ["FIFTYONE_MODEL_ZOO_DIR"] = str(SESSION_DIR / "zoo-models")
os.environ["FIFTYONE_PLUGINS_DIR"] = str(SESSION_DIR / "plugins")
os.environ["VIDEOREC_HOME"] = str(SESSION_DIR / "videorec-home")
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # a GPU, if any, would make timings and results differ
(SESSION_DIR / "plugins").mkdir()
(SESSION_DIR / "plugins" / "fiftyone-videorec").symlink_to(REPO)

from fiftyone_videorec.private_mongod import MongodServer  # noqa: E402  (after the environment is set)

def _fiftyone_db_service_running() -> bool:
    """True when some FiftyOne process already runs its database service.

    FiftyOne attaches to any running database service, whatever its folder, so an embedded test
    database is private only when none runs (a user's App, or a second test session).
    """
    import psutil

    wanted = ["--51-service", "db"]
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(cmdline[i:i + 2] == wanted for i in range(len(cmdline) - 1)):
            return True
    return False


_SERVER = None
_MODE = os.environ.get("VIDEOREC_TEST_DB", "embedded")
if _MODE == "embedded" and _fiftyone_db_service_running():
    print("conftest: a FiftyOne database service is already running here; using a private mongod "
          "server instead of the embedded database, so the tests cannot touch its data")
    _MODE = "server"
if _MODE == "server":
    _SERVER = MongodServer(SESSION_DIR / "mongod-server")
    _SERVER.start()
    os.environ["FIFTYONE_DATABASE_URI"] = _SERVER.uri


def pytest_configure(config):
    config.addinivalue_line("markers", "pipeline: a real end-to-end pipeline test, run twice by "
                            "`make test` (embedded database, then a separate mongod server)")
    config.addinivalue_line("markers", "browser: drives the FiftyOne App in headless Chromium")


def pytest_unconfigure(config):
    if _SERVER is not None:
        _SERVER.stop()
    _stop_embedded_database()
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


def _stop_embedded_database() -> None:
    """Stop the session's embedded mongod before its folder is deleted (else it aborts noisily)."""
    import sys

    fod = sys.modules.get("fiftyone.core.odm.database")
    service = getattr(fod, "_db_service", None) if fod else None
    if service is None or service.child is None:
        return
    child = service.child
    try:
        fod._disconnect()
        service.stop()  # closes the service's stdin: it shuts mongod down and exits
        child.wait(timeout=30)
    except Exception:  # teardown must not fail the run
        pass


@pytest.fixture(scope="session")
def session_dir() -> Path:
    """The private folder that holds this test session's database, caches and models."""
    return SESSION_DIR


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """A folder in the checkout (git-ignored) for screenshots and other things worth keeping."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def dataset_name(request):
    """A unique dataset name; the dataset is deleted after the test."""
    name = f"test-{request.node.name[:40]}-{uuid.uuid4().hex[:6]}"
    yield name
    import fiftyone as fo

    if fo.dataset_exists(name):
        fo.delete_dataset(name)
