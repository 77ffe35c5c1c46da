"""The ``videorec`` command: one sub-command per library function, no pipeline logic of its own.

Each section below belongs to one pipeline stage. Handlers import the library lazily so that
``videorec --help`` and bad flags answer instantly, without loading TensorFlow or FiftyOne.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from . import config
from .errors import VideorecError


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in _comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def _add_dataset_args(parser: argparse.ArgumentParser, required: bool = True, default=None) -> None:
    parser.add_argument("--dataset", required=required, default=default, help="FiftyOne dataset name")


# --- doctor ---------------------------------------------------------------------------------------
def _add_doctor_commands(sub) -> None:
    p = sub.add_parser("doctor", help="check that everything the project needs works here")
    p.set_defaults(handler=_cmd_doctor, uses_tensorflow=True)


def _cmd_doctor(args) -> int:
    from .doctor import run_doctor

    return 0 if run_doctor() else 1


# --- load (Data issue) ---------------------------------------------------------------------------
def _add_load_commands(sub) -> None:
    p = sub.add_parser("load", help="import videos into a FiftyOne dataset")
    load_sub = p.add_subparsers(dest="source", metavar="SOURCE", required=True)
    _add_load_ucf101(load_sub)
    _add_load_dir(load_sub)
    _add_load_synthetic(load_sub)


# --- load ucf101 (helper A1) ---
def _add_load_ucf101(load_sub) -> None:
    pass


# --- load dir / load synthetic (helper A2) ---
def _add_load_dir(load_sub) -> None:
    pass


def _add_load_synthetic(load_sub) -> None:
    pass


# --- train (Model issue) -------------------------------------------------------------------------
def _add_train_commands(sub) -> None:
    pass


# --- embed / index / similar / evaluate / map (Embeddings issue) ---------------------------------
def _add_embedding_commands(sub) -> None:
    pass


# --- report / demo (Demo issue) ------------------------------------------------------------------
def _add_demo_commands(sub) -> None:
    pass


# --- entry point ---------------------------------------------------------------------------------
SECTIONS: tuple[Callable, ...] = (
    _add_doctor_commands,
    _add_load_commands,
    _add_train_commands,
    _add_embedding_commands,
    _add_demo_commands,
)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``videorec`` argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="videorec",
        description="Content-based video recommendation for FiftyOne: load clips, train a (2+1)D "
        "ResNet, embed, index and find similar videos.",
    )
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's and FiftyOne's own logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_section in SECTIONS:
        add_section(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``videorec`` and return its exit status (2 for bad input, 1 for failed checks)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with usage on an unknown command or flag
    from .runtime import configure_fiftyone_env, import_tensorflow_quietly, quiet_tensorflow

    quiet_tensorflow(verbose=args.verbose)
    configure_fiftyone_env()
    if getattr(args, "uses_tensorflow", False) and not args.verbose:
        import_tensorflow_quietly()
    try:
        return int(args.handler(args) or 0)
    except VideorecError as exc:
        print(f"videorec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("videorec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
