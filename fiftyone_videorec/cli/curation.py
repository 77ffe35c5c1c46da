"""``videorec predict``, ``videorec curate`` and ``videorec tag``: what the models say about each
video, for curation (see ``embedding/predictions.py``, ``curation/scores.py`` and ``curation/imagenet_tags.py``)."""

from __future__ import annotations

from .. import config
from .common import (add_dataset_args, add_model_run_args, open_dataset, print_json, print_progress,
                     print_shard_plans, print_skipped)
from ..curation.scores import SCORES, WHAT_IT_MEANS


def add_curation_commands(sub) -> None:
    """Add ``videorec predict``, ``videorec curate`` and ``videorec tag``."""
    p = sub.add_parser("predict", help="write a trained model's class, confidence and logits for each video")
    add_dataset_args(p)
    p.add_argument("--model", required=True, metavar="DIR", help="trained model folder ('videorec train')")
    p.add_argument("--field", default=config.PREDICTION_FIELD, metavar="FIELD",
                   help="Classification field to write (default: %(default)s)")
    add_model_run_args(p, "predict", "predicting", "a prediction")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object {predicted, already, failed, counts} and nothing else")
    p.set_defaults(handler=_cmd_predict, uses_tensorflow=True)
    p = sub.add_parser("curate", help="score label mistakes, hard, unique and representative clips with the "
                                      "FiftyOne Brain, for sorting in the App")
    add_dataset_args(p)
    for name, text in WHAT_IT_MEANS.items():
        p.add_argument(f"--{name}", action="store_true", help=f"{text} (field '{name}')")
    p.add_argument("--label-field", default=config.LABEL_FIELD, metavar="FIELD", help="labels (default: %(default)s)")
    p.add_argument("--pred-field", default=config.PREDICTION_FIELD, metavar="FIELD",
                   help="predictions with logits from 'videorec predict' (default: %(default)s)")
    p.add_argument("--embeddings-field", default=config.EMBEDDINGS_FIELD, metavar="FIELD",
                   help="embeddings from 'videorec embed' (default: %(default)s)")
    p.add_argument("--top", type=int, default=10, metavar="N", help="clips listed per score (default: %(default)s)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object {computed, top, skipped} and nothing else")
    p.set_defaults(handler=_cmd_curate)
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
    from ..curation.imagenet_tags import check_settings, tag_counts, tag_dataset

    check_settings(args.top, args.min_confidence)  # before the database is touched
    dataset = open_dataset(args.dataset)
    summary = tag_dataset(dataset, field=args.field, top=args.top, min_confidence=args.min_confidence,
                          force=args.force, progress=print_progress())
    print_skipped(summary.failed)
    counts = tag_counts(dataset, args.field)
    return _report(args, {"tagged": summary.tagged, "already": summary.already, "failed": summary.failed,
                          "counts": counts},
                   f"tagged {summary.tagged} videos ({summary.already} already tagged, {len(summary.failed)} failed) "
                   f"into '{args.field}'", "most frequent", dict(list(counts.items())[:10]))


def _cmd_predict(args) -> int:
    from ..embedding.embedder import load_model
    from ..embedding.jobs import PREDICT_OPERATOR, queue_embedding_shards
    from ..embedding.predictions import predict_dataset

    model = load_model(args.model, clips=args.clips, batch_size=args.batch_size)  # a bad model fails first
    model.check_predicts()
    dataset = open_dataset(args.dataset)
    if args.shards is not None:
        plans, already = queue_embedding_shards(dataset, args.model, args.shards, field=args.field, clips=args.clips,
                                                batch_size=args.batch_size, force=args.force,
                                                stale_after_s=args.stale_after, operator=PREDICT_OPERATOR)
        if args.json:
            print_json(args, {"already": already, "shards": [vars(plan) for plan in plans]})
        else:
            print_shard_plans(plans, already, args.dataset, "predict", "predicted")
        return 0
    summary = predict_dataset(dataset, model, field=args.field, force=args.force, progress=print_progress())
    print_skipped(summary.failed)
    counts = {label: n for label, n in sorted(dataset.count_values(f"{args.field}.label").items(),
                                              key=lambda kv: (-kv[1], str(kv[0]))) if label is not None}
    return _report(args, {"predicted": summary.predicted, "already": summary.already, "failed": summary.failed,
                          "counts": counts},
                   f"predicted {summary.predicted} of {summary.predicted + len(summary.failed)} samples into "
                   f"{args.field!r} ({summary.already} already had a prediction from this model)",
                   "predicted classes", counts)


def _report(args, payload: dict, summary_line: str, counts_title: str, counts: dict) -> int:
    """Print ``payload`` as JSON with ``--json``, else the summary line and the most frequent labels."""
    if args.json:
        print_json(args, payload)
        return 0
    print(summary_line)
    if counts:
        print(f"{counts_title}: " + ", ".join(f"{label} ({n})" for label, n in counts.items()))
    return 0


def _cmd_curate(args) -> int:
    from ..curation.scores import curate

    asked = tuple(name for name in SCORES if getattr(args, name))
    result = curate(open_dataset(args.dataset), scores=asked or None, label_field=args.label_field,
                    pred_field=args.pred_field, embeddings_field=args.embeddings_field, top=args.top,
                    progress=print_progress())
    if args.json:
        print_json(args, result.to_dict())
        return 0
    for name, reason in result.skipped.items():
        print(f"skipped {name}: {reason}")
    for name, count in result.computed.items():
        print(f"\n{name} ({WHAT_IT_MEANS[name]}) on {count} videos; highest first:")
        for entry in result.top[name]:
            label = f"  {entry['label']}" if entry["label"] is not None else ""
            print(f"  {entry[name]:.3f}{label}  {entry['filepath']}")
    print(f"\nIn the App, sort by {', '.join(result.computed)} (the fields of the same names).")
    return 0
