"""Curation benchmark: flipped labels found by mistakenness, copies scored by uniqueness, and ImageNet
tags checked against what a person saw in the clips.

Run through ``python scripts/benchmark.py curation [--quick]``. Set FIFTYONE_DATABASE_DIR and
VIDEOREC_HOME to private folders first: the script writes its sets under VIDEOREC_HOME/data and
creates datasets named ``videorec-bench-curation-*``.

- **Mistakenness**: two real-footage sets made from ``benchmarks/clips`` (same recording, class =
  recording; across recordings, class = action, fold 0). 10 % of each set's clips (seeded) get
  another class's label; the default preset is trained on the noisy train split, predicts every
  clip, and the Brain's mistakenness ranks them. Reported: the share of flipped clips among the
  top 10 % (random: 0.10), on the held-out clips the model never trained on and on the train clips
  it did, beside hardness (the model's uncertainty, blind to the label) as a baseline.
- **Uniqueness**: the altered-copies set (each recording and four altered copies) plus an exact
  second copy of ten originals, embedded by the built-in ``pretrained`` model (no training); where
  the exact copies and the altered ones rank.
- **Tags**: ``videorec tag`` on the 20 clips of ``benchmarks/visible_objects.json``, whose
  acceptable ImageNet classes were written down by eye before the tagger ran.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT / "benchmarks" / "clips"
VISIBLE = ROOT / "benchmarks" / "visible_objects.json"
FLIP_RATE = 0.10
SEED = 42
TRUE_FIELD = "true_label"
EXACT_COPIES = 10
QUICK_RECORDINGS = ("Wave__RatRace37.avi", "Wave__SchoolRules0.avi", "RidingSegway__R6llTwEh07w.mp4",
                    "SoccerJuggling__g23c01.avi")


def _say(line: str) -> None:
    print(f"curation benchmark: {line}", file=sys.stderr, flush=True)


def flip_labels(dataset, rate: float = FLIP_RATE, seed: int = SEED) -> set[str]:
    """Give ``rate`` of the samples (seeded) another class's label; keep the true one in ``true_label``."""
    from fiftyone_videorec import config

    ids, labels = dataset.values(["id", f"{config.LABEL_FIELD}.label"])
    dataset.set_values(TRUE_FIELD, labels)
    classes = sorted(set(labels))
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(ids), size=max(1, round(rate * len(ids))), replace=False)
    noisy = list(labels)
    for i in flipped:
        noisy[i] = str(rng.choice([c for c in classes if c != labels[i]]))
    dataset.set_values(f"{config.LABEL_FIELD}.label", noisy)
    return {ids[i] for i in flipped}


def top_share(view, score: str, flipped: set[str], share: float = 0.10) -> dict:
    """Share of flipped clips among the top ``share`` of ``view`` by ``score``, and the random level."""
    n = len(view)
    k = max(1, round(share * n))
    top = set(view.sort_by(score, reverse=True).limit(k).values("id"))
    in_view = flipped & set(view.values("id"))
    return {"clips": n, "top": k, "flipped": len(in_view), "random": round(len(in_view) / max(n, 1), 3),
            "precision": round(len(top & in_view) / k, 3),
            "recall": round(len(top & in_view) / len(in_view), 3) if in_view else None}


def _mistakes(name: str, root: Path, quick: bool, time_limit: float | None) -> dict:
    from fiftyone_videorec import config
    from fiftyone_videorec.curation.scores import curate
    from fiftyone_videorec.data.folder import load_folder
    from fiftyone_videorec.embedding.predictions import predict_dataset
    from fiftyone_videorec.network.training import train

    dataset, _ = load_folder(root, f"videorec-bench-curation-{name}", overwrite=True)
    flipped = flip_labels(dataset)
    _say(f"{name}: {len(dataset)} clips, {len(flipped)} labels flipped; training the default on the noisy labels")
    model_dir = root.parent / f"{root.name}-model"
    start = time.perf_counter()
    train(dataset, model_dir, epochs=2 if quick else None, time_limit=time_limit)
    train_s = time.perf_counter() - start
    predict_dataset(dataset, model_dir)
    curate(dataset, scores=("mistakenness", "hardness"))
    held_out = dataset.match_tags(config.TRAIN_TAG, bool=False)
    parts = {"held_out": held_out, "train": dataset.match_tags(config.TRAIN_TAG), "all": dataset}
    true, predicted = held_out.values([TRUE_FIELD, f"{config.PREDICTION_FIELD}.label"])
    return {"clips": len(dataset), "classes": len(dataset.distinct(TRUE_FIELD)), "flipped": len(flipped),
            "train_s": round(train_s), "held_out_accuracy": round(float(np.mean([a == b for a, b in zip(true, predicted)])), 3),
            "mistakenness": {part: top_share(view, "mistakenness", flipped) for part, view in parts.items()},
            "hardness": {part: top_share(view, "hardness", flipped) for part, view in parts.items()}}


