"""The embedding benchmark's report: ``embed.md``'s tables from ``embed.json``'s figures, and the
quality run's frames x size table copied beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench_moments import shared_note

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"ours": ("motion only", "preset fast's (2+1)D network alone, default clips per video"),  # key: (title, what)
          "pretrained": ("pretrained", "the built-in ImageNet model alone, no training"),
          "fused": ("fused default", "preset fast as training now saves it: (2+1)D network + ImageNet features"),
          "ours_one": ("motion only, 1 clip/video", "the motion network with one clip per video")}


def quality_grid(out_dir: Path) -> dict | None:
    """The pretrained model's frames x size table from the quality run's JSON (this run's output
    folder first, else the committed one), or None when that run has not written one."""
    for path in (out_dir / "quality.json", ROOT / "benchmarks" / "quality.json"):
        if path.is_file():
            report = json.loads(path.read_text())
            grid = report.get("frames_x_size") or {}
            if grid.get("sets"):
                return {**grid, "complete": report.get("complete", False), "quick": report.get("quick", False),
                        "source": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)}
    return None


def _throughput_md(t: dict, batch: int) -> str:
    formats = [k for k, v in t.items() if isinstance(v, dict) and "seed_clips_per_s" in v]
    rows = "".join(f"| {f} | {t[f]['seed_clips_per_s']} | " + " | ".join(
        f"{t[f][k + '_clips_per_s']} | **{t[f]['speedup_' + k]}x**" for k in MODELS) + " |\n" for f in formats)
    fo_rows = "".join(f"| {f} | {t[f]['compute_embeddings_clips_per_s']} | {t[f]['speedup_compute_embeddings']}x | "
                      f"{t[f]['fiftyone_reader_only_clips_per_s']} | {t[f]['speedup_fiftyone_reader_only']}x |\n"
                      for f in formats)
    models = "".join(f"- **{title}** ({t['dims'][k]}-d): {what}.\n" for k, (title, what) in MODELS.items())
    frames, size = t["appearance_frames_x_size"]
    return (f"## Throughput ({t['clips']} clips of {t['clip_shape']}, the same clips in {len(formats)} formats; model "
            f"load and warm-up excluded)\n\nEvery column was measured in this one run on the same clips, in {t['rounds']} "
            f"interleaved rounds (each method on each slice of {t['clips'] // t['rounds']} clips in turn, the order "
            f"reversed every other round), so changes of load from other jobs hit every column alike. tutorial: per-frame "
            f"cv2 seek + resize to 224², tutorial network, batch 8. The others run `embed_samples` (what `embed_dataset`, "
            f"the CLI and the operators run: frames read forward (Motion-JPEG: only the wanted packets, decoded at reduced "
            f"size) in a thread pool ahead of the network, batch {batch}):\n\n"
            + models.replace("default clips", f"{t['default_clips_per_video']} clips")
            + f"\nImageNet stream: {frames} frames per video, centre square at {size} px; fused vector "
            f"`[sqrt(w) * appearance, sqrt(1 - w) * motion]`, w = {t['fused_weight']:g}.\n\n"
            f"| format | tutorial clips/s | " + " | ".join(f"{MODELS[k][0]} | speed-up" for k in MODELS)
            + f" |\n|---|---|{'---|---|' * len(MODELS)}\n{rows}\n"
            "Goals: pretrained >= 5x the tutorial pipeline's clips/s, fused default >= 3x (motion only: >= 5x, as before).\n\n"
            "### Through FiftyOne's own `dataset.compute_embeddings(model)` loop (motion only)\n\n"
            "FiftyOne 1.22 embeds video models one sample at a time and, for every sample, first opens an "
            "`FFmpegVideoReader` (an ffprobe run plus an ffmpeg process) that our model does not use. The last two "
            "columns time that open/close alone, with no model at all: no model can go faster than it through this "
            "loop.\n\n| format | compute_embeddings clips/s | speed-up | FiftyOne's reader alone, clips/s | best "
            f"possible speed-up through this loop |\n|---|---|---|---|---|\n{fo_rows}\n")


def _memory_md(peaks: dict) -> str:
    sizes = list(next(iter(peaks.values())))
    rows = "".join(f"| {n} | " + " | ".join(f"{peaks[k][n]['peak_rss_mb']} | {peaks[k][n]['rss_before_embedding_mb']}"
                                          for k in peaks) + " |\n" for n in sizes)
    return ("## Peak memory (VmHWM of a fresh process per model and size: FiftyOne + TensorFlow + model + "
            "embedding)\n\n| clips embedded | " + " | ".join(f"{MODELS[k][0]}: peak RSS MB | {MODELS[k][0]}: after "
                                                            "start-up and model load" for k in peaks)
            + f" |\n|---|{'---|---|' * len(peaks)}\n{rows}\nGoal (fused default): flat in the clip count, "
            "<= 1,500 MB.\n\n")


def markdown(r: dict, grid: dict | None) -> str:
    """``embed.md``: the run's tables, then the quality run's frames x size table when there is one."""
    from fiftyone_videorec import config

    lat, fq = r["latency"], r["file_queries"]
    queries = "".join(f"| {label} | {fq['ours'][k]} | {fq['fused'][k]} |\n" for label, k in (
        ("first", "first_ms"), ("later, p50", "later_p50_ms"), ("later, max", "later_max_ms")))
    return (
        f"# Embedding benchmark\n\n{shared_note(r)} Untrained networks (speed does not depend on the weights).\n\n"
        + _throughput_md(r["throughput"], config.DEFAULT_BATCH_SIZE) + _memory_md(r["peak_memory"])
        + f"## recommend latency at {lat['gallery']} gallery vectors (128-d, sklearn cosine index)\n\n"
        f"| call | p50 ms |\n|---|---|\n| recommend(dataset, id, k=10), exact plain cosine | {lat['recommend_p50_ms']} |\n"
        f"| dataset.sort_by_similarity(id, k=10) (Brain; cosine of centred vectors) | "
        f"{lat['brain_sort_by_similarity_p50_ms']} |\n\n128-d is the motion-only vector; the fused default's is "
        f"{r['throughput']['dims']['fused']}-d (not measured here).\n\n"
        f"## Queries by a new video file ({fq['ours']['queries']} successive `recommend(dataset, path, k=10)`, preset "
        f"fast)\n\nThe first call loads the model and traces its graph; the process keeps it (`shared_model`), so "
        f"later calls decode and embed the file only.\n\n| call | motion only, ms | fused default, ms |\n|---|---|---|\n"
        f"{queries}\nGoal: later <= 100 ms.\n\n{grid_markdown(grid)}"
        "Command: `FIFTYONE_DATABASE_DIR=... VIDEOREC_HOME=... python scripts/benchmark.py embed`\n")


def grid_markdown(grid: dict | None) -> str:
    """The quality run's frames x size table of the pretrained model, or nothing when it has none."""
    if not grid:
        return ""
    sets, speed = list(grid["sets"]), grid["sets"].get(grid.get("throughput_set"), {})
    rows = ""
    for key in dict.fromkeys(k for cells in grid["sets"].values() for k in cells):
        values = {s: grid["sets"][s][key]["precision@5"] for s in sets if key in grid["sets"][s]}
        worst, (frames, size) = min(values, key=values.get), key.split("x")
        mark = " **configured**" if [int(frames), int(size)] == list(grid["configured"]) else ""
        rows += (f"| {frames}{mark} | {size} | " + " | ".join(f"{values[s]:.3f}" if s in values else "–" for s in sets)
                 + f" | {worst} {values[worst]:.3f} | {speed.get(key, {}).get('clips_per_s', '–')} |\n")
    flags = [flag for flag, on in (("a --quick run", grid["quick"]), ("unfinished", not grid["complete"])) if on]
    state = f" **That run was {', '.join(flags)} when this table was written.**" if flags else ""
    return (f"## Frames per video x input size (from the quality run)\n\nCopied from `{grid['source']}`, not measured "
            f"by this benchmark.{state} The `pretrained` model with other frame counts per video and centre-square "
            f"sizes: P@5 of each set's validation clips against its train gallery, the worst set, and clips/s of "
            f"decoding plus the network on `{grid.get('throughput_set')}` (the quality run's own loop: compare rows "
            f"with each other, not with the throughput table above). **configured**: `config.APPEARANCE_FRAMES` x "
            f"`config.APPEARANCE_SIZE`.\n\n| frames | size | {' | '.join(sets)} | worst set | clips/s |\n"
            f"|---|---|{'---|' * len(sets)}---|---|\n{rows}\n")
