"""Cosine indexes and recommend() on vectors written into a real FiftyOne dataset."""

import json

import numpy as np
import pytest

from fiftyone_videorec import config
from fiftyone_videorec.cli.main import main
from fiftyone_videorec.errors import VideorecError
from fiftyone_videorec.evaluation import evaluate_retrieval
from fiftyone_videorec.search.similarity import NEGATIVE_WEIGHT, build_index, recommend, update_index


@pytest.fixture(scope="module")
def vector_dataset(tmp_path_factory):
    import fiftyone as fo

    root = tmp_path_factory.mktemp("vec")
    rng = np.random.default_rng(0)
    centers = {"a": np.array([1.0, 0, 0, 0]), "b": np.array([0, 1.0, 0, 0]), "c": np.array([0, 0, 1.0, 0])}
    ds = fo.Dataset("videorec-sim-test")
    samples = []
    for i in range(30):
        label = "abc"[i % 3]
        path = root / f"{i}.mp4"
        path.write_bytes(b"")
        s = fo.Sample(filepath=str(path), tags=["test" if i < 6 else "train"])
        s[config.LABEL_FIELD] = fo.Classification(label=label)
        s[config.GROUP_FIELD] = f"g{i // 2}"
        s[config.EMBEDDINGS_FIELD] = centers[label] + 0.3 * rng.standard_normal(4)
        samples.append(s)
    ds.add_samples(samples)
    return ds


def test_recommend_excludes_self_and_scores_are_cosine(vector_dataset):
    ds = vector_dataset
    build_index(ds)
    query = ds.first()
    recs = recommend(ds, query.id, k=5)
    assert len(recs) == 5 and query.id not in {r.sample_id for r in recs}
    ids, vecs = ds.values(["id", config.EMBEDDINGS_FIELD])
    all_vecs = np.stack(vecs)
    q = np.asarray(query[config.EMBEDDINGS_FIELD])
    cos = all_vecs @ q / np.linalg.norm(all_vecs, axis=1) / np.linalg.norm(q)
    expected = [ids[i] for i in np.argsort(-cos) if ids[i] != query.id][:5]
    assert [r.sample_id for r in recs] == expected
    assert np.allclose([r.score for r in recs], np.sort(cos)[::-1][1:6])
    # the LanceDB index ranks by plain cosine; the Brain's sklearn backend centres vectors first
    build_index(ds, brain_key="lance_order", backend="lancedb")
    sorted_ids = ds.sort_by_similarity(query.id, k=6, brain_key="lance_order").values("id")
    assert [i for i in sorted_ids if i != query.id][:5] == expected


def test_recommend_ranks_by_plain_cosine_after_the_brain_sorted_first(vector_dataset):
    """The Brain's sklearn sort centres its own array in place; recommend must not rank by that."""
    ds = vector_dataset
    build_index(ds, brain_key="sorted_first")
    query = ds.first()
    ds.sort_by_similarity(query.id, k=3, brain_key="sorted_first").values("id")  # centres the Brain's array
    ids, vecs = ds.values(["id", config.EMBEDDINGS_FIELD])
    all_vecs = np.stack(vecs)
    q = np.asarray(query[config.EMBEDDINGS_FIELD])
    cos = all_vecs @ q / np.linalg.norm(all_vecs, axis=1) / np.linalg.norm(q)
    expected = [ids[i] for i in np.argsort(-cos) if ids[i] != query.id][:5]
    assert [r.sample_id for r in recommend(ds, query.id, k=5, brain_key="sorted_first")] == expected


def test_group_exclusion(vector_dataset):
    ds = vector_dataset
    build_index(ds)
    query = ds.first()
    mates = set(ds.match({config.GROUP_FIELD: query[config.GROUP_FIELD]}).values("id"))
    recs = recommend(ds, query.id, k=10, exclude_same_group=True)
    assert len(recs) == 10 and not mates & {r.sample_id for r in recs}
    assert mates - {query.id} & {r.sample_id for r in recommend(ds, query.id, k=29)}


def test_lancedb_gives_same_top_k_as_sklearn(vector_dataset):
    ds = vector_dataset
    build_index(ds, brain_key="sk")
    build_index(ds, brain_key="lance", backend="lancedb")
    for sid in ds.limit(3).values("id"):
        sk = recommend(ds, sid, k=5, brain_key="sk")
        lance = recommend(ds, sid, k=5, brain_key="lance")
        assert [r.sample_id for r in sk] == [r.sample_id for r in lance]
        assert np.allclose([r.score for r in sk], [r.score for r in lance], atol=1e-5)


