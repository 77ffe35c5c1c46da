"""``videorec tag``: curation commands over the models' outputs (see ``imagenet_tags.py``)."""

from __future__ import annotations

from . import config
from .cli_common import add_dataset_args, open_dataset, print_json, print_progress, print_skipped


def add_curation_commands(sub) -> None:
    """Add ``videorec tag``."""
    p = sub.add_parser("tag", help="tag each video with the ImageNet classes seen in its frames "
                                   "(no training needed), for filtering in the App")
    add_dataset_args(p)
    p.add_argument("--field", default=config.IMAGENET_FIELD, metavar="FIELD",
                   help="Classifications field to write (default: %(default)s)")
    p.add_argument("--top", type=int, default=config.TAG_TOP, metavar="N",
                   help="classes kept per video at most (default: %(default)s)")
    p.add_argument("--min-confidence", type=float, default=config.TAG_MIN_CONFIDENCE, metavar="P",
                   help="probability, averaged over the video's frames, a class needs (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="tag every video again, also those tagged with these settings")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object {tagged, already, failed, counts} and nothing else")
    p.set_defaults(handler=_cmd_tag, uses_tensorflow=True)


def _cmd_tag(args) -> int:
    from .imagenet_tags import check_settings, tag_counts, tag_dataset

    check_settings(args.top, args.min_confidence)  # before the database is touched
    dataset = open_dataset(args.dataset)
    summary = tag_dataset(dataset, field=args.field, top=args.top, min_confidence=args.min_confidence,
                          force=args.force, progress=print_progress())
    print_skipped(summary.failed)
    counts = tag_counts(dataset, args.field)
    if args.json:
        print_json(args, {"tagged": summary.tagged, "already": summary.already, "failed": summary.failed,
                          "counts": counts})
        return 0
    print(f"tagged {summary.tagged} videos ({summary.already} already tagged, {len(summary.failed)} failed) "
          f"into '{args.field}'")
    if counts:
        print("most frequent: " + ", ".join(f"{name} ({n})" for name, n in list(counts.items())[:10]))
    return 0
