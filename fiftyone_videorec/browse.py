"""What the App's "Similar videos" panel shows: ranked clips with their label, score, group and a still.

The panel only lays these items out; ranking is ``similarity.recommend``. Each still is the clip's
middle frame, written once as a small JPEG under ``config.home_dir() / "thumbnails"`` (named by the
video's path, size and modification time, so a replaced file gets a new still) and served by the
App's own ``/media`` route, which reads local files by path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

from . import config
from .errors import VideorecError

__all__ = ["panel_items", "thumbnail", "media_url", "missing_step"]


def thumbnails_dir() -> Path:
    """Return the folder of cached stills (safe to delete)."""
    return config.home_dir() / "thumbnails"


def thumbnail(video_path, size: int = config.THUMBNAIL_SIZE) -> Path:
    """Return a ``size`` x ``size`` JPEG of the video's middle frame (letterboxed), made on first need."""
    import cv2

    from .frames import count_frames, read_frames

    video = Path(video_path)
    stat = video.stat()
    key = hashlib.sha1(f"{video.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{size}".encode()).hexdigest()[:20]
    target = thumbnails_dir() / f"{key}.jpg"
    if not target.is_file():
        frame = read_frames(video, [count_frames(video) // 2], size)[0]
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{key}.part.jpg")  # renamed once complete: no half-written still is served
        if not cv2.imwrite(str(partial), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise VideorecError(f"cannot write a still of {video} into {target.parent}")
        partial.replace(target)
    return target


def media_url(path) -> str:
    """Return the App server's URL of a local file (its ``/media?filepath=`` route)."""
    return f"/media?filepath={quote(str(path), safe='')}"


def missing_step(dataset, brain_key: str = config.BRAIN_KEY) -> str | None:
    """Return what must run before clips can be recommended: "embeddings", "index", or None when ready."""
    from .search.index import has_index

    if has_index(dataset, brain_key):
        return None
    return "index" if dataset.has_field(config.EMBEDDINGS_FIELD) and len(dataset.exists(config.EMBEDDINGS_FIELD)) \
        else "embeddings"


def panel_items(dataset, sample_id: str, k: int = 6, brain_key: str = config.BRAIN_KEY,
                hide_same_group: bool = False) -> list[dict]:
    """Return the ``k`` clips most similar to ``sample_id``, best first, as the panel shows them.

    Each item: ``sample_id``, ``label``, ``score`` (cosine), ``group`` (``config.GROUP_FIELD`` or
    None), ``filepath`` and ``image`` (the still's URL on the App server). ``hide_same_group``
    leaves out clips from the query's own source group.
    """
    from .search.similarity import recommend

    recommendations = recommend(dataset, sample_id, k=k, brain_key=brain_key, exclude_same_group=hide_same_group)
    groups = {}
    if dataset.has_field(config.GROUP_FIELD) and recommendations:
        view = dataset.select([r.sample_id for r in recommendations])
        groups = dict(zip(*view.values(["id", config.GROUP_FIELD])))
    return [{"sample_id": r.sample_id, "label": r.label, "score": round(float(r.score), 4),
             "group": groups.get(r.sample_id), "filepath": r.filepath, "image": media_url(thumbnail(r.filepath))}
            for r in recommendations]