def _uniqueness(recordings, work: Path) -> dict:
    import fiftyone as fo

    from fiftyone_videorec.curation.scores import curate
    from fiftyone_videorec.data.real_footage import build_altered_copies
    from fiftyone_videorec.embedding.run import embed_dataset

    root = build_altered_copies(recordings, work / "altered")
    videos = sorted(p for p in root.rglob("*.mp4"))
    originals = [p for p in videos if p.parent.parent.name == "train"]
    twice = originals[:EXACT_COPIES]
    dataset = fo.Dataset("videorec-bench-curation-uniqueness", overwrite=True)
    dataset.add_samples([fo.Sample(filepath=str(p), kind="original" if p in originals else "altered copy")
                         for p in videos] + [fo.Sample(filepath=str(p), kind="exact copy") for p in twice])
    embed_dataset(dataset, "pretrained")
    curate(dataset, scores=("uniqueness",))
    ids, kinds, values = dataset.values(["id", "kind", "uniqueness"])
    order = np.argsort(np.argsort(values))  # 0: least unique
    percentile = order / max(len(ids) - 1, 1)
    twice_paths = {str(p) for p in twice}
    exact = [i for i, (kind, path) in enumerate(zip(kinds, dataset.values("filepath")))
             if path in twice_paths and kind in ("original", "exact copy")]
    bottom = set(np.argsort(values)[:len(exact)])
    by_kind = {kind: round(float(np.mean([percentile[i] for i, k in enumerate(kinds) if k == kind])), 3)
               for kind in ("original", "altered copy", "exact copy")}
    return {"clips": len(ids), "exact_pairs": len(twice), "mean_percentile": by_kind,
            "exact_in_lowest": round(len(bottom & set(exact)) / len(exact), 3),
            "exact_mean_percentile": round(float(np.mean(percentile[exact])), 3)}


def _tags(quick: bool) -> dict:
    import fiftyone as fo

    from fiftyone_videorec import config
    from fiftyone_videorec.curation.imagenet_tags import tag_dataset

    truth = json.loads(VISIBLE.read_text())["clips"]
    if quick:
        truth = dict(list(truth.items())[:3])
    dataset = fo.Dataset("videorec-bench-curation-tags", overwrite=True)
    dataset.add_samples([fo.Sample(filepath=str(CLIPS / name)) for name in truth])
    tag_dataset(dataset, top=3, min_confidence=0.0)
    rows = []
    for path, tags in zip(*dataset.values(["filepath", config.IMAGENET_FIELD])):
        name = Path(path).name
        labels = [(c.label, round(c.confidence, 3)) for c in tags.classifications]
        ok = set(truth[name]["classes"])
        rows.append({"clip": name, "seen": truth[name]["seen"], "tags": labels, "top1_ok": labels[0][0] in ok,
                     "top3_ok": any(label in ok for label, _ in labels)})
    return {"clips": len(rows), "top1": round(float(np.mean([r["top1_ok"] for r in rows])), 3),
            "top3": round(float(np.mean([r["top3_ok"] for r in rows])), 3), "rows": rows}


