"""Moment search: the seconds inside long videos that look and move like a query clip.

Each video is cut into windows of ``window`` seconds every ``stride`` seconds (plus one window
ending at the video's end when the grid leaves more than half a stride uncovered). A window's
vector is the model's unit mean over ``clips`` clips evenly spaced inside it; every clip is cut
from one decode of the whole video at the model's own sampling rate (:func:`frames.read_sampled`).

Windows are a ``TemporalDetections`` field (support in frames; ``start``/``end`` in seconds and
the vector as ``embedding`` on each detection). A FiftyOne Brain cosine index (sklearn) is built
on ``dataset.to_clips(field)`` under ``<field>_sim``, so clips views, ``sort_by_similarity`` and
the App's similarity search work on moments. A video shorter than one window gets no moments and
a reason in ``<field>_error``; ``<field>_settings`` records the model folder and the window
settings per video, so a re-run skips the videos already done the same way.

A query of Q seconds is cut into windows the same way. A span of as many consecutive moments of
one video scores the mean cosine of query window i with span window i: a copy of a segment lines
up with it second by second, and the best span has the query's length.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from ..errors import VideorecError
from ..fields import record_model
from ..frames import SampledVideo
from ..progress import ProgressFn, report
from .index import MomentGallery, dataset_of, moment_gallery, parse_query
from .moment_vectors import embed_windows, sample_video

INFO_KEY = "videorec_moments"  # dataset.info[key][field] = the settings the field's index was built with


@dataclass
class Moment:
    """One found moment: its video, where it is (seconds), its cosine score, and the first window's id."""

    sample_id: str
    filepath: str
    start: float
    end: float
    score: float
    moment_id: str = ""

    def to_dict(self) -> dict:
        """Return the record the CLI prints with ``--json``."""
        return {"sample_id": self.sample_id, "filepath": self.filepath, "start": round(self.start, 3),
                "end": round(self.end, 3), "score": round(self.score, 6)}


@dataclass
class MomentIndexSummary:
    """What :func:`index_moments` did: videos embedded now, skipped as already done, and failures."""

    field: str
    brain_key: str
    embedded: int
    skipped: int
    moments: int
    failed: dict = field(default_factory=dict)  # sample id -> reason


def moment_brain_key(field_name: str) -> str:
    """Return the brain key of the similarity index over the moments in ``field_name``."""
    return f"{field_name}_sim"


def settings_field(field_name: str) -> str:
    return f"{field_name}_settings"  # per video: the model folder and window settings it was indexed with


def error_field(field_name: str) -> str:
    return f"{field_name}_error"  # per video: why it has no moments


def check_settings(window: float, stride: float, clips: int) -> None:
    """Raise a one-line error for windows or strides that are not positive, or fewer than one clip."""
    if not window > 0 or not stride > 0:
        raise VideorecError(f"--window and --stride must be positive seconds, got {window:g} and {stride:g}")
    if clips < 1:
        raise VideorecError(f"clips per moment must be at least 1, got {clips}")


def window_bounds(duration: float, window: float, stride: float) -> list[tuple[float, float]]:
    """Return ``(start, end)`` seconds of the windows of a ``duration``-second video (none if it is shorter)."""
    if duration + 1e-6 < window:
        return []
    bounds = [(s, s + window) for s in np.arange(0.0, duration - window + 1e-6, stride)]
    if duration - bounds[-1][1] > stride / 2:
        bounds.append((duration - window, duration))
    return [(float(a), float(b)) for a, b in bounds]


def settings_key(model_dir, window: float, stride: float, clips: int) -> str:
    """Return what ``<field>_settings`` holds for videos indexed this way (a re-run skips those);
    a model retrained in the same folder has another fingerprint, so its videos are done again."""
    from ..embedding.model_folder import model_fingerprint

    return json.dumps({"model": str(Path(model_dir).resolve()), "weights": model_fingerprint(model_dir, clips=1),
                       "window": float(window), "stride": float(stride), "clips": int(clips)}, sort_keys=True)


