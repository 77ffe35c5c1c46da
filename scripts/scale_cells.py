#!/usr/bin/env python
"""The scale benchmark's child processes: each job runs in a fresh process that ``bench_scale.py`` starts.

    scale_cells.py --create N INFO_JSON QUERIES   # the N-sample dataset, its queries and their exact top-k
    scale_cells.py --cell N BACKEND INFO_JSON OUT_JSON  # index on BACKEND, time recommend and the Brain's search
    scale_cells.py --drop                         # delete every benchmark dataset

A fresh process per job, so that one cell's memory cannot leak into the next one's peak. The
database is the private one whose address ``bench_scale.py`` puts in the environment.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from bench_embed import peak_rss_kb

DIM, CLUSTERS, SPREAD = 128, 1_000, 0.5  # centres ~ N(0, 1); points = centre + SPREAD * N(0, 1)
K, WARMUPS, QUERIES, RECALL_QUERIES = 10, 5, 200, 20
ADD_BATCH = 10_000
# A timed loop stops early (after at least RECALL_QUERIES / 5 queries) once it has run this long,
# so an O(N)-per-query path at 1M still fits in one cell; the json says how many queries ran.
RECOMMEND_BUDGET_S, SORT_BUDGET_S = 240, 120
FIELD, BRAIN_KEY, PREFIX = "embedding", "bench_scale", "bench-scale-"
# LanceDB writes a table per query in some paths; a loop stops before the shared disk fills up.
MIN_FREE_DISK_GB = 10


def clustered_vectors(n: int, seed: int = 0) -> np.ndarray:
    """Return ``n`` float32 vectors of DIM dimensions drawn around min(CLUSTERS, n) Gaussian centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((min(CLUSTERS, n), DIM), dtype=np.float32)
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    vectors *= SPREAD
    vectors += centres[rng.integers(0, len(centres), n)]
    return vectors


def _exact_top_k(vectors: np.ndarray, rows: np.ndarray, k: int) -> list[list[int]]:
    """Row indices of the ``k`` vectors most cosine-similar to each of ``rows``, the row itself left out."""
    norms = np.linalg.norm(vectors, axis=1)
    out = []
    for row in rows:
        sims = vectors @ vectors[row] / (norms * norms[row])
        sims[row] = -np.inf
        top = np.argpartition(-sims, k)[:k]
        out.append(top[np.argsort(-sims[top])].tolist())
    return out


def create(n: int, info_path: Path, queries: int = QUERIES) -> None:
    """Child process: create the N-sample dataset, choose ``queries`` queries, write their exact top-k."""
    import fiftyone as fo

    drop_datasets()  # the previous size's, so the database holds one size at a time
    name = f"{PREFIX}{n}"
    vectors = clustered_vectors(n)
    started = time.perf_counter()
    dataset = fo.Dataset(name, persistent=True)  # persistent: the next process must still find it
    ids = []
    for start in range(0, n, ADD_BATCH):
        batch = [fo.Sample(filepath=f"/bench-scale/{i}.mp4", **{FIELD: vectors[i]})
                 for i in range(start, min(start + ADD_BATCH, n))]
        ids += dataset.add_samples(batch, progress=False)
    create_s = time.perf_counter() - started
    rows = np.random.default_rng(1).choice(n, size=min(WARMUPS + queries, n), replace=False)
    exact = _exact_top_k(vectors, rows[WARMUPS:WARMUPS + RECALL_QUERIES], K)
    info = {"dataset": name, "n": n, "create_s": round(create_s, 2), "create_peak_rss_mb": round(peak_rss_kb() / 1024),
            "warmup_ids": [ids[i] for i in rows[:WARMUPS]], "query_ids": [ids[i] for i in rows[WARMUPS:]],
            "exact_top_k": [[ids[i] for i in top] for top in exact]}
    info_path.write_text(json.dumps(info))


def _ms(seconds: list[float], q: float) -> float:
    return round(1000 * float(np.percentile(seconds, q)), 2)


def _timed_loop(fn, ids: list[str], budget_s: float, minimum: int) -> tuple[list[float], list]:
    """Call ``fn(id)`` for each id until done or past ``budget_s`` (after ``minimum`` calls); times and results."""
    times, results, started = [], [], time.perf_counter()
    for sid in ids:
        t = time.perf_counter()
        results.append(fn(sid))
        times.append(time.perf_counter() - t)
        if len(times) >= minimum and (time.perf_counter() - started > budget_s or _low_disk()):
            break
    return times, results


def _low_disk() -> bool:
    """True when the disk under VIDEOREC_HOME has less than MIN_FREE_DISK_GB free."""
    from fiftyone_videorec import config

    return shutil.disk_usage(config.home_dir()).free < MIN_FREE_DISK_GB * 2**30


