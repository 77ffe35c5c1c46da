"""``videorec doctor``: each check on one line, with the fix for a failure."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

from . import config

OK, FAIL = "✔", "✘"
PACKAGES = ("fiftyone", "fiftyone-brain", "tensorflow", "keras", "numpy", "opencv-python-headless",
            "einops", "scikit-learn")


class CheckFailed(Exception):
    """A doctor check failed; the message is the fix."""


def check_python() -> str:
    if sys.version_info < (3, 10):
        raise CheckFailed(f"Python {platform.python_version()} is too old; use Python 3.11 (make setup)")
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            raise CheckFailed(f"{name} is not installed; run 'make setup'")
    return f"Python {platform.python_version()}; " + ", ".join(versions)


def check_tensorflow() -> str:
    import tensorflow as tf

    devices = [d.device_type for d in tf.config.list_physical_devices()]
    gpus = devices.count("GPU")
    where = f"{gpus} GPU(s)" if gpus else "CPU only (training and embedding run on the CPU)"
    return f"TensorFlow {tf.__version__} sees {', '.join(sorted(set(devices)))}: {where}"


def check_database() -> str:
    from .runtime import connect_database

    fo = connect_database()
    import fiftyone.core.odm.database as fod

    # A real write + read round-trip, in a scratch collection that is dropped again.
    db = fod.get_db_conn()
    name = f"videorec_doctor_{os.getpid()}"
    try:
        db[name].insert_one({"check": 42})
        value = db[name].find_one({"check": 42})
    finally:
        db.drop_collection(name)
    if not value:
        raise CheckFailed("wrote to the database but could not read back; check the MongoDB server")
    uri = os.environ.get("FIFTYONE_DATABASE_URI")
    where = f"server at {uri}" if uri else f"embedded, folder {fo.config.database_dir}"
    return f"database round-trip works ({where})"


def check_ffmpeg() -> str:
    missing = [tool for tool in ("ffmpeg", "ffprobe") if not shutil.which(tool)]
    if missing:
        raise CheckFailed(f"{' and '.join(missing)} not found; run 'sudo apt-get install ffmpeg'")
    return f"ffmpeg and ffprobe at {shutil.which('ffprobe')}"


def check_opencv() -> str:
    import cv2
    import numpy as np

    read = []
    with tempfile.TemporaryDirectory() as tmp:
        for ext, fourcc in ((".avi", "MJPG"), (".mp4", "mp4v")):
            path = str(Path(tmp) / f"doctor{ext}")
            writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), 10, (64, 48))
            for i in range(12):
                writer.write(np.full((48, 64, 3), i * 20, np.uint8))
            writer.release()
            cap = cv2.VideoCapture(path)
            frames = 0
            while cap.read()[0]:
                frames += 1
            cap.release()
            if frames != 12:
                raise CheckFailed(f"OpenCV wrote {fourcc}{ext} but decoded {frames}/12 frames; "
                                  "reinstall opencv-python-headless")
            read.append(f"{fourcc} {ext}")
    return f"OpenCV {cv2.__version__} writes and decodes {' and '.join(read)}"


def check_plugin() -> str:
    import fiftyone.plugins as fop

    names = [p.name for p in fop.list_plugins(enabled="all")]
    if config.PLUGIN_NAME not in names:
        import fiftyone as fo

        repo = Path(__file__).resolve().parent.parent
        raise CheckFailed(
            f"plugin {config.PLUGIN_NAME} not found in {fo.config.plugins_dir}; "
            f"run 'ln -s {repo} {fo.config.plugins_dir}/fiftyone-videorec' (make setup does this)"
        )
    return f"plugin {config.PLUGIN_NAME} is discoverable"


def check_pretrained() -> str:
    from .network.backbone import PACKAGE, BackboneUnavailable, load_backbone

    try:
        load_backbone(64)  # converts on first use, then reads the cache
    except BackboneUnavailable as e:
        raise CheckFailed(str(e)) from None
    return f"ImageNet weights from {PACKAGE} load (the built-in 'pretrained' model works)"


CHECKS: tuple[tuple[str, Callable[[], str]], ...] = (
    ("python", check_python),
    ("tensorflow", check_tensorflow),
    ("database", check_database),
    ("ffmpeg", check_ffmpeg),
    ("opencv", check_opencv),
    ("plugin", check_plugin),
    ("pretrained", check_pretrained),
)


def run_doctor(out=None) -> bool:
    """Run every check, print one line each, and return True when all pass."""
    out = out or sys.stdout
    all_ok = True
    for name, check in CHECKS:
        try:
            line, mark = check(), OK
        except Exception as exc:  # every failure becomes one line with its fix
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            line, mark, all_ok = text, FAIL, False
        print(f"{mark} {name:<10} {line}", file=out, flush=True)
    print(f"videorec doctor: {'all checks passed' if all_ok else 'some checks failed'} "
          f"(home {config.home_dir()})", file=out)
    return all_ok