def _prepare_fields(dataset, field_name: str) -> None:
    import fiftyone as fo

    schema = dataset.get_field_schema()
    existing = schema.get(field_name)
    if existing is not None and getattr(existing, "document_type", None) is not fo.TemporalDetections:
        raise VideorecError(f"field {field_name!r} already holds {type(existing).__name__} values, not moments; "
                            "choose another --field")
    if existing is None:
        dataset.add_sample_field(field_name, fo.EmbeddedDocumentField, embedded_doc_type=fo.TemporalDetections)
    flat = dataset.get_field_schema(flat=True)
    for path, kind in ((f"{field_name}.detections.embedding", fo.VectorField),
                       (f"{field_name}.detections.start", fo.FloatField), (f"{field_name}.detections.end", fo.FloatField),
                       (settings_field(field_name), fo.StringField), (error_field(field_name), fo.StringField)):
        if path not in flat:
            dataset.add_sample_field(path, kind)


def index_moments(dataset_or_view, model_dir, window: float = config.MOMENT_WINDOW_S,
                  stride: float = config.MOMENT_STRIDE_S, field: str = config.MOMENTS_FIELD,
                  clips: int = config.MOMENT_CLIPS, force: bool = False,
                  progress: ProgressFn | None = None) -> MomentIndexSummary:
    """Embed the moments of every video into ``field`` and (re)build their cosine index; return a summary.

    Videos already done with the same model folder and settings are skipped unless ``force``.
    The next video is decoded in a thread while the network embeds the current one.
    """
    from ..embedding.embedder import load_model
    from ..embedding.run import read_or_reason

    check_settings(window, stride, clips)
    dataset = dataset_of(dataset_or_view)
    model = load_model(model_dir, clips=1, batch_size=32)
    settings = settings_key(model.model_dir, window, stride, clips)
    _prepare_fields(dataset, field)
    ids, paths, done = dataset_or_view.values(["id", "filepath", settings_field(field)])
    todo = [(sid, path) for sid, path, was in zip(ids, paths, done) if force or was != settings]
    failed: dict[str, str] = {}

    def decode(path):
        return read_or_reason(sample_video, model, path)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(decode, todo[0][1]) if todo else None
        for i, (sid, path) in enumerate(todo):
            video, reason = pending.result()
            pending = pool.submit(decode, todo[i + 1][1]) if i + 1 < len(todo) else None
            moments = None
            if video is not None:
                moments, reason = _detections(model, video, window, stride, clips)
            if reason:
                failed[sid] = reason
            for name, value in ((field, moments), (error_field(field), reason), (settings_field(field), settings)):
                dataset.set_values(name, {sid: value}, key_field="id")
            report(progress, (i + 1) / (len(todo) + 1), f"moments of {i + 1}/{len(todo)} videos")
    count = _build_index(dataset, field, settings)
    record_model(dataset, moment_brain_key(field), model.model_dir)
    dataset.info[INFO_KEY] = {**dataset.info.get(INFO_KEY, {}), field: json.loads(settings)}
    dataset.save()
    report(progress, 1.0, f"indexed {count} moments")
    return MomentIndexSummary(field, moment_brain_key(field), len(todo) - len(failed), len(ids) - len(todo), count,
                              failed)


def _detections(model, video: SampledVideo, window: float, stride: float, clips: int):
    """Return ``(TemporalDetections or None, reason or None)`` for one decoded video."""
    import fiftyone as fo

    bounds = window_bounds(video.duration, window, stride)
    if not bounds:
        return None, f"video is {video.duration:.2f} s long, shorter than the {window:g} s window"
    vectors = embed_windows(model, video, bounds, clips)
    last_frame = max(1, round(video.duration * video.fps))
    detections = [fo.TemporalDetection(
        label="moment", support=[min(int(a * video.fps) + 1, last_frame), max(1, min(round(b * video.fps), last_frame))],
        start=round(a, 4), end=round(b, 4), embedding=vec.astype(np.float32)) for (a, b), vec in zip(bounds, vectors)]
    return fo.TemporalDetections(detections=detections), None


