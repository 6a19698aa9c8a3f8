"""The ranking that learns from the review (ranking.py), following a ReviewSession, and through DataMap.suspects(review=)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from datamap_widget import DataMap, ReviewSession, metrics
from datamap_widget.ranking import REVIEWED_WEIGHT, ReviewRanking, learns_from_reviews, rerank_order, suspect_order
from tests.harness.maps import clustered_map

NAMES = ["a", "b"]


def scores(dmap: DataMap, review: ReviewSession | None = None) -> np.ndarray:
    return dmap.reviewed_frame(review)["mislabel_score"].to_numpy(dtype=np.float64)


@pytest.mark.parametrize("method", metrics.NEIGHBOUR_METHODS)
def test_before_any_review_the_ranking_is_the_maps_score(method):
    dmap = clustered_map(method)
    expected = metrics.mislabel_score(dmap.trajectories, method, labels=dmap.labels, embeddings=dmap.embeddings)
    np.testing.assert_allclose(scores(dmap), expected, rtol=1e-12)
    assert dmap.learns_from_reviews


def rows(dmap: DataMap, *ids: str) -> np.ndarray:
    return dmap.positions(list(ids))


@pytest.mark.parametrize("method", ["knn", "margin_knn", "aum_knn", "confidence_knn"])
def test_a_relabel_moves_the_neighbours_scores_in_the_expected_direction(method):
    dmap = clustered_map(method)
    session = ReviewSession.for_map(dmap)
    neighbours = dmap.neighbour_index.all_neighbours(metrics.KNN_K)[0]
    before = scores(dmap)
    session.relabel(rows(dmap, "ex0"), 0)  # ex0 was a flipped "b" in the "a" cluster: fixed
    after = scores(dmap, session)
    listing = np.flatnonzero((neighbours == 0).any(axis=1))
    assert listing.size
    labels = dmap.labels
    still_b = listing[labels[listing] == 1]  # the other flipped ones now disagree with one more neighbour
    now_agree = listing[labels[listing] == 0]
    assert (after[still_b] > before[still_b]).all() and still_b.size
    assert (after[now_agree] < before[now_agree]).all() and now_agree.size
    # Everyone else keeps their score exactly: nothing is recomputed for them.
    others = np.setdiff1d(np.arange(len(dmap)), np.append(listing, 0))
    np.testing.assert_array_equal(after[others], before[others])
    assert dmap.labels_after(session)["ex0"] == "a" and NAMES[dmap.labels[0]] == "b"  # what the model learned stays
    np.testing.assert_array_equal(scores(dmap), before)  # the map itself never changes


def test_the_flipped_examples_rise_in_the_suspects_as_the_reviewer_fixes_their_cluster():
    dmap = clustered_map("margin_knn")
    session = ReviewSession.for_map(dmap)
    before = dmap.suspects()
    session.relabel(rows(dmap, "ex0", "ex1"), 0)
    after = dmap.suspects(review=session)
    assert {"ex0", "ex1"}.isdisjoint(after.index)  # reviewed: hidden
    for flipped in ("ex2", "ex3"):
        assert after.index.get_loc(flipped) <= before.index.get_loc(flipped)
        assert after.loc[flipped, "mislabel_score"] > before.loc[flipped, "mislabel_score"]


def test_the_ranking_resorts_through_the_session_listener():
    dmap = clustered_map("knn")
    session = ReviewSession.for_map(dmap)
    ranking = ReviewRanking(dmap.trajectories, dmap.labels, "knn", dmap.neighbour_index.all_neighbours(metrics.KNN_K)[0])
    stop = ranking.follow(session)
    before = ranking.score.copy()
    session.relabel(rows(dmap, "ex0"), 0)  # nobody tells the ranking: it listens
    moved = ranking.score.copy()
    assert not np.array_equal(moved, before) and ranking.labels[0] == 0 and ranking.reviewed[0]
    session.undo()
    np.testing.assert_array_equal(ranking.score, before)
    stop()
    session.relabel(rows(dmap, "ex0"), 0)
    np.testing.assert_array_equal(ranking.score, before)  # unsubscribed: no longer follows
    # A ranking nobody keeps stops listening by itself (the session holds it weakly).
    listeners = len(session._listeners)
    ReviewRanking(dmap.trajectories, dmap.labels, "knn", ranking.neighbours).follow(session)
    gc.collect()
    session.undo()
    assert len(session._listeners) == listeners


def test_confirming_keeps_it_hidden_and_trusts_its_label_more():
    dmap = clustered_map("knn")
    session = ReviewSession.for_map(dmap)
    neighbours = dmap.neighbour_index.all_neighbours(metrics.KNN_K)[0]
    before = scores(dmap)
    session.confirm(rows(dmap, "ex30"))  # a "b" in the "b" cluster, confirmed: its label now weighs REVIEWED_WEIGHT
    assert "ex30" not in dmap.suspects(review=session).index
    assert "ex30" in dmap.suspects(review=session, include_reviewed=True).index
    after = scores(dmap, session)
    listing = np.flatnonzero((neighbours == 30).any(axis=1))
    same = listing[dmap.labels[listing] == 1]
    other = listing[dmap.labels[listing] == 0]
    assert (after[same] <= before[same]).all() and (after[other] > before[other]).all() and other.size
    session.relabel(rows(dmap, "ex0"), 0)  # more reviews around it: ex30 stays hidden
    assert "ex30" not in dmap.suspects(review=session).index


def test_undoing_a_review_gives_back_the_scores_before_it():
    dmap = clustered_map("margin_knn")
    session = ReviewSession.for_map(dmap)
    before = scores(dmap, session)
    session.relabel(rows(dmap, "ex0", "ex21"), [0, 1])
    assert not np.array_equal(scores(dmap, session), before)
    session.undo()  # the trained labels come back
    np.testing.assert_array_equal(scores(dmap, session), before)
    assert dmap.labels_after(session)[["ex0", "ex21"]].tolist() == ["b", "a"]


def test_a_margin_map_keeps_its_order_after_reviews():
    dmap = clustered_map("margin")
    session = ReviewSession.for_map(dmap)
    assert not dmap.learns_from_reviews and not learns_from_reviews("margin")
    before = scores(dmap)
    session.relabel(rows(dmap, "ex0"), 0)
    np.testing.assert_array_equal(scores(dmap, session), before)
    assert dmap.labels_after(session)["ex0"] == "a"
    assert "ex0" not in dmap.suspects(review=session).index


def test_reviews_made_before_the_scores_exist_and_rescore_carry_over():
    dmap = clustered_map("margin")
    session = ReviewSession.for_map(dmap)
    session.relabel(rows(dmap, "ex0"), 0)
    learning = dmap.rescore("margin_knn")  # its ranking starts from the reviews already made
    fresh = clustered_map("margin_knn")
    fresh_session = ReviewSession.for_map(fresh)
    fresh_session.relabel(rows(fresh, "ex0"), 0)
    np.testing.assert_array_equal(scores(learning, session), scores(fresh, fresh_session))


def test_deprecated_mark_reviewed_still_reranks_and_refuses_bad_labels_naming_them():
    dmap = clustered_map("margin_knn")
    session = ReviewSession.for_map(clustered_map("margin_knn"))
    session.relabel(rows(dmap, "ex0"), 0)
    with pytest.warns(DeprecationWarning, match="DataMap.mark_reviewed is deprecated"):
        dmap.mark_reviewed(["ex0"], labels="a")
    np.testing.assert_array_equal(dmap.frame["mislabel_score"].to_numpy(), scores(dmap, session))  # the map reads its own session
    assert dmap.current_labels["ex0"] == "a" and "ex0" not in dmap.suspects().index
    plain = clustered_map()
    with pytest.warns(DeprecationWarning):
        with pytest.raises(ValueError, match=r"labels has unknown labels \['c'\]"):
            plain.mark_reviewed(["ex0"], labels="c")
        with pytest.raises(ValueError, match=r"codes 0\.\.1"):
            plain.mark_reviewed(["ex0"], labels=5)
        with pytest.raises(ValueError, match=r"one label or one per id \(2\), got 3"):
            plain.mark_reviewed(["ex0", "ex1"], labels=["a", "b", "a"])
    assert not plain.frame["reviewed"].any()  # nothing was half applied


def test_a_session_refuses_a_label_code_out_of_range():
    dmap = clustered_map()
    session = ReviewSession.for_map(dmap)
    with pytest.raises(ValueError, match=r"label code 5 is out of range; expected 0\.\.1"):
        session.relabel(rows(dmap, "ex0"), 5)
    assert not session.reviewed.any() and not session.history


def test_reverse_neighbours_are_exactly_who_lists_whom():
    rng = np.random.default_rng(1)
    neighbours = rng.integers(-1, 30, (30, 4))
    traj = {f: np.full((30, 2), 0.5, np.float32) for f in ("gold_prob", "other_prob", "margin", "correct")}
    ranking = ReviewRanking(traj, rng.integers(0, 2, 30), "knn", neighbours)
    for rows in ([0], [3, 7], [29, 0, 5]):
        expected = np.flatnonzero(np.isin(neighbours, rows).any(axis=1))
        np.testing.assert_array_equal(ranking.reverse_neighbours(np.array(rows)), expected)


def test_the_reviewed_weight_is_how_much_a_reviewed_neighbour_counts():
    # Example 0 has neighbours 1, 2, 3 (labels a, b, b): 2/3 disagree; once 1 is confirmed "a", 2 of (3 + 1 + 1).
    neighbours = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    traj = {f: np.full((4, 2), 0.5, np.float32) for f in ("gold_prob", "other_prob", "margin", "correct")}
    ranking = ReviewRanking(traj, np.array([0, 0, 1, 1]), "knn", neighbours)
    assert ranking.score[0] == pytest.approx(2 / 3)
    ranking.update(np.array([1]), 0)
    assert ranking.score[0] == pytest.approx(2 / (REVIEWED_WEIGHT + 2))
    with pytest.raises(ValueError, match="reviewed_weight must be a positive number"):
        ReviewRanking(traj, np.array([0, 0, 1, 1]), "knn", neighbours, reviewed_weight=0)
    with pytest.raises(ValueError, match="to learn from reviews, got 'margin'"):
        ReviewRanking(traj, np.array([0, 0, 1, 1]), "margin", neighbours)


def test_a_saved_map_keeps_its_neighbour_search_and_learns_the_same_after_loading(tmp_path, monkeypatch):
    dmap = clustered_map("margin_knn")
    dmap.frame  # the score searched every example's neighbours once
    dmap.to_parquet(tmp_path / "map.parquet")
    from datamap_widget import metrics as m

    def no_search(*args, **kwargs):  # a loaded map must not search again
        raise AssertionError("searched all points again")

    monkeypatch.setattr(m, "search_unit", no_search)
    again = DataMap.read_parquet(tmp_path / "map.parquet")
    np.testing.assert_array_equal(scores(again), scores(dmap))
    reviews = [ReviewSession.for_map(m) for m in (again, dmap)]
    for review in reviews:
        review.relabel(rows(dmap, "ex0"), 0)
    np.testing.assert_array_equal(scores(again, reviews[0]), scores(dmap, reviews[1]))
    np.testing.assert_array_equal(again.neighbour_index.all_neighbours(5)[0], dmap.neighbour_index.all_neighbours(metrics.KNN_K)[0][:, :5])


def test_suspect_order_is_a_stable_descending_sort_with_unscored_rows_last():
    score = np.array([0.2, np.nan, 0.9, 0.2, 0.9, 0.5, np.nan, 0.2])
    expected = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
    assert suspect_order(score).tolist() == expected.tolist() == [2, 4, 5, 0, 3, 7, 1, 6]


def test_rerank_order_keeps_pinned_rows_in_their_places():
    order = np.array([0, 1, 2, 3, 4])
    score = np.array([0.1, 0.2, 0.3, 0.9, 0.5])  # new scores: row 3 now most suspect
    pinned = np.array([True, False, False, False, False])  # row 0 was reviewed at place 0
    assert rerank_order(order, score, pinned).tolist() == [0, 3, 4, 2, 1]