def test_index_with_missing_embeddings_and_bad_queries(vector_dataset, capsys):
    ds = vector_dataset.clone("videorec-sim-missing")
    ds.limit(4).set_field(config.EMBEDDINGS_FIELD, None).save()
    summary = build_index(ds, brain_key="partial")
    assert (summary.indexed, summary.missing) == (26, 4)
    assert main(["index", "--dataset", ds.name, "--brain-key", "partial2"]) == 0
    assert "4 samples have no embedding" in capsys.readouterr().out
    with pytest.raises(VideorecError, match="no sample with id"):
        recommend(ds, "0" * 24, brain_key="partial")
    with pytest.raises(VideorecError, match="unknown brain key"):
        recommend(ds, ds.first().id, brain_key="nope")
    assert main(["similar", "--dataset", ds.name, "--brain-key", "nope", "--sample-id", ds.first().id]) == 2
    ds.set_values("notvec", ["x"] * len(ds))
    with pytest.raises(VideorecError, match="not embeddings"):
        build_index(ds, field="notvec")


def test_evaluate_matches_hand_computation(vector_dataset, capsys):
    ds = vector_dataset
    build_index(ds)
    report = evaluate_retrieval(ds, k=(1, 5))
    q_vecs, q_labels = ds.match_tags("test").values([config.EMBEDDINGS_FIELD, f"{config.LABEL_FIELD}.label"])
    g_vecs, g_labels = ds.match_tags("train").values([config.EMBEDDINGS_FIELD, f"{config.LABEL_FIELD}.label"])
    G = np.stack(g_vecs) / np.linalg.norm(np.stack(g_vecs), axis=1, keepdims=True)
    precisions = []
    for v, label in zip(q_vecs, q_labels):
        top = np.argsort(-(G @ v))[:5]
        precisions.append(np.mean([g_labels[i] == label for i in top]))
    assert report.metrics["precision@5"] == pytest.approx(np.mean(precisions))
    assert report.metrics["chance_precision@5"] == pytest.approx(1 / 3)
    assert main(["evaluate", "--dataset", ds.name, "-k", "1,5", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == pytest.approx(report.metrics)


def test_embeddings_map_cli_writes_png_and_brain_run(vector_dataset, tmp_path):
    png = tmp_path / "map.png"
    assert main(["map", "--dataset", vector_dataset.name, "--brain-key", "viz", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert vector_dataset.get_brain_info("viz").config.method in ("umap", "tsne")
    assert len(vector_dataset.load_brain_results("viz").points) == len(vector_dataset)


def test_recommend_follows_a_rebuilt_index(vector_dataset):
    ds = vector_dataset.clone("videorec-sim-rebuilt")
    build_index(ds, brain_key="rebuilt")
    query, other = ds.first(), ds.last()
    before = recommend(ds, query.id, k=3, brain_key="rebuilt")  # fills the normalised-gallery cache
    assert before[0].sample_id != other.id
    other[config.EMBEDDINGS_FIELD] = np.asarray(query[config.EMBEDDINGS_FIELD]) * 2.0
    other.save()
    build_index(ds, brain_key="rebuilt")  # same key, new vectors: the cache must not serve the old ones
    after = recommend(ds, query.id, k=3, brain_key="rebuilt")
    assert after[0].sample_id == other.id and after[0].score == pytest.approx(1.0)


@pytest.mark.parametrize("backend", ["sklearn", "lancedb"])
def test_index_update_adds_new_videos_and_drops_deleted_ones(synthetic_root, tiny_model_dir, dataset_name,
                                                             tmp_path, capsys, backend):
    """Load more videos into an indexed dataset, embed only them, update the index in place."""
    import shutil

    import fiftyone as fo

    first, more = tmp_path / "first", tmp_path / "more"
    clips = sorted(synthetic_root.glob("train/*/*.mp4"))[:8]
    for clip in clips:
        (first / clip.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, first / clip.parent.name / clip.name)
    copied = clips[0]  # the new videos: a byte-identical copy of a first one, and two others
    (more / copied.parent.name).mkdir(parents=True)
    shutil.copy(copied, more / copied.parent.name / f"copy_{copied.name}")
    for clip in sorted(synthetic_root.glob("test/*/*.mp4"))[:2]:
        (more / clip.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, more / clip.parent.name / clip.name)
    model, key = str(tiny_model_dir), f"update_{backend}"

    assert main(["load", "dir", str(first), "--dataset", dataset_name]) == 0
    assert main(["embed", "--dataset", dataset_name, "--model", model]) == 0
    assert main(["index", "--dataset", dataset_name, "--brain-key", key, "--backend", backend]) == 0
    dataset = fo.load_dataset(dataset_name)
    original = dataset.match({"filepath": {"$regex": f"/first/.*/{copied.name}$"}}).first()
    before = {r.sample_id for r in recommend(dataset, original.id, k=20, brain_key=key)}
    assert len(before) == 7

    assert main(["load", "dir", str(more), "--dataset", dataset_name]) == 0
    capsys.readouterr()
    assert main(["embed", "--dataset", dataset_name, "--model", model]) == 0
    assert "8 already embedded, 3 to embed" in capsys.readouterr().out
    dataset.reload()
    copy = dataset.match({"filepath": {"$regex": "/copy_"}}).first()
    deleted = dataset[sorted(before)[0]]
    dataset.delete_samples(deleted)
    # not updated yet: the deleted sample is never returned, even by the stale index held in memory
    assert deleted.id not in {r.sample_id for r in recommend(dataset, original.id, k=20, brain_key=key)}

    assert main(["index", "--dataset", dataset_name, "--brain-key", key, "--update"]) == 0
    assert "added 3, updated 0, removed 1 (10 samples indexed)" in capsys.readouterr().out
    change = update_index(dataset, brain_key=key)  # the same through the Python API: nothing left to do
    assert (change.added, change.changed, change.removed, change.indexed, change.backend) == (0, 0, 0, 10, backend)
    top = recommend(dataset, original.id, k=20, brain_key=key)
    assert top[0].sample_id == copy.id and top[0].score == pytest.approx(1.0, abs=1e-5)
    assert len(top) == 9 and deleted.id not in {r.sample_id for r in top}
    by_brain = dataset.sort_by_similarity(original.id, k=3, brain_key=key).values("id")
    assert copy.id in by_brain and deleted.id not in by_brain
    assert main(["index", "--dataset", dataset_name, "--brain-key", key, "--update"]) == 0
    assert "added 0, updated 0, removed 0 (10 samples indexed)" in capsys.readouterr().out


def test_a_negative_from_a_confusable_class_raises_precision_for_the_positive_class(
        synthetic_dataset, tiny_model_dir, dataset_name, capsys):
    """More like these, less like those, on the synthetic motion set with a trained model.

    Each test clip queries the other clips; the first wrong clip of its top 5 becomes a negative
    (what a person marks "not this"). Precision@5 of the query's class rises on average, and the
    ranking follows the query's direction minus a quarter of the negative's.
    """
    from fiftyone_videorec.embedding.run import embed_dataset

    dataset = synthetic_dataset.clone(dataset_name)
    embed_dataset(dataset, tiny_model_dir)
    build_index(dataset, brain_key="pn")
    label = dict(zip(*dataset.values(["id", "ground_truth.label"])))
    vectors = dict(zip(*dataset.values(["id", config.EMBEDDINGS_FIELD])))
    unit = {sid: np.asarray(v) / np.linalg.norm(v) for sid, v in vectors.items()}
    gallery = dataset.values("id")
    before, after = [], []
    for query in dataset.match_tags("test").values("id"):
        plain = recommend(dataset, query, k=5, brain_key="pn")
        wrong = [r for r in plain if r.label != label[query]]
        if not wrong:
            continue
        negative = wrong[0].sample_id
        steered = recommend(dataset, [query], k=5, brain_key="pn", negatives=[negative])
        assert negative not in {r.sample_id for r in steered}
        before.append(np.mean([r.label == label[query] for r in plain]))
        after.append(np.mean([r.label == label[query] for r in steered]))
        # the ranking direction is the query's unit vector minus a quarter of the negative's
        direction = unit[query] - NEGATIVE_WEIGHT * unit[negative]
        direction /= np.linalg.norm(direction)
        assert [r.score for r in steered] == pytest.approx([float(unit[r.sample_id] @ direction) for r in steered])
        assert steered[0].score == pytest.approx(max(float(unit[sid] @ direction) for sid in gallery
                                                     if sid not in (query, negative)))
    assert before, "the model confuses no class: nothing to steer"
    print(f"precision@5 of the query's class: {np.mean(before):.3f} -> {np.mean(after):.3f} "
          f"with one negative ({len(before)} queries)")
    assert np.mean(after) > np.mean(before)

    # more like these: two positives, neither returned; bad input is one line
    a, b = dataset.match_tags("train").limit(2).values("id")
    assert {a, b}.isdisjoint(r.sample_id for r in recommend(dataset, [a, b], k=5, brain_key="pn"))
    with pytest.raises(VideorecError, match="both a query and a negative"):
        recommend(dataset, [a], brain_key="pn", negatives=[a])
    with pytest.raises(VideorecError, match="at least one query"):
        recommend(dataset, [], brain_key="pn")
    assert main(["similar", "--dataset", dataset.name, "--brain-key", "pn", "--sample-id", a,
                 "--negative-id", a]) == 2
    assert main(["similar", "--dataset", dataset.name, "--brain-key", "pn", "--negative-id", a]) == 2
    c = dataset.match_tags("train").skip(2).first().id
    capsys.readouterr()
    assert main(["similar", "--dataset", dataset.name, "--brain-key", "pn", "--sample-id", a, "--sample-id", b,
                 "--negative-id", c, "-k", "3"]) == 0
    printed = capsys.readouterr().out
    assert len(printed.strip().splitlines()) == 4 and a not in printed and c not in printed
