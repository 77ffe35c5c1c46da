"""A labelled motion set the project generates itself (offline demo and tests).

Classes differ only in *how* a shape moves; its appearance (shape kind, colours, size, speed,
textured background, static distractors, noise) is drawn at random per clip, so no single frame
gives the class away. Several classes are time-reversals of each other (move_right/move_left,
rotate_cw/rotate_ccw, grow/shrink, orbit_cw/orbit_ccw, ...). Same seed -> same files, labels, splits.

Layout: ``<root>/<split>/<class>/<class>_<nnn>.mp4`` (H.264, yuv420p, 25 fps).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .. import config
from ..errors import VideorecError
from ..progress import ProgressFn, report, scaled
from .splits import resolve_counts
from .video_files import require_ffmpeg, write_h264

MOTIONS = ("move_right", "move_left", "move_up", "move_down", "rotate_cw", "rotate_ccw",
           "grow", "shrink", "orbit_cw", "orbit_ccw")
"""Motion kinds in class order; ``num_classes=N`` takes the first N."""

DEFAULT_NUM_CLASSES = 10
DEFAULT_PER_CLASS = 50
DEFAULT_SPLIT = (30, 10, 10)
DEFAULT_FRAMES = 150
DEFAULT_SIZE = 112
FPS = 25
SHAPES = ("square", "triangle", "bar", "star", "arrow", "pentagon")


@dataclass(frozen=True)
class SyntheticClip:
    label: str
    index: int
    split: str
    group: int
    relpath: str


def check_options(num_classes: int, per_class: Optional[int], split, frames: int, size: int):
    """Validate options; returns ``(per_class, (train, val, test))`` or raises VideorecError.

    ``per_class`` and ``split`` follow :func:`.splits.resolve_counts` (default 50 clips, 30/10/10).
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise VideorecError(f"--num-classes must be a positive integer, got {num_classes!r}")
    if num_classes > len(MOTIONS):
        raise VideorecError(f"the synthetic set has {len(MOTIONS)} motion classes; asked for {num_classes} "
                            f"(use --num-classes {len(MOTIONS)} or fewer)")
    per_class, split = resolve_counts(per_class, split, DEFAULT_PER_CLASS, DEFAULT_SPLIT)
    if per_class > 999:
        raise VideorecError(f"--per-class is at most 999, got {per_class}")
    if frames < 2:
        raise VideorecError(f"--frames must be at least 2, got {frames}")
    if size < 16 or size > 1024:
        raise VideorecError(f"--size must be between 16 and 1024, got {size}")
    return per_class, split


def plan_clips(num_classes: int = DEFAULT_NUM_CLASSES, per_class: Optional[int] = None, split=None,
               seed: int = config.DEFAULT_SEED, frames: int = DEFAULT_FRAMES, size: int = DEFAULT_SIZE):
    """The seeded list of clips: label, index, split and relative path of each."""
    per_class, split = check_options(num_classes, per_class, split, frames, size)
    return _plan(num_classes, per_class, split, seed)


def _plan(num_classes: int, per_class: int, split: tuple[int, int, int], seed: int) -> list[SyntheticClip]:
    clips = []
    for k, label in enumerate(MOTIONS[:num_classes]):
        order = np.random.default_rng([seed, 7919, k]).permutation(per_class)
        names = [name for name, n in zip(config.SPLITS, split) for _ in range(n)]
        split_of = {int(idx): names[pos] for pos, idx in enumerate(order)}
        for i in range(per_class):
            s = split_of[i]
            clips.append(SyntheticClip(label, i, s, k * 1000 + i, f"{s}/{label}/{label}_{i:03d}.mp4"))
    return clips


# --- drawing ---------------------------------------------------------------------------------------
def _shape_points(kind: str) -> np.ndarray:
    """Unit-size polygon (radius ~1), not rotationally symmetric enough to hide rotation."""
    if kind == "square":
        pts = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    elif kind == "triangle":
        pts = [(0, -1.1), (1, 0.8), (-1, 0.8)]
    elif kind == "bar":
        pts = [(-1.1, -0.4), (1.1, -0.4), (1.1, 0.4), (-1.1, 0.4)]
    elif kind == "star":
        pts = [((1.0 if j % 2 == 0 else 0.45) * math.cos(j * math.pi / 5 - math.pi / 2),
                (1.0 if j % 2 == 0 else 0.45) * math.sin(j * math.pi / 5 - math.pi / 2)) for j in range(10)]
    elif kind == "arrow":
        pts = [(-1, -0.35), (0.2, -0.35), (0.2, -0.8), (1.1, 0), (0.2, 0.8), (0.2, 0.35), (-1, 0.35)]
    else:  # pentagon
        pts = [(math.cos(j * 2 * math.pi / 5), math.sin(j * 2 * math.pi / 5)) for j in range(5)]
    return np.asarray(pts, dtype=np.float64)


