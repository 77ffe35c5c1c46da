"""Arguments and helpers shared by every ``videorec`` sub-command module."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from typing import Iterator, TextIO

from ..errors import VideorecError


def k_values(text: str) -> list[int]:
    """Parse ``--k 1,5,10`` for argparse (its error becomes argparse's usage message)."""
    from ..evaluation import parse_k_values

    try:
        return list(parse_k_values(text))
    except VideorecError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_dataset_args(parser: argparse.ArgumentParser, required: bool = True, default=None) -> None:
    """Add ``--dataset``, the FiftyOne dataset a command works on."""
    parser.add_argument("--dataset", required=required, default=default, help="FiftyOne dataset name")


def add_model_run_args(parser: argparse.ArgumentParser, verb: str, doing: str, done: str) -> None:
    """Add the options ``embed`` and ``predict`` share: batch size, clips, ``--force`` and delegated shards.

    ``verb``/``doing`` name the work ("embed"/"embedding"), ``done`` what a finished sample has ("a vector").
    """
    parser.add_argument("--batch-size", type=int, metavar="N")
    parser.add_argument("--clips", type=int, metavar="N", help="clips averaged per video")
    parser.add_argument("--force", action="store_true",
                        help=f"{verb} every sample, also those that have {done} from this model and settings")
    parser.add_argument("--shards", type=int, metavar="N",
                        help="queue N delegated jobs over disjoint slices of what is left, for 'fiftyone delegated "
                             f"launch' workers sharing this database (instead of {doing} here)")
    parser.add_argument("--stale-after", type=float, default=600.0, metavar="SECONDS",
                        help="with --shards: a running shard silent this long is taken as dead and queued again")


def print_shard_plans(plans: list, already: int, dataset_name: str, verb: str, past: str) -> None:
    """Print what ``--shards`` queued: one line per shard and how to start the workers."""
    print(f"{already} already {past}, {sum(plan.to_embed for plan in plans)} to {verb} in {len(plans)} shards")
    for plan in plans:
        job = f" (job {plan.operation_id})" if plan.operation_id else ""
        print(f"shard {plan.shard + 1}/{len(plans)}: {plan.to_embed} clips, {plan.note}{job}")
    if any(plan.note == "queued" for plan in plans):
        print(f"run 'fiftyone delegated launch' on each worker machine; 'videorec jobs --dataset {dataset_name}' "
              "shows progress")


def open_dataset(name: str):
    """Return the FiftyOne dataset ``name`` (one-line error if there is none)."""
    from ..runtime import open_dataset as _open

    return _open(name)


def print_progress(min_interval_s: float = 5.0):
    """Return a progress callback printing its first line, then at most one line per interval."""
    import time

    last = [None]

    def progress(fraction: float, label: str) -> None:
        now = time.monotonic()
        if last[0] is None or now - last[0] >= min_interval_s or fraction >= 1.0:
            print(f"{100 * fraction:5.1f}%  {label}" if last[0] is not None else label, flush=True)
            last[0] = now

    return progress


def print_skipped(failed: dict) -> None:
    """Print one line per sample a command could not process: ``skipped ID: reason``."""
    for sample_id, reason in failed.items():
        print(f"skipped {sample_id}: {reason}")


@contextlib.contextmanager
def stdout_for_json(enabled: bool) -> Iterator[TextIO]:
    """Yield the stream a command writes its JSON to; while ``enabled``, all else printed goes to stderr.

    Libraries print on stdout (the FiftyOne Brain's "Computing ..." lines, progress, a database
    service started here, which inherits file descriptor 1). With ``--json`` stdout must hold the
    JSON alone, so until the command ends Python's stdout and descriptor 1 both point at stderr,
    and the JSON, kept aside, is written last.
    """
    if not enabled:
        yield sys.stdout
        return
    kept = io.StringIO()
    sys.stdout.flush()
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no descriptor 1 or 2 to point (a closed stream): Python's stdout alone
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield kept
    finally:
        if saved is not None:
            if sys.__stdout__ is not None:
                sys.__stdout__.flush()  # what went through the original object lands on stderr too
            os.dup2(saved, 1)
            os.close(saved)
        sys.stdout.write(kept.getvalue())
        sys.stdout.flush()


def print_json(args: argparse.Namespace, payload) -> None:
    """Print ``payload`` as one line of JSON where :func:`stdout_for_json` keeps it."""
    import json

    print(json.dumps(payload), file=getattr(args, "json_out", None) or sys.stdout)
