"""The quality benchmark's appearance measurements, all on validation splits.

- the motion-only model: the default's trained weights with the ImageNet stream switched off
  (a sibling folder whose metadata has no ``appearance`` key), so the table can show what
  each stream adds;
- the appearance-weight sweep: the stored motion-only and ``pretrained`` vectors fused in NumPy
  (:func:`fiftyone_videorec.vectors.fuse`) for several weights, validation P@5 per set;
- frames x size: the ImageNet stream alone for several frame counts and crop sizes, validation
  P@5 per set and clips/s.

Validation queries are the ``val`` clips against the train gallery; ``across_recordings`` has no
val split, so its second fold's test split stands in (as in ``bench_candidates.py``). Test
numbers stay in the main table, at the weight each trained default chose and the configured
frame settings.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from quality_sets import score_vectors

WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)  # and config.APPEARANCE_WEIGHT_GRID, what training picks from
GRID_FRAMES, GRID_SIZES = (1, 4, 8), (160, 224)
QUICK_GRID_FRAMES, QUICK_GRID_SIZES = (1, 4), (96, 160)  # quick runs: small, and still holding the configured cell
THROUGHPUT_SET = "same_recording"  # real footage: its clips/s is the one the table shows
VALIDATION_SETS = ("synthetic", "motion_families", "same_recording", "across_recordings")
MOTION_FIELD, APPEARANCE_FIELD = "bench_motion_only", "bench_pretrained"


def validation_query(name: str, fold: int) -> str | None:
    """The query tag of a set's validation scoring on fold ``fold`` (0-based), or None if that fold has none."""
    from fiftyone_videorec import config

    if name not in VALIDATION_SETS:
        return None
    if name == "across_recordings":
        return config.TEST_TAG if fold == 1 else None
    return config.VAL_TAG if fold == 0 else None


def motion_only_folder(trained: Path, folder: Path) -> Path:
    """Copy a trained folder's weights beside it with the appearance stream switched off."""
    from fiftyone_videorec.embedding.model_folder import METADATA_FILE, MODEL_FILE, read_metadata

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(trained / MODEL_FILE, folder / MODEL_FILE)
    metadata = read_metadata(trained)
    metadata.pop("appearance", None)
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return folder


def chosen_weight(folder: Path) -> float:
    """The appearance weight a trained folder embeds with (0: motion only)."""
    from fiftyone_videorec.embedding.model_folder import appearance_weight, read_metadata

    return appearance_weight(read_metadata(folder))


def _paired(dataset, tag: str) -> tuple[np.ndarray, np.ndarray, list]:
    """The motion-only and pretrained vectors and labels of the ``tag`` clips that have both."""
    from fiftyone_videorec import config

    view = dataset.match_tags(tag).exists(MOTION_FIELD).exists(APPEARANCE_FIELD)
    motion, appearance, labels = view.values([MOTION_FIELD, APPEARANCE_FIELD, f"{config.LABEL_FIELD}.label"])
    return np.stack(motion), np.stack(appearance), labels


def sweep_weights() -> list[float]:
    """:data:`WEIGHTS` and the weights training's ``auto`` chooses from, in order."""
    from fiftyone_videorec import config

    return sorted(set(WEIGHTS) | {float(w) for w in config.APPEARANCE_WEIGHT_GRID})


def weight_sweep(dataset, query_tag: str) -> dict[str, float]:
    """Validation P@5 of the fused vector for each of :func:`sweep_weights` (keys as ``"0.25"``)."""
    from fiftyone_videorec import config
    from fiftyone_videorec.vectors import fuse

    q_motion, q_appearance, q_labels = _paired(dataset, query_tag)
    g_motion, g_appearance, g_labels = _paired(dataset, config.TRAIN_TAG)
    return {str(w): score_vectors((fuse(q_appearance, q_motion, w), q_labels),
                                  (fuse(g_appearance, g_motion, w), g_labels))["precision@5"] for w in sweep_weights()}


