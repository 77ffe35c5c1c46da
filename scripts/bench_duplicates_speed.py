"""Speed and memory of a whole-library copy search once descriptors exist, and the duplicates report.

Synthetic descriptors stand in for a large library: 5 to 15 seconds per clip (10 to 30 rows of
320), spread like real ones (cosines around 0.6), a tenth of the clips noisy copies of another.
The search itself is what the library runs (``copy_detection.group_copies``); the dataset row
also reads the descriptors from FiftyOne (``duplicates.find_duplicates``).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

BENCH = "videorec-bench-duplicates-speed"


def synthetic_descriptors(n: int, seed: int = 0, dim: int = 320) -> list[np.ndarray]:
    from fiftyone_videorec.vectors import l2_normalize

    rng = np.random.default_rng(seed)
    base = l2_normalize(rng.standard_normal(dim)) * 22.0  # shared part: unrelated clips at cosine ~0.6
    out = []
    for i in range(n):
        if i and rng.random() < 0.1:  # a copy of an earlier clip
            source = out[int(rng.integers(0, i))].astype(np.float32)
            out.append(l2_normalize(source + 0.02 * rng.standard_normal(source.shape)).astype(np.float32))
            continue
        clip = base + rng.standard_normal(dim) * 1.2 + rng.standard_normal(dim)
        rows = clip + 0.5 * rng.standard_normal((int(rng.integers(10, 31)), dim))
        out.append(l2_normalize(rows).astype(np.float32))
    return out  # float32, as find_duplicates holds them once read


def _library(n: int) -> dict:
    """Time the search on ``n`` synthetic clips, then run it again under tracemalloc for its peak memory."""
    from fiftyone_videorec.curation.copy_detection import candidate_pairs, group_copies, mean_vectors

    descriptors = synthetic_descriptors(n)
    pairs = len(candidate_pairs(mean_vectors(descriptors)))
    start = time.perf_counter()
    groups = group_copies(descriptors)
    seconds = time.perf_counter() - start
    tracemalloc.start()  # a second run: tracing slows numpy down
    group_copies(descriptors)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"clips": n, "candidate_pairs": pairs, "seconds": round(seconds, 2), "pairs_per_s": round(pairs / seconds),
            "groups": len(groups), "descriptors_mb": round(sum(d.nbytes for d in descriptors) / 1e6, 1),
            "peak_working_mb": round(peak / 1e6, 1)}


def _through_dataset(n: int) -> dict:
    """Time ``find_duplicates`` on a dataset whose ``n`` samples already hold descriptors."""
    import fiftyone as fo

    from fiftyone_videorec import config
    from fiftyone_videorec.curation.copy_detection import descriptor_fingerprint
    from fiftyone_videorec.curation.duplicates import find_duplicates
    from fiftyone_videorec.fields import fingerprint_field

    descriptors = [d.astype(np.float16) for d in synthetic_descriptors(n, seed=1)]  # as stored
    dataset = fo.Dataset(BENCH, overwrite=True)
    field, fingerprint = config.DUPLICATE_DESCRIPTOR_FIELD, descriptor_fingerprint()
    try:
        start = time.perf_counter()
        dataset.add_samples([fo.Sample(filepath=f"/synthetic/{i:06d}.mp4", **{
            field: d, fingerprint_field(field): fingerprint}) for i, d in enumerate(descriptors)], progress=False)
        write_s = time.perf_counter() - start
        start = time.perf_counter()
        groups = find_duplicates(dataset)
        return {"clips": n, "write_s": round(write_s, 1), "find_duplicates_s": round(time.perf_counter() - start, 1),
                "groups": len(groups)}
    finally:
        dataset.delete()


def measure(quick: bool) -> dict:
    """Return the library rows (1k and 10k clips; 100 and 300 when quick) and the dataset row."""
    sizes = (100, 300) if quick else (1000, 10000)
    return {"library": [_library(n) for n in sizes], "dataset": [_through_dataset(n) for n in sizes]}


# --- the report ---------------------------------------------------------------------------------------
def _methods_table(result: dict, text: dict) -> list[str]:
    lines = ["| method | copies: median / p99 / max distance | non-copies: min / p1 / median | same action, other "
             "recording: min | best pair precision / recall (at) |", "|---|---|---|---|---|"]
    for name, row in result["methods"].items():
        c, nc, sa, best = row["copies"], row["non_copies"], row["same_action_other_recording"], row["best"]
        same = f"{sa['min']:.3f}" if sa["count"] else "-"
        lines.append(f"| {text[name]} | {c['median']:.3f} / {c['p99']:.3f} / {c['max']:.3f} | {nc['min']:.3f} / "
                     f"{nc['p1']:.3f} / {nc['median']:.3f} | {same} | {best['precision']:.3f} / {best['recall']:.3f} "
                     f"({best['threshold']:.3f}) |")
    return lines


def _extremes(result: dict) -> list[str]:
    """The copy pairs furthest apart and the non-copy pairs closest together (copy descriptor)."""
    row = result["methods"]["copy_descriptor"]
    return ["Furthest copies: " + "; ".join(f"{p['a']} ~ {p['b']} {p['distance']:.3f}" for p in row["furthest_copies"])
            + ".", "",
            "Closest non-copies: " + "; ".join(f"{p['a']} ~ {p['b']} {p['distance']:.3f}"
                                               for p in row["closest_non_copies"]) + "."]


def _alterations_table(result: dict) -> list[str]:
    names = list(result["methods"])[:3]
    lines = ["| alteration | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    worst = {name: result["methods"][name]["worst_copy_of_original"] for name in names}
    for alteration in worst[names[0]]:
        lines.append(f"| {alteration} | " + " | ".join(f"{worst[n].get(alteration, float('nan')):.3f}"
                                                         for n in names) + " |")
    return lines


def markdown(result: dict, text: dict) -> str:
    """Return ``benchmarks/duplicates.md`` from the benchmark's result."""
    s, g, speed = result["set"], result["groups"], result["speed"]
    default = result["methods"]["copy_descriptor"]["at_default"]
    exact = g["exact_range"]
    lines = [
        "# Copy detection (near-duplicates)", "",
        f"{'QUICK RUN (tiny sizes, not the figures quoted). ' if result['quick'] else ''}Machine: {result['machine']}. "
        f"Validation set: {s['clips']} clips from {s['recordings']} real recordings of `benchmarks/clips` "
        f"({s['copy_pairs']} copy pairs): {', '.join(s['alterations'])}. Copies are clips of one recording that "
        "overlap in time; different recordings of the same action are non-copies. Distances are "
        "`1 - score`; each frame method samples 2 frames per second and scores a pair by the aligned chamfer "
        "similarity (`copy_detection.copy_score`). Written by `python scripts/benchmark.py duplicates`.", "",
        f"## The default: threshold {result['threshold']}, {result['candidates_k']} candidates per video", "",
        f"- Groups the library returns (`find_duplicates`): pair precision **{g['at_default']['precision']:.3f}**, "
        f"recall **{g['at_default']['recall']:.3f}**.",
        f"- Every pair scored, then grouped: exact groups (precision = recall = 1) for thresholds "
        f"{f'{exact[0]:.2f} to {exact[1]:.2f}' if exact else 'none'}; the default lies "
        f"{'inside' if exact and exact[0] <= result['threshold'] <= exact[1] else 'outside'} that range.",
        f"- Direct pairs (no grouping) at the default: precision {default['precision']:.3f}, recall "
        f"{default['recall']:.3f}" + ("; the copies missed there are joined through other members of their group."
                                       if default["recall"] < g["at_default"]["recall"] else "."), "",
        "## Copies and non-copies, by method (every pair scored)", "", *_methods_table(result, text), "",
        *_extremes(result), "",
        "A baseline's best threshold is chosen on this very set, so its precision/recall is optimistic.", "",
        "## Worst distance of a copy to its original, per alteration", "", *_alterations_table(result), "",
        "## Excerpts: where the 3-second cut was found in its recording", "",
        "| recording | cut at (s) | found at (s) | error (s) |", "|---|---|---|---|",
        *[f"| {e['recording']} | {e['cut_s'][0]:.2f}-{e['cut_s'][1]:.2f} | "
          + (f"{e['found_s'][0]:.2f}-{e['found_s'][1]:.2f} | {e['error_s']:.2f} |" if e["found"] else "not found | - |")
          for e in result["excerpts"]], "",
        "## Speed", "",
        f"- Copy descriptors: {speed['describe']['clips_per_s']} clips/s, {speed['describe']['frames_per_s']} "
        "frames/s (decode and network, one process); descriptors are computed once per video and kept in the "
        "dataset.",
        f"- Aligned pair score: {result['methods']['copy_descriptor']['pairs_per_s']:.0f} pairs/s.", "",
        "| clips | candidate pairs | search (s) | candidate pairs/s, whole search | groups "
        "| descriptors in memory (MB) | peak memory of the search (MB) |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r['clips']} | {r['candidate_pairs']} | {r['seconds']} | {r['pairs_per_s']} | {r['groups']} | "
          f"{r['descriptors_mb']} | {r['peak_working_mb']} |" for r in speed["library"]], "",
        "Synthetic descriptors (5-15 s per clip, a tenth of them copies), float32 as `find_duplicates` holds them "
        "once read (float16 in the dataset). The search is the neighbour search (256 videos at a time: one block "
        "of 256 x n similarities), the aligned score of each candidate pair, and the groups; its peak memory "
        "(tracemalloc, a second run) is that block and the candidates, on top of the descriptors.", "",
        "| clips in the dataset | writing them (s) | `find_duplicates` from the dataset (s) |", "|---|---|---|",
        *[f"| {r['clips']} | {r['write_s']} | {r['find_duplicates_s']} |" for r in speed["dataset"]], "",
    ]
    return "\n".join(lines)
