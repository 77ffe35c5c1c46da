"""The benchmark scripts run end to end at tiny sizes and write the tables the README quotes.

Not timed tests: they check the scripts work and report every figure, not how fast anything is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_benchmark(name: str, out: Path, env: dict, *options: str) -> dict:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), name, "--quick", "--out", str(out),
                             *options], capture_output=True, text=True, env=env, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / f"{name}.md").read_text().startswith("#")
    return json.loads((out / f"{name}.json").read_text())


def test_train_benchmark_reports_speed_precision_and_clip_averaging(tmp_path):
    result = _run_benchmark("train", tmp_path / "out", {**os.environ, "VIDEOREC_HOME": str(tmp_path / "home")})
    assert result["seed_recipe"]["seconds_per_epoch"] > 0 and result["ours"]["seconds_per_epoch"] > 0
    assert set(result["same_epochs"]) == {"tutorial", "fast"}
    assert all(0 <= v["test_vs_train_precision@5"] <= 1 for v in result["same_epochs"].values())
    assert set(result["clip_averaging"]) == {"1", "3", "5"}
    assert all(v["clips_per_s"] > 0 for v in result["clip_averaging"].values())


def test_embed_benchmark_reports_throughput_memory_and_latency(tmp_path):
    out = tmp_path / "out"
    result = _run_benchmark("embed", out, {**os.environ, "VIDEOREC_HOME": str(tmp_path / "home")})
    formats = [v for v in result["throughput"].values() if isinstance(v, dict) and "seed_clips_per_s" in v]
    assert len(formats) == 3
    for f in formats:  # the tutorial's pipeline, motion only, pretrained and the fused default, each with its speed-up
        for key in ("ours", "pretrained", "fused", "ours_one", "compute_embeddings", "fiftyone_reader_only"):
            assert f[f"{key}_clips_per_s"] > 0 and f[f"speedup_{key}"] > 0, key
    dims = result["throughput"]["dims"]
    assert dims["pretrained"] == 1280 and dims["fused"] == dims["ours"] + dims["pretrained"]
    peaks = result["peak_memory"]["fused"]  # the fused default, one fresh process per size
    assert len(peaks) == 2 and all(200 < v["peak_rss_mb"] < 20_000 for v in peaks.values())  # its own peak
    assert all(v["embedded"] == int(n) for n, v in peaks.items())
    assert result["latency"]["recommend_p50_ms"] > 0
    assert all(result["file_queries"][key]["later_p50_ms"] > 0 for key in ("ours", "fused"))
    table = (out / "embed.md").read_text()
    for heading in ("| tutorial clips/s | motion only | speed-up | pretrained | speed-up | fused default | speed-up |",
                    "Goals: pretrained >= 5x the tutorial pipeline's clips/s, fused default >= 3x", "fused default: peak RSS MB",
                    "only ratios measured within this run count"):
        assert heading in table, heading
    _check_frames_x_size_section(table)


def _check_frames_x_size_section(table: str) -> None:
    """embed.md carries the quality run's frames x size table when quality.json has one, else nothing."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import embed_report

    heading = "## Frames per video x input size (from the quality run)"
    if heading in table:
        assert "**configured** |" in table.split(heading)[1]
    cell = {"precision@5": 0.5, "clips_per_s": 9.0}
    grid = {"configured": [4, 160], "throughput_set": "b", "complete": True, "quick": False, "source": "q.json",
            "sets": {"a": {"1x160": cell, "4x160": cell | {"precision@5": 0.75}}, "b": {"1x160": cell, "4x160": cell}}}
    section = embed_report.grid_markdown(grid)
    assert section.startswith(heading) and "| 4 **configured** | 160 | 0.750 | 0.500 | b 0.500 | 9.0 |" in section
    assert embed_report.grid_markdown(None) == ""


