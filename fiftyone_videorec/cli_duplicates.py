"""``videorec duplicates`` and ``videorec leaks``: near-identical videos (see ``duplicates.py``)."""

from __future__ import annotations

from . import config
from .cli_common import add_dataset_args, open_dataset


def add_duplicates_commands(sub) -> None:
    """Add ``videorec duplicates`` and ``videorec leaks``."""
    p = sub.add_parser("duplicates", help="group near-identical videos (re-encoded, resized, cropped copies)")
    _add_common(p)
    p.add_argument("--mark", action="store_true",
                   help=f"write each member's group number into '{config.DUPLICATE_GROUP_FIELD}' and tag it "
                        f"'{config.DUPLICATE_TAG}', for the App")
    p.set_defaults(handler=_cmd_duplicates)
    p = sub.add_parser("leaks", help="near-duplicates that straddle the train/val/test split tags")
    _add_common(p)
    p.set_defaults(handler=_cmd_leaks)


def _add_common(p) -> None:
    add_dataset_args(p)
    p.add_argument("--field", default=config.EMBEDDINGS_FIELD, metavar="FIELD", help="embeddings field")
    p.add_argument("--threshold", type=float, default=config.DUPLICATE_THRESHOLD, metavar="T",
                   help="cosine distance below which clips are copies (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON list of groups and nothing else")


def _print_groups(groups, args, what: str) -> None:
    import json

    if args.json:
        print(json.dumps([group.to_dict() for group in groups]))
        return
    for number, group in enumerate(groups, 1):
        print(f"group {number}: {len(group.ids)} videos, max distance {group.max_distance:.3f}")
        splits = group.splits or [[] for _ in group.ids]
        for sid, path, tags in zip(group.ids, group.filepaths, splits):
            print(f"  {sid}  {','.join(tags) + '  ' if tags else ''}{path}")
    print(f"{len(groups)} {what} (threshold {args.threshold})")


def _cmd_duplicates(args) -> int:
    from .duplicates import check_threshold, find_duplicates, mark_duplicates

    check_threshold(args.threshold)  # before the database is touched
    dataset = open_dataset(args.dataset)
    groups = find_duplicates(dataset, field=args.field, threshold=args.threshold)
    if args.mark:
        mark_duplicates(dataset, groups)
    _print_groups(groups, args, "groups of near-duplicates")
    return 0


def _cmd_leaks(args) -> int:
    from .duplicates import check_threshold, find_leaks

    check_threshold(args.threshold)
    groups = find_leaks(open_dataset(args.dataset), field=args.field, threshold=args.threshold)
    _print_groups(groups, args, "groups of near-duplicates across splits")
    return 0
