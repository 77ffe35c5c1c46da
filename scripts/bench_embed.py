"""Embedding benchmark: clips/s (ours vs the tutorial's pipeline), peak memory, recommend latency.

Run through ``python scripts/benchmark.py embed [--quick]``. Set FIFTYONE_DATABASE_DIR and
VIDEOREC_HOME to private folders first: the script creates datasets and files.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from embed_report import markdown, quality_grid

BENCH = "videorec-bench-embed"
ROOT = Path(__file__).resolve().parents[1]


def _clips(root: Path, count: int, frames: int = 150, size=(320, 240)) -> list[Path]:
    from fiftyone_videorec.data.video_files import write_video

    paths = [root / f"clip{i:03d}.avi" for i in range(count)]
    for i, path in enumerate(paths):
        if not path.exists():
            write_video(path, fourcc="MJPG", n_frames=frames, size=size, seed=i, dx=1 + i % 5)
    return paths


def _model_dir(root: Path, preset: str, fused: bool = False) -> Path:
    """An untrained model folder, saved as training saves one (speed does not depend on the weights);
    ``fused`` adds an ``appearance`` entry, so its vectors join the ImageNet features."""
    from fiftyone_videorec import config
    from fiftyone_videorec.network.backbone import NAME
    from fiftyone_videorec.network.model import build_model, save_trained
    from fiftyone_videorec.embedding.model_folder import is_model_folder, read_metadata

    out = root / (f"{preset}-fused" if fused else preset)
    metadata = {"preset": preset, "class_names": [str(i) for i in range(10)]}
    if fused:  # the default weight; training may choose another, which costs the same
        metadata["appearance"] = {"frames": config.APPEARANCE_FRAMES, "image_size": config.APPEARANCE_SIZE,
                                  "weight": config.APPEARANCE_WEIGHT, "backbone": NAME}
    if not is_model_folder(out) or read_metadata(out).get("appearance") != metadata.get("appearance"):
        classifier, _ = build_model(preset, num_classes=10)
        save_trained(out, classifier, metadata)
    return out


def _dataset(name: str, paths: list[Path]):
    import fiftyone as fo

    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = fo.Dataset(name)
    dataset.add_samples([fo.Sample(filepath=str(p)) for p in paths])
    return dataset


def tutorial_embed(paths: list[Path], embedder, n_frames=10, frame_step=15, size=224, batch=8) -> np.ndarray:
    """The pipeline of TensorFlow's video classification tutorial: per-frame cv2 seek + resize to 224²,
    the tutorial network, batch 8."""
    import cv2

    out, batch_clips = [], []
    for path in paths:
        cap = cv2.VideoCapture(str(path))
        frames = []
        for i in range(n_frames):
            cap.set(cv2.CAP_PROP_POS_FRAMES, i * frame_step)
            ok, frame = cap.read()
            frame = cv2.resize(frame, (size, size)) if ok else np.zeros((size, size, 3), np.uint8)
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        cap.release()
        batch_clips.append(np.stack(frames))
        if len(batch_clips) == batch or path == paths[-1]:
            out.append(np.asarray(embedder(np.stack(batch_clips).astype(np.float32), training=False)[0]))
            batch_clips = []
    return np.concatenate(out)


def _converted(paths: list[Path], root: Path, suffix: str, *ffmpeg_args: str) -> list[Path]:
    """The same clips re-encoded by ffmpeg with ``ffmpeg_args`` (kept between runs)."""
    from fiftyone_videorec.data.video_files import ffmpeg_convert

    return [dst if (dst := root / f"{p.stem}{suffix}").exists() else ffmpeg_convert(p, dst, *ffmpeg_args)
            for p in paths]


def _h264_copies(paths: list[Path], root: Path) -> list[Path]:
    """The same clips re-encoded to H.264 MP4 by the importer's own transcode (what the App plays)."""
    from fiftyone_videorec.data.transcode import transcode

    for path in paths:
        if reason := transcode(path, root / f"{path.stem}.mp4"):
            raise RuntimeError(f"transcode {path}: {reason}")
    return [root / f"{path.stem}.mp4" for path in paths]


