"""A second, deliberately different synthetic motion set: tests that a model tuned on ``synthetic.py`` generalises.

Ten motion families (``CLASSES``); what moves, and how the *camera* behaves, differs from the first set:

* ``translate_right/left``: the object crosses the frame while the whole frame shakes by a few px (hand-held).
* ``rotate_cw/ccw``: the object spins in place (clockwise as seen on screen). ``orbit_cw/ccw``: it circles
  an elliptical orbit. ``swing``: a pendulum (horizontal arc, random period, the object tilts with it).
* ``zoom_in/out``: the whole scene, background included, scales about a point near the object (camera zoom).
* ``bounce``: the object falls and rebounds off a floor (parabolic arcs, cusp at the floor). Chosen over a
  camera *pan* because a pan (background slides, object fixed in the frame) shows the same object-vs-
  background motion as ``translate_*``; the label would then hinge on frame-absolute cues alone.

Per clip at random: object kind (ellipse, Latin cross, broken ring, L-shape, letter, textured patch,
crescent; none of these is in the first set), colours, size, speed, phase; 0-4 distractors doing random
walks (so "something moves" is never the class); mild shake on some non-translate clips; global
brightness/contrast; Gaussian noise. Backgrounds: random crops of real video frames when given, else a
procedural stripes/checker/gradient mix (not blob noise). 160x120 frames; same seed -> same pixels.
Layout: ``<root>/<split>/<class>/<class>_<nnn>.mp4`` (H.264, 25 fps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import cv2
import numpy as np

from ..errors import VideorecError
from ..progress import ProgressFn, report
from .splits import parse_split
from .video_files import write_h264

CLASSES = ("translate_right", "translate_left", "rotate_cw", "rotate_ccw", "zoom_in", "zoom_out",
           "swing", "orbit_cw", "orbit_ccw", "bounce")
KINDS = ("ellipse", "cross", "ring", "lshape", "letter", "patch", "crescent")
SPLITS = ("train", "val", "test")
DEFAULT_SPLIT = (12, 4, 4)
DEFAULT_FRAMES, DEFAULT_WIDTH, DEFAULT_HEIGHT, FPS, DEFAULT_SEED = 150, 160, 120, 25, 1234
VIDEO_EXTS = (".avi", ".mp4", ".mkv", ".mov", ".webm")
_S = 128  # sprites are drawn at this resolution, then reduced with INTER_AREA (smooth edges)


@dataclass(frozen=True)
class Clip:
    label: str
    split: str
    relpath: str


# --- backgrounds ------------------------------------------------------------------------------------
def find_videos(folder: Union[str, Path]) -> list[Path]:
    """Video files directly in ``folder``, sorted by name so a seed always picks the same ones."""
    return sorted(p for p in Path(folder).glob("*") if p.suffix.lower() in VIDEO_EXTS) if Path(folder).is_dir() else []


def background_frames(video_paths: Sequence[Union[str, Path]], rng: np.random.Generator,
                      per_video: int = 3, max_videos: int = 8) -> list[np.ndarray]:
    """A few BGR frames of real videos, for photographic backgrounds (``[]``: use the procedural ones)."""
    paths = sorted(str(p) for p in video_paths)
    if len(paths) > max_videos:
        paths = [paths[i] for i in sorted(rng.choice(len(paths), max_videos, replace=False))]
    out = []
    for p in paths:
        cap = cv2.VideoCapture(p)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        for idx in (sorted(rng.choice(n, min(per_video, n), replace=False)) if n > 0 else []):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(idx))
            ok, frame = cap.read()
            if ok and frame is not None and frame.ndim == 3 and frame.std() > 8:  # not a black/fade frame
                out.append(frame)
        cap.release()
    return out


def _crop_background(frame: np.ndarray, rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A random crop (random scale, position, mirror) of a real frame, resized to ``w`` x ``h``."""
    fh, fw = frame.shape[:2]
    cw = min(fw, fh * w / h) * rng.uniform(0.45, 1.0)
    ch = cw * h / w  # same aspect as the output
    x0, y0 = rng.uniform(0, fw - cw), rng.uniform(0, fh - ch)
    crop = frame[int(y0):int(y0 + ch), int(x0):int(x0 + cw)]
    crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if cw > w else cv2.INTER_LINEAR)
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def _procedural_background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Stripes, checker and gradient mixed, modulated by multi-scale noise, on a random 3-colour palette."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    comps = []
    for _ in range(int(rng.integers(1, 3))):
        a, lam = rng.uniform(0, math.pi), rng.uniform(5, 40)
        s = np.sin(2 * math.pi * (x * math.cos(a) + y * math.sin(a)) / lam + rng.uniform(0, 6.3))
        comps.append(np.sign(s) if rng.random() < 0.4 else s)
    if rng.random() < 0.5:
        a, lam = rng.uniform(0, math.pi / 2), rng.uniform(6, 30)
        u, v = x * math.cos(a) + y * math.sin(a), -x * math.sin(a) + y * math.cos(a)
        comps.append(np.sign(np.sin(math.pi * u / lam) * np.sin(math.pi * v / lam)))
    a = rng.uniform(0, 2 * math.pi)
    comps.append(2 * ((x * math.cos(a) + y * math.sin(a)) / (w + h)))
    t = sum(c * rng.uniform(0.3, 1.0) for c in comps)  # + multi-scale noise, a modulation, not the pattern
    for octave in (4, 8, 16, 32):
        grid = rng.standard_normal((max(2, h // octave), max(2, w // octave))).astype(np.float32)
        t += cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC) * rng.uniform(0.05, 0.3)
    t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    pal = rng.uniform(0, 255, (3, 3)).astype(np.float32)
    lo, mid = np.clip(t * 2, 0, 1)[..., None], np.clip(t * 2 - 1, 0, 1)[..., None]
    return pal[0] * (1 - lo) + pal[1] * lo * (1 - mid) + pal[2] * mid


# --- objects ----------------------------------------------------------------------------------------
def _sprite(kind: str, rng: np.random.Generator, size: int, fill, edge) -> tuple[np.ndarray, np.ndarray]:
    """(colour premultiplied by alpha, alpha) of one object, ``size`` px square, drawn upright."""
    m = np.zeros((_S, _S), np.uint8)
    c, r = _S // 2, int(_S * 0.42)
    if kind == "ellipse":
        cv2.ellipse(m, (c, c), (r, int(r * rng.uniform(0.35, 0.7))), 0, 0, 360, 255, -1, cv2.LINE_AA)
    elif kind == "cross":  # Latin cross: asymmetric, so its rotation is unambiguous
        a, yb = int(r * rng.uniform(0.18, 0.28)), c - r // 3
        cv2.rectangle(m, (c - a, c - r), (c + a, c + r), 255, -1)
        cv2.rectangle(m, (c - int(r * 0.7), yb - a), (c + int(r * 0.7), yb + a), 255, -1)
    elif kind == "ring":  # a broken ring (Landolt C): rotation is visible, unlike a plain ring
        gap = rng.uniform(25, 60)
        cv2.ellipse(m, (c, c), (r - 10, r - 10), 0, gap, 360 - gap, 255, int(r * 0.3), cv2.LINE_AA)
    elif kind == "lshape":
        a = int(r * rng.uniform(0.35, 0.55))
        pts = np.array([[c - r, c - r], [c - r + a, c - r], [c - r + a, c + r - a], [c + r, c + r - a],
                        [c + r, c + r], [c - r, c + r]], np.int32)
        cv2.fillPoly(m, [pts], 255, cv2.LINE_AA)
    elif kind == "letter":
        ch, font, th = str(rng.choice(list("AFGJKLPRSZ2457?"))), int(rng.integers(0, 3)), int(rng.integers(10, 18))
        font = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX)[font]
        k = 2 * r / max(cv2.getTextSize(ch, font, 1.0, th)[0])
        (tw, tht), _ = cv2.getTextSize(ch, font, k, th)
        cv2.putText(m, ch, (c - tw // 2, c + tht // 2), font, k, 255, th, cv2.LINE_AA)
    elif kind == "patch":
        a = int(r * rng.uniform(0.5, 0.85))
        cv2.rectangle(m, (c - r, c - a), (c + r, c + a), 255, -1)
    elif kind == "crescent":
        cv2.circle(m, (c, c), r, 255, -1, cv2.LINE_AA)
        cv2.circle(m, (c + int(r * rng.uniform(0.35, 0.6)), c), int(r * 0.85), 0, -1, cv2.LINE_AA)
    else:
        raise VideorecError(f"unknown object kind {kind!r}; choose one of {', '.join(KINDS)}")
    col = np.broadcast_to(np.float32(fill), (_S, _S, 3)).copy()
    if kind == "patch":  # a texture inside the object: stripes or checker of fill and edge colours
        (yy, xx), p = np.mgrid[0:_S, 0:_S], int(rng.integers(8, 20))
        sel = ((xx // p + yy // p) % 2 == 0) if rng.random() < 0.5 else ((xx + yy) // p % 2 == 0)
        col[sel] = 0.6 * np.float32(fill) + 0.4 * np.float32(edge)
    alpha = m.astype(np.float32) / 255
    if rng.random() < 0.5:  # an outline in the contrasting colour
        col = np.where((alpha > 0.5)[..., None], col, np.float32(edge))
        alpha = cv2.dilate(alpha, np.ones((9, 9), np.uint8))
    col, alpha = (cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA) for a in (col * alpha[..., None], alpha))
    return col, alpha


def _paste(world: np.ndarray, sprite, x: float, y: float, angle: float, mask: Optional[np.ndarray] = None):
    """Alpha-blend a sprite rotated by ``angle`` (degrees, cv2 sense: + is counter-clockwise on screen)."""
    (col, alpha), s = sprite, sprite[1].shape[0]
    half = int(s * 0.75) + 2
    x0, y0 = int(math.floor(x)) - half, int(math.floor(y)) - half
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(world.shape[1], x0 + 2 * half), min(world.shape[0], y0 + 2 * half)
    if xa >= xb or ya >= yb:  # off the world
        return
    mat = cv2.getRotationMatrix2D((s / 2, s / 2), angle, 1.0)
    mat[:, 2] += (x - s / 2 - xa, y - s / 2 - ya)
    a, c = (cv2.warpAffine(im, mat, (xb - xa, yb - ya), flags=cv2.INTER_LINEAR) for im in (alpha, col))
    world[ya:yb, xa:xb] = world[ya:yb, xa:xb] * (1 - a)[..., None] + c
    if mask is not None:
        mask[ya:yb, xa:xb] = np.maximum(mask[ya:yb, xa:xb], a)


def _contrasting(rng: np.random.Generator, lum: float) -> tuple[np.ndarray, np.ndarray]:
    """A fill colour whose mean brightness is far from the background's, and an outline of the opposite."""
    hsv = np.uint8([[[rng.uniform(0, 180), rng.uniform(90, 255), 255]]])
    base, dark = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32), lum > 128
    target = rng.uniform(5, max(6, lum - 80)) if dark else rng.uniform(min(250, lum + 80), 250)
    m = float(base.mean())
    fill = base * target / m if target < m else base + (255 - base) * (target - m) / (255 - m)
    return fill, np.full(3, rng.uniform(200, 255) if dark else rng.uniform(0, 50), np.float32)


# --- motion -----------------------------------------------------------------------------------------
def _trajectory(label: str, rng: np.random.Generator, n: int, w: int, h: int, d: float):
    """Per-frame object centre (x, y), angle (degrees), camera zoom; zoom centre and pendulum pivot (frame px)."""
    t = np.arange(n, dtype=np.float64)
    u, zoom, pivot = t / max(1, n - 1), np.ones(n), None
    cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h
    ang = np.full(n, rng.uniform(-180, 180))
    drift = rng.uniform(-0.04, 0.04, 2) * (w, h)
    x, y = cx + drift[0] * u, cy + drift[1] * u
    if label.startswith("translate"):
        travel = rng.uniform(0.35, 0.85) * (w - d)
        x0 = d / 2 + rng.uniform(0, w - d - travel)
        x = x0 + travel * u if label == "translate_right" else w - x0 - travel * u
        y = np.clip(rng.uniform(d, h - d) + rng.uniform(-0.2, 0.2) * travel * u, d, h - d)
    elif label.startswith("rotate"):
        speed = max(rng.uniform(1.2, 7.0), 60.0 / n)
        ang = ang + (-speed if label == "rotate_cw" else speed) * t
    elif label.startswith("zoom"):
        zoom = rng.uniform(1.4, 2.4) ** (u if label == "zoom_in" else 1 - u)
    elif label == "swing":
        amp_deg = rng.uniform(20, 50)
        length = rng.uniform(0.15, 0.32) * w / math.sin(math.radians(amp_deg))
        period = min(rng.uniform(16, 60), n)
        phi = np.radians(amp_deg) * np.sin(2 * math.pi * t / period + rng.uniform(0, 2 * math.pi))
        pivot = (w / 2 + rng.uniform(-0.1, 0.1) * w, rng.uniform(0.6, 0.8) * h - length)
        x, y = pivot[0] + length * np.sin(phi), pivot[1] + length * np.cos(phi)
        ang = ang * 0 + rng.choice([0.0, 90.0, 180.0]) + np.degrees(phi)
    elif label.startswith("orbit"):
        rx = rng.uniform(0.12, 0.3) * w
        ry = min(rx * rng.uniform(0.7, 1.1), 0.5 * h - d / 2)
        period = min(rng.uniform(20, 90), n * 0.9)
        theta = rng.uniform(0, 2 * math.pi) + (1 if label == "orbit_cw" else -1) * 2 * math.pi * t / period
        x, y = cx + rx * np.cos(theta), cy + ry * np.sin(theta)  # y down: increasing theta is clockwise
        if rng.random() < 0.5:
            ang = ang[0] - np.degrees(theta - theta[0])
    else:  # bounce
        height = rng.uniform(0.35, 0.7) * (h - d)
        period = min(rng.uniform(14, 45), n)
        ph = (t / period + rng.uniform(0, 1)) % 1.0
        y = h - d / 2 - rng.uniform(0, 0.1) * h - height * 4 * ph * (1 - ph)  # floor minus a parabola
    return np.broadcast_to(x, (n,)), np.broadcast_to(y, (n,)), np.broadcast_to(ang, (n,)), zoom, (cx, cy), pivot


def _distractors(rng: np.random.Generator, n: int, w: int, h: int, ww: int, wh: int) -> list:
    """0-4 other sprites, each with ``n`` world positions ``(x, y, angle)``: a random walk bouncing off the edges."""
    distractors = []
    for _ in range(int(rng.integers(0, 5))):
        sp = _sprite(str(rng.choice(KINDS)), rng, max(3, int(rng.uniform(0.08, 0.28) * min(w, h))),
                     rng.uniform(0, 255, 3).astype(np.float32), rng.uniform(0, 255, 3).astype(np.float32))
        pos, vel, sigma = rng.uniform((0, 0), (ww, wh)), rng.normal(0, 0.5, 2), rng.uniform(0.1, 0.6)
        path, a, spin = [], rng.uniform(0, 360), rng.normal(0, 2)
        for f in range(n):  # random walk of the velocity, bouncing off the world's edges
            vel = 0.9 * vel + rng.normal(0, sigma, 2)
            pos = pos + vel
            vel = np.where((pos < 0) | (pos > (ww, wh)), -vel, vel)
            pos = np.clip(pos, 0, (ww, wh))
            path.append((pos[0], pos[1], a + spin * f))
        distractors.append((sp, path))
    return distractors


def _camera_shake(rng: np.random.Generator, label: str, n: int, w: int, h: int) -> np.ndarray:
    """``(n, 2)`` pixel offsets of a hand-held camera (strong for the translations, sometimes none)."""
    shake_amp = max(0.4, min(w, h) / 120) * (rng.uniform(1.0, 3.0) if label.startswith("translate") else (
        rng.uniform(0.3, 1.0) if rng.random() < 0.3 and not label.startswith("zoom") else 0.0))
    shake = rng.normal(0, shake_amp, (n, 2))
    for f in range(1, n):  # AR(1): a jittery, slightly correlated hand-held camera
        shake[f] += 0.5 * shake[f - 1]
    return shake


def render_clip(label: str, rng: np.random.Generator, frames: int = DEFAULT_FRAMES, width: int = DEFAULT_WIDTH,
                height: int = DEFAULT_HEIGHT, backgrounds: Optional[Sequence[np.ndarray]] = None, *,
                with_mask: bool = False) -> Union[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Render one clip in memory: ``(frames, height, width, 3)`` uint8 BGR.

    With ``with_mask`` also returns the main object's visible alpha per frame (float32, same camera
    transform), so tests can check the motion really is what the label says.
    """
    if label not in CLASSES:
        raise VideorecError(f"unknown motion class {label!r}; choose one of {', '.join(CLASSES)}")
    n, w, h, margin = frames, width, height, max(6, width // 16)
    ww, wh = w + 2 * margin, h + 2 * margin  # the world: the frame plus a margin for shake and swing
    bgs = [b for b in (backgrounds or []) if b is not None and b.ndim == 3]
    bg = (_crop_background(bgs[int(rng.integers(len(bgs)))], rng, ww, wh) if bgs
          else _procedural_background(rng, ww, wh)).astype(np.float32)
    d = rng.uniform(0.16, 0.38) * min(w, h)
    x, y, ang, zoom, zc, pivot = _trajectory(label, rng, n, w, h, d)
    box = np.array([x.min(), x.max(), y.min(), y.max()]) + margin + np.array([-1, 1, -1, 1]) * d / 2
    xa, xb, ya, yb = np.clip(box, 0, (ww - 1, ww, wh - 1, wh)).astype(int)
    lum = float(bg[ya:max(yb, ya + 1), xa:max(xb, xa + 1)].mean())  # where the object will go
    fill, edge = _contrasting(rng, lum)
    main = _sprite(str(rng.choice(KINDS)), rng, max(4, int(round(d))), fill, edge)
    distractors = _distractors(rng, n, w, h, ww, wh)
    shake = _camera_shake(rng, label, n, w, h)
    zpt = np.array(zc) + rng.normal(0, 0.05, 2) * (w, h)
    gain, bias, noise = rng.uniform(0.65, 1.3), rng.uniform(-25, 25), rng.uniform(0, 10)
    string = pivot is not None and rng.random() < 0.5
    out, masks = np.empty((n, h, w, 3), np.uint8), np.empty((n, h, w), np.float32) if with_mask else None
    for f in range(n):
        world = bg.copy()
        for sp, path in distractors:
            _paste(world, sp, *path[f])
        wm = np.zeros((wh, ww), np.float32) if with_mask else None
        if string:  # the pendulum's string, from the bob to the pivot (sub-pixel ends)
            ends = [(int((px + margin) * 16), int((py + margin) * 16)) for px, py in ((x[f], y[f]), pivot)]
            cv2.line(world, ends[0], ends[1], edge.tolist(), 1, cv2.LINE_AA, 4)
        _paste(world, main, x[f] + margin, y[f] + margin, ang[f], wm)
        s = zoom[f]  # the camera maps world -> frame: zoom about zpt, then shake
        tx, ty = zpt - s * (margin + zpt) + shake[f]
        cam = np.array([[s, 0, tx], [0, s, ty]])
        img = cv2.warpAffine(world, cam, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        img = img * gain + bias + rng.standard_normal(img.shape, dtype=np.float32) * noise
        out[f] = np.clip(img, 0, 255).astype(np.uint8)
        if with_mask:
            masks[f] = cv2.warpAffine(wm, cam, (w, h), flags=cv2.INTER_LINEAR)
    return (out, masks) if with_mask else out


# --- the set ----------------------------------------------------------------------------------------
def check_options(per_class_split: Sequence[int], frames: int, width: int, height: int,
                  seed: int) -> tuple[int, int, int]:
    """Validate the generator's options; returns the split as a tuple or raises a one-line VideorecError."""
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
    split = parse_split(per_class_split, "per_class_split")
    if not is_int(frames) or frames < 8:
        raise VideorecError(f"frames must be an integer of at least 8, got {frames!r}")
    for name, v in (("width", width), ("height", height)):
        if not is_int(v) or v < 32 or v > 4096 or v % 2:
            raise VideorecError(f"{name} must be an even integer from 32 to 4096 (H.264 needs even sizes), got {v!r}")
    if not is_int(seed) or seed < 0:
        raise VideorecError(f"seed must be a non-negative integer, got {seed!r}")
    return split


def plan_clips(per_class_split: Sequence[int] = DEFAULT_SPLIT) -> list[Clip]:
    """Every clip's label, split and relative path, in class order (train first, then val, test)."""
    clips = []
    for label in CLASSES:
        names = [s for s, k in zip(SPLITS, per_class_split) for _ in range(k)]
        clips += [Clip(label, s, f"{s}/{label}/{label}_{i:03d}.mp4") for i, s in enumerate(names)]
    return clips


def generate_motion_families(root: Union[str, Path], *, per_class_split: Sequence[int] = DEFAULT_SPLIT,
                             frames: int = DEFAULT_FRAMES, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
                             seed: int = DEFAULT_SEED,
                             background_videos: Union[None, str, Path, Sequence[Union[str, Path]]] = None,
                             progress: Optional[ProgressFn] = None) -> list[Clip]:
    """Write the set under ``root`` (skipping files already there, so an interrupted run resumes).

    ``background_videos`` is a folder or a list of video files whose frames become the backgrounds;
    ``None`` (or nothing readable) uses procedural backgrounds. Each clip's pixels depend only on the
    seed, its class and index, and the background videos, not on which clips were already written.
    """
    split = check_options(per_class_split, frames, width, height, seed)
    if root is None or str(root) == "":
        raise VideorecError("root must be a folder path to write the clips into")
    if (root := Path(root)).exists() and not root.is_dir():
        raise VideorecError(f"{root} exists and is not a folder; choose another root")
    clips = plan_clips(split)
    todo = [c for c in clips if not (root / c.relpath).is_file()]
    if not todo:
        return clips
    if isinstance(background_videos, (str, Path)):
        background_videos = find_videos(background_videos)
    bgs = background_frames(background_videos, np.random.default_rng([seed, 7777])) if background_videos else []
    for done, c in enumerate(todo, 1):
        rng = np.random.default_rng([seed, CLASSES.index(c.label), int(Path(c.relpath).stem.rsplit("_", 1)[1])])
        write_h264(render_clip(c.label, rng, frames, width, height, bgs), root / c.relpath, FPS)
        report(progress, done / len(todo), f"wrote {done}/{len(todo)} motion-family clips")
    return clips
