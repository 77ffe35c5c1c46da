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


def _standin_dataset(root: Path, name: str, per_class=(30, 10, 10), frames=48, size=(96, 72), seed=42):
    """Moving-square clips, 10 motion classes; used only while data/synthetic.py has not landed."""
    import cv2
    import fiftyone as fo

    from fiftyone_videorec import config

    moves = {"right": (3, 0), "left": (-3, 0), "up": (0, -3), "down": (0, 3), "up_right": (3, -3),
             "up_left": (-3, -3), "down_right": (3, 3), "down_left": (-3, 3), "still": (0, 0), "grow": None}
    rng = np.random.default_rng(seed)
    samples = []
    for label, move in moves.items():
        for split, count in zip(config.SPLITS, per_class):
            for i in range(count):
                path = root / split / label / f"{i}.avi"
                path.parent.mkdir(parents=True, exist_ok=True)
                w, h = size
                bg = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
                color = tuple(int(c) for c in rng.integers(120, 256, 3))
                x, y, side = int(rng.integers(20, w - 36)), int(rng.integers(16, h - 32)), 14
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h))
                for t in range(frames):
                    frame = bg.copy()
                    if move is None:
                        s = 6 + (t % 24)
                        cx, cy = w // 2, h // 2
                        cv2.rectangle(frame, (cx - s, cy - s), (cx + s, cy + s), color, -1)
                    else:
                        px, py = (x + move[0] * t) % (w - side), (y + move[1] * t) % (h - side)
                        cv2.rectangle(frame, (px, py), (px + side, py + side), color, -1)
                    writer.write(frame)
                writer.release()
                samples.append(fo.Sample(filepath=str(path), tags=[split],
                                         **{config.LABEL_FIELD: fo.Classification(label=label)}))
    dataset = fo.Dataset(name, overwrite=True)
    dataset.add_samples(samples)
    return dataset


def _dataset(root: Path, quick: bool):
    split = (3, 1, 1) if quick else (30, 10, 10)
    try:
        from fiftyone_videorec.data.synthetic import load_synthetic
    except ImportError:
        return _standin_dataset(root, DATASET, per_class=split), "stand-in moving squares (data/synthetic.py absent)"
    return load_synthetic(DATASET, root=root, per_class=sum(split), split=split, overwrite=True), "load_synthetic"


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