def fiftyone_reader_only(paths: list[Path]) -> None:
    """What FiftyOne 1.22's video ``compute_embeddings`` loop does per sample before calling the model:
    open (ffprobe + an ffmpeg process) and close an ``FFmpegVideoReader``."""
    import eta.core.video as etav

    for path in paths:
        with etav.FFmpegVideoReader(str(path)):
            pass


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _format_row(dataset, paths: list[Path], models: dict, tutorial_net, rounds: int) -> dict:
    """Seconds of each model, the tutorial's pipeline (key ``seed``), FiftyOne's loop and FiftyOne's reader
    alone on one format's clips, in interleaved rounds (every method on each slice of the clips in turn,
    the order reversed every other round), so a change of load from other jobs hits every method alike."""
    from fiftyone_videorec.embedding.run import embed_samples

    warm = max(1, len(paths) // 8)
    for key, model in models.items():  # warm-up (graph tracing), excluded
        embed_samples(dataset.limit(warm), model, field=f"warm_{key}")
    tutorial_embed(paths[:warm], tutorial_net)
    methods = {key: lambda view, part, model=model, key=key: embed_samples(view, model, field=key)
               for key, model in models.items()}
    methods |= {"compute_embeddings": lambda view, part: view.compute_embeddings(
                    models["ours"], embeddings_field="ours_fo", progress=False),
                "seed": lambda view, part: tutorial_embed(part, tutorial_net),  # key kept for the committed results
                "fiftyone_reader_only": lambda view, part: fiftyone_reader_only(part)}
    ids, size, seconds = dataset.values("id"), -(-len(paths) // rounds), dict.fromkeys(methods, 0.0)
    for r, start in enumerate(range(0, len(paths), size)):
        view, part = dataset.select(ids[start:start + size]), paths[start:start + size]
        for key in list(methods)[::-1 if r % 2 else 1]:
            seconds[key] += _timed(lambda: methods[key](view, part))
    assert all(len(dataset.exists(key)) == len(paths) for key in models)
    return seconds


def throughput(work: Path, count: int, rounds: int) -> dict:
    """clips/s of embed_samples for each of ``embed_report.MODELS`` vs the tutorial's pipeline, per file format,
    in one run."""
    from fiftyone_videorec import config
    from fiftyone_videorec.embedding.embedder import load_model

    avi = _clips(work / "clips", count)
    formats = {"MPEG-4 part 2 .avi, fourcc XVID (UCF101's own codec)":
               _converted(avi, work / "clips-xvid", ".avi", "-c:v", "mpeg4", "-vtag", "xvid", "-q:v", "4"),
               "Motion-JPEG .avi": avi,
               "H.264 .mp4 (as the importer writes for the App)": _h264_copies(avi, work / "clips-h264")}
    motion, fused = _model_dir(work, "fast"), _model_dir(work, "fast", fused=True)  # loading is not throughput
    models = {"ours": load_model(motion), "pretrained": load_model("pretrained"), "fused": load_model(fused),
              "ours_one": load_model(motion, clips=1)}
    tutorial_net = load_model(_model_dir(work, "tutorial")).motion.network
    out = {"clips": count, "rounds": rounds, "clip_shape": "150 frames 320x240", "default_clips_per_video": config.DEFAULT_CLIPS,
           "fused_weight": models["fused"].appearance_weight,
           "appearance_frames_x_size": list(models["pretrained"].frame_spec),
           "dims": {key: int(m.embed(avi[0]).shape[-1]) for key, m in models.items()}}
    for name, paths in formats.items():
        s = _format_row(_dataset(BENCH, paths), paths, models, tutorial_net, rounds)
        row = {f"{key}_clips_per_s": round(count / s[key], 2) for key in s}
        row |= {f"speedup_{key}": round(s["seed"] / s[key], 1) for key in s if key != "seed"}
        out[name] = row
    return out


_PEAK_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {scripts!r})
import bench_embed as b
from fiftyone_videorec.embedding.embedder import load_model
from fiftyone_videorec.embedding.run import embed_samples
from fiftyone_videorec.runtime import connect_database
connect_database()
paths = b._clips(Path({clips!r}), {files})
ds = b._dataset("videorec-bench-peak", [paths[i % len(paths)] for i in range({n})])
model = load_model({model!r})
before = b.peak_rss_kb()
s = embed_samples(ds, model, field="e")
print(before, b.peak_rss_kb(), s.embedded)
"""


def peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that over from the parent
    across fork + exec, so a child started by a big parent reports the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_child(work: Path, n: int, model: Path, files: int) -> dict:
    code = _PEAK_CHILD.format(scripts=str(Path(__file__).parent), clips=str(work / "clips"), n=n, model=str(model),
                              files=files)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    if res.returncode:
        raise RuntimeError(f"peak-memory child failed: {res.stderr[-2000:]}")
    before, peak, embedded = map(int, res.stdout.split()[-3:])
    return {"peak_rss_mb": round(peak / 1024), "rss_before_embedding_mb": round(before / 1024), "embedded": embedded}


def peak_memory(work: Path, sizes: tuple[int, ...], models: tuple[str, ...], files: int) -> dict:
    """Peak RSS of a fresh process that loads the model and embeds ``n`` clips (``files`` distinct
    ones, repeated), per model and size: flat in ``n`` means embedding streams."""
    _clips(work / "clips", files)
    return {key: {str(n): _peak_child(work, n, _model_dir(work, "fast", fused=key == "fused"), files) for n in sizes}
            for key in models}


def latency(gallery: int, repeats: int = 20) -> dict:
    import fiftyone as fo

    from fiftyone_videorec import config
    from fiftyone_videorec.search.similarity import build_index, recommend

    ds = _dataset("videorec-bench-latency", [])
    vectors = np.random.default_rng(0).standard_normal((gallery, 128)).astype(np.float32)
    ds.add_samples([fo.Sample(filepath=f"/bench/{i}.mp4") for i in range(gallery)], progress=False)
    ds.set_values(config.EMBEDDINGS_FIELD, list(vectors))
    build_index(ds)
    ids = ds.take(repeats, seed=1).values("id")
    recommend(ds, ids[0], k=10)
    ds.sort_by_similarity(ids[0], k=10, brain_key=config.BRAIN_KEY).values("id")
    ours, brain = [], []
    for sid in ids:
        t = time.perf_counter()
        recommend(ds, sid, k=10)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        ds.sort_by_similarity(sid, k=10, brain_key=config.BRAIN_KEY).values("id")
        brain.append(time.perf_counter() - t)
    return {"gallery": gallery, "recommend_p50_ms": round(1000 * float(np.median(ours)), 1),
            "brain_sort_by_similarity_p50_ms": round(1000 * float(np.median(brain)), 1)}


def file_queries(work: Path, files: int, queries: int, fused: bool) -> dict:
    """Latency of ``recommend(dataset, "new.mp4")`` over a gallery of the other files: the first call
    loads the model, later ones reuse it."""
    import fiftyone as fo

    from fiftyone_videorec.embedding.run import embed_dataset
    from fiftyone_videorec.search.similarity import build_index, recommend

    paths = _clips(work / "clips", files)
    model, new = _model_dir(work, "fast", fused=fused), paths[-min(10, queries):]
    ds = _dataset("videorec-bench-file-queries", paths[:-len(new)])
    embed_dataset(ds, model)
    build_index(ds)
    seconds = []
    for i in range(queries):
        t = time.perf_counter()
        recommend(ds, str(new[i % len(new)]), k=10)
        seconds.append(time.perf_counter() - t)
    fo.delete_dataset(ds.name)
    return {"queries": queries, "first_ms": round(1000 * seconds[0], 1),
            "later_p50_ms": round(1000 * float(np.median(seconds[1:])), 1),
            "later_max_ms": round(1000 * max(seconds[1:]), 1)}


SIZES = {"full": {"clips": 64, "rounds": 4, "files": 50, "peak": (250, 1000), "peak_models": ("ours", "fused"),
                  "gallery": 100_000, "queries": 10},
         "quick": {"clips": 8, "rounds": 2, "files": 12, "peak": (16, 48), "peak_models": ("fused",),
                   "gallery": 2_000, "queries": 4}}


def run(out_dir: Path, quick: bool) -> dict:
    """Measure and write ``embed.md`` / ``embed.json`` into ``out_dir``."""
    from bench_moments import neighbours
    from fiftyone_videorec import config
    from fiftyone_videorec.runtime import connect_database

    connect_database()
    work, seen, started = config.home_dir() / "bench-embed", neighbours(), time.perf_counter()
    result = {"cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(), "quick": quick}
    n = SIZES["quick" if quick else "full"]
    for name, measure in (("throughput", lambda: throughput(work, n["clips"], n["rounds"])),
                          ("peak_memory", lambda: peak_memory(work, n["peak"], n["peak_models"], n["files"])),
                          ("latency", lambda: latency(n["gallery"])),
                          ("file_queries", lambda: {key: file_queries(work, n["files"], n["queries"], key == "fused")
                                                    for key in ("ours", "fused")})):
        phase_started = time.perf_counter()
        result[name] = measure()
        print(f"{name}: {time.perf_counter() - phase_started:.0f} s", flush=True)
        neighbours(seen)
    result |= {"seconds": round(time.perf_counter() - started), "neighbours": seen}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "embed.json").write_text(json.dumps(result, indent=2))
    (out_dir / "embed.md").write_text(markdown(result, quality_grid(out_dir)))
    print((out_dir / "embed.md").read_text())
    return result
