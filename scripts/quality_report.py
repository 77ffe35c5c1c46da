"""The quality table's wording: method labels, rows kept from the previous run, and the goals.

Goals are computed from the numbers each time the table is written, so the table and the claims
beside it never disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS = ROOT / "benchmarks" / "quality.json"  # the committed run that --keep-rows reads
KEEPABLE = ("tutorial",)  # methods whose network and training the default's changes leave alone
LABELS = {"motion_only": "motion only", "pretrained": "pretrained (appearance only)"}
TIE = 0.005
# (set, metric, at least): the default's test numbers the project aims for
THRESHOLDS = (("same_recording", "precision@5", 0.97), ("across_recordings", "fold_precision@5", 0.90),
              ("altered_copies", "precision@1", 0.99), ("synthetic", "precision@5", 0.99),
              ("motion_families", "precision@5", 0.60))


def parse_keep(text: str) -> list[str]:
    """``"tutorial"`` -> ``["tutorial"]``; ``argparse.ArgumentTypeError`` for a method that cannot be kept."""
    from argparse import ArgumentTypeError

    names = [n for n in text.split(",") if n]
    unknown = [n for n in names if n not in KEEPABLE]
    if unknown or not names:
        raise ArgumentTypeError(f"cannot keep {(unknown or [''])[0]!r}; only {', '.join(KEEPABLE)} (its network "
                                "and training are unchanged)")
    return names


def label(method: str, row: dict) -> str:
    """The method's name in the table (field names have no spaces; the table may)."""
    return LABELS.get(method, method) + (" (previous run)" if row.get("kept") else "")


def kept_rows(previous: dict, methods: list[str]) -> dict[str, dict]:
    """``{fold: {"classes", "clips", "methods": {method: row}}}`` of ``methods`` in a previous report
    (fold as ``run`` names it: ``"synthetic"``, ``"across_recordings/1"``), each row marked ``kept``."""
    out: dict[str, dict] = {}
    for name, result in previous.get("sets", {}).items():
        folds = result.get("folds") or [result]
        for i, fold in enumerate(folds):
            key = f"{name}/{i + 1}" if len(folds) > 1 else name
            rows = {m: fold["methods"][m] | {"kept": True} for m in methods if m in fold.get("methods", {})}
            if rows:
                out[key] = {"classes": fold.get("classes"), "clips": fold.get("clips"), "methods": rows}
    return out


def usable_rows(previous: dict | None, classes: int, clips: dict, quick: bool) -> dict | None:
    """The kept rows of a fold when its set is the one measured now (same classes and split sizes);
    a quick run takes them as they are (its sets are tiny: only the plumbing is checked)."""
    if not previous:
        return None
    return previous["methods"] if quick or (previous["classes"], previous["clips"]) == (classes, clips) else None


def load_kept(methods: list[str] | None, quick: bool, path: Path = PREVIOUS) -> dict[str, dict[str, dict]]:
    """Rows of ``methods`` from the committed run, or a one-line exit when they cannot be used."""
    if not methods:
        return {}
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"benchmark.py: error: --keep-rows needs {path} ({type(e).__name__})") from None
    if previous.get("quick") and not quick:
        raise SystemExit(f"benchmark.py: error: --keep-rows: {path} is a --quick run; its rows mean nothing here")
    return kept_rows(previous, methods)


def _first_or_tied(sets: dict) -> tuple[bool | None, str]:
    misses = []
    for name, result in sets.items():
        metric = "precision@1" if name == "altered_copies" else "precision@5"
        rows = result["methods"]
        if "default" not in rows:
            continue
        rival = max((m for m in rows if m != "default"), key=lambda m: rows[m][metric], default=None)
        if rival and rows["default"][metric] < rows[rival][metric] - TIE:
            misses.append(f"{name}: {rows['default'][metric]:.3f} vs {label(rival, rows[rival])} "
                          f"{rows[rival][metric]:.3f}")
    if not sets:
        return None, "not measured"
    return not misses, "behind on " + "; ".join(misses) if misses else f"on all {len(sets)} sets measured"


def goals(report: dict) -> list[tuple[str, bool | None, str]]:
    """``(goal, met or None when not measured, the numbers)`` for each goal, from the report's default rows."""
    sets = report["sets"]
    met, detail = _first_or_tied(sets)
    out = [(f"default first or tied (within {TIE}) on every set's P@5 (P@1 for altered_copies)", met, detail)]
    for name, metric, least in THRESHOLDS:
        row = sets.get(name, {}).get("methods", {}).get("default")
        short = {"precision@1": "P@1", "precision@5": "P@5", "fold_precision@5": "P@5 on both folds"}[metric]
        goal = f"{name} {short} >= {least:.2f}"
        if row is None:
            out.append((goal, None, "not measured"))
            continue
        values = row.get(metric, [row["precision@5"]]) if metric == "fold_precision@5" else [row[metric]]
        out.append((goal, min(values) >= least, " / ".join(f"{v:.3f}" for v in values)))
    return out


def goals_markdown(report: dict) -> list[str]:
    """The "Goals" list under the table: each goal met or missed, with its numbers."""
    words = {True: "**met**", False: "**missed**", None: "not measured"}
    intro = "Computed from the `default` rows above (test splits, each at the appearance weight its training chose):"
    return ["## Goals", "", intro, "",
            *[f"- {goal}: {words[met]}" + (f" ({detail})" if met is not None else "")
              for goal, met, detail in goals(report)], ""]
