"""Copy descriptors of videos and the temporally aligned score that says whether two are copies.

A video's copy descriptor is one unit vector per sampled frame (``DUPLICATE_SAMPLES_PER_SECOND``):
black bars (letterbox, pillarbox) are cut off, the picture is resized to a square, and the frozen
ImageNet Lite0's last block (320 channels, a 5x5 grid at 160 px) is max-pooled over the whole
frame and four overlapping corner regions, which are summed (R-MAC). Region pooling keeps a
cropped or captioned copy close to its original, where the network's averaged vector and an 8x8
thumbnail drift (``benchmarks/duplicates.md``).

Two videos are compared frame by frame: each frame's best match in the other video, averaged
(chamfer similarity), both ways and from the shorter into the longer, whichever is higher; a
trimmed excerpt thus scores as high as a full copy. Where the shorter lies in the longer is the
time offset whose aligned frames carry the most evidence. Only each video's ``k`` nearest
neighbours by its mean descriptor are scored, so the cost grows with ``k * n``, not ``n ** 2``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .. import config
from ..vectors import l2_normalize

DECODE_SIZE = 256  # frames are letterboxed to this square before the bars are found
DARK_LEVEL = 24  # a row or column never brighter than this in any frame of a chunk is a black bar
MAX_BAR_SHARE = 0.4  # bars never take more than this share of a side
CHUNK = 64  # frames decoded, cropped and described together (memory stays flat on long videos)
FEATURE_LAYER = "block15_project_bn"
DESCRIPTOR_VERSION = 1  # bump when the recipe changes: stored descriptors are computed again


def descriptor_fingerprint(image_size: int = config.DUPLICATE_IMAGE_SIZE,
                           rate: float = config.DUPLICATE_SAMPLES_PER_SECOND) -> str:
    """Return the id of the descriptor recipe (weights, layer, size, rate): a changed one computes again."""
    from ..network.backbone import backbone_fingerprint

    key = f"{backbone_fingerprint()}|{FEATURE_LAYER}|{image_size}|{rate}|{DECODE_SIZE}|{DESCRIPTOR_VERSION}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def sampled_frames(path, rate: float = config.DUPLICATE_SAMPLES_PER_SECOND) -> Iterator[np.ndarray]:
    """Yield a video's frames at ``rate`` per second (frame ``i`` at ``i / rate`` s), letterboxed RGB.

    One forward pass; a video slower than ``rate`` repeats frames so that the timing holds.
    Raises ``DecodeError`` when the file cannot be opened.
    """
    import cv2

    from ..frames import DecodeError, letterbox, probe

    _, fps = probe(path)  # a one-line DecodeError for a missing or unreadable file
    step = (fps or 25.0) / rate
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DecodeError(path, "OpenCV cannot open it")
    index, sample, frame = -1, 0, None
    try:
        while True:
            target = int(np.floor(sample * step + 1e-6))
            while index < target:
                ok, raw = cap.read() if index == target - 1 else (cap.grab(), None)
                if not ok:
                    return
                index += 1
                if raw is not None:
                    frame = letterbox(raw, DECODE_SIZE)
            yield frame
            sample += 1
    finally:
        cap.release()


def content_box(frames: np.ndarray) -> tuple[int, int, int, int]:
    """Return ``(top, bottom, left, right)`` of the picture inside black bars, over all ``frames``."""
    brightest = frames.max(axis=(0, 3))  # (H, W): the brightest channel of any frame
    height, width = brightest.shape
    rows = np.flatnonzero(brightest.max(axis=1) > DARK_LEVEL)
    cols = np.flatnonzero(brightest.max(axis=0) > DARK_LEVEL)
    if not len(rows) or not len(cols):
        return 0, height, 0, width
    cap_h, cap_w = int(MAX_BAR_SHARE * height), int(MAX_BAR_SHARE * width)
    return (min(rows[0], cap_h), max(rows[-1] + 1, height - cap_h),
            min(cols[0], cap_w), max(cols[-1] + 1, width - cap_w))


def regional_max(maps: np.ndarray) -> np.ndarray:
    """Return ``(B, C)`` R-MAC vectors of ``(B, H, W, C)`` maps: unit max over the frame plus four corners."""
    maps = np.asarray(maps, np.float32)
    _, height, width, _ = maps.shape
    h, w = max(1, int(np.ceil(0.6 * height))), max(1, int(np.ceil(0.6 * width)))
    regions = [maps.max(axis=(1, 2))]
    regions += [maps[:, y:y + h, x:x + w].max(axis=(1, 2)) for y in (0, height - h) for x in (0, width - w)]
    return l2_normalize(sum(l2_normalize(r) for r in regions))


class CopyDescriber:
    """Turns video files into copy descriptors ``(frames, 320)`` float16, loading the network once."""

    def __init__(self, image_size: int = config.DUPLICATE_IMAGE_SIZE,
                 rate: float = config.DUPLICATE_SAMPLES_PER_SECOND):
        self.image_size, self.rate = int(image_size), float(rate)
        self._network = None

    def describe_frames(self, frames: np.ndarray) -> np.ndarray:
        """Return the unit descriptors of ``(n, H, W, 3)`` letterboxed RGB frames of one video stretch."""
        import cv2

        if self._network is None:
            from ..network.backbone import load_feature_map

            self._network = load_feature_map(self.image_size, FEATURE_LAYER)
        top, bottom, left, right = content_box(frames)
        size = (self.image_size, self.image_size)
        pictures = np.stack([cv2.resize(f[top:bottom, left:right], size, interpolation=cv2.INTER_AREA)
                             for f in frames])
        maps = self._network(np.asarray(pictures, np.float32), training=False)
        return regional_max(np.asarray(maps)).astype(np.float16)

    def describe(self, path) -> np.ndarray:
        """Return the descriptors of the video at ``path``, one row per ``1 / rate`` seconds."""
        from ..frames import DecodeError

        rows, chunk = [], []
        for frame in sampled_frames(path, self.rate):
            chunk.append(frame)
            if len(chunk) == CHUNK:
                rows.append(self.describe_frames(np.stack(chunk)))
                chunk = []
        if chunk:
            rows.append(self.describe_frames(np.stack(chunk)))
        if not rows:
            raise DecodeError(path, "no frame could be decoded")
        return np.concatenate(rows)


# --- scoring pairs -----------------------------------------------------------------------------------
SIMILARITY_ROWS = 2048  # rows of a frame-similarity matrix held at once: hour-long pairs stay small


def _similarity_blocks(a: np.ndarray, b: np.ndarray):
    """Yield ``(first row, a[rows] @ b.T)`` over ``a`` in blocks of ``SIMILARITY_ROWS`` rows."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    for start in range(0, len(a), SIMILARITY_ROWS):
        yield start, a[start:start + SIMILARITY_ROWS] @ b.T


