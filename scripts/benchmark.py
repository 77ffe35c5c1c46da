#!/usr/bin/env python
"""Benchmarks that the README's figures come from. Not tests: they measure, and save what they saw.

    python scripts/benchmark.py train   # seed's recipe vs ours, seconds/epoch and precision@5
    python scripts/benchmark.py embed   # clips/s, peak memory, recommend latency
    python scripts/benchmark.py quality # five sets x four methods: P@1, P@5, mAP@10
    python scripts/benchmark.py scale   # 10k-1M vectors x sklearn/lancedb: index build, recommend latency, memory
    python scripts/benchmark.py moments # long videos: top-1 moment hit rate and IoU, indexing speed, search latency
    python scripts/benchmark.py all

Each writes ``benchmarks/<name>.md`` and ``benchmarks/<name>.json``; only ratios measured in one
run mean anything on shared machines.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

BENCHMARKS = {"train": "bench_train", "embed": "bench_embed", "quality": "bench_quality", "scale": "bench_scale",
              "moments": "bench_moments"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--out", default=str(SCRIPTS.parent / "benchmarks"), help="folder for .md/.json")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    parser.add_argument("--same-epochs", type=int, default=10, metavar="N",
                        help="train: epochs for the tutorial-vs-fast precision comparison (default 10)")
    parser.add_argument("--preset", help="quality: the preset measured as the default (default: the default preset)")
    parser.add_argument("--time-limit", type=float, default=300.0, metavar="SECONDS",
                        help="moments: training time limit of the benchmark's model (default 300)")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        options = {"train": {"same_epoch_count": args.same_epochs}, "quality": {"preset": args.preset},
                   "moments": {"time_limit": args.time_limit}}.get(name, {})
        module.run(out_dir=Path(args.out), quick=args.quick, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
