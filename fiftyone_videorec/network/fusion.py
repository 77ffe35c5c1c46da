"""How much the frozen ImageNet frame features weigh in a trained model's vector.

A trained model's vector joins two unit vectors, appearance (ImageNet features of a few frames)
and motion (the trained (2+1)D network), as ``vectors.fuse`` does: the fused cosine is
``w * appearance cosine + (1 - w) * motion cosine``. Which ``w`` is right depends on the user's
classes: scenes and objects want appearance, directions of motion want none of it. So ``"auto"``
(preset ``fast``) picks ``w`` from ``config.APPEARANCE_WEIGHT_GRID`` by the precision@5 of the
training run's own validation clips against its training clips (ties go to the weight nearest
``config.APPEARANCE_WEIGHT``, which is also used when there are no validation clips). The
evidence for the grid and the fallback is in ``benchmarks/quality.md``.
"""

from __future__ import annotations


from .. import config
from ..errors import VideorecError

AUTO = "auto"


def appearance_settings(preset_weight, weight=None) -> dict | None:
    """Return the metadata's ``appearance`` entry for ``weight`` (None: the preset's; ``"auto"`` or a
    number in [0, 1)), or None when the frame features are off (0)."""
    weight = preset_weight if weight is None else weight
    if isinstance(weight, str) and weight != AUTO:
        try:
            weight = float(weight)
        except ValueError:
            raise VideorecError(f"the appearance weight must be 'auto' or a number, got {weight!r}") from None
    if weight != AUTO:
        weight = float(weight)
        if not 0 <= weight < 1:
            raise VideorecError(f"the appearance weight must be at least 0 and below 1, got {weight:g}")
        if weight == 0:
            return None
    from .backbone import NAME, source_file

    source_file()  # the ImageNet weights are installed, or one line that says how
    return {"frames": config.APPEARANCE_FRAMES, "image_size": config.APPEARANCE_SIZE, "weight": weight, "backbone": NAME}


def _precision_at_5(query, query_labels, gallery, gallery_labels) -> float:
    from ..evaluation import evaluate_vectors

    return evaluate_vectors(query, query_labels, gallery, gallery_labels, k=(5,)).metrics["precision@5"]


def fit_weight(classifier, arrays: dict, paths: dict, preset, appearance: dict) -> tuple[dict, dict]:
    """Return ``(appearance entry with its weight decided, test metrics of each stream and the fusion)``.

    ``arrays[split] = (cached motion frames, class indices)`` and ``paths[split]`` the clips' files,
    as training holds them.
    """
    from .appearance_cache import AppearanceCache
    from .frame_cache import embed_cached
    from .model import embedder_of
    from ..vectors import fuse

    splits = [name for name in ("train", "val", "test") if arrays[name][0]]
    cache = AppearanceCache(appearance["frames"], appearance["image_size"])
    embedder = embedder_of(classifier)
    motion = {name: embed_cached(embedder, arrays[name][0], preset) for name in splits}
    frames = {name: cache.video_vectors(paths[name]) for name in splits}
    labels = {name: arrays[name][1] for name in splits}
    appearance = dict(appearance)
    if appearance["weight"] == AUTO:
        if "val" in splits:
            scores = {w: _precision_at_5(fuse(frames["val"], motion["val"], w), labels["val"],
                                         fuse(frames["train"], motion["train"], w), labels["train"])
                      for w in config.APPEARANCE_WEIGHT_GRID}
            best = max(scores.values())
            weight = min((w for w, s in scores.items() if s >= best - 1e-9),
                         key=lambda w: abs(w - config.APPEARANCE_WEIGHT))
            appearance.update(weight=weight, chosen_on=f"validation precision@5 ({len(labels['val'])} clips)",
                              validation_precision_at_5={str(w): round(s, 4) for w, s in scores.items()})
        else:
            appearance.update(weight=config.APPEARANCE_WEIGHT, chosen_on="no validation clips: the default weight")
    metrics = {}
    if "test" in splits:
        w = appearance["weight"]

        def score(stream_weight):
            return _precision_at_5(fuse(frames["test"], motion["test"], stream_weight), labels["test"],
                                   fuse(frames["train"], motion["train"], stream_weight), labels["train"])

        metrics = {"motion_only_precision@5": score(0.0), "appearance_only_precision@5": score(1.0),
                   "test_vs_train_precision@5": score(w), "appearance_weight": w}
    return appearance, metrics