def copy_score(a: np.ndarray, b: np.ndarray) -> float:
    """Return the copy similarity of two descriptors: the higher of the symmetric chamfer similarity and
    the one-way chamfer similarity from the shorter into the longer (1: the same frames)."""
    row_best, col_best = np.empty(len(a), np.float32), np.full(len(b), -np.inf, np.float32)
    for start, sim in _similarity_blocks(a, b):
        row_best[start:start + len(sim)] = sim.max(axis=1)
        np.maximum(col_best, sim.max(axis=0), out=col_best)
    a_in_b, b_in_a = float(row_best.mean()), float(col_best.mean())
    one_way = a_in_b if len(a) <= len(b) else b_in_a
    return max((a_in_b + b_in_a) / 2, one_way)


@dataclass(frozen=True)
class Alignment:
    """Where a query video lies in a reference video: seconds of the reference, and the pair's score."""

    score: float
    start: float
    end: float


def align(query: np.ndarray, reference: np.ndarray, threshold: float = config.DUPLICATE_THRESHOLD,
          rate: float = config.DUPLICATE_SAMPLES_PER_SECOND) -> Alignment:
    """Return the pair's copy score and the stretch of ``reference`` the ``query`` covers.

    Each time offset is weighed by the evidence of its aligned frames, ``sum(similarity - (1 -
    threshold))``: a long stretch of good matches beats a short one of slightly better matches.
    """
    n, m = len(query), len(reference)
    evidence = np.zeros(n + m - 1, np.float32)  # index d: reference frame j = query frame i + d - (n - 1)
    for start, sim in _similarity_blocks(query, reference):
        for i, row in enumerate(sim, start):
            evidence[n - 1 - i:n - 1 - i + m] += row - (1.0 - threshold)
    offset = int(np.argmax(evidence)) - (n - 1)
    first, last = max(0, offset), min(m, n + offset)
    return Alignment(copy_score(query, reference), round(first / rate, 2), round(last / rate, 2))


