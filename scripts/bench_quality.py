"""Quality benchmark: five sets x six methods, through the product's own load → train → embed path.

Sets (all made by code in the repo, same seed -> same clips):

- ``synthetic``: the project's synthetic motion set (``videorec load synthetic``);
- ``motion_families``: a separately written motion set (camera shake, zoom, swing, orbit, pan,
  photographic backgrounds, moving distractors, 12 train clips per class);
- ``same_recording``: real recordings, one class each; train early in time, test later;
- ``across_recordings``: real actions; train and test clips come from different people/scenes.
  Each fold tests on another group of every action (leave one group out); the row is the mean
  over folds, with each fold's P@5 beside it (one fold of a few dozen clips is mostly noise);
- ``altered_copies``: real clips vs their low-bitrate, half-size, cropped and half-frame-rate
  copies; P@1 says whether a copy finds its own original first (the models trained on
  first ``across_recordings`` fold embed it).

Methods: ``default``, the default preset as ``embed_dataset`` gives it (its trained network fused
with the frozen ImageNet frame features at the weight its training chose); ``motion_only``, the same
trained weights with the ImageNet stream off; ``pretrained``, the ImageNet stream alone (no
training); the tutorial's network (``tutorial``) given the default's training time; an untrained network
of the default's shape; an 8x8 thumbnail of the middle frame.
Metrics: test queries against the train gallery (cosine): P@1, P@5, mAP@10. On the validation
splits (``quality_appearance.py``): the appearance weight swept, and the ImageNet stream's frames
per video x crop size. ``--keep-rows tutorial`` copies the tutorial rows from the committed run
instead of training it again (its network and training are unchanged), on each set that is the
same as that run's (classes and split sizes); a set that has changed is measured afresh.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

import quality_appearance
import quality_report
from quality_sets import METRICS, SETS, build_sets, retrieval_scores

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("default", "motion_only", "pretrained", "tutorial", "untrained", "thumbnail")  # field-name safe
TRAINED_ON = {"altered_copies": "across_recordings/1"}  # sets with no training split of their own: its first fold


def thumbnails(paths: list[str]) -> np.ndarray:
    """Return one 192-d vector per video: its middle frame at 8x8 RGB, scaled to [0, 1]."""
    from fiftyone_videorec.frames import count_frames, read_frames

    return np.stack([read_frames(p, [count_frames(p) // 2], image_size=8)[0].astype(np.float32).ravel() / 255
                     for p in paths])


def _untrained(dataset, folder: Path, preset: str) -> Path:
    """Save a freshly initialised network of ``preset``'s shape as a model folder."""
    import keras

    from fiftyone_videorec import config
    from fiftyone_videorec.network.model import build_model, save_trained

    classes = sorted(set(dataset.match_tags(config.TRAIN_TAG).values(f"{config.LABEL_FIELD}.label")))
    keras.utils.set_random_seed(config.DEFAULT_SEED)
    classifier, _ = build_model(preset, len(classes))
    return save_trained(folder, classifier, {"preset": preset, "class_names": classes, "trained": False})


def _embed(dataset, model_dir: Path, field: str) -> dict:
    from fiftyone_videorec.embedding.run import embed_dataset

    started = time.perf_counter()
    summary = embed_dataset(dataset, model_dir, field=field)
    seconds = time.perf_counter() - started
    return {"embed_clips_per_s": round(summary.embedded / seconds, 2), "failed": len(summary.failed)}


def _model(method: str, dataset, folder: Path, models: dict, preset: str, epochs: int | None,
           time_limit: float | None = None) -> dict:
    """Train or make ``method``'s model into ``models`` unless it is there; return the row's training part."""
    from fiftyone_videorec.network.training import train

    row: dict = {}
    if method not in models:
        if method == "untrained":
            models[method] = (_untrained(dataset, folder, preset), 0.0)
        elif method == "pretrained":
            models[method] = ("pretrained", 0.0)
        elif method == "motion_only":  # the default's weights, not trained again
            models[method] = (quality_appearance.motion_only_folder(models["default"][0], folder), models["default"][1])
        else:
            limit = time_limit if method == "default" else models["default"][1]
            meta = train(dataset.name, folder, preset=preset if method == "default" else "tutorial",
                         epochs=epochs, time_limit=limit).metadata
            models[method] = (folder, meta["train_seconds"])
            row["epochs"] = meta["epochs_trained"]
    if method == "default":  # the preset's "auto" picks it on the training run's validation clips
        row["appearance_weight"] = quality_appearance.chosen_weight(models[method][0])
    return row | {"train_seconds": round(models[method][1], 1)}


