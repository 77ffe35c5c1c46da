"""Embedding a large library on several machines: shards queued as FiftyOne delegated operations.

``queue_embedding_shards`` splits the samples still to embed into ``n`` disjoint slices
(:func:`~fiftyone_videorec.embedding.run.shard_of`, stable per sample id) and queues one
operation per slice that has work. Any number of ``fiftyone delegated launch`` workers sharing
the database drain them: FiftyOne claims a queued operation atomically, so each shard runs once.
Each shard embeds only what is still missing when it starts, so running the same command again
after a worker died queues only what is left. The model folder must be readable at the same path
on every worker.

The library queues, the plugin runs: a queued operation names a plugin operator by its URI
(:data:`SHARD_OPERATORS`), and that operator calls back into the library with ``shard=(i, n)``.
This is the one place where the library depends on the plugin; ``tests/test_embedding_jobs.py``
checks that the plugin defines an operator under each of these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from .. import config
from ..errors import VideorecError
from ..search.index import dataset_of, view_stages
from .model_folder import model_fingerprint
from .run import samples_to_embed, shard_of

# The plugin's operators that run one queued shard each (plugin_operators/embedding.py and
# plugin_operators/curation.py): embed_dataset / predict_dataset with the queued params.
EMBED_OPERATOR = f"{config.PLUGIN_NAME}/compute_video_embeddings"
PREDICT_OPERATOR = f"{config.PLUGIN_NAME}/predict_video_classes"
SHARD_OPERATORS = {EMBED_OPERATOR: "Embed", PREDICT_OPERATOR: "Predict"}  # operator URI -> the job's name
STALE_AFTER_S = 600.0  # a running shard that has not reported progress for this long is taken as dead


@dataclass
class ShardPlan:
    """What happened to one shard: queued (with the operation id), or left alone and why."""

    shard: int
    to_embed: int
    operation_id: str | None = None
    note: str = ""


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def _open_shards(service, dataset_name: str, params: dict, operator: str) -> dict[int, object]:
    """Return shard index -> the newest queued or running operation of the same job."""
    from fiftyone.operators.executor import ExecutionRunState

    found = {}
    for op in service.list_operations(operator=operator, dataset_name=dataset_name):
        if op.run_state not in (ExecutionRunState.QUEUED, ExecutionRunState.RUNNING, ExecutionRunState.SCHEDULED):
            continue
        p = (op.context.request_params if op.context else {}).get("params", {}) or {}
        same = all(p.get(key) == params[key] for key in ("field", "fingerprint", "shards"))
        if same and p.get("shard") is not None:
            found[int(p["shard"])] = op
    return found


def queue_embedding_shards(dataset_or_view, model_dir, shards: int, field: str = config.EMBEDDINGS_FIELD,
                           clips: int | None = None, batch_size: int | None = None, force: bool = False,
                           stale_after_s: float = STALE_AFTER_S,
                           operator: str = EMBED_OPERATOR) -> tuple[list[ShardPlan], int]:
    """Queue one delegated embedding operation per shard with samples left; return (plans, already done).

    ``operator`` is the job: ``EMBED_OPERATOR`` (vectors) or ``PREDICT_OPERATOR`` (class
    predictions, written into ``field`` with the same model fingerprint).

    A shard whose operation is still queued, or running and reporting progress within
    ``stale_after_s``, is left alone; a running one that went silent is marked failed and queued
    again.
    """
    from fiftyone.operators.delegated import DelegatedOperationService
    from fiftyone.operators.executor import ExecutionResult, ExecutionRunState

    if shards < 1:
        raise VideorecError(f"--shards must be at least 1, got {shards}")
    dataset = dataset_of(dataset_or_view)
    fingerprint = model_fingerprint(model_dir, clips)
    ids, _, already = samples_to_embed(dataset_or_view, field, fingerprint, force=force)
    counts = [0] * shards
    for sample_id in ids:
        counts[shard_of(sample_id, shards)] += 1
    params = {"model_dir": str(model_dir), "field": field, "clips": clips, "batch_size": batch_size,
              "force": force, "shards": shards, "fingerprint": fingerprint}
    service = DelegatedOperationService()
    open_ops = _open_shards(service, dataset.name, params, operator)
    now = datetime.now(timezone.utc)
    plans = []
    for shard, count in enumerate(counts):
        op = open_ops.get(shard)
        if count == 0:
            plans.append(ShardPlan(shard, to_embed=0, note="nothing to do"))
            continue
        if op is not None and op.run_state != ExecutionRunState.RUNNING:
            plans.append(ShardPlan(shard, count, str(op.id), "already queued"))
            continue
        if op is not None:
            silent_s = (now - (_utc(op.updated_at) or now)).total_seconds()
            if silent_s < stale_after_s:
                plans.append(ShardPlan(shard, count, str(op.id), f"running (last progress {silent_s:.0f} s ago)"))
                continue
            service.set_failed(op.id, result=ExecutionResult(error=f"no progress for {silent_s:.0f} s; queued again"),
                               required_state=ExecutionRunState.RUNNING)
        request = {"dataset_name": dataset.name, "view": view_stages(dataset_or_view), "delegated": True,
                   "params": {**params, "shard": shard}}
        queued = service.queue_operation(operator=operator, label=f"{SHARD_OPERATORS[operator]} shard {shard + 1}/{shards}",
                                         context={"request_params": request})
        plans.append(ShardPlan(shard, count, str(queued.id), "queued"))
    return plans, already


def _status_part(status, name: str):
    """Read ``name`` from an operation's status, stored as an object or as a plain dict."""
    if isinstance(status, dict):
        return status.get(name)
    return getattr(status, name, None)


def list_jobs(dataset_name: str) -> list[dict]:
    """Return this dataset's videorec delegated operations, newest first, as plain records."""
    from fiftyone.operators.delegated import DelegatedOperationService

    prefix = f"{config.PLUGIN_NAME}/"
    jobs = []
    for op in DelegatedOperationService().list_operations(dataset_name=dataset_name):
        if not str(op.operator).startswith(prefix):
            continue
        progress, label = _status_part(op.status, "progress"), _status_part(op.status, "label")
        updated = _utc(op.updated_at)
        jobs.append({"id": str(op.id), "operator": op.operator.removeprefix(prefix), "state": op.run_state,
                     "progress": progress, "label": op.label, "status": label,
                     "updated_at": updated.isoformat() if updated else None})
    return sorted(jobs, key=lambda job: job["updated_at"] or "", reverse=True)