def _background(rng, size: int) -> np.ndarray:
    import cv2

    base = rng.integers(0, 256, 3).astype(np.float32)
    cells = int(rng.integers(3, 9))
    blobs = rng.normal(0, rng.uniform(10, 45), (cells, cells, 3)).astype(np.float32)
    tex = cv2.resize(blobs, (size, size), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, rng.uniform(0, 12), (size, size, 1)).astype(np.float32)
    bg = np.clip(base + tex + fine, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 4))):  # static distractor shapes
        pts = _shape_points(SHAPES[int(rng.integers(len(SHAPES)))])
        r = rng.uniform(0.05, 0.12) * size
        ang = rng.uniform(0, 2 * math.pi)
        c = rng.uniform(0.1, 0.9, 2) * size
        rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
        poly = (pts @ rot.T * r + c).round().astype(np.int32)
        cv2.fillPoly(bg, [poly], tuple(int(v) for v in rng.integers(0, 256, 3)), lineType=cv2.LINE_AA)
    return bg


def _contrasting(rng, bg_mean: np.ndarray) -> tuple:
    for _ in range(20):
        col = rng.integers(0, 256, 3)
        if np.abs(col - bg_mean).sum() > 180:
            break
    return tuple(int(v) for v in col)


def _trajectory(kind: str, rng: np.random.Generator, t: np.ndarray, size: int, center0: np.ndarray, angle0: float,
                radius: float, lin_speed: float, ang_speed: float) -> tuple:
    """``(cx, cy, angle, radius)`` per frame (arrays of ``len(t)``) of the shape moving as ``kind`` says."""
    frames = len(t)
    cx = np.full(frames, center0[0])
    cy = np.full(frames, center0[1])
    ang = np.full(frames, angle0)
    rad = np.full(frames, radius)
    if kind in ("move_right", "move_left", "move_up", "move_down"):
        step = lin_speed * (1 if kind in ("move_right", "move_down") else -1)
        if kind in ("move_right", "move_left"):
            cx = center0[0] + step * t
        else:
            cy = center0[1] + step * t
    elif kind in ("rotate_cw", "rotate_ccw"):  # image y points down: +angle is clockwise on screen
        ang = angle0 + ang_speed * t * (1 if kind == "rotate_cw" else -1)
    elif kind in ("grow", "shrink"):
        lo, hi = rng.uniform(0.06, 0.1) * size, rng.uniform(0.3, 0.4) * size
        period = max(2, int(rng.integers(min(frames, 60), min(frames, 150) + 1)))  # sawtooth: grow, restart
        phase = (t + rng.integers(0, period)) % period / max(1, period - 1)
        if kind == "shrink":
            phase = 1.0 - phase
        rad = lo + (hi - lo) * phase
        cx = np.full(frames, size / 2 + rng.uniform(-0.1, 0.1) * size)
        cy = np.full(frames, size / 2 + rng.uniform(-0.1, 0.1) * size)
    else:  # orbit: the shape keeps its orientation and circles a centre
        orbit_r = rng.uniform(0.18, 0.28) * size
        oc = size / 2 + rng.uniform(-0.06, 0.06, 2) * size
        phi = rng.uniform(0, 2 * math.pi) + ang_speed * 1.2 * t * (1 if kind == "orbit_cw" else -1)
        cx, cy = oc[0] + orbit_r * np.cos(phi), oc[1] + orbit_r * np.sin(phi)
        rad = np.full(frames, radius * 0.8)
    return cx, cy, ang, rad


def _draw_wrapped(img: np.ndarray, pts: np.ndarray, angle: float, radius: float, center, color, mark) -> None:
    """Draw the shape (and its direction mark) into ``img`` in place, wrapped around the edges."""
    import cv2

    size = img.shape[0]
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shape = pts @ rot.T * radius
    for ox in (-size, 0, size):  # wrap-around drawing, so linear motion never stops
        for oy in (-size, 0, size):
            c = np.array([center[0] % size + ox, center[1] % size + oy])
            poly = shape + c
            if poly[:, 0].max() < 0 or poly[:, 0].min() > size or poly[:, 1].max() < 0 or poly[:, 1].min() > size:
                continue
            cv2.fillPoly(img, [(poly * 16).round().astype(np.int32)], color, lineType=cv2.LINE_AA, shift=4)
            tip = (poly[0] * 0.6 + c * 0.4)
            cv2.line(img, tuple(int(v) for v in (c * 16).round()), tuple(int(v) for v in (tip * 16).round()),
                     mark, max(1, int(size / 56)), lineType=cv2.LINE_AA, shift=4)