def _build_index(dataset, field_name: str, settings: str) -> int:
    """(Re)build the Brain cosine index over the clips view of the videos indexed with ``settings``."""
    import fiftyone.brain as fob
    from fiftyone import ViewField as F

    clips = dataset.match(F(settings_field(field_name)) == settings).exists(field_name).to_clips(field_name)
    if len(clips) == 0:
        raise VideorecError(f"no video of {dataset.name!r} has moments in {field_name!r} "
                            "(see the per-video reasons above: too short or undecodable)")
    key = moment_brain_key(field_name)
    if key in dataset.list_brain_runs():
        dataset.delete_brain_run(key)
    vectors = np.stack(clips.values(f"{field_name}.embedding"))  # an array, so the index keeps them itself
    fob.compute_similarity(clips, embeddings=vectors, metric="cosine", brain_key=key, backend="sklearn",
                           progress=False)
    return len(clips)


# --- search ----------------------------------------------------------------------------------------
def _gallery(dataset, field_name: str) -> MomentGallery:
    """Return the moment index of ``field_name`` as unit vectors grouped by video (one-line error without one)."""
    key = moment_brain_key(field_name)
    if key not in dataset.list_brain_runs():
        raise VideorecError(f"dataset {dataset.name!r} has no moment index {key!r}; run 'videorec moments index' first")
    return moment_gallery(dataset, field_name, key)


def index_settings(dataset, field_name: str = config.MOMENTS_FIELD) -> dict:
    """Return the model folder, window, stride and clips the ``field_name`` index was built with."""
    settings = dataset.info.get(INFO_KEY, {}).get(field_name)
    if not settings:
        raise VideorecError(f"dataset {dataset.name!r} has no moments in {field_name!r}; run 'videorec moments index' first")
    return settings


def query_windows(dataset, path, start: float | None = None, end: float | None = None,
                  field_name: str = config.MOMENTS_FIELD) -> np.ndarray:
    """Return the unit vectors of a query's windows (the index's model and settings), ``(windows, dim)``."""
    from ..embedding.embedder import shared_model

    settings = index_settings(dataset, field_name)
    model = shared_model(settings["model"], clips=1, batch_size=32)  # loaded once per process
    video = sample_video(model, path)
    first = 0.0 if start is None else float(start)
    last = video.duration if end is None else min(float(end), video.duration)
    if last <= first:
        raise VideorecError(f"query range {first:g}-{last:g} s is empty: the video is {video.duration:.2f} s long")
    bounds = [(first + a, first + b) for a, b in window_bounds(last - first, settings["window"], settings["stride"])]
    return embed_windows(model, video, bounds or [(first, last)], settings["clips"])


def span_scores(query: np.ndarray, gallery: np.ndarray, video: np.ndarray) -> tuple[np.ndarray, int]:
    """Return ``(scores, m)``: for each run of ``m`` consecutive rows of one video, the mean cosine of
    query window i with row i of the run (``-inf`` where a run crosses videos); ``m`` is the query's
    window count, cut to the longest video."""
    longest = int(np.bincount(video).max())
    if len(query) > longest:  # a query longer than every video: its evenly spaced windows
        query = query[np.linspace(0, len(query) - 1, longest).round().astype(int)]
    m = len(query)
    sims = query.astype(np.float32) @ gallery.T
    width = len(gallery) - m + 1
    total = sims[0, :width].copy()
    for i in range(1, m):
        total += sims[i, i:i + width]
    scores = total / m
    scores[video[:width] != video[m - 1:]] = -np.inf
    return scores, m


