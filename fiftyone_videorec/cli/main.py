"""The ``videorec`` command: one sub-command per library function, no pipeline logic of its own.

Each section below belongs to one pipeline stage (the embeddings stage lives in ``embeddings``,
shared arguments in ``common``). Handlers import the library lazily so that
``videorec --help`` and bad flags answer instantly, without loading TensorFlow or FiftyOne.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from .. import config
from .common import add_dataset_args as _add_dataset_args
from .common import k_values as _k_values
from .common import open_dataset
from .common import stdout_for_json
from .curation import add_curation_commands as _add_curation_commands
from .duplicates import add_duplicates_commands as _add_duplicates_commands
from .embeddings import add_embedding_commands as _add_embedding_commands
from .moments import add_moments_commands as _add_moments_commands
from ..errors import VideorecError


# --- doctor ---------------------------------------------------------------------------------------
def _add_doctor_commands(sub) -> None:
    p = sub.add_parser("doctor", help="check that everything the project needs works here")
    p.set_defaults(handler=_cmd_doctor, uses_tensorflow=True)


def _cmd_doctor(args) -> int:
    from ..doctor import run_doctor

    return 0 if run_doctor() else 1


# --- load ---------------------------------------------------------------------------
def _add_load_commands(sub) -> None:
    p = sub.add_parser("load", help="import videos into a FiftyOne dataset")
    load_sub = p.add_subparsers(dest="source", metavar="SOURCE", required=True)
    _add_load_ucf101(load_sub)
    _add_load_dir(load_sub)
    _add_load_synthetic(load_sub)


# --- load ucf101 ---
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
    from ..data.ucf101 import load_ucf101

    if args.classes is not None and args.num_classes is not None:
        raise VideorecError("give --classes or --num-classes, not both")
    dataset = load_ucf101(args.dataset, url=args.url, classes=args.classes,
                          num_classes=args.num_classes or config.UCF101_NUM_CLASSES, per_class=args.per_class,
                          split=args.split, split_by=args.split_by, seed=args.seed, root=args.root,
                          reencode=not args.no_reencode, overwrite=args.overwrite)
    _print_dataset_line(dataset, f", files in {dataset.info['ucf101']['root']}")
    return 0


# --- load dir / load synthetic ---
def _print_dataset_line(dataset, where: str = "") -> None:
    """Print the dataset's size per split, then every clip imported with a warning (e.g. truncated)."""
    tags = dataset.count_sample_tags()
    print(f"dataset '{dataset.name}': {len(dataset)} clips ("
          + ", ".join(f"{tag} {tags.get(tag, 0)}" for tag in config.SPLITS) + f"){where}")
    if not dataset.has_field(config.IMPORT_WARNING_FIELD):
        return
    warned = dataset.exists(config.IMPORT_WARNING_FIELD)
    originals = warned.values(config.ORIGINAL_PATH_FIELD) if dataset.has_field(config.ORIGINAL_PATH_FIELD) \
        else [None] * len(warned)
    for path, original, reason in zip(warned.values("filepath"), originals, warned.values(config.IMPORT_WARNING_FIELD)):
        print(f"  warning: {original or path}: {reason}")
    if len(warned):
        print(f"{len(warned)} clips imported with a warning, kept in the field '{config.IMPORT_WARNING_FIELD}'")


def _add_load_dir(load_sub) -> None:
    p = load_sub.add_parser("dir", help="import a folder <class>/<video> or <split>/<class>/<video>")
    p.add_argument("path", metavar="PATH", help="the folder")
    _add_dataset_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace the dataset if it exists")
    p.set_defaults(handler=_cmd_load_dir)


def _cmd_load_dir(args) -> int:
    from ..data.folder import load_folder

    dataset, summary = load_folder(args.path, args.dataset, overwrite=args.overwrite)
    print(summary.table())
    for path, reason in summary.skipped:
        print(f"  skipped {path}: {reason}")
    _print_dataset_line(dataset)
    return 0