def render_clip(label: str, rng: np.random.Generator, frames: int = DEFAULT_FRAMES,
                size: int = DEFAULT_SIZE) -> np.ndarray:
    """``(frames, size, size, 3)`` uint8 BGR frames of one clip of motion ``label``."""
    if label not in MOTIONS:
        raise VideorecError(f"unknown motion {label!r}; expected one of {', '.join(MOTIONS)}")
    bg = _background(rng, size)
    color = _contrasting(rng, bg.reshape(-1, 3).mean(0))
    mark = tuple(255 - c for c in color)
    pts = _shape_points(SHAPES[int(rng.integers(len(SHAPES)))])
    radius = rng.uniform(0.14, 0.24) * size
    angle0 = rng.uniform(0, 2 * math.pi)
    center0 = rng.uniform(0.3, 0.7, 2) * size
    noise = rng.uniform(0, 8)
    t = np.arange(frames, dtype=np.float64)
    # Every kind's parameters come from the same distributions as its time-reversed partner's.
    lin_speed = rng.uniform(0.8, 2.0) * size / 112  # pixels per frame, wraps around the edges
    ang_speed = rng.uniform(0.035, 0.09)  # radians per frame
    cx, cy, ang, rad = _trajectory(label, rng, t, size, center0, angle0, radius, lin_speed, ang_speed)
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    noise_rng = np.random.default_rng(int(rng.integers(2**32)))
    pool = noise_rng.normal(0, noise, (6, size, size, 3)).astype(np.int16) if noise > 0.5 else None
    for f in range(frames):
        img = bg.copy()
        _draw_wrapped(img, pts, ang[f], rad[f], (cx[f], cy[f]), color, mark)
        if pool is not None:  # fresh-looking noise each frame, cheaply
            img = np.clip(img.astype(np.int16) + pool[int(noise_rng.integers(len(pool)))], 0, 255).astype(np.uint8)
        out[f] = img
    return out


def default_root(num_classes, per_class, split, frames, size, seed) -> Path:
    tag = f"seed{seed}_c{num_classes}_p{per_class}_s{'-'.join(map(str, split))}_f{frames}_px{size}"
    return config.data_dir() / "synthetic" / tag


def generate_synthetic(root=None, *, num_classes: int = DEFAULT_NUM_CLASSES, per_class: Optional[int] = None,
                       split=None, frames: int = DEFAULT_FRAMES, size: int = DEFAULT_SIZE,
                       seed: int = config.DEFAULT_SEED, workers: Optional[int] = None,
                       progress: ProgressFn | None = None, show_bar: bool = True):
    """Write the clips (skipping files already there); returns ``(root, [SyntheticClip])``."""
    per_class, split = check_options(num_classes, per_class, split, frames, size)
    return _generate(root, num_classes, per_class, split, frames, size, seed, workers, progress, show_bar)


def _generate(root, num_classes: int, per_class: int, split: tuple[int, int, int], frames: int, size: int,
              seed: int, workers: Optional[int], progress: ProgressFn | None, show_bar: bool):
    """:func:`generate_synthetic` with options already checked."""
    clips = _plan(num_classes, per_class, split, seed)
    root = Path(root) if root is not None else default_root(num_classes, per_class, split, frames, size, seed)
    todo = [c for c in clips if not (root / c.relpath).is_file()]
    k_of = {label: k for k, label in enumerate(MOTIONS)}

    def make(c: SyntheticClip):
        rng = np.random.default_rng([seed, k_of[c.label], c.index])
        write_h264(render_clip(c.label, rng, frames, size), root / c.relpath, FPS)

    if todo:
        from tqdm import tqdm

        require_ffmpeg("to write the synthetic clips")
        workers = workers or max(1, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool, \
                tqdm(total=len(todo), desc="synthetic clips", unit="clip", disable=not show_bar, leave=False) as bar:
            futures = [pool.submit(make, c) for c in todo]
            for done, fut in enumerate(as_completed(futures), 1):
                fut.result()
                bar.update(1)
                report(progress, done / len(todo), f"wrote {done}/{len(todo)} synthetic clips")
    return root, clips


def load_synthetic(dataset_name: str = config.SYNTHETIC_DATASET, *, root=None,
                   num_classes: int = DEFAULT_NUM_CLASSES, per_class: Optional[int] = None, split=None,
                   frames: int = DEFAULT_FRAMES, size: int = DEFAULT_SIZE, seed: int = config.DEFAULT_SEED,
                   overwrite: bool = False, workers: Optional[int] = None, progress: ProgressFn | None = None,
                   show_bar: bool = True):
    """Generate (or reuse) the synthetic motion set and import it into ``dataset_name``."""
    from .importer import VideoRecord, import_records

    per_class, split = check_options(num_classes, per_class, split, frames, size)
    root, clips = _generate(root, num_classes, per_class, split, frames, size, seed, workers,
                            scaled(progress, 0.0, 0.8), show_bar)
    records = [VideoRecord(filepath=str(root / c.relpath), label=c.label, split=c.split, fields={
        config.GROUP_FIELD: c.group, config.CLIP_FIELD: c.index, config.SOURCE_FIELD: f"synthetic:seed={seed}",
    }) for c in clips]
    return import_records(records, dataset_name, overwrite=overwrite, progress=scaled(progress, 0.8, 1.0), info={
        "synthetic": {"root": str(root), "classes": list(MOTIONS[:num_classes]), "per_class": per_class,
                      "split": list(split), "frames": frames, "size": size, "seed": seed}})
