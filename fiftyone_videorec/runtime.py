"""Process-wide set-up: quiet TensorFlow, FiftyOne's settings, and a checked database connection."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

from .errors import DatabaseError

_QUIET_DONE = False


def quiet_tensorflow(verbose: bool = False) -> None:
    """Hide TensorFlow's start-up noise (oneDNN notes, CUDA probing) unless ``verbose``.

    Must run before TensorFlow is imported to silence its C++ logging.
    """
    global _QUIET_DONE
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if _QUIET_DONE:
        return
    _QUIET_DONE = True
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass


def configure_fiftyone_env() -> None:
    """Set FiftyOne defaults for this process only (never the user's config file).

    ``database_validation`` is off because the offline fallback mongod (6.0) is older than
    FiftyOne 1.22 likes; a user who sets the variable keeps their value.
    """
    os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")
    os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")


def _check_database_dir(folder: str) -> None:
    """Fail early, in one line, when the embedded database's folder cannot be written."""
    path = Path(folder).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".videorec-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DatabaseError(
            f"FiftyOne's database cannot start: its folder {path} is not writable ({exc.strerror}); "
            "set FIFTYONE_DATABASE_DIR to a writable folder, or FIFTYONE_DATABASE_URI to a MongoDB server"
        ) from None


def connect_database():
    """Start (or reach) FiftyOne's database and return the ``fiftyone`` module.

    Raises:
        DatabaseError: one line saying what failed and how to fix it.
    """
    configure_fiftyone_env()
    import fiftyone as fo
    import fiftyone.core.odm.database as fod

    uri = os.environ.get("FIFTYONE_DATABASE_URI")
    if not uri:
        _check_database_dir(fo.config.database_dir)
    try:
        fod.get_db_conn().list_collection_names()
    except Exception as exc:  # FiftyOne raises many kinds here; the user needs one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if uri:
            fix = f"check that a MongoDB server answers at FIFTYONE_DATABASE_URI={uri}"
        else:
            folder = fo.config.database_dir
            fix = (
                f"check that the database folder {folder} is writable (or set "
                "FIFTYONE_DATABASE_DIR to one that is), and run 'make setup' to install mongod"
            )
        raise DatabaseError(f"FiftyOne's database did not start ({reason[:200]}); {fix}") from None
    if not uri:
        _check_served_folder(fod, fo.config.database_dir)
    return fo


def dataset_name_of(dataset_or_view) -> str:
    """The name of a dataset, or of the dataset a view comes from."""
    return getattr(dataset_or_view, "dataset_name", None) or dataset_or_view.name


def open_dataset(dataset_or_name):
    """Return the dataset (or view) every stage works on: a name is loaded from the database,
    with a one-line :class:`VideorecError` naming the missing dataset; a dataset or view passes through."""
    if not isinstance(dataset_or_name, str):
        return dataset_or_name
    from .errors import VideorecError

    fo = connect_database()
    if not fo.dataset_exists(dataset_or_name):
        raise VideorecError(f"dataset {dataset_or_name!r} does not exist (load one with 'videorec load ...')")
    return fo.load_dataset(dataset_or_name)


def _check_served_folder(fod, wanted: str) -> None:
    """Refuse to work on another folder's database.

    FiftyOne attaches to any FiftyOne database service already running for this user, whatever
    its folder; with two FIFTYONE_DATABASE_DIR settings in play that would silently mix datasets.
    """
    try:
        opts = fod.get_db_conn().client.admin.command("getCmdLineOpts")["parsed"]
        served = opts.get("storage", {}).get("dbPath")
    except Exception:  # a server without that command: nothing to compare
        return
    if served and Path(served).resolve() != Path(wanted).expanduser().resolve():
        raise DatabaseError(
            f"FiftyOne attached to a database already running from {served}, not FIFTYONE_DATABASE_DIR="
            f"{wanted}; close the other FiftyOne process, or use FIFTYONE_DATABASE_URI for a shared server"
        )


def import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up messages (CUDA probing) sent to /dev/null.

    Those lines are written to file descriptor 2 before TensorFlow's log level applies, so the
    only way to hide them is to point fd 2 elsewhere while TensorFlow loads and probes devices.
    """
    quiet_tensorflow()
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # probes (and caches) devices while fd 2 is closed
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tf