def run_set(name: str, dataset, work: Path, models: dict, preset: str, epochs: int | None,
            kept: dict | None = None, time_limit: float | None = None) -> dict:
    """Every method on one imported set; trains unless ``models`` already holds its models.
    Methods in ``kept`` take that row instead of being measured."""
    rows = {}
    for method in METHODS:
        field = f"bench_{method}"
        if method in (kept or {}):
            row = kept[method]
        elif method == "thumbnail":
            started = time.perf_counter()
            dataset.set_values(field, [v.tolist() for v in thumbnails(dataset.values("filepath"))])
            row = {"embed_clips_per_s": round(len(dataset) / (time.perf_counter() - started), 2), "train_seconds": 0.0}
            row |= retrieval_scores(dataset, field)
        else:
            row = _model(method, dataset, work / "models" / name / method, models, preset, epochs, time_limit)
            row |= _embed(dataset, models[method][0], field)
            row |= retrieval_scores(dataset, field)
        rows[method] = row
        print(f"  {name:<18} {method:<11} " + "  ".join(f"{m} {row[m]:.3f}" for m in METRICS)
              + f"  train {row['train_seconds']:.0f} s  embed {row['embed_clips_per_s']:.1f} clips/s"
              + ("  (previous run)" if row.get("kept") else ""), flush=True)
    return rows


def _validation(name: str, fold: int, dataset, rows: dict, state: dict, networks, quick: bool) -> None:
    """The appearance-weight sweep and the frames x size grid on this fold, if it is the set's validation fold."""
    query_tag = quality_appearance.validation_query(name, fold)
    if query_tag is None:
        return
    state["appearance_sweep"]["chosen"][name] = rows["default"].get("appearance_weight")
    sweep = state["appearance_sweep"]["sets"][name] = quality_appearance.weight_sweep(dataset, query_tag)
    print(f"  {name:<18} weights     " + "  ".join(f"{w} {p:.3f}" for w, p in sweep.items()), flush=True)
    grid = state["frames_x_size"]["sets"][name] = quality_appearance.frames_by_size(dataset, query_tag, networks, quick)
    print(f"  {name:<18} frames x px " + "  ".join(f"{k} {c['precision@5']:.3f} ({c['clips_per_s']:.1f}/s)"
                                                   for k, c in grid.items()), flush=True)


def run(out_dir: Path, quick: bool, preset: str | None = None, keep_rows: list[str] | None = None,
        time_limit: float | None = None) -> dict:
    from fiftyone_videorec import config
    from fiftyone_videorec.data.folder import load_folder
    from fiftyone_videorec.network.model import get_preset
    from fiftyone_videorec.runtime import connect_database

    kept = quality_report.load_kept(keep_rows, quick)  # read before this run writes over it
    fo = connect_database()
    fo.config.show_progress_bars = False  # one line per set and method instead
    preset = preset or config.DEFAULT_PRESET
    work = config.home_dir() / "bench-quality" / ("quick" if quick else "full")
    state = {"preset": preset, "quick": quick, "started": time.perf_counter(), "sets": {},
             "train_time_limit_s": time_limit,
             "kept": {m: str(quality_report.PREVIOUS.relative_to(ROOT)) for m in keep_rows or []},
             "appearance_sweep": {"weights": quality_appearance.sweep_weights(), "configured": config.APPEARANCE_WEIGHT,
                                  "preset_weight": get_preset(preset).appearance_weight,
                                  "queries": "val; across_recordings: fold 2 test", "chosen": {}, "sets": {}},
             "frames_x_size": {"configured": [config.APPEARANCE_FRAMES, config.APPEARANCE_SIZE],
                               "throughput_set": quality_appearance.THROUGHPUT_SET, "sets": {}}}
    roots = build_sets(work / "sets", quick)
    models_of, networks = {}, quality_appearance.FrameNetworks()
    for name in SETS:
        folds = []
        for i, root in enumerate(roots[name]):
            fold = f"{name}/{i + 1}" if len(roots[name]) > 1 else name
            dataset, summary = load_folder(root, f"videorec-bench-{fold.replace('/', '-')}", overwrite=True)
            counts = {tag: len(dataset.match_tags(tag)) for tag in config.SPLITS}
            classes = len(dataset.distinct(f"{config.LABEL_FIELD}.label"))
            print(f"{fold}: {classes} classes, train/val/test {counts['train']}/{counts['val']}/{counts['test']}",
                  flush=True)
            trained_on = TRAINED_ON.get(name, fold)
            reuse = quality_report.usable_rows(kept.get(fold), classes, counts, quick)
            if kept.get(fold) and reuse is None:
                print(f"{fold}: the committed run measured another set here; {', '.join(kept[fold]['methods'])}"
                      " measured afresh", flush=True)
            folds.append({"classes": classes, "clips": counts, "skipped": len(summary.skipped), "trained_on": trained_on,
                          "methods": run_set(fold, dataset, work, models_of.setdefault(trained_on, {}), preset,
                                             2 if quick else None, reuse, time_limit)})
            _validation(name, i, dataset, folds[-1]["methods"], state, networks, quick)
        state["sets"][name] = folds[0] if len(folds) == 1 else _mean_of_folds(folds)
        report = _save(out_dir, state, complete=name == SETS[-1])
    return report


