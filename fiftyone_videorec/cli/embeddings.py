"""The ``videorec`` sub-commands of the embeddings stage: embed, jobs, index, similar, evaluate, map."""

from __future__ import annotations

from .. import config
from .common import (add_dataset_args, add_model_run_args, k_values, open_dataset, print_json, print_progress,
                     print_shard_plans, print_skipped)


def add_embedding_commands(sub) -> None:
    """Add embed, jobs, index, similar, evaluate and map."""
    p = sub.add_parser("embed", help="embed every clip of a dataset with a model folder or the built-in 'pretrained'")
    add_dataset_args(p)
    p.add_argument("--model", required=True, metavar="DIR|pretrained",
                   help="trained model folder, or 'pretrained' (ImageNet features, no training needed)")
    p.add_argument("--field", default=config.EMBEDDINGS_FIELD, metavar="FIELD")
    add_model_run_args(p, "embed", "embedding", "a vector")
    p.set_defaults(handler=_cmd_embed, uses_tensorflow=True)
    p = sub.add_parser("jobs", help="list this dataset's videorec delegated jobs (queued, running, done)")
    add_dataset_args(p)
    p.add_argument("--json", action="store_true", help="print a JSON list and nothing else")
    p.set_defaults(handler=_cmd_jobs)
    p = sub.add_parser("index", help="build a cosine similarity index on an embeddings field")
    _add_field_and_brain_key(p, config.BRAIN_KEY)
    p.add_argument("--backend", default="sklearn", choices=["sklearn", "lancedb"])
    p.add_argument("--update", action="store_true",
                   help="add new and changed vectors to the existing index and drop deleted samples, without a rebuild")
    p.set_defaults(handler=_cmd_index)
    p = sub.add_parser("similar", help="print the clips most similar to samples or new videos (and unlike others)")
    add_dataset_args(p)
    p.add_argument("--brain-key", default=config.BRAIN_KEY, metavar="KEY")
    p.add_argument("--sample-id", metavar="ID", action="append", default=[],
                   help="a query sample; repeat for 'more like these'")
    p.add_argument("--video", metavar="PATH", action="append", default=[], help="a query video file; may repeat")
    p.add_argument("--negative-id", metavar="ID", action="append", default=[],
                   help="a sample to steer away from ('less like this'); may repeat")
    p.add_argument("--negative-video", metavar="PATH", action="append", default=[],
                   help="a video file to steer away from; may repeat")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--exclude-same-group", action="store_true", help="leave out clips of the query's own group")
    p.add_argument("--json", action="store_true",
                   help="print one JSON list of {sample_id, filepath, label, score} and nothing else")
    p.set_defaults(handler=_cmd_similar, uses_tensorflow=True)
    p = sub.add_parser("evaluate", help="retrieval precision/recall/mAP@k of query clips against a gallery")
    add_dataset_args(p)
    p.add_argument("--brain-key", default=config.BRAIN_KEY, metavar="KEY")
    p.add_argument("-k", type=k_values, default=[1, 5, 10], metavar="K,K,...", help="comma-separated k values")
    p.add_argument("--query-tag", default=config.TEST_TAG, metavar="TAG")
    p.add_argument("--gallery-tag", default=config.TRAIN_TAG, metavar="TAG")
    p.add_argument("--json", action="store_true", help="print one flat JSON object and nothing else")
    p.set_defaults(handler=_cmd_evaluate)
    p = sub.add_parser("map", help="2-D embeddings map (Brain visualization) and a PNG scatter")
    _add_field_and_brain_key(p, config.VIS_BRAIN_KEY)
    p.add_argument("--out", metavar="PNG")
    p.set_defaults(handler=_cmd_map)


def _add_field_and_brain_key(p, brain_key: str) -> None:
    """The dataset, the embeddings field read and the Brain run written: what index and map share."""
    add_dataset_args(p)
    p.add_argument("--field", default=config.EMBEDDINGS_FIELD, metavar="FIELD")
    p.add_argument("--brain-key", default=brain_key, metavar="KEY")


