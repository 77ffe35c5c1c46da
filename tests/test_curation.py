"""Predictions and curation scores: 'videorec predict' (incremental, sharded through real delegated
workers) and 'videorec curate' (the FiftyOne Brain's four scores), with their operators."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fiftyone_videorec import config
from fiftyone_videorec.cli.main import main
from tests.test_embedding_jobs import _launch_worker, _library, _stop, _wait_for

SCORES = ("mistakenness", "hardness", "uniqueness", "representativeness")


@pytest.fixture
def labelled(synthetic_dataset, dataset_name):
    """A copy of the session's synthetic clips (24, labelled, split tags) that a test may change."""
    dataset = synthetic_dataset.clone(dataset_name, persistent=True)
    yield dataset
    dataset.delete()


def _json(capsys, argv) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_predict_writes_the_models_classes_with_logits_incrementally(labelled, tiny_model_dir, capsys):
    from fiftyone_videorec.embedding.embedder import load_model
    from fiftyone_videorec.fields import fingerprint_field
    from fiftyone_videorec.embedding.model_folder import model_fingerprint

    argv = ["predict", "--dataset", labelled.name, "--model", str(tiny_model_dir), "--json"]
    first = _json(capsys, argv)
    assert first["predicted"] == len(labelled) and first["already"] == 0 and first["failed"] == {}
    model = load_model(tiny_model_dir)
    classes = set(model.class_names)
    predictions = labelled.values(config.PREDICTION_FIELD)
    assert all(p.label in classes and 0 < p.confidence <= 1 and len(p.logits) == len(classes) for p in predictions)
    assert set(labelled.values(fingerprint_field(config.PREDICTION_FIELD))) == {model_fingerprint(tiny_model_dir)}
    assert sum(first["counts"].values()) == len(labelled)
    # the same labels and logits as FiftyOne's Model interface gives, one video at a time
    sample = labelled.first()
    direct = model.predict(sample.filepath)
    assert direct.label == sample[config.PREDICTION_FIELD].label
    assert np.allclose(direct.logits, sample[config.PREDICTION_FIELD].logits, atol=1e-4)

    again = _json(capsys, argv)
    assert again["predicted"] == 0 and again["already"] == len(labelled)
    assert _json(capsys, [*argv, "--force"])["predicted"] == len(labelled)


def test_predict_with_pretrained_or_into_a_wrong_field_is_one_line(labelled, tiny_model_dir, capsys):
    for argv, message in ((["--model", "pretrained"], "predicts no class"),
                          (["--model", str(tiny_model_dir), "--field", config.LABEL_FIELD], None),
                          (["--model", str(tiny_model_dir), "--field", "filepath"], "not predictions")):
        capsys.readouterr()
        status = main(["predict", "--dataset", labelled.name, *argv])
        err = capsys.readouterr().err
        if message is None:  # the labels field holds Classification too: writing into it is allowed
            assert status == 0
            continue
        assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.pipeline  # also run against a separately started mongod server
def test_predict_shards_drain_through_delegated_workers(synthetic_dataset, tiny_model_dir, dataset_name, tmp_path,
                                                        capsys):
    from fiftyone.operators.delegated import DelegatedOperationService

    from fiftyone_videorec.embedding.jobs import PREDICT_OPERATOR
    from fiftyone_videorec.embedding.predictions import predict_dataset

    dataset = _library(synthetic_dataset, dataset_name, copies=2)  # 48 samples
    predict_dataset(dataset, tiny_model_dir, field="reference")
    reference = dict(zip(*dataset.values(["id", "reference.label"])))
    queued = _json(capsys, ["predict", "--dataset", dataset.name, "--model", str(tiny_model_dir), "--shards", "2",
                            "--json"])
    assert queued["already"] == 0 and [s["note"] for s in queued["shards"]] == ["queued", "queued"]

    def operations():
        return DelegatedOperationService().list_operations(operator=PREDICT_OPERATOR, dataset_name=dataset.name)

    workers = [_launch_worker(tmp_path / "worker.log")]
    try:
        _wait_for(lambda: all(op.run_state in ("completed", "failed") for op in operations()), 400,
                  "two prediction shards", poll_s=1.0)
    finally:
        _stop(workers)
    ops = operations()
    assert {op.run_state for op in ops} == {"completed"}, (tmp_path / "worker.log").read_text()[-2000:]
    assert sum(op.result.result["predicted"] for op in ops) == len(dataset)  # each sample once
    dataset.reload()
    assert dict(zip(*dataset.values(["id", f"{config.PREDICTION_FIELD}.label"]))) == reference
    queued = _json(capsys, ["predict", "--dataset", dataset.name, "--model", str(tiny_model_dir), "--shards", "2",
                            "--json"])
    assert queued["already"] == len(dataset) and len(operations()) == 2  # nothing left: nothing queued


