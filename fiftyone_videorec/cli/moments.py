"""``videorec moments``: index the moments of long videos and search them (see ``search/moments.py``)."""

from __future__ import annotations

from .. import config
from .common import open_dataset as _open_dataset
from .common import print_json, print_skipped
from ..errors import VideorecError


def add_moments_commands(sub) -> None:
    """Add ``videorec moments index`` and ``videorec moments search``."""
    p = sub.add_parser("moments", help="find the seconds inside long videos that look and move like a query")
    moments_sub = p.add_subparsers(dest="moments_command", metavar="ACTION", required=True)
    p = moments_sub.add_parser("index", help="embed windows of every video and build their cosine index")
    p.add_argument("--dataset", required=True, help="FiftyOne dataset name")
    p.add_argument("--model", required=True, metavar="DIR|pretrained",
                   help="trained model folder, or 'pretrained' (ImageNet features, no training)")
    p.add_argument("--window", type=float, default=config.MOMENT_WINDOW_S, metavar="SECONDS",
                   help="seconds per moment (default: %(default)s)")
    p.add_argument("--stride", type=float, default=config.MOMENT_STRIDE_S, metavar="SECONDS",
                   help="seconds between moment starts (default: %(default)s)")
    p.add_argument("--clips", type=int, default=config.MOMENT_CLIPS, metavar="N",
                   help="clips averaged per moment (default: %(default)s)")
    p.add_argument("--field", default=config.MOMENTS_FIELD, metavar="FIELD")
    p.add_argument("--force", action="store_true", help="redo videos already indexed with the same settings")
    p.set_defaults(handler=_cmd_moments_index, uses_tensorflow=True)
    p = moments_sub.add_parser("search", help="print the moments most like a clip of a sample or a video file")
    p.add_argument("--dataset", required=True, help="FiftyOne dataset name")
    query = p.add_mutually_exclusive_group(required=True)
    query.add_argument("--video", metavar="FILE")
    query.add_argument("--sample-id", metavar="ID")
    p.add_argument("--start", type=float, metavar="SECONDS", help="query range start (default: the beginning)")
    p.add_argument("--end", type=float, metavar="SECONDS", help="query range end (default: the end)")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--per-video", type=int, metavar="N", help="at most N moments per video")
    p.add_argument("--field", default=config.MOMENTS_FIELD, metavar="FIELD")
    p.add_argument("--json", action="store_true", help="print one JSON list and nothing else")
    p.set_defaults(handler=_cmd_moments_search, uses_tensorflow=True)


def _cmd_moments_index(args) -> int:
    from ..search.moments import check_settings, index_moments

    check_settings(args.window, args.stride, args.clips)  # before the database or the model is touched
    summary = index_moments(_open_dataset(args.dataset), args.model, window=args.window, stride=args.stride,
                            field=args.field, clips=args.clips, force=args.force)
    print_skipped(summary.failed)
    print(f"moments of {summary.embedded} videos embedded, {summary.skipped} already done; "
          f"{summary.moments} moments indexed under brain key {summary.brain_key!r}")
    return 0


def _cmd_moments_search(args) -> int:
    from pathlib import Path

    from ..search.moments import find_moments

    if args.video is not None and not Path(args.video).is_file():
        raise VideorecError(f"no video file at {args.video}")
    found = find_moments(_open_dataset(args.dataset), args.video or args.sample_id, k=args.k, start=args.start,
                         end=args.end, per_video=args.per_video, field=args.field)
    if args.json:
        print_json(args, [m.to_dict() for m in found])
        return 0
    print(f"{'rank':>4}  {'score':>7}  {'start':>8}  {'end':>8}  file")
    for rank, m in enumerate(found, 1):
        print(f"{rank:>4}  {m.score:7.4f}  {m.start:8.2f}  {m.end:8.2f}  {m.filepath}")
    return 0
