"""Copy detection benchmark: copies vs look-alikes on the project's real clips, the threshold, where
an excerpt lies, and the speed of a whole-library search.

Run through ``python scripts/benchmark.py duplicates [--quick]``. Set FIFTYONE_DATABASE_DIR and
VIDEOREC_HOME to private folders first: the script writes the copy set under VIDEOREC_HOME/data
and creates a dataset.

The validation set (``fiftyone_videorec/data/copy_sets.py``): every recording of
``benchmarks/clips`` as shipped, ten altered copies of it, and for the long ones a 3-second
excerpt and two overlapping cuts. True pairs come from one recording and overlap in time; all
other pairs, different recordings of the same action among them, are non-copies. Each method
samples 2 frames per second and scores a pair by the aligned chamfer similarity; the mean vector
(what a recommendation embedding does) gets one cosine per pair.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT / "benchmarks" / "clips"
QUICK_RECORDINGS = ("Wave__RatRace37.avi", "Wave__SchoolRules0.avi", "RidingSegway__R6llTwEh07w.mp4")
QUICK_ALTERATIONS = ("half_size", "crop_25_centre", "hflip")
METHODS = ("copy_descriptor", "imagenet_pooled", "thumbnail_8x8", "imagenet_mean_vector")
METHOD_TEXT = {"copy_descriptor": "copy descriptor: bars cut, 320-channel map, R-MAC (the default)",
               "imagenet_pooled": "ImageNet pooled 1280 vector of the centre square, per frame",
               "thumbnail_8x8": "8x8 grey thumbnail per frame (zero mean, unit length)",
               "imagenet_mean_vector": "ImageNet pooled vectors averaged over the video: one cosine, no alignment"}
BENCH = "videorec-bench-duplicates"


def _build(quick: bool, work: Path):
    from fiftyone_videorec.data.copy_sets import ALTERATIONS, build_copy_set
    from fiftyone_videorec.data.real_footage import read_manifest

    recordings = read_manifest(CLIPS)
    if quick:
        recordings = [rec for rec in recordings if rec.path.name in QUICK_RECORDINGS]
    return build_copy_set(recordings, work, alterations=QUICK_ALTERATIONS if quick else tuple(ALTERATIONS))


def _baseline_rows(frames: np.ndarray, pooled_net) -> tuple[np.ndarray, np.ndarray]:
    """(ImageNet pooled unit vectors of the centre squares, 8x8 thumbnails) of letterboxed frames."""
    import cv2

    from fiftyone_videorec.curation.copy_detection import content_box
    from fiftyone_videorec.vectors import l2_normalize

    top, bottom, left, right = content_box(frames)  # the letterbox the decoder added, and any bars
    picture = frames[:, top:bottom, left:right]
    side = min(picture.shape[1:3])
    y, x = (picture.shape[1] - side) // 2, (picture.shape[2] - side) // 2
    squares = np.stack([cv2.resize(f[y:y + side, x:x + side], (160, 160), interpolation=cv2.INTER_AREA)
                        for f in picture])
    pooled = l2_normalize(np.asarray(pooled_net(squares.astype(np.float32), training=False)[0]))
    grey = np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (8, 8), interpolation=cv2.INTER_AREA)
                     for f in picture]).reshape(len(frames), 64).astype(np.float32)
    return pooled, l2_normalize(grey - grey.mean(axis=1, keepdims=True))


def _describe(clips) -> tuple[dict, dict]:
    """Return ({method: per-clip rows}, timing of the copy descriptor) for every clip."""
    from fiftyone_videorec.network.backbone import load_backbone
    from fiftyone_videorec.curation.copy_detection import CopyDescriber, sampled_frames

    describer, pooled_net = CopyDescriber(), load_backbone(image_size=160)
    rows = {method: [] for method in METHODS[:3]}
    seconds = frames_total = 0.0
    for clip in clips:
        start = time.perf_counter()
        frames = np.stack(list(sampled_frames(clip.path)))
        rows["copy_descriptor"].append(describer.describe_frames(frames).astype(np.float32))
        seconds += time.perf_counter() - start
        frames_total += len(frames)
        pooled, thumbs = _baseline_rows(frames, pooled_net)
        rows["imagenet_pooled"].append(pooled)
        rows["thumbnail_8x8"].append(thumbs)
    rows["imagenet_mean_vector"] = [r.mean(axis=0, keepdims=True) for r in rows["imagenet_pooled"]]
    return rows, {"clips": len(clips), "seconds": round(seconds, 1), "clips_per_s": round(len(clips) / seconds, 2),
                  "frames_per_s": round(frames_total / seconds, 1)}


def _distances(rows: list[np.ndarray], aligned: bool) -> np.ndarray:
    from fiftyone_videorec.curation.copy_detection import copy_score
    from fiftyone_videorec.vectors import l2_normalize

    n = len(rows)
    out = np.zeros((n, n), np.float32)
    for i, j in itertools.combinations(range(n), 2):
        if aligned:
            out[i, j] = 1 - copy_score(rows[i], rows[j])
        else:
            a, b = l2_normalize(rows[i][0]), l2_normalize(rows[j][0])
            out[i, j] = 1 - float(a @ b)
    return out + out.T


def _spread(values: np.ndarray) -> dict:
    if not len(values):
        return {"count": 0}
    q = np.percentile(values, [0, 1, 5, 50, 95, 99, 100])
    return {"count": int(len(values)), **{name: round(float(v), 4) for name, v in
                                          zip(("min", "p1", "p5", "median", "p95", "p99", "max"), q)}}


def _pair_metrics(distances: np.ndarray, truth: np.ndarray, threshold: float) -> dict:
    upper = np.triu(np.ones_like(truth, bool), 1)
    found = (distances < threshold) & upper
    hits = int((found & truth).sum())
    return {"threshold": round(float(threshold), 4), "precision": round(hits / max(int(found.sum()), 1), 4),
            "recall": round(hits / max(int((truth & upper).sum()), 1), 4)}


def _best(distances: np.ndarray, truth: np.ndarray) -> dict:
    """The pair metrics at the threshold with the best F1 (chosen on this set: optimistic for baselines)."""
    upper = np.triu(np.ones_like(truth, bool), 1)
    candidates = np.unique(np.round(distances[upper], 3)) + 5e-4
    rows = [_pair_metrics(distances, truth, t) for t in candidates]
    return max(rows, key=lambda r: 2 * r["precision"] * r["recall"] / max(r["precision"] + r["recall"], 1e-9))


def _extreme_pairs(clips, distances: np.ndarray, truth: np.ndarray, count: int = 4) -> dict:
    """The ``count`` copy pairs furthest apart and non-copy pairs closest together."""
    upper = np.triu(np.ones_like(truth, bool), 1)

    def listed(mask, order):
        i, j = np.nonzero(mask & upper)
        picked = np.argsort(order * distances[i, j])[:count]
        return [{"a": f"{clips[i[k]].recording}/{clips[i[k]].alteration}",
                 "b": f"{clips[j[k]].recording}/{clips[j[k]].alteration}",
                 "distance": round(float(distances[i[k], j[k]]), 4)} for k in picked]

    return {"furthest_copies": listed(truth, -1), "closest_non_copies": listed(~truth, 1)}


def _quality(clips, rows: dict) -> dict:
    """Distributions, pair precision/recall and, per alteration, the worst distance to the original."""
    from fiftyone_videorec import config
    from fiftyone_videorec.data.copy_sets import copy_pairs

    n = len(clips)
    truth = np.zeros((n, n), bool)
    for pair in copy_pairs(clips):
        i, j = sorted(pair)
        truth[i, j] = truth[j, i] = True
    same_action = np.array([[a.action == b.action and a.recording != b.recording for b in clips] for a in clips])
    upper = np.triu(np.ones((n, n), bool), 1)
    methods = {}
    for method in METHODS:
        start = time.perf_counter()
        distances = _distances(rows[method], aligned=method != "imagenet_mean_vector")
        elapsed = time.perf_counter() - start
        worst = {}
        for i, j in zip(*np.nonzero(truth & upper)):
            if clips[i].alteration == "original":
                worst[clips[j].alteration] = max(worst.get(clips[j].alteration, 0.0), round(float(distances[i, j]), 4))
        methods[method] = {"copies": _spread(distances[truth & upper]),
                           "non_copies": _spread(distances[~truth & upper]),
                           "same_action_other_recording": _spread(distances[same_action & upper]),
                           "best": _best(distances, truth), "worst_copy_of_original": worst,
                           "pairs_per_s": round(int(upper.sum()) / elapsed, 1)}
        if method == "copy_descriptor":
            methods[method]["at_default"] = _pair_metrics(distances, truth, config.DUPLICATE_THRESHOLD)
            methods[method].update(_extreme_pairs(clips, distances, truth))
    for method in METHODS[1:]:
        methods[method]["at_default"] = methods[method]["best"]
    return {"methods": methods, "truth": truth}


def _groups(clips, descriptors, truth: np.ndarray, k: int) -> dict:
    """Pair precision/recall of the groups the library returns, and the thresholds that group exactly."""
    from fiftyone_videorec import config
    from fiftyone_videorec.curation.copy_detection import group_copies

    def score(threshold: float, neighbours: int) -> dict:
        found = np.zeros_like(truth)
        for group in group_copies(descriptors, threshold=threshold, k=neighbours):
            for i, j in itertools.combinations(group.members, 2):
                found[i, j] = found[j, i] = True
        upper = np.triu(np.ones_like(truth), 1)
        hits = int((found & truth & upper).sum())
        return {"threshold": threshold, "precision": round(hits / max(int((found & upper).sum()), 1), 4),
                "recall": round(hits / max(int((truth & upper).sum()), 1), 4)}

    scan = [score(round(t, 2), len(clips) - 1) for t in np.arange(0.06, 0.26, 0.01)]
    exact = [row["threshold"] for row in scan if row["precision"] == 1 and row["recall"] == 1]
    return {"at_default": score(config.DUPLICATE_THRESHOLD, k), "every_pair_scored": scan,
            "exact_range": [min(exact), max(exact)] if exact else None}


def _excerpts(clips, descriptors) -> list[dict]:
    from fiftyone_videorec.curation.copy_detection import group_copies

    out = []
    groups = group_copies(descriptors)
    for index, clip in enumerate(clips):
        if clip.alteration != "excerpt":
            continue
        group = next((g for g in groups if index in g.members), None)
        row = {"recording": clip.recording, "cut_s": [round(clip.start, 2), round(clip.end, 2)], "found": False,
               "error_s": None}
        if group is not None and clips[group.members[0]].start == 0:
            start, end = group.spans[group.members.index(index)]
            row.update(found=True, found_s=[start, end],
                       error_s=round(max(abs(start - clip.start), abs(end - clip.end)), 2))
        out.append(row)
    return out


def _say(line: str, then=None, *args):
    """Print a progress line on stderr (then call ``then(*args)`` and return its result)."""
    import sys

    print(f"duplicates benchmark: {line}", file=sys.stderr, flush=True)
    return then(*args) if then else None


def run(out_dir: Path, quick: bool = False) -> dict:
    from fiftyone_videorec import config

    import bench_duplicates_speed

    work = config.data_dir() / ("copy-set-quick" if quick else "copy-set")
    start = time.perf_counter()
    clips = _build(quick, work)
    build_s = time.perf_counter() - start
    _say(f"copy set: {len(clips)} clips in {work} ({build_s:.0f} s); describing them")
    rows, describe = _describe(clips)
    _say("scoring every pair")
    quality = _quality(clips, rows)
    descriptors = rows["copy_descriptor"]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "quick": quick,
        "set": {"clips": len(clips), "recordings": len({c.recording for c in clips}),
                "alterations": sorted({c.alteration for c in clips}), "build_s": round(build_s, 1),
                "copy_pairs": int(np.triu(quality["truth"], 1).sum())},
        "threshold": config.DUPLICATE_THRESHOLD, "candidates_k": config.DUPLICATE_CANDIDATES,
        "methods": quality["methods"],
        "scores": {"copies": quality["methods"]["copy_descriptor"]["copies"],
                   "non_copies": quality["methods"]["copy_descriptor"]["non_copies"]},
        "groups": _groups(clips, descriptors, quality["truth"], config.DUPLICATE_CANDIDATES),
        "excerpts": _excerpts(clips, descriptors),
        "speed": {"describe": describe, **_say("timing whole-library searches", bench_duplicates_speed.measure, quick)},
    }
    out_dir = Path(out_dir)
    (out_dir / "duplicates.json").write_text(json.dumps(result, indent=1))
    (out_dir / "duplicates.md").write_text(bench_duplicates_speed.markdown(result, METHOD_TEXT))
    print((out_dir / "duplicates.md").read_text())
    return result
