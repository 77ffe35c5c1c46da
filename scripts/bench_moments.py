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
    synthetic = _synthetic_segments(3 if quick else 32, size=112, rng=rng, seconds=(3, 5) if quick else (4, 8))
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


def score_queries(dataset, videos: list[dict], queries: list[dict], field: str) -> tuple[dict, list, int]:
    """Return (top-1 hit rate and mean IoU per query type and source, the misses, find_moments p50 ms)
    for the moments in ``field``."""
    from fiftyone_videorec.search.moments import find_moments

    by_path = {v["path"]: v for v in videos}
    rows: dict[str, list] = {}
    misses, seconds = [], []
    for q in queries:
        started = time.perf_counter()
        top = find_moments(dataset, q["path"], k=1, field=field)[0]
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
    from fiftyone_videorec.search.moments import index_moments, search_windows, settings_key

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


def _trained(work: Path, quick: bool, time_limit: float) -> Path:
    """Train the default preset on the synthetic set (reused when already there), saved as training
    saves it by default: fused, the appearance weight chosen by training. ``quick`` only checks that
    the script runs: an untrained ``tiny`` network, saved the way training saves one, fused at the
    default weight."""
    from fiftyone_videorec import config
    from fiftyone_videorec.network.backbone import NAME
    from fiftyone_videorec.data.synthetic import load_synthetic
    from fiftyone_videorec.embedding.model_folder import is_model_folder
    from fiftyone_videorec.network.model import build_model, save_trained
    from fiftyone_videorec.network.training import train

    out = work / ("model-tiny-untrained-fused" if quick else "model-fast-fused")
    if quick and not is_model_folder(out):
        classifier, _ = build_model("tiny", num_classes=4)
        save_trained(out, classifier, {"preset": "tiny", "class_names": list("abcd"), "epochs_trained": 0,
                                       "appearance": {"frames": config.APPEARANCE_FRAMES, "backbone": NAME,
                                                      "image_size": config.APPEARANCE_SIZE,
                                                      "weight": config.APPEARANCE_WEIGHT}})
    elif not is_model_folder(out):
        dataset = load_synthetic(f"{BENCH}-train", overwrite=True, show_bar=False)
        train(dataset.name, out, preset=config.DEFAULT_PRESET, time_limit=time_limit)
    return out


def _about(key: str, folder: Path, quick: bool) -> dict:
    """What the table says of a model: how it was made and its own retrieval scores."""
    from fiftyone_videorec.embedding.model_folder import read_metadata

    meta = read_metadata(folder)
    if key == "pretrained":
        return {"label": "pretrained", "made": f"built-in, no training ({meta['backbone']})",
                "appearance": meta["appearance"], "frame_step": meta["frame_step"]}
    metrics = meta.get("metrics", {})
    scores = {name: round(metrics[name], 3) for name in ("test_vs_train_precision@5", "motion_only_precision@5",
                                                         "appearance_only_precision@5") if name in metrics}
    fused = float((meta.get("appearance") or {}).get("weight", 0)) > 0
    return {"label": f"{meta['preset']} ({'fused default' if fused else 'default, motion only'})",
            "preset": meta["preset"], "appearance": meta.get("appearance"),
            "made": "untrained (--quick)" if quick else "trained by `vr.train` on the synthetic motion set",
            "epochs": meta.get("epochs_trained"), "train_seconds": meta.get("train_seconds"), "scores": scores,
            "stopped_by_time_limit_s": meta.get("time_limit_s") if meta.get("stopped_by_time_limit") else None}


def measure(dataset, key: str, folder: Path, videos: list[dict], queries: list[dict], quick: bool) -> dict:
    """Index the long videos' moments with one model (its own field) and score every query against them."""
    from fiftyone_videorec import config
    from fiftyone_videorec.search.moments import index_moments

    field = f"{config.MOMENTS_FIELD}_{key}"
    started = time.perf_counter()
    summary = index_moments(dataset, folder, field=field)
    index_s = time.perf_counter() - started
    seconds = sum(v["seconds"] for v in videos)
    quality, misses, find_ms = score_queries(dataset, videos, queries, field)
    print(f"{key}: indexed in {index_s:.0f} s; " + ", ".join(f"{k} {r['top1_hit_rate']}" for k, r in quality.items()),
          flush=True)
    return {**_about(key, folder, quick), "dim": len(dataset.first()[field].detections[0].embedding),
            "indexing": {"moments": summary.moments, "seconds": round(index_s, 1),
                         "video_seconds_per_second": round(seconds / index_s, 1), "failed": len(summary.failed)},
            "quality": quality, "misses": misses, "find_moments_p50_ms_incl_query_embedding": find_ms}


