"""Candidate defaults scored on the quality suite's validation splits, never its test splits.

    python scripts/benchmark.py candidates --vary frame_step=3 --vary inputs=differences \\
        --sets motion_families,same_recording --seeds 42,43

A candidate is the default preset with some fields changed (``--vary field=value[,field=value]``;
tuples as ``16-32-64``). Each candidate, and the unchanged default as the control, is trained on
each set's train split once per seed, embedded by the product's own path, and scored by P@1 and
P@5 of the validation clips against the train gallery. ``across_recordings`` has no validation
split: its second fold's test split stands in, as when the default was chosen (the quality
table's across-recordings row averages both folds, so it is not independent of that choice).
Cells accumulate in ``candidates.json`` (re-running a cell replaces it), so runs on different
days add up; ``candidates.md`` gives each candidate's mean and range over seeds per set and its
worst set, followed by its hand-kept section of earlier runs, carried over unchanged. Compare a
candidate with the control's range, not its single number: on small sets one configuration moves
by a tenth between seeds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import time
from pathlib import Path

import numpy as np

import quality_sets

SETS = ("synthetic", "motion_families", "same_recording", "across_recordings")
CONTROL = "default"
EARLIER_RUNS = "## How the default was chosen (earlier runs)"  # candidates.md's hand-kept section, carried over


def parse_variant(text: str) -> dict:
    """``"frame_step=3,inputs=differences"`` -> ``{"frame_step": 3, "inputs": "differences"}``, typed by the preset.

    Raises ``argparse.ArgumentTypeError`` with a one-line reason for anything else.
    """
    from argparse import ArgumentTypeError

    from fiftyone_videorec.network.layers import NORMS
    from fiftyone_videorec.network.model import INPUTS, Preset

    types = {f.name: f.type for f in dataclasses.fields(Preset)}
    fields = {}
    for part in filter(None, text.split(",")):
        name, sep, value = part.partition("=")
        if not sep or name not in types or name == "name":
            raise ArgumentTypeError(f"{text!r}: expected field=value with a field of the preset "
                                    f"({', '.join(n for n in types if n != 'name')})")
        kind = types[name].replace(" ", "")
        try:
            fields[name] = (int(value) if kind == "int" else float(value) if kind.startswith("float") else
                            tuple(int(v) for v in value.split("-")) if kind == "tuple" else value)
        except ValueError:
            raise ArgumentTypeError(f"{text!r}: {value!r} is not of type {kind}") from None
        choices = {"inputs": INPUTS, "norm": NORMS}.get(name)
        if choices and fields[name] not in choices:
            raise ArgumentTypeError(f"{text!r}: {name} must be one of {', '.join(choices)}")
    if not fields:
        raise ArgumentTypeError("expected at least one field=value")
    return fields


def parse_sets(text: str) -> list[str]:
    """``"motion_families,same_recording"`` -> the list; ``argparse.ArgumentTypeError`` for an unknown set."""
    from argparse import ArgumentTypeError

    names = [n for n in text.split(",") if n]
    unknown = [n for n in names if n not in SETS]
    if unknown or not names:
        raise ArgumentTypeError(f"unknown set {(unknown or [''])[0]!r}; choose from {', '.join(SETS)}")
    return names


def parse_seeds(text: str) -> list[int]:
    """``"42,43"`` -> ``[42, 43]``; ``argparse.ArgumentTypeError`` for anything but integers."""
    from argparse import ArgumentTypeError

    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ArgumentTypeError(f"{text!r}: expected integers separated by commas") from None


def variant_name(fields: dict) -> str:
    return ",".join(f"{k}={'-'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in sorted(fields.items()))


def _register(name: str, base: str, fields: dict) -> str:
    """Make ``base`` with ``fields`` changed a preset of this process; return its name (one that Keras
    accepts in a model name). A one-line error if the network cannot be built."""
    from fiftyone_videorec.network import model

    preset_name = "candidate_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    model.PRESETS[preset_name] = dataclasses.replace(model.PRESETS[base], name=preset_name, **fields)
    try:
        model.build_model(preset_name, num_classes=2)
    except Exception as e:  # e.g. an input size the network's four halvings cannot take
        raise SystemExit(f"benchmark.py: error: --vary {name}: the network cannot be built: "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return preset_name


def _validation_root(name: str, roots: dict) -> Path:
    return roots[name][1] if name == "across_recordings" else roots[name][0]


def run(out_dir: Path, quick: bool, variants: list[dict] | None = None, sets: list[str] | None = None,
        seeds: list[int] | None = None) -> dict:
    from fiftyone_videorec import config
    from fiftyone_videorec.data.folder import load_folder
    from fiftyone_videorec.embedding.run import embed_dataset
    from fiftyone_videorec.runtime import connect_database
    from fiftyone_videorec.network.training import train

    sets = list(sets or SETS)
    candidates = {CONTROL: {}} | {variant_name(f): f for f in variants or []}
    presets = {name: _register(name, config.DEFAULT_PRESET, fields) if fields else config.DEFAULT_PRESET
               for name, fields in candidates.items()}
    seeds = list(seeds or [config.DEFAULT_SEED])
    fo = connect_database()
    fo.config.show_progress_bars = False
    work = config.home_dir() / "bench-quality" / ("quick" if quick else "full")
    roots = quality_sets.build_sets(work / "sets", quick)
    path = out_dir / "candidates.json"
    report = json.loads(path.read_text()) if path.is_file() else {"cells": {}, "fields": {}}
    earlier = earlier_runs(out_dir / "candidates.md")
    report |= {"preset": config.DEFAULT_PRESET, "quick": quick, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}
    for set_name in sets:
        root = _validation_root(set_name, roots)
        dataset, _ = load_folder(root, f"videorec-candidates-{set_name}", overwrite=True)
        query_tag = config.TEST_TAG if set_name == "across_recordings" else config.VAL_TAG
        for name, fields in candidates.items():
            for seed in seeds:
                folder = work / "candidates" / presets[name] / set_name / str(seed)
                started = time.perf_counter()
                meta = train(dataset.name, folder, preset=presets[name], seed=seed, epochs=2 if quick else None).metadata
                field = "candidate_embedding"
                embed_dataset(dataset, folder, field=field, force=True)
                scores = quality_sets.retrieval_scores(dataset, field, query_tag)
                cell = {m: scores[m] for m in ("precision@1", "precision@5")} | {"train_seconds": meta["train_seconds"],
                                                             "seconds": round(time.perf_counter() - started, 1)}
                report["fields"][name] = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}
                report["cells"].setdefault(name, {}).setdefault(set_name, {})[str(seed)] = cell
                print(f"  {set_name:<18} {name:<32} seed {seed}  P@1 {cell['precision@1']:.3f}  "
                      f"P@5 {cell['precision@5']:.3f}  train {cell['train_seconds']:.0f} s", flush=True)
                path.write_text(json.dumps(report, indent=2))
                (out_dir / "candidates.md").write_text(markdown(report) + earlier)
    return report


def earlier_runs(path: Path) -> str:
    """The section of an existing ``candidates.md`` from :data:`EARLIER_RUNS` on (with a blank line before it),
    or "": validation numbers of earlier runs that this command does not measure again."""
    text = path.read_text() if path.is_file() else ""
    return "\n" + text[text.index(EARLIER_RUNS):] if EARLIER_RUNS in text else ""


def markdown(report: dict) -> str:
    """One row per candidate: validation P@5 per set as mean (min-max, seeds), and the worst set's mean."""
    sets = [s for s in SETS if any(s in cells for cells in report["cells"].values())]
    lines = ["# Candidate defaults on the validation splits", "",
             f"Preset `{report['preset']}` with the fields in the first column changed (`default`: unchanged). "
             "Validation P@5 (val clips against the train gallery; `across_recordings`: its second fold's test "
             "split), mean over seeds with the range and the number of seeds in brackets. Written by "
             "`python scripts/benchmark.py candidates`; cells accumulate over runs on " + report["machine"] + ". "
             "Test numbers are in `quality.md`.", "",
             "| candidate | " + " | ".join(sets) + " | worst set (mean) |", "|---" * (len(sets) + 2) + "|"]
    for name, cells in report["cells"].items():
        means, row = {}, []
        for s in sets:
            values = [c["precision@5"] for c in cells.get(s, {}).values()]
            if values:
                means[s] = float(np.mean(values))
                row.append(f"{means[s]:.3f} ({min(values):.3f}-{max(values):.3f}, {len(values)})")
            else:
                row.append("–")
        worst = min(means, key=means.get) if means else None
        lines.append(f"| `{name}` | " + " | ".join(row) + (f" | {worst} {means[worst]:.3f} |" if worst else " | – |"))
    return "\n".join(lines) + "\n"
