"""Every operator through FiftyOne's own execution API, on real clips in the real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fiftyone_videorec import config

PLUGIN = config.PLUGIN_NAME
OPERATORS = ["load_ucf101_subset", "load_video_folder", "train_video_embedder",
             "compute_video_embeddings", "build_video_similarity_index", "find_similar_videos",
             "evaluate_video_retrieval", "find_duplicate_videos", "predict_video_classes",
             "curate_videos", "tag_imagenet_classes"]


def run(name: str, dataset=None, params: dict | None = None, **ctx):
    """Execute ``@videorec/fiftyone-videorec/<name>`` immediately; return the ExecutionResult."""
    from fiftyone.operators import execute_operator

    context = {"params": params or {}, **ctx}
    if dataset is not None:
        context["dataset"] = dataset
    return execute_operator(f"{PLUGIN}/{name}", context)


def triggered(result, operator: str) -> list[dict]:
    """Return the params of every App operation ``operator`` the run triggered."""
    requests = result.executor.to_json()["requests"]
    return [r["params"] for r in requests if r["operator_uri"].endswith(operator)]


def form_error(name: str, dataset, params: dict | None = None, **ctx) -> str:
    """Run an operator whose form must refuse; return the message the form shows."""
    from fiftyone.operators.executor import ExecutionError

    with pytest.raises(ExecutionError) as refused:
        run(name, dataset, params, **ctx)
    message = str(refused.value)
    assert "Traceback" not in message
    return message


def test_fiftyone_cli_lists_all_seven_operators():
    fiftyone = Path(sys.executable).with_name("fiftyone")
    listing = subprocess.run([str(fiftyone), "operators", "list"], capture_output=True, text=True,
                             env=os.environ, timeout=300, check=True).stdout
    for name in OPERATORS:
        assert f"{PLUGIN}/{name}" in listing, listing


@pytest.mark.pipeline
def test_operators_load_train_embed_index_find_evaluate(synthetic_root, dataset_name, tmp_path):
    import fiftyone as fo
    from fiftyone.core.view import DatasetView

    from fiftyone_videorec.search.similarity import recommend

    # load_video_folder: the dataset is created with split tags and labels
    result = run("load_video_folder", params={"path": str(synthetic_root), "dataset_name": dataset_name})
    assert result.result["dataset_name"] == dataset_name
    dataset = fo.load_dataset(dataset_name)
    n_clips = len(list(synthetic_root.rglob("*.mp4")))
    assert len(dataset) == n_clips
    assert set(dataset.distinct("tags")) == {"train", "val", "test"}
    assert triggered(result, "open_dataset")[0]["dataset"] == dataset_name

    # train_video_embedder: a model folder is written
    model_dir = tmp_path / "model"
    result = run("train_video_embedder", dataset_name,
                 {"preset": "tiny", "epochs": 1, "model_dir": str(model_dir)})
    assert result.result["model_dir"] == str(model_dir) and result.result["epochs"] == 1
    assert (model_dir / "model.keras").is_file() and (model_dir / "metadata.json").is_file()

    # compute_video_embeddings: the vector field is filled for every clip
    run("compute_video_embeddings", dataset_name, {"model_dir": str(model_dir)})
    dataset.reload()
    assert len(dataset.exists(config.EMBEDDINGS_FIELD)) == n_clips

    # build_video_similarity_index: a Brain similarity run, usable by the App's own sort
    run("build_video_similarity_index", dataset_name, {"field": config.EMBEDDINGS_FIELD})
    dataset.reload()
    assert config.BRAIN_KEY in dataset.list_brain_runs()
    query = dataset.match_tags("test").first()
    assert len(dataset.sort_by_similarity(query.id, k=3, brain_key=config.BRAIN_KEY)) == 3

    # find_similar_videos: the App's view is the k clips in recommend()'s order, scores stored
    result = run("find_similar_videos", dataset_name, {"k": 5}, selected=[query.id])
    expected = recommend(dataset, query.id, k=5)
    assert [r["sample_id"] for r in result.result["results"]] == [r.sample_id for r in expected]
    view = DatasetView._build(dataset, triggered(result, "set_view")[0]["view"])
    assert view.values("id") == [r.sample_id for r in expected]
    assert view.values(config.SIMILARITY_SCORE_FIELD) == pytest.approx([r.score for r in expected])

    # ... the modal's current sample works as the query too
    result = run("find_similar_videos", dataset_name, {"k": 2}, current_sample=query.id)
    assert [r["sample_id"] for r in result.result["results"]] == [
        r.sample_id for r in recommend(dataset, query.id, k=2)]

    # ... and so does a video file that is not in the dataset (embedded with the recorded model)
    new_clip = next(synthetic_root.rglob("*.mp4"))
    result = run("find_similar_videos", dataset_name, {"k": 3, "video_path": str(new_clip)})
    assert [r["sample_id"] for r in result.result["results"]] == [
        r.sample_id for r in recommend(dataset, str(new_clip), k=3)]

    # evaluate_video_retrieval: the numbers and chance come back for the App to show
    metrics = run("evaluate_video_retrieval", dataset_name, {"k": "1,5"}).result["metrics"]
    assert 0.0 <= metrics["precision@1"] <= 1.0
    assert "chance_precision@5" in metrics


def test_load_ucf101_subset_operator_over_http(tmp_path, dataset_name):
    import fiftyone as fo

    from tests.ucf_server import RangeServer, build_ucf_zip

    build_ucf_zip(tmp_path / "served" / "UCF101_videos.zip", ["Archery", "Basketball"],
                  groups_per_class=3, clips_per_group=2, frames=8, size=(32, 24))
    with RangeServer(tmp_path / "served") as server:
        result = run("load_ucf101_subset", params={
            "dataset_name": dataset_name, "url": server.url("UCF101_videos.zip"),
            "num_classes": 2, "train": 2, "val": 1, "test": 1, "seed": 3})
    assert result.result["dataset_name"] == dataset_name
    dataset = fo.load_dataset(dataset_name)
    assert len(dataset) == 8
    assert dataset.count_sample_tags() == {"train": 4, "val": 2, "test": 2}


# --- bad input: a clear line in the form, never a traceback ----------------------------------
@pytest.fixture
def plain_dataset(synthetic_dataset, dataset_name):
    """A clone of the synthetic set with no embeddings or index (and no split tags, if asked)."""
    return synthetic_dataset.clone(dataset_name, persistent=True)


def test_find_similar_without_an_index_says_to_build_one(plain_dataset):
    message = form_error("find_similar_videos", plain_dataset.name, {"k": 3},
                         selected=[plain_dataset.first().id])
    assert "No similarity index yet" in message


def test_find_similar_without_a_selection_says_to_select_a_clip(plain_dataset):
    import numpy as np

    from fiftyone_videorec.search.similarity import build_index

    vectors = np.random.default_rng(0).normal(size=(len(plain_dataset), 4))
    plain_dataset.set_values(config.EMBEDDINGS_FIELD, list(vectors))
    build_index(plain_dataset)
    message = form_error("find_similar_videos", plain_dataset.name, {"k": 3})
    assert "Select one or more clips in the grid" in message
    message = form_error("find_similar_videos", plain_dataset.name,
                         {"k": 3, "video_path": "/no/such/clip.mp4"})
    assert "No video file at /no/such/clip.mp4" in message

    # more like these, less like the clips tagged "not-this"; a clip cannot be both
    a, b, c = plain_dataset.limit(3).values("id")
    plain_dataset.select(c).tag_samples("not-this")
    result = run("find_similar_videos", plain_dataset.name, {"k": 4, "negative_tag": "not-this"}, selected=[a, b])
    returned = [r["sample_id"] for r in result.result["results"]]
    assert len(returned) == 4 and {a, b, c}.isdisjoint(returned)
    from fiftyone_videorec.search.similarity import recommend

    assert returned == [r.sample_id for r in recommend(plain_dataset, [a, b], k=4, negatives=[c])]
    plain_dataset.select(a).tag_samples("not-this")
    message = form_error("find_similar_videos", plain_dataset.name, {"k": 3, "negative_tag": "not-this"},
                         selected=[a, b])
    assert f"Sample {a} is selected and also tagged 'not-this'" in message


def test_compute_embeddings_without_a_trained_model_says_to_train(plain_dataset, tmp_path):
    message = form_error("compute_video_embeddings", plain_dataset.name,
                         {"model_dir": str(tmp_path / "nothing-here")})
    assert "run 'Train video embedder' first" in message
    assert not plain_dataset.has_field(config.EMBEDDINGS_FIELD)


def test_compute_embeddings_offers_the_pretrained_model_first_and_needs_no_training(plain_dataset):
    import numpy as np

    from fiftyone_videorec.embedding.model_folder import PRETRAINED

    from plugin_operators import forms

    assert forms.model_choices()[0][0] == PRETRAINED and forms.is_model_dir(PRETRAINED)
    result = run("compute_video_embeddings", plain_dataset.name, {})  # the form's default model
    assert result.result["embedded"] == len(plain_dataset), result.result
    assert np.stack(plain_dataset.values(config.EMBEDDINGS_FIELD)).shape == (len(plain_dataset), 1280)


def test_training_without_split_tags_says_to_tag(plain_dataset, tmp_path):
    plain_dataset.untag_samples(list(config.SPLITS))
    message = form_error("train_video_embedder", plain_dataset.name,
                         {"preset": "tiny", "model_dir": str(tmp_path / "m")})
    assert "has no 'train' tagged clips" in message
    assert not (tmp_path / "m").exists()


def test_library_error_is_a_one_line_result_not_a_traceback(tmp_path, dataset_name):
    import fiftyone as fo

    (tmp_path / "empty").mkdir()
    result = run("load_video_folder", params={"path": str(tmp_path / "empty"),
                                              "dataset_name": dataset_name})
    error = result.result["error"]
    assert error and "\n" not in error and "Traceback" not in error
    assert triggered(result, "notify")[0]["message"] == error
    assert not fo.dataset_exists(dataset_name)