def _mean_of_folds(folds: list[dict]) -> dict:
    """One row per method: metrics and seconds averaged over folds, each fold's P@5 kept beside them."""
    methods = {}
    for method in folds[0]["methods"]:
        rows = [fold["methods"][method] for fold in folds]
        mean = {key: round(float(np.mean([row[key] for row in rows])), 3) for key in rows[0]
                if isinstance(rows[0][key], (int, float)) and not isinstance(rows[0][key], bool)}
        marks = {"kept": True} if all(row.get("kept") for row in rows) else {}
        methods[method] = mean | marks | {"fold_precision@5": [row["precision@5"] for row in rows]}
    return {"classes": folds[0]["classes"], "clips": folds[0]["clips"], "skipped": sum(f["skipped"] for f in folds),
            "trained_on": folds[0]["trained_on"], "folds": folds, "methods": methods}


def _save(out_dir: Path, state: dict, complete: bool) -> dict:
    """Write what is measured so far: an interrupted run keeps the sets it finished."""
    report = {"preset": state["preset"], "quick": state["quick"], "complete": complete,
              "seconds": round(time.perf_counter() - state["started"], 1),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "sets": state["sets"],
              "kept": state["kept"], "appearance_sweep": state["appearance_sweep"],
              "frames_x_size": state["frames_x_size"], "train_time_limit_s": state["train_time_limit_s"]}
    (out_dir / "quality.json").write_text(json.dumps(report, indent=2))
    (out_dir / "quality.md").write_text(markdown(report, _candidates(out_dir)))
    return report


def _candidates(out_dir: Path) -> dict | None:
    path = out_dir / "candidates.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _methods_note(report: dict) -> str:
    sweep = report.get("appearance_sweep")
    if not sweep:  # a report from before the ImageNet stream
        return ""
    chosen = ", ".join(f"{name} {w:g}" for name, w in sweep.get("chosen", {}).items() if w is not None)
    return (" `default` is what `embed_dataset(dataset, model_folder)` gives: the trained network fused with the"
            f" ImageNet frame features at the weight its training chose (preset weight `{sweep.get('preset_weight')}`"
            + (f"; chosen on the validation sets: {chosen}" if chosen else "") + "); `motion only` is the same"
            " trained weights with the ImageNet stream off; `pretrained (appearance only)` is the ImageNet stream"
            " alone, no training (its train s is 0).")


def markdown(report: dict, candidates: dict | None = None) -> str:
    """The tables the README quotes: one row per set and method, the goals, the validation sweeps;
    then the candidates tried for the default."""
    lines = [f"# Retrieval quality across five sets (preset `{report['preset']}`)", "",
             *([] if report["complete"] else ["**Incomplete run**: only the sets below were measured.", ""]),
             "One run of `python scripts/benchmark.py quality` on " + report["machine"]
             + f", {report['seconds'] / 60:.0f} min in all. Test clips query the train clips by cosine similarity;"
             " `across_recordings` is the mean of its folds (each tests on other people and scenes; P@5 per fold"
             " in the last column), and `altered_copies` is embedded by the models trained on its first fold."
             + _methods_note(report)
             + "".join(f" Rows marked `(previous run)` are copied from the committed `{path}` (`--keep-rows {m}`:"
                       " that network and its training are unchanged), not measured in this run."
                       for m, path in report.get("kept", {}).items())
             + (f" The default trained with a time limit of {report['train_time_limit_s']:.0f} s instead of the"
                " preset's (`--time-limit`: the machine was shared with other jobs, so the preset's limit would"
                " have cut training short by load, not by the epochs it needs)."
                if report.get("train_time_limit_s") else "")
             + " Sets and methods: `scripts/bench_quality.py`.", "",
             "| set | classes | train/val/test | method | P@1 | P@5 | mAP@10 | train s | embed clips/s | P@5 per fold |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, result in report["sets"].items():
        c = result["clips"]
        for method, row in result["methods"].items():
            lines.append(f"| {name} | {result['classes']} | {c['train']}/{c['val']}/{c['test']} | "
                         f"{quality_report.label(method, row)} | " + " | ".join(f"{row[m]:.3f}" for m in METRICS)
                         + f" | {row['train_seconds']:.0f} | {row['embed_clips_per_s']:.1f} | "
                         + " / ".join(f"{v:.3f}" for v in row.get("fold_precision@5", [])) + " |")
    lines += ["", *quality_report.goals_markdown(report)]
    if report.get("appearance_sweep", {}).get("sets"):
        lines += quality_appearance.sweep_markdown(report["appearance_sweep"])
    if report.get("frames_x_size", {}).get("sets"):
        lines += quality_appearance.grid_markdown(report["frames_x_size"], report["frames_x_size"]["configured"])
    lines += ["## What was tried", "",
              "How the default was chosen, what was rejected and why, with validation numbers: "
              "`benchmarks/candidates.md`, section \"How the default was chosen (earlier runs)\".", ""]
    if candidates:
        import bench_candidates

        table = bench_candidates.markdown(candidates).split("\n")
        lines += ["Candidates scored by `python scripts/benchmark.py candidates` on the validation splits "
                  "(`benchmarks/candidates.md`; mean P@5 over seeds, range and count in brackets):", "",
                  *[line for line in table if line.startswith("|")]]
    return "\n".join(lines) + "\n"