def mean_vectors(descriptors: list[np.ndarray]) -> np.ndarray:
    """Return one unit vector per video, the mean of its frame descriptors: what candidates come from."""
    return l2_normalize(np.stack([np.asarray(d, np.float32).mean(axis=0) for d in descriptors]))


def candidate_pairs(vectors: np.ndarray, k: int = config.DUPLICATE_CANDIDATES, block: int = 256) -> np.ndarray:
    """Return ``(pairs, 2)`` index pairs ``i < j`` where one is among the other's ``k`` nearest by cosine.

    Computed ``block`` rows at a time, so memory stays at ``block * n`` similarities.
    """
    n = len(vectors)
    k = min(k, n - 1)
    if k < 1:
        return np.zeros((0, 2), np.int64)
    vectors = np.asarray(vectors, np.float32)
    found = []
    for start in range(0, n, block):
        sim = vectors[start:start + block] @ vectors.T
        rows = np.arange(start, min(start + block, n))
        sim[rows - start, rows] = -np.inf  # never its own neighbour
        nearest = np.argpartition(sim, -k, axis=1)[:, -k:]
        found.append(np.stack([np.repeat(rows, k), nearest.ravel()], axis=1))
    pairs = np.sort(np.concatenate(found), axis=1)
    return np.unique(pairs, axis=0)


def copy_pairs(descriptors: list[np.ndarray], threshold: float = config.DUPLICATE_THRESHOLD,
               k: int = config.DUPLICATE_CANDIDATES) -> list[tuple[int, int, float]]:
    """Return ``(i, j, distance)`` of every candidate pair whose distance ``1 - copy_score`` is below ``threshold``."""
    found = []
    for i, j in candidate_pairs(mean_vectors(descriptors), k=k):
        distance = 1.0 - copy_score(descriptors[i], descriptors[j])
        if distance < threshold:
            found.append((int(i), int(j), distance))
    return found


def connected_groups(n: int, pairs) -> list[list[int]]:
    """Return the groups of two or more of ``n`` items joined by ``pairs`` (union-find), each sorted."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, *_ in pairs:
        parent[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(root(i), []).append(i)
    return sorted((group for group in members.values() if len(group) > 1), key=lambda g: g[0])


@dataclass(frozen=True)
class CopyGroup:
    """Videos that are copies of one another, as indices: the longest first, the rest nearest first."""

    members: list[int]
    distances: list[float]  # copy distance of each member to the first (0 for the first)
    spans: list[list[float]]  # seconds [start, end] of the first that each member covers


def group_copies(descriptors: list[np.ndarray], threshold: float = config.DUPLICATE_THRESHOLD,
                 k: int = config.DUPLICATE_CANDIDATES) -> list[CopyGroup]:
    """Return every group of copies among ``descriptors``, in the order of each group's first member.

    float32 descriptors are scored as they are (float16 ones are converted once: scoring them is
    2.5 times slower).
    """
    descriptors = [np.asarray(d, np.float32) for d in descriptors]
    groups = []
    for members in connected_groups(len(descriptors), copy_pairs(descriptors, threshold=threshold, k=k)):
        kept = max(members, key=lambda i: (len(descriptors[i]), -i))
        matches = {i: align(descriptors[i], descriptors[kept], threshold=threshold) for i in members if i != kept}
        others = sorted(matches, key=lambda i: (-matches[i].score, i))
        duration = round(len(descriptors[kept]) / config.DUPLICATE_SAMPLES_PER_SECOND, 2)
        groups.append(CopyGroup([kept, *others], [0.0] + [1.0 - matches[i].score for i in others],
                                [[0.0, duration]] + [[matches[i].start, matches[i].end] for i in others]))
    return sorted(groups, key=lambda group: group.members[0])
