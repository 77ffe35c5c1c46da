"""Training benchmark: the seed's recipe (decode every epoch, 224², tutorial net, batch 8) vs ours.

``run(out_dir, quick)`` writes ``train.md`` and ``train.json``. The seed's epoch time is measured
on a subset of its steps and extrapolated to the whole train split (it is ~5 min/epoch on 2
cores); both sides are measured in the same run on the same clips.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

DATASET = "videorec-bench-train"


def _dataset(root: Path, quick: bool):
    """The synthetic motion set, 10 classes, 30/10/10 (3/1/1 when quick)."""
    from fiftyone_videorec.data.synthetic import load_synthetic

    split = (3, 1, 1) if quick else (30, 10, 10)
    dataset = load_synthetic(DATASET, root=root, per_class=sum(split), split=split, overwrite=True)
    return dataset, "synthetic motion set (videorec load synthetic)"


def seed_epoch_seconds(dataset, steps: int, batch_size: int = 8) -> dict:
    """Time ``steps`` batches of the seed's recipe (cv2 decode at 224² each step + tutorial net)."""
    import keras

    from fiftyone_videorec import config
    from fiftyone_videorec.frames import read_clip
    from fiftyone_videorec.model import build_model

    view = dataset.match_tags(config.TRAIN_TAG)
    paths, labels = view.values("filepath"), view.values(f"{config.LABEL_FIELD}.label")
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    classifier, _ = build_model("tutorial", len(classes))
    classifier.compile(keras.optimizers.Adam(1e-4), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    order = np.random.default_rng(0).permutation(len(paths))
    timings = []
    for step in range(steps + 1):  # step 0 warms up (graph tracing) and is not counted
        idx = order[(step * batch_size) % len(paths):][:batch_size]
        started = time.perf_counter()
        clips = np.stack([read_clip(paths[i], 10, 15, 224, start=0) for i in idx])
        classifier.train_on_batch(clips, y[idx])
        if step:
            timings.append(time.perf_counter() - started)
    per_step = float(np.mean(timings))
    n_steps = int(np.ceil(len(paths) / batch_size))
    return {"measured_steps": steps, "seconds_per_step": per_step, "steps_per_epoch": n_steps,
            "seconds_per_epoch": per_step * n_steps, "clips": len(paths)}


def run(out_dir: Path, quick: bool) -> dict:
    """Measure both recipes on the same clips; write ``train.md`` / ``train.json`` into ``out_dir``."""
    from fiftyone_videorec import config
    from fiftyone_videorec.runtime import connect_database
    from fiftyone_videorec.training import train

    connect_database()
    work = config.home_dir() / "bench-train"
    dataset, source = _dataset(work / "clips", quick)
    started = time.perf_counter()
    ours = train(dataset.name, work / "fast", preset="fast", epochs=2 if quick else None)
    ours_wall = time.perf_counter() - started
    seed = seed_epoch_seconds(dataset, steps=1 if quick else 4)
    meta = ours.metadata
    result = {
        "dataset": source, "clips": meta["clips"], "cpu_count": os.cpu_count(), "machine": platform.processor(),
        "ours": {"preset": "fast", "epochs": meta["epochs_trained"], "seconds_per_epoch": meta["seconds_per_epoch"],
                 "wall_seconds_incl_decode_and_eval": round(ours_wall, 1),
                 "test_vs_train_precision@5": meta["metrics"].get("test_vs_train_precision@5"),
                 "test_accuracy": meta["metrics"].get("test_accuracy")},
        "seed_recipe": seed,
        "speedup_per_epoch": round(seed["seconds_per_epoch"] / max(1e-9, meta["seconds_per_epoch"]), 1),
        "note": "seed epoch time extrapolated from the measured steps; seed precision@5 after the same epochs "
                "not measured (it would take hours on this CPU)",
    }
    (out_dir / "train.json").write_text(json.dumps(result, indent=2))
    o = result["ours"]
    (out_dir / "train.md").write_text(
        f"# Training benchmark\n\nClips: {source}, {meta['clips']} (train/val/test), {os.cpu_count()} CPUs.\n\n"
        f"| recipe | s/epoch over {seed['clips']} train clips | epochs | test-vs-train precision@5 |\n|---|---|---|---|\n"
        f"| seed (decode each epoch, 224², tutorial, batch 8) | {seed['seconds_per_epoch']:.1f} "
        f"(from {seed['measured_steps']} steps x {seed['seconds_per_step']:.2f} s) | - | not measured |\n"
        f"| ours (frame cache, preset fast) | {o['seconds_per_epoch']:.1f} | {o['epochs']} | {o['test_vs_train_precision@5']} |\n\n"
        f"Speed-up per epoch: **{result['speedup_per_epoch']}x**. {result['note']}.\n")
    print((out_dir / "train.md").read_text())
    return result
