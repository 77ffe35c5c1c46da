"""Files that hold far fewer frames than their container declares: truncated downloads and copies.

A cut-off AVI still opens and decodes its first frames, so it imports as a short clip without
complaint. ``ffprobe -count_packets`` reads every packet header (no decoding) and compares the
count with the frame count the container declares; a file well short of it is named and the
reason recorded on its sample.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Optional

SHORTFALL = 0.9  # fewer readable frames than this fraction of the declared count is "truncated"


def frame_shortfall(path) -> Optional[str]:
    """Return ``"truncated: N of M frames readable"`` for a file well short of its declared frames, else None.

    None also when the container declares no frame count (then nothing can be compared) or
    ffprobe is missing.
    """
    if not shutil.which("ffprobe"):
        return None
    proc = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0", "-show_entries",
                           "stream=nb_frames,nb_read_packets", "-of", "json", str(Path(path))],
                          capture_output=True, text=True)
    try:
        stream = (json.loads(proc.stdout).get("streams") or [{}])[0]
        declared, readable = int(stream.get("nb_frames", 0)), int(stream.get("nb_read_packets", 0))
    except (ValueError, TypeError):
        return None
    if declared > 1 and readable < SHORTFALL * declared:
        return f"truncated: {readable} of {declared} frames readable"
    return None


def frame_shortfalls(paths: Iterable, workers: int = 4) -> dict[str, str]:
    """Return ``{path: reason}`` for the truncated files among ``paths`` (probed in parallel)."""
    paths = [str(p) for p in paths]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reasons = pool.map(frame_shortfall, paths)
    return {path: reason for path, reason in zip(paths, reasons) if reason}
