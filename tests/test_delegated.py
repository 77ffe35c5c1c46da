"""A delegated train_video_embedder run by FiftyOne's own delegated worker, a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fiftyone_videorec import config

TRAIN_URI = f"{config.PLUGIN_NAME}/train_video_embedder"


def _wait_until_done(service, op_id, worker: subprocess.Popen, timeout_s: float = 420):
    """Poll the queued operation until it completed or failed; return its document."""
    from fiftyone.operators.executor import ExecutionRunState

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        op = service.get(op_id)
        if op.run_state in (ExecutionRunState.COMPLETED, ExecutionRunState.FAILED):
            return op
        assert worker.poll() is None, "the delegated worker exited before running the operation"
        time.sleep(1.0)
    raise AssertionError(f"delegated operation still {service.get(op_id).run_state} after {timeout_s} s")


def test_delegated_training_runs_in_fiftyones_worker(synthetic_dataset, dataset_name, tmp_path):
    from fiftyone.operators import execute_operator
    from fiftyone.operators.delegated import DelegatedOperationService
    from fiftyone.operators.executor import ExecutionRunState

    dataset = synthetic_dataset.clone(dataset_name, persistent=True)
    model_dir = tmp_path / "delegated-model"
    queued = execute_operator(TRAIN_URI, {
        "dataset": dataset.name, "request_delegation": True,
        "params": {"preset": "tiny", "epochs": 1, "model_dir": str(model_dir)}})
    assert queued.delegated
    service = DelegatedOperationService()
    op_id = queued.result["id"]
    assert service.get(op_id).run_state == ExecutionRunState.QUEUED
    assert not model_dir.exists()  # nothing ran in this process

    fiftyone = Path(sys.executable).with_name("fiftyone")
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen([str(fiftyone), "delegated", "launch"], stdout=log,
                                  stderr=subprocess.STDOUT, env=os.environ)
        try:
            op = _wait_until_done(service, op_id, worker)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    assert op.run_state == ExecutionRunState.COMPLETED, (op.result, log_path.read_text()[-3000:])
    assert op.status is not None and op.status.progress is not None and op.status.label
    assert op.result.result["model_dir"] == str(model_dir)
    assert (model_dir / "model.keras").is_file() and (model_dir / "metadata.json").is_file()