def _add_load_synthetic(load_sub) -> None:
    p = load_sub.add_parser("synthetic", help="generate the seeded synthetic motion set and import it")
    p.add_argument("--num-classes", type=int, default=10, metavar="N", help="motion classes (at most 10)")
    p.add_argument("--per-class", type=int, metavar="N", help="clips per class (default 50, or the sum of --split)")
    p.add_argument("--split", metavar="TRAIN,VAL,TEST", help="clips per class in each split (default 30,10,10)")
    p.add_argument("--frames", type=int, default=150, metavar="N", help="frames per clip")
    p.add_argument("--size", type=int, default=112, metavar="N", help="frame width and height in pixels")
    p.add_argument("--seed", type=int, default=config.DEFAULT_SEED, metavar="S")
    p.add_argument("--root", metavar="DIR", help="folder for the clips (default: under VIDEOREC_HOME/data)")
    _add_dataset_args(p, required=False, default=config.SYNTHETIC_DATASET)
    p.add_argument("--overwrite", action="store_true", help="replace the dataset if it exists")
    p.set_defaults(handler=_cmd_load_synthetic)


def _cmd_load_synthetic(args) -> int:
    from ..data.synthetic import check_options, load_synthetic

    check_options(args.num_classes, args.per_class, args.split, args.frames, args.size)
    dataset = load_synthetic(args.dataset, root=args.root, num_classes=args.num_classes, per_class=args.per_class,
                             split=args.split, frames=args.frames, size=args.size, seed=args.seed,
                             overwrite=args.overwrite)
    _print_dataset_line(dataset)
    return 0