class FrameNetworks:
    """The ImageNet network per crop size, loaded and traced once per run."""

    def __init__(self):
        self._forward = {}

    def forward(self, size: int):
        if size not in self._forward:
            import tensorflow as tf

            from fiftyone_videorec.network.backbone import load_backbone

            network = load_backbone(size)
            forward = tf.function(lambda x: network(x, training=False)[0], reduce_retracing=True)
            for batch in (1, 2):  # two batch sizes: traced once for any batch, before anything is timed
                forward(np.zeros((batch, size, size, 3), np.uint8))
            self._forward[size] = forward
        return self._forward[size]


def appearance_vectors(paths: list[str], frames: int, size: int, networks: FrameNetworks) -> np.ndarray:
    """One unit vector per video: the mean unit ImageNet feature of ``frames`` evenly spread centre
    squares at ``size`` px, decoded by the product's reader and batched about 64 frames at a time."""
    from fiftyone_videorec.frames import read_views
    from fiftyone_videorec.vectors import mean_of_clips

    forward, per_batch = networks.forward(size), max(1, 64 // frames)
    out = []
    for i in range(0, len(paths), per_batch):
        stacks = [read_views(p, frame_spec=(frames, size)).frames for p in paths[i:i + per_batch]]
        features = np.asarray(forward(np.concatenate(stacks)), np.float32)
        out.append(mean_of_clips(features, [len(s) for s in stacks]))
    return np.concatenate(out) if out else np.zeros((0, 1280), np.float32)


def frames_by_size(dataset, query_tag: str, networks: FrameNetworks, quick: bool) -> dict[str, dict]:
    """Per ``"<frames>x<size>"``: validation P@5 of the ImageNet stream alone and clips/s (decode + network,
    no cache) over the query and gallery clips."""
    from fiftyone_videorec import config

    label = f"{config.LABEL_FIELD}.label"
    query = dataset.match_tags(query_tag).values(["filepath", label])
    gallery = dataset.match_tags(config.TRAIN_TAG).values(["filepath", label])
    sizes = QUICK_GRID_SIZES if quick else GRID_SIZES
    appearance_vectors(query[0][:1], 1, sizes[0], networks)  # the first decode's set-up is not throughput either
    cells = {}
    for frames in QUICK_GRID_FRAMES if quick else GRID_FRAMES:
        for size in sizes:
            networks.forward(size)  # loading and tracing are not throughput
            started = time.perf_counter()
            q, g = (appearance_vectors(paths, frames, size, networks) for paths in (query[0], gallery[0]))
            seconds = time.perf_counter() - started
            cells[f"{frames}x{size}"] = {
                "frames": frames, "size": size,
                "precision@5": score_vectors((q, query[1]), (g, gallery[1]))["precision@5"],
                "clips_per_s": round((len(q) + len(g)) / seconds, 2)}
    return cells


def _worst(values: dict[str, float]) -> tuple[str, float]:
    name = min(values, key=values.get)
    return name, values[name]


def best_worst_case(table: dict[str, dict[str, float]], prefer: str | None = None) -> str | None:
    """The row whose worst set is highest (ties: the higher mean over sets, then ``prefer``), or None for no rows."""
    rows = {key: values for key, values in table.items() if values}
    if not rows:
        return None
    return max(rows, key=lambda key: (_worst(rows[key])[1], float(np.mean(list(rows[key].values()))), key == prefer))


def sweep_markdown(sweep: dict) -> list[str]:
    """One row per weight, one column per set, the worst set last; the configured and best rows marked,
    and each set's cell at the weight its trained default chose."""
    sets = [s for s in VALIDATION_SETS if s in sweep["sets"]]
    configured, chosen = sweep["configured"], sweep.get("chosen", {})
    table = {w: {s: sweep["sets"][s][w] for s in sets} for w in map(str, sweep["weights"])}
    best = best_worst_case(table, prefer=str(float(configured)))
    lines = ["## Appearance weight (validation)", "",
             "P@5 of validation clips against the train gallery for the fused vector "
             "`[sqrt(w) * appearance, sqrt(1 - w) * motion]` (cosine = w * appearance + (1 - w) * motion), made in "
             "NumPy from the `motion only` and `pretrained` vectors above: w = 0 is `motion only`, w = 1 is "
             "`pretrained`. `across_recordings` has no validation split: its second fold's test split stands in "
             "(as in `benchmarks/candidates.md`), so that column is not independent of its test row. "
             f"**configured**: `config.APPEARANCE_WEIGHT` ({configured:g}); **best**: the highest worst set; "
             "`*`: the weight the set's trained default chose (`auto`: the best of `config.APPEARANCE_WEIGHT_GRID` "
             "by its own validation P@5, `config.APPEARANCE_WEIGHT` without validation clips), which its test "
             "rows above use.", "",
             "| weight | " + " | ".join(sets) + " | worst set |", "|---" * (len(sets) + 2) + "|"]
    for w, values in table.items():
        marks = [m for m, hit in (("configured", float(w) == configured), ("best", w == best)) if hit]
        name, low = _worst(values) if values else ("–", float("nan"))
        cells = [f"{values[s]:.3f}" + ("*" if chosen.get(s) is not None and float(chosen[s]) == float(w) else "")
                 for s in sets]
        lines.append(f"| {float(w):g}{' **' + ', '.join(marks) + '**' if marks else ''} | " + " | ".join(cells)
                     + f" | {name} {low:.3f} |")
    return lines + [""]


def grid_markdown(grid: dict, configured: tuple[int, int]) -> list[str]:
    """One row per frames x size: validation P@5 per set, the worst set, clips/s; and what it supports."""
    sets = [s for s in VALIDATION_SETS if s in grid["sets"]]
    keys = list(next(iter(grid["sets"].values()), {}))
    table = {k: {s: grid["sets"][s][k]["precision@5"] for s in sets} for k in keys}
    best = best_worst_case(table, prefer="{}x{}".format(*configured))
    speed = grid["sets"].get(THROUGHPUT_SET, {})
    lines = ["## Frames x size of the ImageNet stream (validation)", "",
             "The `pretrained` model (appearance alone) with other frame counts per video and centre-square sizes: "
             "P@5 of validation clips against the train gallery (same convention as above), and clips/s of decoding "
             f"plus the network with no cache on `{THROUGHPUT_SET}`'s clips (one decoding thread, batches of about "
             "64 frames: comparable between rows, not with the embed column above). "
             "**configured**: `config.APPEARANCE_FRAMES` x `config.APPEARANCE_SIZE` "
             f"({configured[0]} x {configured[1]}).",
             "", "| frames | size | " + " | ".join(sets) + " | worst set | clips/s |", "|---" * (len(sets) + 4) + "|"]
    for key, values in table.items():
        frames, size = (int(v) for v in key.split("x"))
        marks = [m for m, hit in (("configured", (frames, size) == tuple(configured)), ("best", key == best)) if hit]
        name, low = _worst(values)
        rate = speed.get(key, {}).get("clips_per_s")
        lines.append(f"| {frames}{' **' + ', '.join(marks) + '**' if marks else ''} | {size} | "
                     + " | ".join(f"{values[s]:.3f}" for s in sets) + f" | {name} {low:.3f} | "
                     + (f"{rate:.1f}" if rate else "–") + " |")
    if best:
        lines += ["", _grid_verdict(table, best, "{}x{}".format(*configured))]
    return lines + [""]


def _grid_verdict(table: dict[str, dict[str, float]], best: str, mine: str) -> str:
    """One sentence: the cell with the best worst set, and whether it supports the configured cell."""
    def words(key: str) -> str:
        frames, size = key.split("x")
        return f"{frames} frame{'' if frames == '1' else 's'} at {size} px"

    low_best = _worst(table[best])[1]
    low_mine = _worst(table[mine])[1] if mine in table else float("nan")
    if best == mine:
        verdict = "supports the configured choice"
    elif low_mine >= low_best - 0.005:
        verdict = "supports the configured choice (within 0.005 of the best)"
    else:
        verdict = f"favours {words(best)} over the configured {words(mine)}"
    return f"By the worst set, {words(best)} is best ({low_best:.3f}; configured {low_mine:.3f}): this {verdict}."
