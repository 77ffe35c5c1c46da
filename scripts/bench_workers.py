#!/usr/bin/env python
"""A library embedded by 1 and by 2 ``fiftyone delegated launch`` workers: clips/s, peak RSS per worker.

Called by ``bench_scale.py`` (its embedding section). The measurement runs in a child process of
its own, against its own ``mongod``, plugin folder and VIDEOREC_HOME: the workers must find the
plugin and the database the same way a user's machines would. Each run queues the same shards
(``queue_embedding_shards``) over all samples, starts the workers, and polls FiftyOne's
delegated-operation records until every shard has finished, sampling each worker's memory (its
process and the children it starts) meanwhile.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
SHARDS = 4  # slices queued per run (2 at --quick size)
FIELD = "videorec_embedding"


def _clips(root: Path, count: int) -> list[Path]:
    """``count`` distinct 2-second H.264 clips (50 frames, 160x120), each its own motion and colours."""
    from fiftyone_videorec.data.video_files import moving_square_frames, write_h264

    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = root / f"clip_{i:04d}.mp4"
        if not path.exists():
            frames = moving_square_frames(n_frames=50, size=(160, 120), dx=1 + i % 5,
                                          color=(37 * i % 255, 91 * i % 255, 173 * i % 255), seed=i)
            write_h264(np.stack(frames), path)
        paths.append(path)
    return paths


def _tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        process = psutil.Process(pid)
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def _one_run(dataset, model_dir: Path, workers: int, shards: int, log_dir: Path, timeout_s: float) -> dict:
    from fiftyone.operators.delegated import DelegatedOperationService

    from fiftyone_videorec.embedding.jobs import EMBED_OPERATOR, queue_embedding_shards
    from fiftyone_videorec.fields import fingerprint_field

    for name in (FIELD, fingerprint_field(FIELD)):
        if dataset.has_field(name):
            dataset.delete_sample_field(name)
    service = DelegatedOperationService()
    for op in service.list_operations(operator=EMBED_OPERATOR, dataset_name=dataset.name):
        service.delete_operation(op.id)
    plans, _ = queue_embedding_shards(dataset, model_dir, shards, field=FIELD)
    fiftyone = Path(sys.executable).with_name("fiftyone")
    start = time.perf_counter()
    procs = [subprocess.Popen([str(fiftyone), "delegated", "launch"], stdout=open(log_dir / f"w{workers}-{i}.log", "wb"),
                              stderr=subprocess.STDOUT, env=os.environ, start_new_session=True)
             for i in range(workers)]
    peaks = [0.0] * workers
    first_claim = None
    try:
        while time.perf_counter() - start < timeout_s:
            states = [op.run_state for op in service.list_operations(operator=EMBED_OPERATOR,
                                                                       dataset_name=dataset.name)]
            if first_claim is None and any(s != "queued" for s in states):
                first_claim = time.perf_counter() - start
            peaks = [max(p, _tree_rss_mb(proc.pid)) for p, proc in zip(peaks, procs)]
            if states and all(s in ("completed", "failed") for s in states):
                break
            time.sleep(0.5)
        wall = time.perf_counter() - start
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    ops = service.list_operations(operator=EMBED_OPERATOR, dataset_name=dataset.name)
    dataset.reload()
    embedded = dataset.count(FIELD) if dataset.has_field(FIELD) else 0
    return {"workers": workers, "shards": len(plans), "clips": len(dataset), "embedded": embedded,
            "failed_shards": sum(op.run_state == "failed" for op in ops), "wall_s": round(wall, 1),
            "first_claim_s": round(first_claim, 1) if first_claim is not None else None,
            "clips_per_s": round(embedded / wall, 1) if wall else None,
            "peak_rss_mb_per_worker": [round(p) for p in peaks]}


def measure_in_child(n_clips: int, distinct: int, work: Path) -> dict:
    """The whole measurement, in a process whose environment points at the private database."""
    import fiftyone as fo

    from bench_embed import _model_dir  # this script runs as a file here: its folder is on sys.path

    paths = _clips(work / "clips", distinct)
    name = "videorec-bench-workers"
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = fo.Dataset(name, persistent=True)
    for start in range(0, n_clips, 5000):
        dataset.add_samples([fo.Sample(filepath=str(paths[i % len(paths)]))
                             for i in range(start, min(n_clips, start + 5000))], progress=False)
    model_dir = _model_dir(work, "fast")
    log_dir = work / "logs"
    log_dir.mkdir(exist_ok=True)
    shards = 2 if n_clips < 1000 else SHARDS
    runs = [_one_run(dataset, model_dir, workers, shards, log_dir, timeout_s=1800) for workers in (1, 2)]
    fo.delete_dataset(name)
    return {"distinct_files": distinct, "clip": "2 s, 50 frames, 160x120 H.264", "preset": "fast (untrained)",
            "runs": runs}


def embedding_workers(quick: bool) -> dict:
    """Start a private ``mongod`` and plugin folder, run :func:`measure_in_child`, return its figures."""
    from fiftyone_videorec.private_mongod import MongodServer

    work = Path(tempfile.mkdtemp(prefix="videorec-bench-workers-"))
    server = MongodServer(work / "mongod")
    server.start()
    try:
        plugins = work / "plugins"
        plugins.mkdir()
        (plugins / "fiftyone-videorec").symlink_to(REPO)
        env = {**os.environ, "FIFTYONE_DATABASE_URI": server.uri, "FIFTYONE_DATABASE_NAME": "videorec-bench-workers",
               "VIDEOREC_HOME": str(work / "home"), "FIFTYONE_PLUGINS_DIR": str(plugins),
               "FIFTYONE_DATABASE_VALIDATION": "false", "FIFTYONE_DO_NOT_TRACK": "true", "TF_CPP_MIN_LOG_LEVEL": "3",
               "CUDA_VISIBLE_DEVICES": ""}
        n_clips, distinct = (40, 8) if quick else (10_000, 200)
        child = subprocess.run([sys.executable, __file__, "--child", str(n_clips), str(distinct), str(work)],
                               env=env, capture_output=True, text=True)
        if child.returncode:
            raise RuntimeError(f"workers benchmark failed: {child.stderr[-3000:]}")
        return json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def markdown(section: dict) -> str:
    """The scale report's section for the workers' figures."""
    rows = "".join(
        f"| {r['workers']} | {r['clips']} | {r['embedded']} | {r['shards']} | {r['wall_s']} | {r['first_claim_s']} | "
        f"**{r['clips_per_s']}** | {', '.join(map(str, r['peak_rss_mb_per_worker']))} | {r['failed_shards']} |\n"
        for r in section["runs"])
    one, two = section["runs"][0], section["runs"][1]
    ratio = round(two["clips_per_s"] / one["clips_per_s"], 2) if one["clips_per_s"] else None
    return (f"## Embedding with delegated workers\n\n"
            f"{one['clips']} samples ({section['distinct_files']} distinct files: {section['clip']}), preset "
            f"{section['preset']}, `videorec embed --shards {one['shards']}`, then 1 or 2 `fiftyone delegated launch` "
            f"processes on this machine. Wall time runs from starting the workers (TensorFlow's import and the "
            f"model load included; 'first claim' is when the first shard started) to the last shard's end. Peak "
            f"RSS: each worker process with the children it starts, sampled every 0.5 s.\n\n"
            f"| workers | samples | embedded | shards | wall s | first claim s | clips/s | peak RSS MB per worker "
            f"| failed shards |\n|---|---|---|---|---|---|---|---|---|\n{rows}\n"
            f"2 workers / 1 worker: {ratio}x clips/s, both on this machine's {os.cpu_count()} CPUs; on separate "
            f"machines sharing the database each worker brings its own CPUs. Memory per worker does not grow with "
            f"the clips it embeds: {max(one['peak_rss_mb_per_worker'])} MB for {one['embedded']} clips in one worker, "
            f"{max(two['peak_rss_mb_per_worker'])} MB at most for about {two['embedded'] // 2} clips in each of two."
            f"\n\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(measure_in_child(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))))
    else:
        print(json.dumps(embedding_workers(quick="--quick" in sys.argv), indent=2))
