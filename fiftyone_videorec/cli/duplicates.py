"""``videorec duplicates`` and ``videorec leaks``: copies of the same footage (see ``curation/duplicates.py``)."""

from __future__ import annotations

from .. import config
from .common import add_dataset_args, open_dataset, print_json, print_progress, print_skipped


def add_duplicates_commands(sub) -> None:
    """Add ``videorec duplicates`` and ``videorec leaks``."""
    p = sub.add_parser("duplicates", help="group copies of the same footage (re-encoded, resized, cropped, "
                                          "flipped, captioned, trimmed)")
    _add_common(p)
    p.add_argument("--mark", action="store_true",
                   help=f"write each member's group number into '{config.DUPLICATE_GROUP_FIELD}' and tag it "
                        f"'{config.DUPLICATE_TAG}', for the App")
    p.set_defaults(handler=_cmd_duplicates, uses_tensorflow=True)
    p = sub.add_parser("leaks", help="copies that straddle the train/val/test split tags")
    _add_common(p)
    p.set_defaults(handler=_cmd_leaks, uses_tensorflow=True)


def _add_common(p) -> None:
    add_dataset_args(p)
    p.add_argument("--field", default=config.DUPLICATE_DESCRIPTOR_FIELD, metavar="FIELD",
                   help="where the per-frame copy descriptors are kept (computed on first use; default: %(default)s)")
    p.add_argument("--threshold", type=float, default=config.DUPLICATE_THRESHOLD, metavar="T",
                   help="copy distance (1 - aligned chamfer similarity) below which videos are copies "
                        "(default: %(default)s)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON list of groups ({ids, filepaths, max_distance, spans}) and nothing else")


def _print_groups(groups, args, what: str) -> None:
    if args.json:
        print_json(args, [group.to_dict() for group in groups])
        return
    for number, group in enumerate(groups, 1):
        print(f"group {number}: {len(group.ids)} videos, max distance {group.max_distance:.3f}")
        splits = group.splits or [[] for _ in group.ids]
        whole = group.spans[0][1]
        for sid, path, tags, (start, end) in zip(group.ids, group.filepaths, splits, group.spans):
            part = f"  {start:.1f}-{end:.1f} s of the first" if end - start < whole - 1.0 else ""
            print(f"  {sid}  {','.join(tags) + '  ' if tags else ''}{path}{part}")
    print(f"{len(groups)} {what} (threshold {args.threshold})")


def _find(args, search, check=None):
    """Open the dataset, ``check`` it, and run ``search``, computing missing copy descriptors with progress lines."""
    from ..curation.duplicates import check_threshold, compute_copy_descriptors

    check_threshold(args.threshold)  # before the database is touched
    dataset = open_dataset(args.dataset)
    if check is not None:
        check(dataset)  # before minutes of descriptors
    summary = compute_copy_descriptors(dataset, field=args.field, progress=print_progress())
    print_skipped(summary.failed)
    return dataset, search(dataset, field=args.field, threshold=args.threshold)


def _cmd_duplicates(args) -> int:
    from ..curation.duplicates import find_duplicates, mark_duplicates

    dataset, groups = _find(args, find_duplicates)
    if args.mark:
        mark_duplicates(dataset, groups)
    _print_groups(groups, args, "groups of copies")
    return 0


def _cmd_leaks(args) -> int:
    from ..curation.duplicates import find_leaks, split_tags

    _, groups = _find(args, find_leaks, check=split_tags)
    _print_groups(groups, args, "groups of copies across splits")
    return 0
