"""Embedding runs: which samples to embed, and a pipeline that decodes ahead of the network.

:func:`embed_dataset` is the fast path the CLI uses: decoding in a thread pool ahead of the
network, batched, failures recorded per sample (FiftyOne 1.22 runs video models one sample at a
time; speeds in ``benchmarks/embed.md``). :func:`model_outputs` is the same pipeline for any use
of the network's outputs (class predictions too, :mod:`.predictions`).

Embedding is incremental: each vector is written with a fingerprint of the model file and the
clip settings (``<field>_fingerprint``), and a re-run embeds only the samples whose fingerprint
differs or whose vector is missing. Vectors are written every ``WRITE_BATCH`` samples, each batch
before its fingerprints, so an interrupted run loses at most the batch in flight and never leaves
a sample marked done with another model's vector. ``shard=(i, n)`` embeds one of ``n`` disjoint
slices (:mod:`.jobs` queues them for delegated workers).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from .. import config
from ..errors import VideorecError, one_line_reason
from ..fields import check_vector_field, fingerprint_field, record_model
from ..progress import ProgressFn, report
from ..search.index import dataset_of
from .embedder import VideoEmbeddingModel, loaded_model

WRITE_BATCH = 64  # samples per database write


@dataclass
class SampleRunSummary:
    """What a per-sample run wrote into ``field``: how many samples were done already, why others failed (id -> reason).

    Embedding, predictions and tags each add the count of samples they wrote now.
    """

    field: str
    already: int = 0
    failed: dict = field(default_factory=dict)


@dataclass
class EmbedSummary(SampleRunSummary):
    """How many samples were embedded, how many were already done, why the others failed (id -> reason)."""

    embedded: int = 0

    @property
    def plan(self) -> str:
        """Return the line said before embedding: what is done and what is left."""
        return f"{self.already} already embedded, {self.embedded + len(self.failed)} to embed"


@dataclass
class OutputBatch:
    """One network call's worth of results: the samples it ran on and those that failed to decode."""

    ids: list[str]  # samples the network ran on, in order
    vectors: np.ndarray  # (len(ids), dim) unit embeddings
    logits: np.ndarray | None  # (len(ids), classes) for a trained model, else None
    failed: dict[str, str]  # sample id -> reason, for the samples of this call that could not be decoded
    done: int  # samples of the run handled so far, this call's included


# --- what to embed ------------------------------------------------------------------------------------
def shard_of(sample_id: str, shards: int) -> int:
    """Return which of ``shards`` disjoint slices a sample belongs to (stable for a sample id)."""
    return int(str(sample_id), 16) % shards


def samples_to_embed(dataset_or_view, field: str, fingerprint: str, force: bool = False,
                     shard: tuple[int, int] | None = None) -> tuple[list[str], list[str], int]:
    """Return (ids, filepaths) of the samples still to embed with ``fingerprint``, and how many are done."""
    from fiftyone import ViewField as F

    dataset = dataset_of(dataset_or_view)
    fp_field = fingerprint_field(field)
    todo = dataset_or_view
    if not force and dataset.has_field(fp_field) and dataset.has_field(field):
        todo = dataset_or_view.match((F(fp_field) != fingerprint) | (F(field) == None))  # noqa: E711 (a query)
    ids, paths = todo.values(["id", "filepath"])
    already = len(dataset_or_view) - len(ids)
    if shard is not None:
        index, count = shard
        if not 0 <= index < count:
            raise VideorecError(f"shard {index} of {count} does not exist (shards are numbered 0..{count - 1})")
        kept = [(i, p) for i, p in zip(ids, paths) if shard_of(i, count) == index]
        ids, paths = [i for i, _ in kept], [p for _, p in kept]
    return ids, paths, already


# --- decoding ahead of the network --------------------------------------------------------------------
def read_or_reason(read: Callable, *args) -> tuple[object | None, str | None]:
    """Return ``(read(*args), None)``, or ``(None, reason)`` when the video cannot be decoded.

    The reason is one line, kept on the sample: a bad file is never fatal to the others.
    """
    try:
        return read(*args), None
    except Exception as e:  # noqa: BLE001 (any decode failure is recorded for that sample)
        return None, one_line_reason(e)


def _prefetch(pool: ThreadPoolExecutor, fn, items, ahead: int):
    """Yield ``fn(item)`` in order, computed in ``pool`` at most ``ahead`` items in advance (``pool.map``
    would submit every item at once and hold all decoded clips in memory)."""
    items = iter(items)
    pending = deque(pool.submit(fn, item) for item in islice(items, ahead))
    while pending:
        result = pending.popleft().result()
        pending.extend(pool.submit(fn, item) for item in islice(items, 1))
        yield result