def test_curate_writes_every_score_from_our_predictions_and_embeddings(labelled, tiny_model_dir, capsys):
    import fiftyone as fo

    from fiftyone_videorec.embedding.run import embed_dataset
    from fiftyone_videorec.embedding.predictions import predict_dataset

    first = labelled.first()
    labelled.add_sample(fo.Sample(filepath=first.filepath, tags=["train"],
                                  **{config.LABEL_FIELD: fo.Classification(label=first[config.LABEL_FIELD].label)}))
    embed_dataset(labelled, tiny_model_dir)
    predict_dataset(labelled, tiny_model_dir)
    result = _json(capsys, ["curate", "--dataset", labelled.name, "--top", "5", "--json"])
    assert result["computed"] == {name: len(labelled) for name in SCORES} and result["skipped"] == {}
    for name in SCORES:
        values = labelled.values(name)
        assert all(v is not None for v in values), name
        top = [entry[name] for entry in result["top"][name]]
        assert len(top) == 5 and top == sorted(top, reverse=True) and top[0] == pytest.approx(max(values))
        assert {"sample_id", "filepath", "label"} <= set(result["top"][name][0])
    # read from our embeddings: the same video twice has one vector, so both copies score alike
    a, b = labelled.match({"filepath": first.filepath}).values("uniqueness")
    assert a == pytest.approx(b, abs=1e-6) and max(labelled.values("uniqueness")) == pytest.approx(1.0)
    # mistakenness follows the predictions: a label that the model confidently contradicts scores high
    wrong = [s for s in labelled.iter_samples() if s[config.PREDICTION_FIELD].label != s[config.LABEL_FIELD].label]
    right = [s for s in labelled.iter_samples() if s[config.PREDICTION_FIELD].label == s[config.LABEL_FIELD].label]
    if wrong and right:
        assert np.mean([s["mistakenness"] for s in wrong]) > np.mean([s["mistakenness"] for s in right])


def test_curate_names_what_is_missing(labelled, tiny_model_dir, capsys):
    from fiftyone_videorec.embedding.run import embed_dataset

    capsys.readouterr()
    assert main(["curate", "--dataset", labelled.name, "--mistakenness"]) == 2
    err = capsys.readouterr().err
    assert "videorec predict" in err and len(err.strip().splitlines()) == 1, err
    embed_dataset(labelled, tiny_model_dir)
    result = _json(capsys, ["curate", "--dataset", labelled.name, "--json"])  # no score asked: what can be
    assert set(result["computed"]) == {"uniqueness", "representativeness"}
    assert set(result["skipped"]) == {"mistakenness", "hardness"}
    assert "videorec predict" in result["skipped"]["hardness"]
    small = labelled.limit(10)
    from fiftyone_videorec.curation.scores import curate
    from fiftyone_videorec.errors import VideorecError

    with pytest.raises(VideorecError, match="at least 20 videos"):
        curate(small, scores=("representativeness",))


def test_operators_predict_and_curate(labelled, tiny_model_dir):
    from tests.test_operators import form_error, run, triggered

    from fiftyone_videorec.embedding.run import embed_dataset

    assert "predicts no class" in form_error("predict_video_classes", labelled, {"model_dir": "pretrained"})
    result = run("predict_video_classes", labelled, {"model_dir": str(tiny_model_dir)})
    assert result.result["predicted"] == len(labelled)
    embed_dataset(labelled, tiny_model_dir)
    result = run("curate_videos", labelled, {"representativeness": False, "uniqueness": False})
    assert set(result.result["computed"]) == {"mistakenness", "hardness"}
    assert triggered(result, "set_view")  # the grid, sorted by mistakenness
    assert "Choose at least one score" in form_error("curate_videos", labelled, {name: False for name in SCORES})


def test_the_curation_benchmark_runs_quick_and_reports_every_figure(tmp_path):
    """``scripts/benchmark.py curation --quick``: flipped labels, uniqueness and tags end to end at tiny sizes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(root / "scripts" / "benchmark.py"), "curation", "--quick", "--out",
                           str(out)], capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "VIDEOREC_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "curation.json").read_text())
    assert (out / "curation.md").read_text().startswith("# Curation")
    for part in ("held_out", "train", "all"):
        row = result["mistakes"]["same_recording"]["mistakenness"][part]
        assert 0 <= row["precision"] <= 1 and row["top"] >= 1, part
    assert result["mistakes"]["same_recording"]["flipped"] >= 1
    assert set(result["uniqueness"]["mean_percentile"]) == {"original", "altered copy", "exact copy"}
    assert result["tags"]["clips"] == 3 and all(len(row["tags"]) == 3 for row in result["tags"]["rows"])


def test_the_hand_written_visible_objects_are_imagenet_classes():
    """Every class named in ``benchmarks/visible_objects.json`` maps to one of the 1000 names."""
    from pathlib import Path

    from fiftyone_videorec.curation.imagenet_tags import class_names

    clips = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "visible_objects.json").read_text())
    names = set(class_names())
    assert len(clips["clips"]) == 20
    assert [c for row in clips["clips"].values() for c in row["classes"] if c not in names] == []