def neighbours(seen: dict | None = None) -> dict:
    """Add to ``seen`` the other ``benchmark.py`` runs on this machine now and the 1-minute load average,
    so the table can say what shared the CPUs (call it between phases; the embed benchmark uses it too)."""
    seen = seen or {"other_benchmarks": [], "load_1min": []}
    seen["load_1min"].append(round(os.getloadavg()[0], 1))
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:  # the process ended meanwhile
            continue
        name = next((args[i + 1] + " --quick" * ("--quick" in args) for i, a in enumerate(args[:-1])
                     if a.endswith("benchmark.py")), None)
        if name and cmdline.parent.name != str(os.getpid()) and name not in seen["other_benchmarks"]:
            seen["other_benchmarks"].append(name)
    return seen


def shared_note(r: dict) -> str:
    """The sentence under a benchmark's title: the CPUs, what shared them, and that only ratios count."""
    others, load = r["neighbours"]["other_benchmarks"], r["neighbours"]["load_1min"]
    shared = ("The machine was shared: " + ", ".join(f"`benchmark.py {b}`" for b in others) + " ran at the same time"
              if others else "Shared with other jobs")
    return (f"{r['cpu_count']} CPUs ({r['machine']}). {shared} (1-minute load average {min(load)}-{max(load)} "
            "during the run), so absolute speeds are low and noisy: only ratios measured within this run count.")


def run(out_dir: Path, quick: bool, time_limit: float = 300.0) -> dict:
    """Measure and write ``moments.md`` / ``moments.json`` into ``out_dir``."""
    import fiftyone as fo

    from fiftyone_videorec import config
    from fiftyone_videorec.embedding.model_folder import resolve
    from fiftyone_videorec.runtime import connect_database

    connect_database()
    work, seen, started = config.home_dir() / "bench-moments", neighbours(), time.perf_counter()
    folders = {"trained": _trained(work, quick, time_limit), "pretrained": resolve("pretrained")}
    videos, queries = build_videos(work / ("videos-quick" if quick else "videos"), quick)
    if fo.dataset_exists(BENCH):
        fo.delete_dataset(BENCH)
    dataset = fo.Dataset(BENCH)
    dataset.add_samples([fo.Sample(filepath=v["path"]) for v in videos], progress=False)
    models = {}
    for key, folder in folders.items():
        models[key] = measure(dataset, key, folder, videos, queries, quick)
        neighbours(seen)
    lat = latency(folders["trained"], 2_000 if quick else 100_000, models["trained"]["dim"],
                  repeats=50 if quick else 200)
    result = {"cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(), "quick": quick,
              "models": models, "latency": lat,
              "videos": {"count": len(videos), "real": sum(v["kind"] == "real" for v in videos),
                         "segments": sum(len(v["segments"]) for v in videos),
                         "seconds": round(sum(v["seconds"] for v in videos), 1)},
              "settings": {"window": config.MOMENT_WINDOW_S, "stride": config.MOMENT_STRIDE_S,
                           "clips": config.MOMENT_CLIPS},
              "seconds": round(time.perf_counter() - started), "neighbours": neighbours(seen)}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "moments.json").write_text(json.dumps(result, indent=2))
    (out_dir / "moments.md").write_text(_markdown(result))
    print((out_dir / "moments.md").read_text())
    fo.delete_dataset(BENCH)
    return result