def test_quality_benchmark_runs_every_set_and_method_on_real_clips(tmp_path):
    out = tmp_path / "out"
    # the tutorial rows come from the committed run (--keep-rows): the slowest network to train and embed
    result = _run_benchmark("quality", out, {**os.environ, "VIDEOREC_HOME": str(tmp_path / "home")},
                            "--keep-rows", "tutorial")
    assert list(result["sets"]) == ["synthetic", "motion_families", "same_recording", "across_recordings",
                                    "altered_copies"]
    for name, found in result["sets"].items():
        assert found["classes"] >= 2 and found["clips"]["train"] > 0 and found["clips"]["test"] > 0, name
        assert list(found["methods"]) == ["default", "motion_only", "pretrained", "tutorial", "untrained", "thumbnail"]
        for method, row in found["methods"].items():
            assert all(0 <= row[m] <= 1 for m in ("precision@1", "precision@5", "map@10")), (name, method)
            assert row["embed_clips_per_s"] > 0 and row.get("failed", 0) == 0, (name, method)
            assert bool(row.get("kept")) == (method == "tutorial"), (name, method)
        # motion only is the default's network with the ImageNet stream off; pretrained trains nothing
        assert found["methods"]["motion_only"]["train_seconds"] == found["methods"]["default"]["train_seconds"]
        assert found["methods"]["pretrained"]["train_seconds"] == 0
        assert found["methods"]["thumbnail"]["train_seconds"] == 0
    assert result["complete"] and result["sets"]["altered_copies"]["trained_on"] == "across_recordings/1"
    across = result["sets"]["across_recordings"]
    assert across["clips"]["val"] == 0  # trains without a val split
    # leave one group out: each fold tests on other groups; the row is their mean
    assert [fold["trained_on"] for fold in across["folds"]] == ["across_recordings/1", "across_recordings/2"]
    for method, row in across["methods"].items():
        per_fold = [fold["methods"][method]["precision@5"] for fold in across["folds"]]
        assert row["fold_precision@5"] == per_fold and abs(row["precision@5"] - sum(per_fold) / 2) < 1e-3, method
    _check_kept_rows(result)
    _check_validation_sweeps(result)
    table = (out / "quality.md").read_text()
    for heading in ("| pretrained (appearance only) |", "| motion only |", "| tutorial (previous run) |",
                    "`--keep-rows tutorial`", "## Goals", "## Appearance weight (validation)", "By the worst set,",
                    "## Frames x size of the ImageNet stream (validation)", "**configured"):
        assert heading in table, heading


def _check_kept_rows(result: dict) -> None:
    """Every tutorial row, per fold, is the committed run's, marked as such."""
    committed = json.loads((ROOT / "benchmarks" / "quality.json").read_text())["sets"]
    assert result["kept"] == {"tutorial": "benchmarks/quality.json"}
    for name, found in result["sets"].items():
        folds = found.get("folds", [found])
        before = committed[name].get("folds", [committed[name]])
        for fold, old in zip(folds, before, strict=True):
            assert fold["methods"]["tutorial"] == old["methods"]["tutorial"] | {"kept": True}, name
        assert found["methods"]["tutorial"]["precision@5"] == committed[name]["methods"]["tutorial"]["precision@5"]


def _check_validation_sweeps(result: dict) -> None:
    """The weight sweep and the frames x size grid cover every set with a validation split."""
    validation_sets = ["synthetic", "motion_families", "same_recording", "across_recordings"]
    sweep, grid = result["appearance_sweep"], result["frames_x_size"]
    assert list(sweep["sets"]) == validation_sets and list(grid["sets"]) == validation_sets
    for values in sweep["sets"].values():
        assert list(values) == [str(w) for w in sweep["weights"]] and all(0 <= v <= 1 for v in values.values())
    assert sweep["configured"] in sweep["weights"] and {0.0, 1.0} <= set(sweep["weights"])
    # the weight each set's trained default chose is one the sweep scores; its test rows use it
    assert list(sweep["chosen"]) == validation_sets and all(w in sweep["weights"] for w in sweep["chosen"].values())
    assert sweep["chosen"]["across_recordings"] == result["sets"]["across_recordings"]["folds"][1]["methods"][
        "default"]["appearance_weight"]
    configured = "{}x{}".format(*grid["configured"])
    for name, cells in grid["sets"].items():
        assert configured in cells and len(cells) >= 4, name
        assert all(0 <= c["precision@5"] <= 1 and c["clips_per_s"] > 0 for c in cells.values()), name
        # the configured cell is the pretrained model, scored on the same queries as the sweep's weight 1
        assert abs(cells[configured]["precision@5"] - sweep["sets"][name]["1.0"]) <= 0.051, name


