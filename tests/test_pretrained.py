"""Recommendations before any training (the built-in ``pretrained`` model) and the fused default.

Real clips from ``benchmarks/clips`` and their re-encoded copies, no labels anywhere: the CLI's
load -> embed -> index -> similar must find each copy's original first. Then a trained network
joined with the ImageNet features: its vector is the documented fusion of the two streams.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fiftyone_videorec import config
from fiftyone_videorec.cli.main import main
from fiftyone_videorec.errors import VideorecError

CLIPS = Path(__file__).resolve().parents[1] / "benchmarks" / "clips"
ORIGINALS = ("Basketball__g01c01.avi", "Biking__g02c05.mp4", "Diving__g01c01.mp4", "PlayingGuitar__g16c02.avi",
             "SoccerJuggling__g23c01.avi", "Shotput__g05c02.avi")


@pytest.fixture(scope="module")
def unlabelled_folder(tmp_path_factory) -> Path:
    """Six real recordings (2 s each) and a half-size, low-bitrate copy of each, loose in one folder."""
    from fiftyone_videorec.data.video_files import ffmpeg_convert

    root = tmp_path_factory.mktemp("unlabelled")
    for name in ORIGINALS:
        stem = Path(name).stem
        ffmpeg_convert(CLIPS / name, root / f"{stem}.mp4", "-t", "2", "-c:v", "libx264", "-crf", "20")
        ffmpeg_convert(CLIPS / name, root / f"{stem}-copy.mp4",
                       "-t", "2", "-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2", "-c:v", "libx264", "-crf", "35")
    return root


def test_pretrained_recommends_with_no_labels_through_the_cli(unlabelled_folder, capsys):
    import fiftyone as fo

    name = "videorec-test-pretrained-cli"
    assert main(["load", "dir", str(unlabelled_folder), "--dataset", name, "--overwrite"]) == 0
    dataset = fo.load_dataset(name)
    assert len(dataset) == 12 and not dataset.has_field(config.LABEL_FIELD)
    assert main(["embed", "--dataset", name, "--model", "pretrained"]) == 0
    assert "embedded 12 of 12" in capsys.readouterr().out
    assert main(["embed", "--dataset", name, "--model", "pretrained"]) == 0  # incremental: nothing left
    out = capsys.readouterr().out
    assert "embedded 0 of 0" in out and "12 already" in out
    assert main(["index", "--dataset", name]) == 0
    originals = {Path(p).stem: sid for sid, p in zip(*dataset.values(["id", config.ORIGINAL_PATH_FIELD]))}
    hits = 0
    for stem in (Path(n).stem for n in ORIGINALS):
        capsys.readouterr()
        assert main(["similar", "--dataset", name, "--sample-id", originals[f"{stem}-copy"], "-k", "1"]) == 0
        hits += stem + ".mp4" in capsys.readouterr().out.splitlines()[-1]
    assert hits == len(ORIGINALS)
    assert main(["similar", "--dataset", name, "--video", str(unlabelled_folder / "Biking__g02c05-copy.mp4"),
                 "-k", "2"]) == 0
    assert "Biking__g02c05" in capsys.readouterr().out.splitlines()[1]


def test_a_loaded_model_is_reused_and_its_vectors_match_compute_embeddings(unlabelled_folder):
    import fiftyone as fo

    from fiftyone_videorec.embedding.embedder import load_model
    from fiftyone_videorec.embedding.run import embed_dataset

    dataset = fo.Dataset("videorec-test-pretrained-reuse", overwrite=True)
    dataset.add_samples([fo.Sample(filepath=str(p)) for p in sorted(unlabelled_folder.glob("*.mp4"))[:4]])
    model = load_model("pretrained")
    assert not model.has_logits and model.model_dir == load_model(str(model.model_dir)).model_dir
    summary = embed_dataset(dataset, model, field="fast")
    assert summary.embedded == 4 and embed_dataset(dataset, model, field="fast").embedded == 0
    with pytest.raises(VideorecError, match="clips and batch size are set when a model is loaded"):
        embed_dataset(dataset, model, field="fast", clips=2)
    dataset.compute_embeddings(model, embeddings_field="sdk")
    fast, sdk = (np.stack(dataset.values(f)) for f in ("fast", "sdk"))
    assert fast.shape == (4, 1280) and np.abs(fast - sdk).max() < 1e-4
    with pytest.raises(VideorecError, match="predicts no class"):
        model.predict(str(dataset.first().filepath))


def test_the_default_fuses_the_trained_network_with_the_imagenet_features(synthetic_dataset, tmp_path):
    from fiftyone_videorec.embedding.embedder import load_model
    from fiftyone_videorec.embedding.model_folder import model_fingerprint
    from fiftyone_videorec.network.training import train

    fused_dir = tmp_path / "fused"
    result = train(synthetic_dataset.name, fused_dir, preset="tiny", epochs=1, appearance_weight=0.5)
    assert result.metadata["appearance"] == {"frames": config.APPEARANCE_FRAMES, "image_size": config.APPEARANCE_SIZE,
                                             "weight": 0.5, "backbone": "efficientnet-lite0-imagenet"}
    metrics = result.metadata["metrics"]
    assert {"motion_only_precision@5", "appearance_only_precision@5", "test_vs_train_precision@5"} <= set(metrics)
    motion_dir = tmp_path / "motion"
    shutil.copytree(fused_dir, motion_dir)
    meta = json.loads((motion_dir / "metadata.json").read_text())
    del meta["appearance"]
    (motion_dir / "metadata.json").write_text(json.dumps(meta))
    assert model_fingerprint(fused_dir) != model_fingerprint(motion_dir)

    paths = synthetic_dataset.values("filepath")[:5]
    fused, motion, pretrained = (load_model(m).embed_all(paths) for m in (fused_dir, motion_dir, "pretrained"))
    assert fused.shape[1] == motion.shape[1] + 1280 and np.allclose(np.linalg.norm(fused, axis=1), 1, atol=1e-5)
    expected = 0.5 * (pretrained @ pretrained.T) + 0.5 * (motion @ motion.T)
    assert np.abs(fused @ fused.T - expected).max() < 1e-4
    with pytest.raises(VideorecError, match="appearance weight must be"):
        train(synthetic_dataset.name, tmp_path / "bad", preset="tiny", epochs=1, appearance_weight=1.0)
    with pytest.raises(VideorecError, match="'auto' or a number"):
        train(synthetic_dataset.name, tmp_path / "bad", preset="tiny", epochs=1, appearance_weight="half")


def test_auto_chooses_the_weight_on_the_validation_clips(synthetic_dataset, tmp_path):
    from fiftyone_videorec.embedding.embedder import load_model
    from fiftyone_videorec.network.training import train

    result = train(synthetic_dataset.name, tmp_path / "auto", preset="tiny", epochs=1, appearance_weight="auto")
    appearance = result.metadata["appearance"]
    scores = {float(w): s for w, s in appearance["validation_precision_at_5"].items()}
    assert set(scores) == set(config.APPEARANCE_WEIGHT_GRID) and "validation" in appearance["chosen_on"]
    assert scores[appearance["weight"]] == max(scores.values())
    assert result.metadata["metrics"]["appearance_weight"] == appearance["weight"]
    assert load_model(tmp_path / "auto").appearance_weight == appearance["weight"]


def test_moments_index_with_the_pretrained_model(unlabelled_folder):
    import fiftyone as fo

    from fiftyone_videorec.search.moments import find_moments, index_moments

    dataset = fo.Dataset("videorec-test-pretrained-moments", overwrite=True)
    dataset.add_samples([fo.Sample(filepath=str(unlabelled_folder / f"{Path(n).stem}.mp4")) for n in ORIGINALS[:3]])
    summary = index_moments(dataset, "pretrained", window=1.0, stride=0.5)
    assert summary.embedded == 3 and summary.moments >= 9 and not summary.failed
    again = index_moments(dataset, "pretrained", window=1.0, stride=0.5)
    assert again.embedded == 0 and again.skipped == 3
    found = find_moments(dataset, str(unlabelled_folder / f"{Path(ORIGINALS[1]).stem}-copy.mp4"), k=1)
    assert Path(found[0].filepath).stem == Path(ORIGINALS[1]).stem
