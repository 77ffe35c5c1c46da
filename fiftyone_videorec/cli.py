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
    p = load_sub.add_parser("ucf101", help="fetch a seeded UCF101 subset over HTTP Range and import it")
    p.add_argument("--url", default=config.UCF101_URL, metavar="URL|ZIP",
                   help="URL or local path of UCF101_videos.zip")
    p.add_argument("--classes", metavar="A,B,...", help="comma-separated class names (default: the first --num-classes, sorted)")
    p.add_argument("--num-classes", type=int, metavar="N", help=f"how many classes (default {config.UCF101_NUM_CLASSES})")
    p.add_argument("--per-class", type=int, metavar="N",
                   help=f"clips per class (default {config.UCF101_PER_CLASS}, or the sum of --split)")
    p.add_argument("--split", metavar="TRAIN,VAL,TEST", help="train,val,test clips per class (default 30,10,10, scaled to --per-class)")
    p.add_argument("--split-by", choices=("group", "clip"), default=config.UCF101_SPLIT_BY,
                   help="group: no gXX group in two splits (default); clip: plain random split")
    p.add_argument("--seed", type=int, default=config.DEFAULT_SEED, metavar="S",
                   help="the same seed gives the same clips")
    p.add_argument("--root", metavar="DIR", help="download folder (default: VIDEOREC_HOME/data/ucf101)")
    p.add_argument("--no-reencode", action="store_true", help="import the AVI files without making H.264 MP4s")
    _add_dataset_args(p, required=False, default=config.UCF101_DATASET)
    p.add_argument("--overwrite", action="store_true", help="replace the dataset if it exists")
    p.set_defaults(handler=_cmd_load_ucf101)


def _cmd_load_ucf101(args) -> int:
    from .data.ucf101 import load_ucf101

    if args.classes is not None and args.num_classes is not None:
        raise VideorecError("give --classes or --num-classes, not both")
    dataset = load_ucf101(args.dataset, url=args.url, classes=args.classes,
                          num_classes=args.num_classes or config.UCF101_NUM_CLASSES, per_class=args.per_class,
                          split=args.split, split_by=args.split_by, seed=args.seed, root=args.root,
                          reencode=not args.no_reencode, overwrite=args.overwrite)
    tags = dataset.count_sample_tags()
    print(f"dataset '{dataset.name}': {len(dataset)} clips ("
          + ", ".join(f"{tag} {tags.get(tag, 0)}" for tag in config.SPLITS)
          + f"), files in {dataset.info['ucf101']['root']}")
    return 0


# --- load dir / load synthetic (helper A2) ---
def _add_load_dir(load_sub) -> None:
    pass


def _add_load_synthetic(load_sub) -> None:
    pass


# --- train (Model issue) -------------------------------------------------------------------------
def _add_train_commands(sub) -> None:
    from . import config

    p = sub.add_parser("train", help="train the (2+1)D ResNet on a dataset's train/val/test tags")
    _add_dataset_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the model, metadata and plots")
    p.add_argument("--preset", default=config.DEFAULT_PRESET, choices=["fast", "tutorial", "tiny"],
                   help="network size and frame sampling (default: %(default)s)")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs (default: the preset's)")
    p.add_argument("--batch-size", type=int, metavar="N", help="clips per batch (default: the preset's)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--seed", type=int, default=config.DEFAULT_SEED, metavar="S")
    p.add_argument("--train-tag", default=config.TRAIN_TAG, metavar="TAG")
    p.add_argument("--val-tag", default=config.VAL_TAG, metavar="TAG")
    p.add_argument("--test-tag", default=config.TEST_TAG, metavar="TAG")
    p.set_defaults(handler=_cmd_train, uses_tensorflow=True)


def _cmd_train(args) -> int:
    from .training import train

    result = train(args.dataset, args.out, preset=args.preset, epochs=args.epochs, batch_size=args.batch_size,
                   resume=args.resume, seed=args.seed, train_tag=args.train_tag, val_tag=args.val_tag,
                   test_tag=args.test_tag)
    meta = result.metadata
    for path, reason in result.skipped.items():
        print(f"skipped {path}: {reason}")
    metrics = " ".join(f"{k} {v:.3f}" for k, v in meta["metrics"].items())
    print(f"trained {meta['preset']} for {meta['epochs_trained']} epochs in {meta['train_seconds']:.0f} s "
          f"({meta['seconds_per_epoch']:.1f} s/epoch): {metrics}")
    print(f"model: {result.out_dir}")
    return 0


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
