"""The quality benchmark's sets and scoring, shared by ``bench_quality.py`` (test splits),
``bench_candidates.py`` and ``quality_appearance.py`` (validation splits).

What each set holds is described in ``bench_quality.py``; every set is made by code in the repo
(same seed -> same clips) from the real clips in ``benchmarks/clips``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLIPS = Path(__file__).resolve().parents[1] / "benchmarks" / "clips"
SETS = ("synthetic", "motion_families", "same_recording", "across_recordings", "altered_copies")
METRICS = ("precision@1", "precision@5", "map@10")


def build_sets(work: Path, quick: bool) -> dict[str, list[Path]]:
    """Write every set under ``work`` (reusing files already there); return ``{name: [root per fold]}``."""
    from fiftyone_videorec.data import real_footage
    from fiftyone_videorec.data.motion_families import generate_motion_families
    from fiftyone_videorec.data.synthetic import generate_synthetic

    recordings = real_footage.read_manifest(CLIPS)
    videos = [r.path for r in recordings]
    roots = {name: work / name for name in SETS}
    folds = [roots["across_recordings"] / f"fold_{i + 1}" for i in range(real_footage.across_folds(recordings))]
    if quick:
        generate_synthetic(roots["synthetic"], num_classes=4, per_class=5, split=(3, 1, 1), frames=40, size=64,
                           show_bar=False)
        generate_motion_families(roots["motion_families"], per_class_split=(3, 1, 1), frames=40, width=80,
                                 height=60, background_videos=videos[:2])
        few = _few_per_action(recordings)
        real_footage.build_same_recording(few[:4], roots["same_recording"], window=24, per_split=(3, 1, 1),
                                          min_frames=60)
        for i, root in enumerate(folds):
            real_footage.build_across_recordings(few, root, window=24, per_recording=1, fold=i)
        real_footage.build_altered_copies(few[:4], roots["altered_copies"], max_frames=32)
    else:
        generate_synthetic(roots["synthetic"], show_bar=False)
        generate_motion_families(roots["motion_families"], background_videos=videos)
        real_footage.build_same_recording(recordings, roots["same_recording"])
        for i, root in enumerate(folds):
            real_footage.build_across_recordings(recordings, root, fold=i)
        real_footage.build_altered_copies(recordings, roots["altered_copies"])
    return {name: folds if name == "across_recordings" else [root] for name, root in roots.items()}


def _few_per_action(recordings):
    """Two groups of each of the first three actions that have two: the CI-sized real sets."""
    by_action: dict[str, dict[str, object]] = {}
    for rec in recordings:
        by_action.setdefault(rec.action, {}).setdefault(rec.group, rec)
    chosen = [rec for groups in by_action.values() if len(groups) >= 2 for rec in list(groups.values())[:2]]
    return chosen[:6]


def _vectors(dataset, field: str, tag: str):
    from fiftyone_videorec import config

    view = dataset.match_tags(tag).exists(field)
    vectors, labels = view.values([field, f"{config.LABEL_FIELD}.label"])
    return np.stack(vectors), labels


def score_vectors(query: tuple, gallery: tuple) -> dict:
    """P@1, P@5, mAP@10 (and chance P@1) of ``(vectors, labels)`` queries against a ``(vectors, labels)`` gallery."""
    from fiftyone_videorec.evaluation import evaluate_vectors

    report = evaluate_vectors(*query, *gallery, k=(1, 5, 10))
    return {name: round(report.metrics[name], 3) for name in METRICS} | {
        "chance_precision@1": round(report.metrics["chance_precision@1"], 3)}


def retrieval_scores(dataset, field: str, query_tag: str | None = None) -> dict:
    """P@1, P@5, mAP@10 of the ``query_tag`` clips (default: test) against the train gallery."""
    from fiftyone_videorec import config

    return score_vectors(_vectors(dataset, field, query_tag or config.TEST_TAG),
                         _vectors(dataset, field, config.TRAIN_TAG))
