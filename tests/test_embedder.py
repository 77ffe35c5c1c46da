"""The FiftyOne video Model on real-world-like clips: SDK, fast path and CLI fill every sample."""

import json

import numpy as np
import pytest

from fiftyone_videorec import config
from fiftyone_videorec.cli.main import main
from fiftyone_videorec.data.video_files import ffmpeg_convert, moving_square_frames, write_video
from fiftyone_videorec.errors import VideorecError


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """An untrained "tiny" model folder (weights do not matter for plumbing; 3 classes)."""
    from fiftyone_videorec.network.model import build_model, save_trained

    classifier, _ = build_model("tiny", num_classes=3)
    out = tmp_path_factory.mktemp("model")
    save_trained(out, classifier, {"preset": "tiny", "class_names": ["a", "b", "c"]})
    return out


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    avi = write_video(root / "mjpg.avi", fourcc="MJPG", n_frames=16)
    write_video(root / "mp4v.mp4", fourcc="mp4v", n_frames=16, seed=1)
    ffmpeg_convert(avi, root / "h264_nodur.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                   "-movflags", "frag_keyframe+empty_moov")
    ffmpeg_convert(avi, root / "clip.mkv", "-c:v", "libx264")
    ffmpeg_convert(avi, root / "anim.gif")
    ffmpeg_convert(root / "anim.gif", root / "from_gif.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p")
    write_video(root / "hd.avi", fourcc="MJPG", n_frames=6, size=(1920, 1080))
    write_video(root / "fps8.avi", fourcc="MJPG", n_frames=12, fps=8, seed=2)
    write_video(root / "short.avi", fourcc="MJPG", n_frames=2, seed=3)
    return root


@pytest.fixture()
def clip_dataset(clip_folder):
    import fiftyone as fo

    ds = fo.Dataset()
    ds.add_samples([fo.Sample(filepath=str(p), tags=["train"]) for p in sorted(clip_folder.iterdir())
                    if p.suffix != ".gif"])
    for i, s in enumerate(ds):
        s[config.LABEL_FIELD] = fo.Classification(label="abc"[i % 3])
        s.save()
    return ds


def test_compute_embeddings_fills_every_sample_and_matches_embed(clip_dataset, model_dir):
    from fiftyone_videorec.embedding.embedder import load_model
    from fiftyone_videorec.embedding.run import embed_dataset

    model = load_model(model_dir)
    clip_dataset.compute_embeddings(model, embeddings_field="sdk")
    fast = embed_dataset(clip_dataset, model_dir, field="fast")
    assert fast.embedded == len(clip_dataset) == 8 and not fast.failed
    for sample in clip_dataset:
        assert sample["sdk"] is not None, sample.filepath
        direct = model.embed(sample.filepath)
        assert np.allclose(sample["sdk"], direct, atol=1e-5)
        assert np.allclose(sample["fast"], direct, atol=1e-5)
        assert np.linalg.norm(direct) == pytest.approx(1.0, abs=1e-5)
    clip_dataset.apply_model(model, label_field="predictions")
    pred = clip_dataset.first()["predictions"]
    assert pred.label in {"a", "b", "c"} and 0 < pred.confidence <= 1


def test_clip_averaging_is_normalised_mean(clip_folder, model_dir):
    from fiftyone_videorec.embedding.embedder import load_model

    one = load_model(model_dir, clips=1)
    three = load_model(model_dir, clips=3)
    clips = three.read(clip_folder / "mjpg.avi").clips
    assert clips.shape[0] == 3
    per_clip = [one.embed(c) for c in clips]
    mean = np.mean(per_clip, axis=0)
    assert np.allclose(three.embed(str(clip_folder / "mjpg.avi")), mean / np.linalg.norm(mean), atol=1e-5)


def test_failures_recorded_and_bad_inputs(clip_dataset, clip_folder, model_dir, tmp_path):
    import fiftyone as fo

    from fiftyone_videorec.embedding.embedder import load_model
    from fiftyone_videorec.embedding.run import embed_dataset

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    clip_dataset.add_sample(fo.Sample(filepath=str(broken)))
    summary = embed_dataset(clip_dataset, model_dir, field="emb")
    assert summary.embedded == 8 and len(summary.failed) == 1
    bad = clip_dataset.match({"filepath": str(broken)}).first()
    assert bad["emb"] is None and bad[config.EMBED_ERROR_FIELD]
    assert len(clip_dataset.exists(config.EMBED_ERROR_FIELD)) == 1
    with pytest.raises(VideorecError, match="does not exist"):
        load_model(tmp_path / "missing")
    with pytest.raises(VideorecError, match="not a videorec model"):
        load_model(clip_folder)
    with pytest.raises(VideorecError, match="at least 1"):
        load_model(model_dir, clips=0)
    clip_dataset.set_values("text", ["x"] * len(clip_dataset))
    with pytest.raises(VideorecError, match="not embeddings"):
        embed_dataset(clip_dataset, model_dir, field="text")


@pytest.mark.pipeline
def test_cli_embed_index_similar_evaluate(clip_dataset, clip_folder, model_dir, capsys, tmp_path):
    clip_dataset.persistent = True
    name = clip_dataset.name
    clip_dataset.limit(3).tag_samples("test")
    clip_dataset.limit(3).untag_samples("train")
    assert main(["embed", "--dataset", name, "--model", str(model_dir), "--field", "cli"]) == 0
    assert "embedded 8 of 8" in capsys.readouterr().out
    assert main(["index", "--dataset", name, "--field", "cli", "--brain-key", "k"]) == 0
    first = clip_dataset.first()
    capsys.readouterr()
    assert main(["similar", "--dataset", name, "--brain-key", "k", "--sample-id", first.id, "-k", "3"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["rank", "score", "label", "file"] and len(table) == 4
    assert first.filepath not in "\n".join(table)
    new_video = write_video(tmp_path / "new.avi", fourcc="MJPG", n_frames=16, seed=9)
    assert main(["similar", "--dataset", name, "--brain-key", "k", "--video", str(new_video), "-k", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    (tmp_path / "bad.mp4").write_bytes(b"junk")
    assert main(["similar", "--dataset", name, "--brain-key", "k", "--video", str(tmp_path / "bad.mp4")]) == 2
    capsys.readouterr()
    assert main(["evaluate", "--dataset", name, "--brain-key", "k", "-k", "1,3", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"precision@3", "recall@3", "map@3", "chance_precision@3"} <= set(metrics)
    assert main(["embed", "--dataset", name, "--model", str(tmp_path / "nope"), "--field", "x"]) == 2


def test_many_samples_across_write_batches_with_failures_in_between(clip_folder, model_dir, tmp_path):
    """More samples than one database write batch, broken files among them: every good sample is
    embedded exactly once and every broken one has its reason, nothing lost at batch edges."""
    import fiftyone as fo

    from fiftyone_videorec.embedding.run import WRITE_BATCH, embed_dataset

    good = sorted(p for p in clip_folder.iterdir() if p.suffix in (".avi", ".mp4"))[:2]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    paths = [broken if i % 29 == 5 else good[i % len(good)] for i in range(WRITE_BATCH * 2 + 7)]
    ds = fo.Dataset("videorec-embed-many")
    ds.add_samples([fo.Sample(filepath=str(p)) for p in paths])
    summary = embed_dataset(ds, model_dir, field="emb", batch_size=4, clips=1)
    n_broken = sum(p == broken for p in paths)
    assert summary.embedded == len(paths) - n_broken and len(summary.failed) == n_broken
    assert len(ds.exists("emb")) == len(paths) - n_broken
    assert len(ds.exists(config.EMBED_ERROR_FIELD)) == n_broken
    assert set(ds.match({"filepath": str(broken)}).values("id")) == set(summary.failed)


def test_decoding_runs_a_bounded_distance_ahead():
    """The prefetch keeps at most ``ahead`` decoded clips waiting, however many samples there are."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from fiftyone_videorec.embedding.run import _prefetch

    started, lock = [], threading.Lock()

    def work(i):
        with lock:
            started.append(i)
        return i * 2

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = _prefetch(pool, work, range(1000), ahead=6)
        first = next(results)
        pool.submit(lambda: None).result()  # let submitted work start
        assert first == 0 and len(started) <= 7
        assert [first, *results] == [i * 2 for i in range(1000)]


def test_ten_file_queries_load_the_model_once_without_retracing(clip_dataset, clip_folder, model_dir,
                                                                monkeypatch, caplog):
    """recommend() by file keeps the loaded model: one load, one traced graph, for any number of queries."""
    import logging
    import os
    import shutil

    from fiftyone_videorec.network import model as model_module
    from fiftyone_videorec.embedding.embedder import shared_model
    from fiftyone_videorec.embedding.run import embed_dataset
    from fiftyone_videorec.search.similarity import build_index, recommend

    embed_dataset(clip_dataset, model_dir)
    build_index(clip_dataset, brain_key="by_file")
    loads = []
    real_load = model_module.load_trained
    monkeypatch.setattr(model_module, "load_trained", lambda folder: loads.append(folder) or real_load(folder))
    query = clip_folder / "mp4v.mp4"
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        answers = [[r.sample_id for r in recommend(clip_dataset, str(query), k=3, brain_key="by_file")]
                   for _ in range(10)]
    assert len(loads) <= 1  # at most once (none when an earlier test in this process loaded it)
    assert all(answer == answers[0] for answer in answers) and len(answers[0]) == 3
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
    # a retrained model (a new model file) is loaded afresh, not served stale
    copy = model_dir.parent / "model-copy"
    shutil.copytree(model_dir, copy, dirs_exist_ok=True)
    first = shared_model(copy)
    assert shared_model(copy) is first
    os.utime(copy / "model.keras", ns=(1, 1))
    assert shared_model(copy) is not first