def test_candidates_are_scored_on_validation_splits_per_seed_and_accumulate(tmp_path):
    out, env = tmp_path / "out", {**os.environ, "VIDEOREC_HOME": str(tmp_path / "home")}
    command = [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "candidates", "--quick", "--out", str(out)]
    first = subprocess.run(command + ["--vary", "frame_step=3,crop_scale=0.8", "--sets", "motion_families",
                                      "--seeds", "1,2"], capture_output=True, text=True, env=env, timeout=1200)
    assert first.returncode == 0, first.stderr[-3000:]
    result = json.loads((out / "candidates.json").read_text())
    variant = "crop_scale=0.8,frame_step=3"
    assert set(result["cells"]) == {"default", variant}
    assert result["fields"][variant] == {"frame_step": 3, "crop_scale": 0.8}
    for cells in result["cells"].values():
        assert set(cells["motion_families"]) == {"1", "2"}  # one run per seed
        assert all(0 <= c["precision@5"] <= 1 and c["train_seconds"] > 0 for c in cells["motion_families"].values())
    trained = json.loads((tmp_path / "home" / "bench-quality" / "quick" / "candidates" / "candidate_crop_scale_0.8_frame_step_3"
                          / "motion_families" / "1" / "metadata.json").read_text())
    assert trained["frame_step"] == 3 and trained["clips"]["val"] > 0  # the variant itself, early-stopped on val
    second = subprocess.run(command + ["--sets", "across_recordings", "--seeds", "1"], capture_output=True, text=True,
                            env=env, timeout=1200)
    assert second.returncode == 0, second.stderr[-3000:]
    result = json.loads((out / "candidates.json").read_text())
    assert set(result["cells"]["default"]) == {"motion_families", "across_recordings"}  # added to, not replaced
    table = (out / "candidates.md").read_text()
    assert f"| `{variant}` |" in table and "(0." in table and "worst set" in table
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_quality  # quality.md carries the candidates beside the test numbers

    quality = bench_quality.markdown(json.loads((ROOT / "benchmarks" / "quality.json").read_text()), result)
    assert "## What was tried" in quality and f"| `{variant}` |" in quality
    for bad, says in ((["--vary", "frame_step=x"], "'x' is not of type int"), (["--vary", "nope=1"], "field of the preset"),
                      (["--vary", "inputs=rgb"], "inputs must be one of"), (["--sets", "test_set"], "unknown set")):
        run = subprocess.run(command + bad, capture_output=True, text=True, env=env, timeout=300)
        assert run.returncode == 2 and says in run.stderr.strip().splitlines()[-1] and "Traceback" not in run.stderr


def test_scale_benchmark_reports_every_size_and_backend(tmp_path):
    result = _run_benchmark("scale", tmp_path / "out", {**os.environ, "VIDEOREC_HOME": str(tmp_path / "home")})
    assert set(result["setup"]) == {"300", "1000"}
    assert all(s["ok"] and s["create_s"] > 0 for s in result["setup"].values())
    assert [(c["n"], c["backend"]) for c in result["cells"]] == [(300, "sklearn"), (300, "lancedb"),
                                                                 (1000, "sklearn"), (1000, "lancedb")]
    for c in result["cells"]:
        assert c["ok"] and not c.get("failure"), c
        assert c["build_s"] > 0 and c["recommend_queries"] == result["queries"]
        assert 0 < c["recommend_p50_ms"] <= c["recommend_p99_ms"] < 10_000 and c["sort_by_similarity_p50_ms"] > 0
        assert c["recall_at_10"] >= 0.9 and c["recall_queries"] == 20  # both backends search exhaustively
        assert 100 < c["peak_rss_mb"] < 20_000  # the cell's own process, not the benchmark's
    assert not list((tmp_path / "home").glob("**/*.lance"))  # the benchmark keeps its tables to itself
    one, two = result["embedding_workers"]["runs"]  # real delegated workers drained every shard
    assert (one["workers"], two["workers"]) == (1, 2)
    for run in (one, two):
        assert run["embedded"] == run["clips"] == 40 and run["failed_shards"] == 0 and run["clips_per_s"] > 0
        assert len(run["peak_rss_mb_per_worker"]) == run["workers"] and min(run["peak_rss_mb_per_worker"]) > 100
    assert "## Embedding with delegated workers" in (tmp_path / "out" / "scale.md").read_text()


def test_moments_benchmark_reports_hit_rate_iou_indexing_speed_and_latency(tmp_path):
    out = tmp_path / "out"
    result = _run_benchmark("moments", out, {**os.environ, "VIDEOREC_HOME": str(tmp_path / "home")})
    assert result["videos"]["real"] > 0
    trained, pretrained = result["models"]["trained"], result["models"]["pretrained"]
    assert trained["preset"] == "tiny" and trained["appearance"]["weight"] > 0  # fused, as training saves the default
    assert pretrained["dim"] == 1280 and not pretrained.get("preset")  # the built-in model, no training
    for key, model in result["models"].items():
        assert {"copy", "altered", "take", "copy (real)", "copy (synthetic)", "take (real)"} <= set(model["quality"])
        for row in model["quality"].values():
            assert row["queries"] > 0 and 0 <= row["top1_hit_rate"] <= 1 and 0 <= row["mean_iou"] <= 1
        assert model["quality"]["copy (synthetic)"]["top1_hit_rate"] >= 0.5, key  # a copy finds its own segment
        assert model["indexing"]["video_seconds_per_second"] > 0 and model["indexing"]["failed"] == 0
    assert result["latency"]["moments"] == 2_000 and result["latency"]["dim"] == trained["dim"]
    assert 0 < result["latency"]["1 window"]["p50_ms"] <= result["latency"]["1 window"]["p99_ms"]
    table = (out / "moments.md").read_text()
    assert "| queries | count | model | top-1 hit rate | mean IoU |" in table
    assert "| take (real) | 1 | pretrained |" in table and "| take (real) | 1 | tiny (fused default) |" in table
