"""Large-library embedding: an interrupted run resumes, shards drain through real delegated workers.

Every process here is real: ``videorec embed`` as a subprocess killed with SIGKILL, and
``fiftyone delegated launch`` workers sharing the test database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fiftyone_videorec.cli.main import main
from fiftyone_videorec.embedding.run import embed_dataset
from fiftyone_videorec.embedding.model_folder import model_fingerprint
from fiftyone_videorec.fields import fingerprint_field

FIELD = "emb"
FP_FIELD = fingerprint_field(FIELD)


def _library(synthetic_dataset, name: str, copies: int):
    """A dataset of ``copies`` samples per synthetic clip: a library bigger than one write batch."""
    import fiftyone as fo

    paths = synthetic_dataset.values("filepath")
    dataset = fo.Dataset(name)
    dataset.persistent = True  # worker processes open it by name
    dataset.add_samples([fo.Sample(filepath=p) for _ in range(copies) for p in paths])
    return dataset


def _reference(dataset, model_dir) -> dict:
    """Vectors of the same samples embedded in this process, one run, for comparison."""
    embed_dataset(dataset, model_dir, field="reference")
    return dict(zip(*dataset.values(["id", "reference"])))


def _videorec(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fiftyone_videorec", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=os.environ, start_new_session=True)


def _wait_for(condition, timeout_s: float, what: str, poll_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _fingerprinted(dataset) -> int:
    """How many samples another process has marked embedded (it may not have added the field yet)."""
    dataset.reload()
    return dataset.count(FP_FIELD) if dataset.has_field(FP_FIELD) else 0


def _assert_all_embedded_by(dataset, model_dir, reference: dict) -> None:
    dataset.reload()
    fingerprint = model_fingerprint(model_dir)
    ids, vectors, fingerprints = dataset.values(["id", FIELD, FP_FIELD])
    assert len(ids) == len(set(ids)) == len(reference)  # no sample lost or duplicated
    assert set(fingerprints) == {fingerprint}
    for sample_id, vector in zip(ids, vectors):
        assert np.allclose(vector, reference[sample_id], atol=1e-5)


def test_killed_embed_resumes_and_a_second_rerun_embeds_nothing(synthetic_dataset, tiny_model_dir, dataset_name):
    from fiftyone import ViewField as F

    dataset = _library(synthetic_dataset, dataset_name, copies=12)  # 288 samples, 5 write batches
    reference = _reference(dataset, tiny_model_dir)
    fingerprint = model_fingerprint(tiny_model_dir)
    run = _videorec("embed", "--dataset", dataset.name, "--model", str(tiny_model_dir), "--field", FIELD)
    try:
        _wait_for(lambda: _fingerprinted(dataset) > 0, 120, "a first write batch")
        os.killpg(run.pid, signal.SIGKILL)
    finally:
        run.wait()
    assert run.returncode == -signal.SIGKILL
    done = len(dataset.match(F(FP_FIELD) == fingerprint))
    assert 0 < done < len(dataset), "the kill should land mid-run"
    # nothing marked done holds a vector other than this model's
    for sample_id, vector in zip(*dataset.match(F(FP_FIELD) == fingerprint).values(["id", FIELD])):
        assert np.allclose(vector, reference[sample_id], atol=1e-5)

    rerun = _videorec("embed", "--dataset", dataset.name, "--model", str(tiny_model_dir), "--field", FIELD)
    out = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, out
    assert f"{done} already embedded, {len(dataset) - done} to embed" in out
    _assert_all_embedded_by(dataset, tiny_model_dir, reference)

    again = _videorec("embed", "--dataset", dataset.name, "--model", str(tiny_model_dir), "--field", FIELD)
    out = again.communicate(timeout=300)[0]
    assert again.returncode == 0 and f"{len(dataset)} already embedded, 0 to embed" in out, out
    assert "embedded 0 of 0 samples" in out
    # a different setting is a different fingerprint: everything is embedded again
    assert main(["embed", "--dataset", dataset.name, "--model", str(tiny_model_dir), "--field", FIELD,
                 "--clips", "1"]) == 0
    assert set(dataset.values(FP_FIELD)) == {model_fingerprint(tiny_model_dir, clips=1)}


def _launch_worker(log_path: Path) -> subprocess.Popen:
    fiftyone = Path(sys.executable).with_name("fiftyone")
    log = open(log_path, "ab")
    return subprocess.Popen([str(fiftyone), "delegated", "launch"], stdout=log, stderr=subprocess.STDOUT,
                            env=os.environ, start_new_session=True)


def _stop(workers) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def _operations(dataset_name: str):
    from fiftyone.operators.delegated import DelegatedOperationService

    from fiftyone_videorec.embedding.jobs import EMBED_OPERATOR

    return DelegatedOperationService().list_operations(operator=EMBED_OPERATOR, dataset_name=dataset_name)


def test_the_plugin_defines_an_operator_for_each_queued_job():
    """Queued shards name plugin operators by URI: each must exist, or workers would fail every shard."""
    from fiftyone.operators.registry import operator_exists

    from fiftyone_videorec.embedding.jobs import SHARD_OPERATORS

    for uri in SHARD_OPERATORS:
        assert operator_exists(uri), f"the plugin defines no operator {uri}"


def _jobs(dataset_name: str, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["jobs", "--dataset", dataset_name, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.pipeline  # also run against a separately started mongod server
def test_two_workers_drain_four_shards_each_exactly_once(synthetic_dataset, tiny_model_dir, dataset_name,
                                                         tmp_path, capsys):
    dataset = _library(synthetic_dataset, dataset_name, copies=4)  # 96 samples
    reference = _reference(dataset, tiny_model_dir)
    assert main(["embed", "--dataset", dataset.name, "--model", str(tiny_model_dir), "--field", FIELD,
                 "--shards", "4"]) == 0
    out = capsys.readouterr().out
    assert "0 already embedded, 96 to embed in 4 shards" in out and out.count("queued (job") == 4
    jobs = _jobs(dataset.name, capsys)
    assert len(jobs) == 4 and {job["state"] for job in jobs} == {"queued"}
    assert set(jobs[0]) == {"id", "operator", "state", "progress", "updated_at"}
    assert _fingerprinted(dataset) == 0  # nothing ran in this process

    workers = [_launch_worker(tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        _wait_for(lambda: all(op.run_state in ("completed", "failed") for op in _operations(dataset.name)),
                  400, "four shards to finish", poll_s=1.0)
    finally:
        _stop(workers)
    ops = _operations(dataset.name)
    logs = "".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("worker*.log"))
    assert len(ops) == 4 and {op.run_state for op in ops} == {"completed"}, logs
    assert sorted(op.context.request_params["params"]["shard"] for op in ops) == [0, 1, 2, 3]
    assert sum(op.result.result["embedded"] for op in ops) == len(dataset)  # each sample embedded once
    _assert_all_embedded_by(dataset, tiny_model_dir, reference)
    jobs = _jobs(dataset.name, capsys)
    assert {job["state"] for job in jobs} == {"completed"} and {job["progress"] for job in jobs} == {1.0}
    # the same command again queues nothing
    assert main(["embed", "--dataset", dataset.name, "--model", str(tiny_model_dir), "--field", FIELD,
                 "--shards", "4"]) == 0
    assert "queued (job" not in capsys.readouterr().out and len(_operations(dataset.name)) == 4


def test_a_shard_whose_worker_died_is_queued_again_and_completed(synthetic_dataset, tiny_model_dir, dataset_name,
                                                                 tmp_path, capsys):
    dataset = _library(synthetic_dataset, dataset_name, copies=30)  # 720 samples: a shard spans several batches
    reference = _reference(dataset, tiny_model_dir)
    embed = ["embed", "--dataset", dataset.name, "--model", str(tiny_model_dir), "--field", FIELD, "--shards", "2"]
    assert main(embed) == 0
    worker = _launch_worker(tmp_path / "doomed.log")
    try:
        _wait_for(lambda: _fingerprinted(dataset) > 0, 240, "the worker's first write batch", poll_s=0.1)
    finally:
        _stop([worker])  # SIGKILL to the worker and its child: the running shard is never finished
    assert "running" in {op.run_state for op in _operations(dataset.name)}
    assert dataset.count(FP_FIELD) < len(dataset)

    capsys.readouterr()
    assert main(embed) == 0  # a live-looking shard is left alone
    assert "running (last progress" in capsys.readouterr().out
    assert main(embed + ["--stale-after", "0"]) == 0
    out = capsys.readouterr().out
    assert "queued (job" in out and "to embed in 2 shards" in out
    assert "failed" in {op.run_state for op in _operations(dataset.name)}  # the dead shard, marked so

    worker = _launch_worker(tmp_path / "second.log")
    try:
        _wait_for(lambda: _fingerprinted(dataset) == len(dataset)
                  and "running" not in {op.run_state for op in _operations(dataset.name)}
                  and "queued" not in {op.run_state for op in _operations(dataset.name)}, 400,
                  "the re-queued shards", poll_s=1.0)
    finally:
        _stop([worker])
    _assert_all_embedded_by(dataset, tiny_model_dir, reference)
