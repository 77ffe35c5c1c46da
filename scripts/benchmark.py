#!/usr/bin/env python
"""Benchmarks that the README's figures come from. Not tests: they measure, and save what they saw.

    python scripts/benchmark.py train   # the tutorial's recipe vs ours, seconds/epoch and precision@5
    python scripts/benchmark.py embed   # clips/s, peak memory, recommend latency
    python scripts/benchmark.py quality # five sets x six methods: P@1, P@5, mAP@10; appearance sweeps on val
    python scripts/benchmark.py quality --keep-rows tutorial  # the tutorial rows from the committed run
    python scripts/benchmark.py scale   # 10k-1M vectors x sklearn/lancedb: index build, recommend latency, memory
    python scripts/benchmark.py moments # long videos: top-1 moment hit rate and IoU, indexing speed, search latency
    python scripts/benchmark.py duplicates  # copies vs look-alikes: copy distances, threshold, excerpts, speed
    python scripts/benchmark.py curation    # flipped labels by mistakenness, copies by uniqueness, ImageNet tags
    python scripts/benchmark.py all
    python scripts/benchmark.py candidates --vary frame_step=3  # a changed default on the validation splits

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

import bench_candidates  # noqa: E402  (its argument parsers; heavy imports wait until a run)
import quality_report  # noqa: E402

BENCHMARKS = {"train": "bench_train", "embed": "bench_embed", "quality": "bench_quality", "scale": "bench_scale",
              "moments": "bench_moments", "candidates": "bench_candidates",
              "duplicates": "bench_duplicates", "curation": "bench_curation"}
NOT_IN_ALL = {"candidates"}  # a tool for choosing the default, not a figure the README quotes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--out", default=str(SCRIPTS.parent / "benchmarks"), help="folder for .md/.json")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    parser.add_argument("--same-epochs", type=int, default=10, metavar="N",
                        help="train: epochs for the tutorial-vs-fast precision comparison (default 10)")
    parser.add_argument("--preset", help="quality: the preset measured as the default (default: the default preset)")
    parser.add_argument("--keep-rows", type=quality_report.parse_keep, metavar="METHOD",
                        help="quality: copy this method's rows from the committed benchmarks/quality.json instead of "
                             "measuring them (only tutorial: its network and training are unchanged)")
    parser.add_argument("--time-limit", type=float, metavar="SECONDS",
                        help="moments: training time limit of the benchmark's model (default 300); quality: of the "
                             "default's training (default: the preset's; raise it on a shared machine, so that "
                             "the epochs, not the load, decide the model)")
    parser.add_argument("--vary", action="append", type=bench_candidates.parse_variant, metavar="FIELD=VALUE[,FIELD=VALUE]",
                        help="candidates: one candidate, the default preset with these fields changed (repeat for more)")
    parser.add_argument("--sets", type=bench_candidates.parse_sets, metavar="SET[,SET]",
                        help="candidates: which quality sets (default: all with a training split)")
    parser.add_argument("--seeds", type=bench_candidates.parse_seeds, metavar="N[,N]",
                        help="candidates: training seeds, each a separate run (default: the training default)")
    args = parser.parse_args(argv)
    names = [n for n in BENCHMARKS if n not in NOT_IN_ALL] if args.name == "all" else [args.name]
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        options = {"train": {"same_epoch_count": args.same_epochs},
                   "quality": {"preset": args.preset, "keep_rows": args.keep_rows, "time_limit": args.time_limit},
                   "moments": {"time_limit": args.time_limit or 300.0},
                   "curation": {"time_limit": args.time_limit},
                   "candidates": {"variants": args.vary, "sets": args.sets, "seeds": args.seeds}}.get(name, {})
        module.run(out_dir=Path(args.out), quick=args.quick, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