# --- train -------------------------------------------------------------------------
def _add_train_commands(sub) -> None:
    from .. import config

    p = sub.add_parser("train", help="train the (2+1)D ResNet on a dataset's train/val/test tags")
    _add_dataset_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the model, metadata and plots")
    p.add_argument("--preset", default=config.DEFAULT_PRESET, choices=config.PRESET_NAMES,
                   help="network size and frame sampling (default: %(default)s)")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs (default: the preset's)")
    p.add_argument("--batch-size", type=int, metavar="N", help="clips per batch (default: the preset's)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="stop before an epoch that would pass this much training time (default: the preset's)")
    p.add_argument("--seed", type=int, default=config.DEFAULT_SEED, metavar="S")
    p.add_argument("--train-tag", default=config.TRAIN_TAG, metavar="TAG")
    p.add_argument("--val-tag", default=config.VAL_TAG, metavar="TAG")
    p.add_argument("--test-tag", default=config.TEST_TAG, metavar="TAG")
    p.add_argument("--appearance-weight", metavar="W|auto",
                   help="weight of the frozen ImageNet frame features in the model's vectors, 0 to below 1, or "
                        "'auto': chosen on the validation clips (0: the trained network alone; default: the "
                        "preset's, fast: auto)")
    p.set_defaults(handler=_cmd_train, uses_tensorflow=True)


def _cmd_train(args) -> int:
    from ..network.training import train

    result = train(args.dataset, args.out, preset=args.preset, epochs=args.epochs, batch_size=args.batch_size,
                   resume=args.resume, seed=args.seed, train_tag=args.train_tag, val_tag=args.val_tag,
                   test_tag=args.test_tag, time_limit=args.time_limit, appearance_weight=args.appearance_weight)
    meta = result.metadata
    for path, reason in result.skipped.items():
        print(f"skipped {path}: {reason}")
    metrics = " ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in meta["metrics"].items())
    print(f"trained {meta['preset']} for {meta['epochs_trained']} epochs in {meta['train_seconds']:.0f} s "
          f"({meta['seconds_per_epoch']:.1f} s/epoch): {metrics}")
    stop = "; stopped at the time limit" if meta.get("stopped_by_time_limit") else ""
    print(f"early stopping watched the {meta['early_stopping_on']}; best epoch {meta['best_epoch']}{stop}")
    print(f"model: {result.out_dir}")
    return 0


# --- report / demo ------------------------------------------------------------------
def _add_demo_commands(sub) -> None:
    p = sub.add_parser("report", help="write the HTML report (curves, precision@k, map, examples)")
    _add_dataset_args(p)
    p.add_argument("--brain-key", default=config.BRAIN_KEY, help="similarity index to report on")
    p.add_argument("--out", help="output folder (default: under VIDEOREC_HOME/reports)")
    p.add_argument("--model", help="trained model folder (default: the one recorded with the index)")
    p.add_argument("-k", type=_k_values, default=[1, 5, 10], metavar="K,K,...", help="comma-separated k values")
    p.set_defaults(handler=_cmd_report, uses_tensorflow=True)

    p = sub.add_parser("demo", help="the whole pipeline: load, train, embed, index, evaluate, report")
    p.add_argument("--source", choices=["auto", "ucf101", "synthetic"], default="auto",
                   help="auto: UCF101 when its archive is reachable, else the synthetic motion set")
    p.add_argument("--url", default=config.UCF101_URL, help="UCF101_videos.zip URL or local path")
    p.add_argument("--dataset", help="dataset name (default depends on the source)")
    p.add_argument("--preset", default=config.DEFAULT_PRESET, choices=config.PRESET_NAMES,
                   help="model preset (default: %(default)s)")
    p.add_argument("--epochs", type=int, help="training epochs (default: the preset's)")
    p.add_argument("--num-classes", type=int, help="classes to load (default 10)")
    p.add_argument("--per-class", type=int, help="clips per class (default 50)")
    p.add_argument("--split", help="train,val,test clips per class (default 30,10,10)")
    p.add_argument("--fresh", action="store_true", help="redo every stage instead of reusing results")
    p.add_argument("--out", help="report folder")
    p.add_argument("--app", action="store_true", help="open the FiftyOne App on the result")
    p.set_defaults(handler=_cmd_demo, uses_tensorflow=True)


def _cmd_report(args) -> int:
    from ..report import write_report

    page = write_report(args.dataset, args.brain_key, out_dir=args.out, model_dir=args.model, k=args.k)
    print(f"report written: {page}")
    return 0


def _cmd_demo(args) -> int:
    import time

    from ..demo import run_demo

    start = time.perf_counter()
    load_options = {key: value for key, value in (("num_classes", args.num_classes), ("per_class", args.per_class),
                    ("split", args.split)) if value is not None}
    result = run_demo(source=args.source, url=args.url, dataset_name=args.dataset, preset=args.preset,
                      epochs=args.epochs, fresh=args.fresh, out_dir=args.out, load_options=load_options)
    print(f"demo done in {time.perf_counter() - start:.0f} s: dataset '{result.dataset_name}', "
          f"model {result.model_dir}")
    print(f"report: {result.report_path}")
    if args.app:
        from ..runtime import connect_database

        fo = connect_database()
        session = fo.launch_app(fo.load_dataset(result.dataset_name))
        print(f"App running at {session.url} (Ctrl-C to stop)")
        session.wait()
    return 0


# --- entry point ---------------------------------------------------------------------------------
SECTIONS: tuple[Callable, ...] = (
    _add_doctor_commands,
    _add_load_commands,
    _add_train_commands,
    _add_embedding_commands,
    _add_demo_commands,
    _add_moments_commands,
    _add_duplicates_commands,
    _add_curation_commands,
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
    from ..runtime import configure_fiftyone_env, import_tensorflow_quietly, quiet_tensorflow

    quiet_tensorflow(verbose=args.verbose)
    configure_fiftyone_env()
    try:
        with stdout_for_json(getattr(args, "json", False)) as args.json_out:
            if getattr(args, "uses_tensorflow", False) and not args.verbose:
                import_tensorflow_quietly()
            return int(args.handler(args) or 0)
    except VideorecError as exc:
        print(f"videorec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("videorec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
