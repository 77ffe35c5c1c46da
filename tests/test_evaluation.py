"""Retrieval metrics on hand-made galleries with known answers."""

import numpy as np
import pytest

from fiftyone_videorec.evaluation import rank_gallery, retrieval_metrics


def test_precision_recall_map_exact_on_hand_made_rankings():
    # gallery: 2 a, 2 b; query a ranks a,b,a ; query b ranks a,a,b
    gallery = ["a", "a", "b", "b"]
    ranked = [["a", "b", "a"], ["a", "a", "b"]]
    metrics, per_class = retrieval_metrics(ranked, ["a", "b"], gallery, k=(1, 3))
    assert metrics["precision@1"] == pytest.approx(0.5)
    assert metrics["precision@3"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert metrics["recall@1"] == pytest.approx(0.5)
    assert metrics["recall@3"] == pytest.approx(1.0)
    # AP@3 query a: (1/1 + 2/3) / 2 ; query b: (1/3) / 2
    assert metrics["map@3"] == pytest.approx(((1 + 2 / 3) / 2 + (1 / 3) / 2) / 2)
    assert metrics["chance_precision@3"] == pytest.approx(0.5)
    assert metrics["chance_recall@1"] == pytest.approx(0.5)
    assert per_class["a"]["precision@1"] == 1.0 and per_class["b"]["precision@1"] == 0.0


def test_rank_gallery_orders_by_cosine():
    gallery = np.array([[1, 0], [0, 1], [1, 1]], float)
    order, scores = rank_gallery(np.array([[2.0, 0.1]]), gallery, k=3)
    assert order.tolist() == [[0, 2, 1]]
    expected = gallery @ np.array([2.0, 0.1]) / np.linalg.norm(gallery, axis=1) / np.linalg.norm([2.0, 0.1])
    assert np.allclose(scores[0], expected[[0, 2, 1]])


def test_mean_of_clips_is_the_renormalised_mean_of_unit_clip_vectors():
    from fiftyone_videorec.vectors import l2_normalize, mean_of_clips

    rng = np.random.default_rng(0)
    clips = rng.normal(size=(6, 4)).astype(np.float32)
    expected = l2_normalize(l2_normalize(clips).reshape(2, 3, 4).mean(axis=1))
    assert np.allclose(mean_of_clips(clips, 3), expected)
    assert np.allclose(mean_of_clips(clips, [3, 3]), expected)
    uneven = mean_of_clips(clips, [1, 5])
    assert np.allclose(uneven[0], l2_normalize(clips[0]))
    assert np.allclose(np.linalg.norm(uneven, axis=1), 1.0)
    with pytest.raises(ValueError):
        mean_of_clips(clips, 4)


def test_top_k_cosine_agrees_with_rank_gallery():
    from fiftyone_videorec.vectors import l2_normalize, top_k_cosine

    rng = np.random.default_rng(1)
    gallery, query = rng.normal(size=(50, 8)), rng.normal(size=8)
    order, _ = rank_gallery(query[None], gallery, k=7)
    top, scores = top_k_cosine(l2_normalize(gallery).astype(np.float32), query, 7)
    assert top.tolist() == order[0].tolist()
    assert np.allclose(scores, l2_normalize(gallery)[top] @ l2_normalize(query), atol=1e-6)
    assert len(top_k_cosine(l2_normalize(gallery), query, 80)[0]) == 50