def model_outputs(model: VideoEmbeddingModel, ids: list[str], paths: list[str],
                  workers: int = 4) -> Iterator[OutputBatch]:
    """Yield an :class:`OutputBatch` per network call over the videos ``paths`` (ids ``ids``).

    Decoding runs in a thread pool ahead of the network; any decode failure is recorded for that
    sample, never fatal to the others.
    """
    per_call = max(model.batch_size // model.clips, 1)  # videos per network call
    with ThreadPoolExecutor(max_workers=workers) as pool:
        decoded = _prefetch(pool, lambda path: read_or_reason(model.read, path), paths,
                            ahead=2 * workers + per_call)
        for start in range(0, len(ids), per_call):
            stacks, failed = [], {}
            for sid in ids[start:start + per_call]:
                clip, reason = next(decoded)
                if clip is None:
                    failed[sid] = reason
                else:
                    stacks.append((sid, clip))
            vectors, logits = model.run([c for _, c in stacks]) if stacks else (np.zeros((0, 0), np.float32), None)
            yield OutputBatch(ids=[sid for sid, _ in stacks], vectors=vectors, logits=logits, failed=failed,
                              done=min(start + per_call, len(ids)))


# --- writing outputs ----------------------------------------------------------------------------------
def write_outputs(dataset, model: VideoEmbeddingModel, field: str, ids: list[str], paths: list[str],
                  values_of: Callable[[OutputBatch], list], failed: dict[str, str], workers: int = 4,
                  on_write: Callable[[int, int], None] | None = None) -> int:
    """Write ``values_of(batch)`` into ``field`` for the samples ``ids`` (files ``paths``); return how
    many got a value. Reasons for those that fail go into ``failed`` and ``config.EMBED_ERROR_FIELD``.

    Every ``WRITE_BATCH`` samples: values, then reasons, then fingerprints, so a sample is marked
    done only after its value. ``on_write(samples handled, values written)`` follows each write.
    """
    fingerprint, fp_field = model.fingerprint, fingerprint_field(field)
    values: dict = {}  # written to the database every WRITE_BATCH samples, not per network batch
    written = count = 0
    for batch in model_outputs(model, ids, paths, workers=workers):
        failed.update(batch.failed)
        if batch.ids:
            values.update(zip(batch.ids, values_of(batch)))
            count += len(batch.ids)
        if batch.done - written >= WRITE_BATCH or batch.done == len(ids):
            todo = ids[written:batch.done]
            dataset.set_values(field, {sid: values.get(sid) for sid in todo}, key_field="id")
            dataset.set_values(config.EMBED_ERROR_FIELD, {sid: failed.get(sid) for sid in todo}, key_field="id")
            dataset.set_values(fp_field, {sid: fingerprint if sid in values else None for sid in todo}, key_field="id")
            written = batch.done
            values.clear()
            if on_write:
                on_write(batch.done, count)
    return count


def embed_dataset(dataset_or_view, model, field: str = config.EMBEDDINGS_FIELD, batch_size: int | None = None,
                  clips: int | None = None, progress: ProgressFn | None = None, workers: int = 4,
                  force: bool = False, shard: tuple[int, int] | None = None) -> EmbedSummary:
    """Embed the samples that lack a vector from this model into ``field``; ``force`` embeds all.

    ``model`` is a model folder, a built-in name (``"pretrained"``) or a loaded
    :class:`VideoEmbeddingModel` (reused as it is: ``clips`` and ``batch_size`` must then be left
    out). Undecodable samples get a reason in ``config.EMBED_ERROR_FIELD`` (and are tried again
    next time). ``shard=(i, n)`` embeds only the samples :func:`shard_of` puts in slice ``i`` of
    ``n``. Decoding runs in a thread pool ahead of inference; vectors are written in batches.
    """
    model = loaded_model(model, clips=clips, batch_size=batch_size)
    return embed_samples(dataset_or_view, model, field=field, progress=progress, workers=workers, force=force,
                         shard=shard)


def _prepare_fields(dataset, field: str) -> None:
    import fiftyone as fo

    check_vector_field(dataset, field)
    schema = dataset.get_field_schema()
    for name, kind in ((field, fo.VectorField), (config.EMBED_ERROR_FIELD, fo.StringField),
                       (fingerprint_field(field), fo.StringField)):
        if name not in schema:
            dataset.add_sample_field(name, kind)


def embed_samples(dataset_or_view, model: VideoEmbeddingModel, field: str = config.EMBEDDINGS_FIELD,
                  progress: ProgressFn | None = None, workers: int = 4, force: bool = False,
                  shard: tuple[int, int] | None = None) -> EmbedSummary:
    """Like :func:`embed_dataset` with a model already loaded (benchmarks time this part alone)."""
    dataset = dataset_of(dataset_or_view)
    _prepare_fields(dataset, field)
    ids, paths, already = samples_to_embed(dataset_or_view, field, model.fingerprint, force=force, shard=shard)
    record_model(dataset, field, model.model_dir)
    summary = EmbedSummary(field, embedded=0, already=already)
    report(progress, 0.0, f"{already} already embedded, {len(ids)} to embed")
    summary.embedded = write_outputs(
        dataset, model, field, ids, paths, values_of=lambda batch: batch.vectors, failed=summary.failed,
        workers=workers,
        on_write=lambda done, count: report(progress, done / max(len(ids), 1), f"embedded {count} of {len(ids)}"))
    return summary