def _cmd_embed(args) -> int:
    if args.shards is not None:
        return _queue_shards(args)
    from ..embedding.embedder import load_model
    from ..embedding.run import embed_dataset

    model = load_model(args.model, clips=args.clips, batch_size=args.batch_size)  # a bad model fails first
    dataset = open_dataset(args.dataset)
    summary = embed_dataset(dataset, model, field=args.field, force=args.force, progress=print_progress())
    print_skipped(summary.failed)
    print(f"embedded {summary.embedded} of {summary.embedded + len(summary.failed)} samples into {args.field!r}"
          f" ({summary.already} already had a vector from this model)")
    return 0


def _queue_shards(args) -> int:
    from ..embedding.jobs import queue_embedding_shards

    plans, already = queue_embedding_shards(open_dataset(args.dataset), args.model, args.shards, field=args.field,
                                            clips=args.clips, batch_size=args.batch_size, force=args.force,
                                            stale_after_s=args.stale_after)
    print_shard_plans(plans, already, args.dataset, "embed", "embedded")
    return 0


def _cmd_jobs(args) -> int:
    from ..embedding.jobs import list_jobs

    open_dataset(args.dataset)  # a one-line error for an unknown dataset
    jobs = list_jobs(args.dataset)
    if args.json:
        print_json(args, [{key: job[key] for key in ("id", "operator", "state", "progress", "updated_at")}
                          for job in jobs])
        return 0
    if not jobs:
        print(f"no videorec jobs for dataset {args.dataset!r}")
    for job in jobs:
        done = f"{100 * job['progress']:.0f}%" if job["progress"] is not None else "-"
        print(f"{job['id']}  {job['state']:<9}  {done:>4}  {job['label']}  {job['status'] or ''}".rstrip())
    return 0


def _cmd_index(args) -> int:
    from ..search.similarity import build_index, update_index

    dataset = open_dataset(args.dataset)
    if args.update:
        change = update_index(dataset, brain_key=args.brain_key)
        print(f"index {change.brain_key!r}: added {change.added}, updated {change.changed}, removed {change.removed}"
              f" ({change.indexed} samples indexed)")
        return 0
    summary = build_index(dataset, field=args.field, brain_key=args.brain_key, backend=args.backend)
    if summary.missing:
        print(f"{summary.missing} samples have no embedding in {summary.field!r} and were left out")
    print(f"indexed {summary.indexed} samples under brain key {summary.brain_key!r} ({summary.backend})")
    return 0


def _cmd_similar(args) -> int:
    from ..search.similarity import recommend

    from ..errors import VideorecError

    if not args.sample_id and not args.video:
        raise VideorecError("give a query: --sample-id ID or --video PATH (either may repeat)")
    recs = recommend(open_dataset(args.dataset), args.sample_id + args.video, k=args.k, brain_key=args.brain_key,
                     exclude_same_group=args.exclude_same_group, negatives=args.negative_id + args.negative_video)
    if args.json:
        print_json(args, [{"sample_id": rec.sample_id, "filepath": rec.filepath, "label": rec.label,
                           "score": float(rec.score)} for rec in recs])
        return 0
    print(f"{'rank':>4}  {'score':>7}  {'label':<20}  file")
    for rank, rec in enumerate(recs, 1):
        print(f"{rank:>4}  {rec.score:7.4f}  {str(rec.label):<20}  {rec.filepath}")
    return 0


def _cmd_evaluate(args) -> int:
    from ..evaluation import evaluate_retrieval

    report = evaluate_retrieval(open_dataset(args.dataset), brain_key=args.brain_key, k=args.k,
                                query_tag=args.query_tag, gallery_tag=args.gallery_tag)
    if args.json:
        print_json(args, report.metrics)
        return 0
    print(f"{report.num_queries} queries ({args.query_tag}) against {report.num_gallery} gallery clips ({args.gallery_tag})")
    for name, value in report.metrics.items():
        print(f"{name:<24} {value:.4f}")
    print(report.table())
    return 0


def _cmd_map(args) -> int:
    from ..visualization import embeddings_map

    png = embeddings_map(open_dataset(args.dataset), field=args.field, brain_key=args.brain_key, out=args.out)
    print(f"map under brain key {args.brain_key!r}; scatter: {png}")
    return 0