def cell(n: int, backend: str, info_path: Path, out_path: Path) -> None:
    """Child process: index the N-sample dataset on ``backend`` and time queries; write as it goes,
    so a cell stopped at the time limit still reports what it got to."""
    import fiftyone as fo

    from fiftyone_videorec.runtime import connect_database
    from fiftyone_videorec.search.similarity import build_index, recommend

    connect_database()
    info = json.loads(info_path.read_text())
    dataset = fo.load_dataset(info["dataset"])
    result = {"n": n, "backend": backend, "rss_before_build_mb": round(peak_rss_kb() / 1024),
              "similarity_py_sha1": _similarity_sha1()}

    def save(**found):
        result.update(found)
        out_path.write_text(json.dumps(result))

    started = time.perf_counter()
    build_index(dataset, FIELD, BRAIN_KEY, backend=backend)
    save(build_s=round(time.perf_counter() - started, 2), peak_rss_after_build_mb=round(peak_rss_kb() / 1024))

    query_ids = info["query_ids"]
    started = time.perf_counter()  # the first query loads the index into this process
    recommend(dataset, info["warmup_ids"][0], k=K, brain_key=BRAIN_KEY)
    save(first_recommend_s=round(time.perf_counter() - started, 2))
    for sid in info["warmup_ids"][1:]:
        recommend(dataset, sid, k=K, brain_key=BRAIN_KEY)
    times, found = _timed_loop(lambda sid: [r.sample_id for r in recommend(dataset, sid, k=K, brain_key=BRAIN_KEY)],
                               query_ids, RECOMMEND_BUDGET_S, minimum=RECALL_QUERIES)
    overlaps = [len(set(got) & set(want)) / K for got, want in zip(found, info["exact_top_k"])]
    save(recommend_queries=len(times), recommend_p50_ms=_ms(times, q=50), recommend_p99_ms=_ms(times, q=99),
         recall_at_10=round(float(np.mean(overlaps)), 4), recall_queries=len(overlaps),
         peak_rss_after_recommend_mb=round(peak_rss_kb() / 1024))

    dataset.sort_by_similarity(info["warmup_ids"][0], k=K, brain_key=BRAIN_KEY).values("id")
    times, _ = _timed_loop(lambda sid: dataset.sort_by_similarity(sid, k=K, brain_key=BRAIN_KEY).values("id"),
                           query_ids, SORT_BUDGET_S, minimum=5)
    save(sort_by_similarity_queries=len(times), sort_by_similarity_p50_ms=_ms(times, q=50))

    # The Brain index's own k-NN on a query vector, without the dataset/view layer around it:
    # what the backend itself costs, to tell it apart from what wraps it.
    results = dataset.load_brain_results(BRAIN_KEY)
    vectors = [np.asarray(v) for v in dataset.select(query_ids[:RECALL_QUERIES], ordered=True).values(FIELD)]
    times, _ = _timed_loop(lambda v: results._kneighbors(query=v, k=K), vectors, SORT_BUDGET_S, minimum=5)
    save(index_knn_p50_ms=_ms(times, q=50), peak_rss_mb=round(peak_rss_kb() / 1024), low_disk=_low_disk())


def drop_datasets() -> None:
    """Delete every benchmark dataset (and its Brain runs) from the private database."""
    import fiftyone as fo

    from fiftyone_videorec.runtime import connect_database

    connect_database()
    for name in fo.list_datasets():
        if name.startswith(PREFIX):
            fo.delete_dataset(name)


def _similarity_sha1() -> str:
    """sha1 of the similarity.py this process runs (others may edit the library while the benchmark runs)."""
    import hashlib

    import fiftyone_videorec.search.similarity as similarity

    return hashlib.sha1(Path(similarity.__file__).read_bytes()).hexdigest()


def main(argv=None) -> int:
    """Entry point of the child processes that ``bench_scale.run`` starts (one job each)."""
    parser = argparse.ArgumentParser(description="one step of the scale benchmark (started by bench_scale.py)")
    job = parser.add_mutually_exclusive_group(required=True)
    job.add_argument("--create", nargs=3, metavar=("N", "INFO_JSON", "QUERIES"))
    job.add_argument("--cell", nargs=4, metavar=("N", "BACKEND", "INFO_JSON", "OUT_JSON"))
    job.add_argument("--drop", action="store_true")
    args = parser.parse_args(argv)
    if args.create:
        create(int(args.create[0]), Path(args.create[1]), int(args.create[2]))
    elif args.cell:
        cell(int(args.cell[0]), args.cell[1], Path(args.cell[2]), Path(args.cell[3]))
    else:
        drop_datasets()
    return 0


if __name__ == "__main__":
    sys.exit(main())
