"""Reading a PyTorch state dict saved in the legacy (pre-zip) format with ``pickle`` and NumPy alone.

The ImageNet weights the product ships come as such a file (``torch.save`` before PyTorch 1.6
wrote a zip): five pickles in a row (a magic number, the protocol version, the machine's type
sizes, the object itself with its storages as persistent ids, then the storages' keys), followed
by each storage's raw bytes, an 8-byte element count before each. The unpickler here allows only
the handful of names a state dict needs (``torch._utils._rebuild_tensor_v2``, the ``*Storage``
types, ``collections.OrderedDict``), so a file cannot run code while it is read, and PyTorch is
never imported.
"""

from __future__ import annotations

import collections
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VideorecError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # what torch.save writes first in the legacy format
PROTOCOL_VERSION = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class LegacyFormatError(VideorecError):
    """A file that is not a legacy PyTorch state dict this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    dtype: type


@dataclass
class _Storage:
    key: str
    dtype: type
    numel: int


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple
    stride: tuple


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *_ignored):
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


class _PlainUnpickler(pickle.Unpickler):
    """Plain data only (numbers, strings, lists, dicts): the headers and the key list."""

    def find_class(self, module, name):
        raise LegacyFormatError(f"unexpected object {module}.{name} in the weights file")


def _load_plain(f):
    return _PlainUnpickler(f).load()


class _Unpickler(pickle.Unpickler):
    """Resolves only the names a state dict uses; storages become placeholders filled in later."""

    def __init__(self, file):
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise LegacyFormatError(f"unexpected object {module}.{name} in the weights file")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise LegacyFormatError(f"unexpected persistent id {pid!r:.60}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise LegacyFormatError(f"unexpected storage type {storage_type!r:.60}")
        return self.storages.setdefault(key, _Storage(key, storage_type.dtype, numel))


def _resolve(ref: _TensorRef, data: dict[str, np.ndarray]) -> np.ndarray:
    flat = data[ref.storage.key]
    itemsize = flat.itemsize
    needed = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride)) + 1 if all(ref.shape) else 0
    if needed > len(flat):
        raise LegacyFormatError(f"a tensor of shape {ref.shape} reaches past its storage ({len(flat)} elements)")
    view = np.lib.stride_tricks.as_strided(flat[ref.offset:], shape=ref.shape,
                                           strides=tuple(s * itemsize for s in ref.stride))
    return np.array(view)  # a contiguous copy, independent of the file's buffer


def read_state_dict(path) -> dict[str, np.ndarray]:
    """Return ``{name: array}`` of a legacy-format ``torch.save``'d state dict, without PyTorch.

    Raises :class:`LegacyFormatError` (one line) when the file is missing, truncated, zip-format
    or holds anything but tensors.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            if f.read(4) == b"PK\x03\x04":
                raise LegacyFormatError("a zip archive (PyTorch >= 1.6 format), not the legacy format")
            f.seek(0)
            if _load_plain(f) != MAGIC_NUMBER:
                raise LegacyFormatError("not a legacy PyTorch file (wrong magic number)")
            if _load_plain(f) != PROTOCOL_VERSION:
                raise LegacyFormatError("unsupported legacy PyTorch protocol version")
            sys_info = _load_plain(f)
            if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
                raise LegacyFormatError("only little-endian weight files are supported")
            unpickler = _Unpickler(f)
            state = unpickler.load()
            keys = _load_plain(f)
            data = {}
            for key in keys:
                storage = unpickler.storages.get(str(key))
                if storage is None:
                    raise LegacyFormatError(f"storage {key} is listed but never used")
                count = int.from_bytes(f.read(8), "little")
                raw = f.read(count * np.dtype(storage.dtype).itemsize)
                if count != storage.numel or len(raw) != count * np.dtype(storage.dtype).itemsize:
                    raise LegacyFormatError(f"storage {key} is truncated")
                data[str(key)] = np.frombuffer(raw, dtype=storage.dtype)
    except LegacyFormatError as e:
        raise LegacyFormatError(f"{path}: {e}") from None
    except FileNotFoundError:
        raise LegacyFormatError(f"{path}: file not found") from None
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise LegacyFormatError(f"{path}: unreadable weights ({type(e).__name__}: {' '.join(str(e).split())[:80]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, _TensorRef) for v in state.values()):
        raise LegacyFormatError(f"{path}: expected a state dict of tensors")
    try:
        return {name: _resolve(ref, data) for name, ref in state.items()}
    except LegacyFormatError as e:
        raise LegacyFormatError(f"{path}: {e}") from None