def _models_md(models: dict, s: dict) -> str:
    """One line per model: how it was made, its vector and how it samples a window."""
    lines = ""
    for m in models.values():
        a = m["appearance"] or {"weight": 0}
        stream = f"ImageNet features of {a.get('frames')} frames per window ({a.get('image_size')} px centre squares)"
        if not m.get("preset"):
            lines += (f"- **{m['label']}**: {m['made']}. {m['dim']}-d: the {stream}, sampled every "
                      f"{m['frame_step']} frames at 25 fps.\n")
            continue
        names = {"test_vs_train_precision@5": "fused", "motion_only_precision@5": "motion stream alone",
                 "appearance_only_precision@5": "appearance stream alone"}
        scores = ", ".join(f"{names[k]} {v}" for k, v in m["scores"].items())
        motion = f"the mean of {s['clips']} clips' (2+1)D vectors per window"
        chosen = f" (chosen on {a['chosen_on']})" if a.get("chosen_on") else ""
        how = (f"{motion} fused with the {stream}, appearance weight {a['weight']:g}{chosen}" if a["weight"] else
               f"{motion} alone: the ImageNet stream is off (appearance weight 0{chosen})")
        limit = m.get("stopped_by_time_limit_s")
        stop = f", stopped by its {limit:g} s time limit" if limit else ""
        took = f"{m['epochs']} epochs, {m['train_seconds']} s{stop}; " if m.get("train_seconds") else ""
        lines += (f"- **{m['label']}**: preset `{m['preset']}` {m['made']} ({took}test-vs-train P@5 "
                  f"{scores or 'not measured'}). {m['dim']}-d: {how}.\n")
    return lines


def _markdown(r: dict) -> str:
    v, lat, s, models = r["videos"], r["latency"], r["settings"], r["models"]
    quality = "".join(f"| {name} | {m['quality'][name]['queries']} | {m['label']} | "
                      f"{m['quality'][name]['top1_hit_rate']} | {m['quality'][name]['mean_iou']} |\n"
                      for name in next(iter(models.values()))["quality"] for m in models.values())
    misses = "".join(f"\n{m['label']}:\n\n" + "".join(
        f"- {x['query']} ({x['action']}) → {x['found']} {x['start']:.0f}-{x['end']:.0f} s, IoU {x['iou']}\n"
        for x in m["misses"]) for m in models.values())
    indexing = "".join(f"| {m['label']} | {v['seconds']} | {m['indexing']['moments']} | {m['indexing']['seconds']} | "
                       f"**{m['indexing']['video_seconds_per_second']}x** | "
                       f"{m['find_moments_p50_ms_incl_query_embedding']} |\n" for m in models.values())
    searches = "".join(f"| {name} | {row['p50_ms']} | {row['p99_ms']} |\n"
                       for name, row in lat.items() if isinstance(row, dict))
    return (
        f"# Moment search benchmark\n\n{shared_note(r)}\n\nTwo models, measured in this one run on the same videos "
        f"and queries. Moments: {s['window']} s windows every {s['stride']} s.\n\n{_models_md(models, s)}\n"
        f"Long videos: {v['count']} ({v['real']} of real recordings from `benchmarks/clips`, letterboxed to 160x120 "
        f"at 25 fps; the rest of synthetic motions, 112 px), {v['segments']} known segments, {v['seconds']} s in all.\n\n"
        f"## Quality (top-1 moment of each query)\n\n"
        f"copy: the segment cut from its long video (H.264 re-encode); altered: the same cut at 48 kbit/s and half "
        f"size; take: another recording of the action (real, kept out of the long videos) or a fresh synthetic "
        f"rendering of the motion. Hit: right video and temporal IoU >= 0.5 with the true segment (take: with any "
        f"segment of that action).\n\n"
        f"| queries | count | model | top-1 hit rate | mean IoU |\n|---|---|---|---|---|\n{quality}\n"
        f"Goal: top-1 hit rate >= 0.9 on copy queries.\n\nMisses (query → top-1 moment):\n{misses}\n"
        f"## Indexing speed\n\n| model | video seconds | moments | wall seconds | video-seconds per second | "
        f"find_moments p50 ms |\n|---|---|---|---|---|---|\n{indexing}\n"
        f"Wall time of `index_moments` (model load, one decode per video, network, database writes, Brain index). "
        f"Goal: >= 20x real time on 2 CPUs. find_moments: a whole call on the benchmark's index, decoding and "
        f"embedding the query file (2-8 s of video) included, p50 over all queries.\n\n"
        f"## Search latency over {lat['moments']} generated moments ({lat['dim']}-d, the fused default's size)\n\n"
        f"`search_windows` (the search behind `find_moments`, query embedding excluded), k=5, index loaded; the "
        f"first search (load and normalise the index) took {lat['first_search_ms']} ms; building the index took "
        f"{lat['index_build_s']} s.\n\n| query | p50 ms | p99 ms |\n|---|---|---|\n{searches}\n"
        f"Goal: p50 <= 100 ms over 100k moments.\n")