def find_moments(dataset, query, k: int = 5, start: float | None = None, end: float | None = None,
                 per_video: int | None = None, field: str = config.MOMENTS_FIELD) -> list[Moment]:
    """Return the ``k`` moments most like ``query`` (a sample id, optionally with ``start``/``end``
    seconds, or a video file), best first.

    A found moment spans as many windows as the query; moments of one video never overlap, and
    ``per_video`` caps how many each video gives. The query's own moment (windows of the query
    sample overlapping the query range) is never returned.
    """
    if k < 1 or (per_video is not None and per_video < 1):
        raise VideorecError(f"k and --per-video must be at least 1, got {k} and {per_video}")
    if start is not None and (start < 0 or (end is not None and end <= start)):
        raise VideorecError(f"--start must be >= 0 and below --end, got {start} and {end}")
    _gallery(dataset, field)  # no index: say so before decoding the query
    sample, path = parse_query(dataset, query)
    path = path if sample is None else sample.filepath
    exclude = None if sample is None else (sample.id, start or 0.0, np.inf if end is None else end)
    return search_windows(dataset, query_windows(dataset, path, start, end, field), k=k, per_video=per_video,
                          field=field, exclude=exclude)


def search_windows(dataset, windows: np.ndarray, k: int = 5, per_video: int | None = None,
                   field: str = config.MOMENTS_FIELD, exclude: tuple | None = None) -> list[Moment]:
    """Return the ``k`` best spans for query window vectors ``(windows, dim)`` (see :func:`find_moments`);
    spans of ``exclude = (sample id, start, end)`` overlapping that range are left out."""
    gallery = _gallery(dataset, field)
    scores, m = span_scores(windows, gallery.unit, gallery.video)
    span_start, span_end = gallery.start[:len(scores)], gallery.end[m - 1:]
    if exclude is not None and exclude[0] in gallery.sample_ids:
        own = gallery.sample_ids.index(exclude[0])
        scores[(gallery.video[:len(scores)] == own) & (span_start < exclude[2]) & (span_end > exclude[1])] = -np.inf
    found: list[Moment] = []
    per: dict[int, list] = {}
    for j in np.argsort(-scores, kind="stable"):
        if not np.isfinite(scores[j]) or len(found) == k:
            break
        v, a, b = int(gallery.video[j]), float(span_start[j]), float(span_end[j])
        taken = per.setdefault(v, [])
        if (per_video is not None and len(taken) >= per_video) or any(a < tb and ta < b for ta, tb in taken):
            continue
        taken.append((a, b))
        found.append(Moment(gallery.sample_ids[v], gallery.filepaths[v], a, b, float(scores[j]), gallery.moment_ids[j]))
    return found


def moment_range(dataset, moment_id: str, field: str = config.MOMENTS_FIELD) -> tuple[str, float, float]:
    """Return ``(sample id, start, end)`` of an indexed moment (a clip id of ``to_clips(field)``)."""
    gallery = _gallery(dataset, field)
    if moment_id not in gallery.moment_ids:
        raise VideorecError(f"{moment_id} is not an indexed moment of {field!r}")
    row = gallery.moment_ids.index(moment_id)
    return gallery.sample_ids[gallery.video[row]], float(gallery.start[row]), float(gallery.end[row])


def moments_view(dataset, found: list[Moment], field: str = config.MOMENTS_FIELD):
    """Return the clips view of ``found`` in order, each clip's score in ``config.MOMENT_SCORE_FIELD``.

    The scores live in the view's own stages (no write per search), so the App can rebuild it.
    """
    import fiftyone as fo
    from fiftyone import ViewField as F

    if config.MOMENT_SCORE_FIELD not in dataset.get_field_schema():
        dataset.add_sample_field(config.MOMENT_SCORE_FIELD, fo.FloatField)
    clips = dataset.to_clips(field, other_fields=[config.MOMENT_SCORE_FIELD])
    # ids compared as strings: the view travels to the App as JSON, which has no ObjectId
    scores = F("_id").to_string().switch({F() == m.moment_id: round(m.score, 4) for m in found}, default=None)
    return clips.select([m.moment_id for m in found], ordered=True).set_field(config.MOMENT_SCORE_FIELD, scores)
