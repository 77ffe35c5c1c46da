"""Moment search benchmark: top-1 hit rate and IoU on long videos with known segments, indexing
speed, and search latency over 100k moments.

Run through ``python scripts/benchmark.py moments [--quick]``. Set FIFTYONE_DATABASE_DIR and
VIDEOREC_HOME to private folders first: the script creates datasets and files.

Long videos are assembled from segments with known boundaries: real recordings from
``benchmarks/clips`` (letterboxed to 160x120 at 25 fps) and the project's synthetic motions.
Queries: each segment cut from its long video by ffmpeg (copy), the same cut at low bitrate and
half size (altered), and a different take of the same action (a held-out real recording of an
action with two or more, or a fresh synthetic rendering of the motion). A query is a hit when the
top-1 moment is in the right video with temporal IoU >= 0.5 against the true segment (for a
different take: against any segment of that action).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT / "benchmarks" / "clips"
FPS = 25
REAL_SIZE = (160, 120)
BENCH = "videorec-bench-moments"


def _letterboxed(frames: np.ndarray, src_fps: float, seconds: float) -> np.ndarray:
    """Real frames resampled to 25 fps, letterboxed to REAL_SIZE, at most ``seconds`` long."""
    import cv2

    width, height = REAL_SIZE
    count = min(int(len(frames) * FPS / src_fps), int(seconds * FPS))
    out = np.zeros((count, height, width, 3), np.uint8)
    for i in range(count):
        frame = frames[min(len(frames) - 1, round(i * src_fps / FPS))]
        scale = min(width / frame.shape[1], height / frame.shape[0])
        w, h = round(frame.shape[1] * scale), round(frame.shape[0] * scale)
        top, left = (height - h) // 2, (width - w) // 2
        out[i, top:top + h, left:left + w] = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    return out


def _real_segments(quick: bool, rng) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
    """Return (gallery segments, held-out takes) as (action, frames); actions with two or more
    recordings keep one recording out of the long videos as a different-take query."""
    from fiftyone_videorec.data.real_footage import _fps, decode_all, read_manifest

    recordings = read_manifest(CLIPS)
    by_action: dict[str, list] = {}
    for rec in recordings:
        by_action.setdefault(rec.action, []).append(rec)
    gallery, takes = [], []
    for action, recs in sorted(by_action.items()):
        for i, rec in enumerate(recs):
            frames = _letterboxed(decode_all(rec.path), _fps(rec.path), 3.0 if quick else 6.0)
            if len(frames) < 2.4 * FPS:  # a segment must hold at least one whole 2-second window
                continue
            (takes if i == len(recs) - 1 and len(recs) > 1 else gallery).append((action, frames))
    order = rng.permutation(len(gallery))
    gallery = [gallery[i] for i in order]
    return (gallery[:3], takes[:1]) if quick else (gallery, takes)


def _synthetic_segments(count: int, size: int, rng, seconds=(4, 7)) -> list[tuple[str, np.ndarray]]:
    from fiftyone_videorec.data.synthetic import MOTIONS, render_clip

    out, previous = [], None
    for _ in range(count):
        motion = rng.choice([m for m in MOTIONS if m != previous])
        out.append((str(motion), render_clip(str(motion), rng, frames=int(rng.integers(*seconds) * FPS), size=size)))
        previous = motion
    return out


def build_videos(work: Path, quick: bool) -> tuple[list[dict], list[dict]]:
    """Write the long videos and the query files; return (videos, queries) with their truth."""
    from fiftyone_videorec.data.synthetic import render_clip
    from fiftyone_videorec.data.video_files import ffmpeg_convert, write_h264

    rng = np.random.default_rng(11)
    work.mkdir(parents=True, exist_ok=True)
    real, real_takes = _real_segments(quick, rng)
    per_video = 3 if quick else 4
    groups = [("real", real[i:i + per_video]) for i in range(0, len(real), per_video)]
    synthetic = _synthetic_segments(3 if quick else 32, 112, rng, (3, 5) if quick else (4, 8))
    groups += [("synthetic", synthetic[i:i + per_video]) for i in range(0, len(synthetic), per_video)]
    videos, queries = [], []
    for v, (kind, segments) in enumerate(groups):
        path, bounds, t = work / f"long_{v:02d}_{kind}.mp4", [], 0.0
        for action, frames in segments:
            bounds.append({"action": action, "start": t, "end": t + len(frames) / FPS})
            t += len(frames) / FPS
        if not path.exists():
            write_h264(np.concatenate([f for _, f in segments]), path, fps=FPS)
        videos.append({"path": str(path), "kind": kind, "segments": bounds, "seconds": t})
        for s, seg in enumerate(bounds):
            cut = ["-ss", f"{seg['start']:.3f}", "-t", f"{seg['end'] - seg['start']:.3f}", "-an"]
            for name, extra in (("copy", ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
                                ("altered", ["-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2", "-c:v", "libx264",
                                             "-b:v", "48k", "-pix_fmt", "yuv420p"])):
                query = work / f"q_{v:02d}_{s}_{name}.mp4"
                if not query.exists():
                    ffmpeg_convert(path, query, *cut, *extra)
                queries.append({"path": str(query), "type": name, "kind": kind, "video": str(path), **seg})
    motions = sorted({action for kind, segments in groups if kind == "synthetic" for action, _ in segments})
    fresh = [(m, render_clip(m, rng, frames=5 * FPS, size=112)) for m in motions[:1 if quick else 10]]
    takes = [("real", a, f) for a, f in real_takes] + [("synthetic", a, f) for a, f in fresh]
    for i, (kind, action, frames) in enumerate(takes):
        query = work / f"take_{i:02d}_{kind}.mp4"
        if not query.exists():
            write_h264(frames, query, fps=FPS)
        queries.append({"path": str(query), "type": "take", "kind": kind, "action": action, "video": None})
    return videos, queries


def _iou(a, b) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / max(1e-9, max(a[1], b[1]) - min(a[0], b[0]))


def score_queries(dataset, videos: list[dict], queries: list[dict]) -> dict:
    """Return (top-1 hit rate and mean IoU per query type and source, the misses, find_moments p50 ms)."""
    from fiftyone_videorec.moments import find_moments

    by_path = {v["path"]: v for v in videos}
    rows: dict[str, list] = {}
    misses, seconds = [], []
    for q in queries:
        started = time.perf_counter()
        top = find_moments(dataset, q["path"], k=1)[0]
        seconds.append(time.perf_counter() - started)
        span = (top.start, top.end)
        if q["type"] == "take":  # any segment of the same action
            candidates = [s for s in by_path[top.filepath]["segments"] if s["action"] == q["action"]]
        else:
            candidates = [q] if top.filepath == q["video"] else []
        iou = max((_iou(span, (s["start"], s["end"])) for s in candidates), default=0.0)
        for key in (q["type"], f"{q['type']} ({q['kind']})"):
            rows.setdefault(key, []).append(iou)
        if iou < 0.5:
            misses.append({"query": Path(q["path"]).name, "action": q["action"], "found": Path(top.filepath).name,
                           "start": top.start, "end": top.end, "iou": round(iou, 3)})
    order = [f"{t}{k}" for t in ("copy", "altered", "take") for k in ("", " (real)", " (synthetic)")]
    table = {key: {"queries": len(ious), "top1_hit_rate": round(float(np.mean(np.asarray(ious) >= 0.5)), 3),
                   "mean_iou": round(float(np.mean(ious)), 3)} for key, ious in sorted(rows.items(), key=lambda kv: order.index(kv[0]))}
    return table, misses, round(float(np.median(seconds)) * 1000)


def latency(model_dir: Path, total: int, dim: int, per_video: int = 100, repeats: int = 200) -> dict:
    """Search p50/p99 over ``total`` generated moments (clustered unit vectors), query embedding excluded."""
    import fiftyone as fo

    from fiftyone_videorec import config
    from fiftyone_videorec.moments import index_moments, search_windows, settings_key

    name = f"{BENCH}-latency"
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = fo.Dataset(name)
    rng = np.random.default_rng(0)
    settings = settings_key(model_dir, config.MOMENT_WINDOW_S, config.MOMENT_STRIDE_S, config.MOMENT_CLIPS)
    samples = []
    for v in range(total // per_video):
        walk = np.cumsum(rng.normal(size=(per_video, dim)), axis=0).astype(np.float32)  # neighbours in time look alike
        dets = [fo.TemporalDetection(label="moment", support=[i * 25 + 1, i * 25 + 50], start=float(i), end=i + 2.0,
                                     embedding=walk[i]) for i in range(per_video)]
        samples.append(fo.Sample(filepath=f"/bench/video_{v:05d}.mp4", **{
            config.MOMENTS_FIELD: fo.TemporalDetections(detections=dets),
            f"{config.MOMENTS_FIELD}_settings": settings}))
    dataset.add_samples(samples, progress=False)
    started = time.perf_counter()
    summary = index_moments(dataset, model_dir)  # every video already done: builds the index only
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    search_windows(dataset, rng.normal(size=(1, dim)), k=5)  # loads and normalises the index once
    first_ms = (time.perf_counter() - started) * 1000
    out = {"moments": summary.moments, "dim": dim, "index_build_s": round(build_s, 1), "first_search_ms": round(first_ms)}
    for windows, per in ((1, None), (1, 1), (5, None)):
        times = []
        for _ in range(repeats):
            query = rng.normal(size=(windows, dim))
            started = time.perf_counter()
            search_windows(dataset, query, k=5, per_video=per)
            times.append((time.perf_counter() - started) * 1000)
        out[f"{windows} window{'s' if windows > 1 else ''}{', per_video 1' if per else ''}"] = {
            "p50_ms": round(float(np.percentile(times, 50)), 1), "p99_ms": round(float(np.percentile(times, 99)), 1)}
    fo.delete_dataset(name)
    return out


def _model(work: Path, quick: bool, time_limit: float) -> tuple[Path, dict]:
    """Train the benchmark's model on the synthetic set (reused when already there). ``quick`` only
    checks that the script runs: an untrained ``tiny`` network, saved the way training saves one."""
    from fiftyone_videorec.data.synthetic import load_synthetic
    from fiftyone_videorec.model import build_model, save_trained
    from fiftyone_videorec.training import train

    out = work / ("model-tiny-untrained" if quick else "model-fast")
    if quick and not (out / "metadata.json").is_file():
        classifier, _ = build_model("tiny", num_classes=4)
        save_trained(out, classifier, {"preset": "tiny", "class_names": list("abcd"), "epochs_trained": 0})
    elif not (out / "metadata.json").is_file():
        dataset = load_synthetic(f"{BENCH}-train", overwrite=True, show_bar=False)
        train(dataset.name, out, preset="fast", time_limit=time_limit)
    return out, json.loads((out / "metadata.json").read_text())


def run(out_dir: Path, quick: bool, time_limit: float = 300.0) -> dict:
    """Measure and write ``moments.md`` / ``moments.json`` into ``out_dir``."""
    import fiftyone as fo

    from fiftyone_videorec import config
    from fiftyone_videorec.moments import index_moments
    from fiftyone_videorec.runtime import connect_database

    connect_database()
    work = config.home_dir() / "bench-moments"
    model_dir, meta = _model(work, quick, time_limit)
    videos, queries = build_videos(work / ("videos-quick" if quick else "videos"), quick)
    if fo.dataset_exists(BENCH):
        fo.delete_dataset(BENCH)
    dataset = fo.Dataset(BENCH)
    dataset.add_samples([fo.Sample(filepath=v["path"]) for v in videos], progress=False)
    started = time.perf_counter()
    summary = index_moments(dataset, model_dir)
    index_s = time.perf_counter() - started
    seconds = sum(v["seconds"] for v in videos)
    quality, misses, find_ms = score_queries(dataset, videos, queries)
    dim = len(dataset.first()[config.MOMENTS_FIELD].detections[0].embedding)
    lat = latency(model_dir, 2_000 if quick else 100_000, dim, repeats=50 if quick else 200)
    result = {"cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(), "quick": quick,
              "model": {"preset": meta.get("preset"),
                        "trained_on": "nothing (--quick)" if quick else "synthetic motion set (videorec load synthetic)",
                        "epochs": meta.get("epochs_trained"), "train_seconds": meta.get("train_seconds"),
                        "test_vs_train_precision@5": round(meta.get("metrics", {}).get("test_vs_train_precision@5", float("nan")), 3)},
              "videos": {"count": len(videos), "real": sum(v["kind"] == "real" for v in videos),
                         "segments": sum(len(v["segments"]) for v in videos), "seconds": round(seconds, 1)},
              "indexing": {"moments": summary.moments, "seconds": round(index_s, 1),
                           "video_seconds_per_second": round(seconds / index_s, 1), "failed": len(summary.failed)},
              "quality": quality, "misses": misses, "find_moments_p50_ms_incl_query_embedding": find_ms,
              "latency": lat,
              "settings": {"window": config.MOMENT_WINDOW_S, "stride": config.MOMENT_STRIDE_S,
                           "clips": config.MOMENT_CLIPS}}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "moments.json").write_text(json.dumps(result, indent=2))
    (out_dir / "moments.md").write_text(_markdown(result))
    print((out_dir / "moments.md").read_text())
    fo.delete_dataset(BENCH)
    return result


def _markdown(r: dict) -> str:
    m, v, ix, lat = r["model"], r["videos"], r["indexing"], r["latency"]
    quality = "".join(f"| {name} | {row['queries']} | {row['top1_hit_rate']} | {row['mean_iou']} |\n"
                      for name, row in r["quality"].items())
    searches = "".join(f"| {name} | {row['p50_ms']} | {row['p99_ms']} |\n"
                       for name, row in lat.items() if isinstance(row, dict))
    s = r["settings"]
    return (
        f"# Moment search benchmark\n\n{r['cpu_count']} CPUs ({r['machine']}), shared with other jobs.\n\n"
        f"Model: preset `{m['preset']}` trained by `vr.train` on {m['trained_on']} ({m['epochs']} epochs, "
        f"{m['train_seconds']} s; test-vs-train P@5 {m['test_vs_train_precision@5']}). Moments: "
        f"{s['window']} s windows every {s['stride']} s, {s['clips']} clips each.\n\n"
        f"Long videos: {v['count']} ({v['real']} of real recordings from `benchmarks/clips`, letterboxed to 160x120 "
        f"at 25 fps; the rest of synthetic motions, 112 px), {v['segments']} known segments, {v['seconds']} s in all.\n\n"
        f"## Quality (top-1 moment of each query)\n\n"
        f"copy: the segment cut from its long video (H.264 re-encode); altered: the same cut at 48 kbit/s and half "
        f"size; take: another recording of the action (real, kept out of the long videos) or a fresh synthetic "
        f"rendering of the motion. Hit: right video and temporal IoU >= 0.5 with the true segment (take: with any "
        f"segment of that action).\n\n"
        f"| queries | count | top-1 hit rate | mean IoU |\n|---|---|---|---|\n{quality}\n"
        f"Goal: top-1 hit rate >= 0.9 on copy queries.\n\nMisses (query → top-1 moment):\n\n"
        + "".join(f"- {x['query']} ({x['action']}) → {x['found']} {x['start']:.0f}-{x['end']:.0f} s, IoU {x['iou']}\n"
                  for x in r["misses"]) + "\n"
        f"## Indexing speed\n\n| video seconds | moments | wall seconds | video-seconds per second |\n|---|---|---|---|\n"
        f"| {v['seconds']} | {ix['moments']} | {ix['seconds']} | **{ix['video_seconds_per_second']}x** |\n\n"
        f"Wall time of `index_moments` (model load, one decode per video, network, database writes, Brain index). "
        f"Goal: >= 20x real time on 2 CPUs.\n\n"
        f"## Search latency over {lat['moments']} generated moments ({lat['dim']}-d)\n\n"
        f"`search_windows` (the search behind `find_moments`, query embedding excluded), k=5, index loaded; the "
        f"first search (load and normalise the index) took {lat['first_search_ms']} ms; building the index took "
        f"{lat['index_build_s']} s. A whole `find_moments` call on the benchmark's index, decoding and embedding the "
        f"query file (2-8 s of video) included, took {r['find_moments_p50_ms_incl_query_embedding']} ms (p50).\n\n"
        f"| query | p50 ms | p99 ms |\n|---|---|---|\n{searches}\n"
        f"Goal: p50 <= 100 ms over 100k moments.\n")