def run(out_dir: Path, quick: bool = False, time_limit: float | None = None) -> dict:
    from fiftyone_videorec import config
    from fiftyone_videorec.data import real_footage

    recordings = real_footage.read_manifest(CLIPS)
    work = config.data_dir() / ("curation-quick" if quick else "curation")
    if quick:
        recordings = [rec for rec in recordings if rec.path.name in QUICK_RECORDINGS]
    roots = {"same_recording": work / "same_recording", "across_recordings": work / "across_recordings"}
    if quick:
        real_footage.build_same_recording(recordings, roots["same_recording"], window=24, per_split=(6, 1, 3))
        del roots["across_recordings"]
    else:
        real_footage.build_same_recording(recordings, roots["same_recording"])
        real_footage.build_across_recordings(recordings, roots["across_recordings"])
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "quick": quick, "flip_rate": FLIP_RATE,
              "seed": SEED, "mistakes": {name: _mistakes(name, root, quick, time_limit) for name, root in roots.items()}}
    _say("uniqueness of copies")
    result["uniqueness"] = _uniqueness(recordings, work)
    _say("ImageNet tags against the hand-written list")
    result["tags"] = _tags(quick)
    out_dir = Path(out_dir)
    (out_dir / "curation.json").write_text(json.dumps(result, indent=1))
    (out_dir / "curation.md").write_text(markdown(result))
    print((out_dir / "curation.md").read_text())
    return result


def markdown(result: dict) -> str:
    lines = ["# Curation: label mistakes, copies, ImageNet tags", "",
             f"Machine: {result['machine']}. Written by `python scripts/benchmark.py curation`"
             f"{' (--quick: tiny sizes)' if result['quick'] else ''}; how each set is made: `scripts/bench_curation.py`.",
             "", f"## Flipped labels found by mistakenness ({result['flip_rate']:.0%} of the clips, seed {result['seed']})",
             "", "The default preset trained on the noisy train split predicts every clip; the Brain's mistakenness "
             "ranks them. Cells: the share of flipped clips among the top 10 % (recall in brackets); random = the "
             "share of flipped clips. Hardness (the model's uncertainty, blind to the label) is the baseline.", "",
             "| set | clips (classes) | part | flipped | random | mistakenness top 10 % | hardness top 10 % |",
             "|---|---|---|---|---|---|---|"]
    for name, row in result["mistakes"].items():
        for part in ("held_out", "train", "all"):
            m, h = row["mistakenness"][part], row["hardness"][part]
            lines.append(f"| {name} | {row['clips']} ({row['classes']}) | {part.replace('_', ' ')} | {m['flipped']} | "
                         f"{m['random']:.2f} | **{m['precision']:.2f}** ({m['recall'] if m['recall'] is not None else '-'}) | "
                         f"{h['precision']:.2f} |")
    lines += ["", "Held-out accuracy of the model against the true labels: "
              + ", ".join(f"{name} {row['held_out_accuracy']:.2f} (trained {row['train_s']} s)"
                          for name, row in result["mistakes"].items()) + ".", ""]
    u = result["uniqueness"]
    lines += ["## Uniqueness of copies", "",
              f"{u['clips']} clips: every recording, four altered copies of each, and an exact second copy of "
              f"{u['exact_pairs']} of them, embedded by `pretrained`. Mean percentile of uniqueness by kind "
              "(0 = least unique):", "", "| original | altered copy | exact copy |", "|---|---|---|",
              f"| {u['mean_percentile']['original']:.2f} | {u['mean_percentile']['altered copy']:.2f} | "
              f"{u['mean_percentile']['exact copy']:.2f} |", "",
              f"Both videos of each exact pair: mean percentile {u['exact_mean_percentile']:.2f}; "
              f"{u['exact_in_lowest']:.0%} of them are among the {2 * u['exact_pairs']} least unique clips.", ""]
    t = result["tags"]
    lines += ["## ImageNet tags against what a person saw", "",
              f"{t['clips']} clips (`benchmarks/visible_objects.json`): top-1 tag among the classes written down "
              f"**{t['top1']:.2f}**, any of the top 3 **{t['top3']:.2f}**.", "",
              "| clip | seen | top 3 tags (probability) | top-1 right |", "|---|---|---|---|"]
    for row in t["rows"]:
        tags = ", ".join(f"{label} ({p:.2f})" for label, p in row["tags"])
        lines.append(f"| {row['clip']} | {row['seen']} | {tags} | {'yes' if row['top1_ok'] else 'no'} |")
    return "\n".join(lines) + "\n"
