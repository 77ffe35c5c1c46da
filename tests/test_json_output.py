"""Every ``--json`` command prints JSON alone on stdout, run as a real process (stderr may hold anything).

Libraries print on stdout (the FiftyOne Brain's "Computing ..." lines, progress); a script that
pipes ``videorec ... --json`` into ``json.load`` must get the JSON and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fiftyone_videorec import config

DATASET = "videorec-test-json-output"


@pytest.fixture(scope="module")
def json_dataset(synthetic_dataset, tmp_path_factory):
    """The session's tiny synthetic clips plus two 4-second ones (long enough for moments), embedded
    and indexed by the built-in 'pretrained' model, with their moments indexed too."""
    import fiftyone as fo

    from fiftyone_videorec.data.video_files import write_video
    from fiftyone_videorec.embedding.run import embed_dataset
    from fiftyone_videorec.search.moments import index_moments
    from fiftyone_videorec.search.similarity import build_index

    dataset = synthetic_dataset.clone(DATASET, persistent=True)
    root = tmp_path_factory.mktemp("json-long")
    dataset.add_samples([fo.Sample(filepath=str(write_video(root / f"long_{i}.avi", n_frames=100, size=(64, 48),
                                                            dx=2 + i, seed=i)), tags=["train"]) for i in range(2)])
    embed_dataset(dataset, "pretrained")
    build_index(dataset)
    index_moments(dataset, "pretrained")
    yield dataset
    dataset.delete()


def _json_of(*args: str):
    """Run ``python -m fiftyone_videorec ARGS`` in this test session's environment; return its parsed stdout."""
    proc = subprocess.run([sys.executable, "-m", "fiftyone_videorec", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_duplicates_and_leaks(json_dataset):
    groups = _json_of("duplicates", "--dataset", DATASET, "--json")
    assert isinstance(groups, list)
    assert all({"ids", "filepaths", "max_distance", "spans"} <= set(group) for group in groups)
    leaks = _json_of("leaks", "--dataset", DATASET, "--json")
    assert isinstance(leaks, list) and all("splits" in leak for leak in leaks)


def test_jobs_and_evaluate(json_dataset):
    assert _json_of("jobs", "--dataset", DATASET, "--json") == []
    metrics = _json_of("evaluate", "--dataset", DATASET, "--json")
    assert 0 <= metrics["precision@1"] <= 1


def test_similar_and_moments_search(json_dataset):
    query = json_dataset.first().id
    found = _json_of("similar", "--dataset", DATASET, "--sample-id", query, "-k", "3", "--json")
    assert len(found) == 3 and all(set(rec) == {"sample_id", "filepath", "label", "score"} for rec in found)
    assert query not in {rec["sample_id"] for rec in found}
    moments = _json_of("moments", "search", "--dataset", DATASET, "--sample-id", query, "--json")
    assert isinstance(moments, list) and all({"sample_id", "start", "end", "score"} <= set(m) for m in moments)


def test_predict_curate_and_tag(json_dataset, tiny_model_dir):
    predicted = _json_of("predict", "--dataset", DATASET, "--model", str(tiny_model_dir), "--json")
    assert predicted["predicted"] == len(json_dataset) and not predicted["failed"]
    # the Brain prints "Computing mistakenness..." and the like on stdout: none of it may reach the JSON
    curated = _json_of("curate", "--dataset", DATASET, "--top", "2", "--json")
    assert set(curated) == {"computed", "top", "skipped"}
    assert {"mistakenness", "hardness", "uniqueness"} <= set(curated["computed"])
    assert curated["computed"]["mistakenness"] == len(json_dataset.exists(config.LABEL_FIELD))
    assert all(len(rows) == 2 and rows[0][score] >= rows[1][score] for score, rows in curated["top"].items())
    tagged = _json_of("tag", "--dataset", DATASET, "--json")
    assert tagged["tagged"] == len(json_dataset) and not tagged["failed"]


def test_an_error_with_json_is_one_line_on_stderr_and_nothing_on_stdout():
    proc = subprocess.run([sys.executable, "-m", "fiftyone_videorec", "duplicates", "--dataset", "no-such-dataset",
                           "--json"], capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "does not exist" in proc.stderr


def test_progress_printed_during_a_json_command_goes_to_stderr(capsys):
    """In-process too: what the command prints besides its JSON (Python's stdout and descriptor 1) ends on stderr."""
    from fiftyone_videorec.cli.common import print_json, stdout_for_json

    class Args:
        pass

    args = Args()
    with stdout_for_json(True) as args.json_out:
        print("Computing duplicate samples...")
        print_json(args, {"field": config.DUPLICATE_DESCRIPTOR_FIELD})
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"field": config.DUPLICATE_DESCRIPTOR_FIELD}
    assert "Computing duplicate samples" in captured.err
