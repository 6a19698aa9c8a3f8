"""metrics.py against values worked out by hand, plus the injected-noise check cleanlab uses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from datamap_widget import metrics

NAN = np.nan


def trajectories(gold_prob, other_prob=None, correct=None, argmax=None, other_class=None, margin=None):
    gold_prob = np.asarray(gold_prob, dtype=np.float32)
    shape = gold_prob.shape
    other_prob = np.asarray(other_prob if other_prob is not None else 1 - gold_prob, dtype=np.float32)
    return {
        "gold_prob": gold_prob,
        "other_prob": other_prob,
        "margin": np.asarray(margin if margin is not None else np.zeros(shape), dtype=np.float32),
        "correct": np.asarray(correct if correct is not None else (gold_prob > other_prob), dtype=np.float32),
        "argmax": np.asarray(argmax if argmax is not None else np.zeros(shape), dtype=np.int16),
        "other_class": np.asarray(other_class if other_class is not None else np.ones(shape), dtype=np.int16),
    }


def test_confidence_variability_correctness_match_hand_computation():
    gold = np.array([[0.2, 0.4, 0.6, 0.8], [0.9, 0.9, 0.9, 0.9]])
    # example 0: mean 0.5, population std sqrt(((.3)^2 + (.1)^2) * 2 / 4) = sqrt(0.05)
    np.testing.assert_allclose(metrics.confidence(gold), [0.5, 0.9])
    np.testing.assert_allclose(metrics.variability(gold), [math.sqrt(0.05), 0.0], atol=1e-12)
    np.testing.assert_allclose(metrics.correctness(np.array([[0, 0, 1, 1], [1, 1, 1, 1]])), [0.5, 1.0])


def test_missing_passes_are_skipped_not_counted_as_zero():
    gold = np.array([[0.2, NAN, 0.6], [NAN, NAN, NAN]])
    conf = metrics.confidence(gold)
    assert conf[0] == pytest.approx(0.4)  # a silent zero would give 0.2667
    assert math.isnan(conf[1])
    assert metrics.variability(gold)[0] == pytest.approx(0.2)
    assert metrics.correctness(np.array([[1.0, NAN, 0.0]]))[0] == pytest.approx(0.5)


def test_matches_allenai_reference_formula():
    # allenai/cartography compute_train_dy_metrics: confidence = np.mean(true_probs_trend),
    # variability = np.std(true_probs_trend), correctness = sum(correct) (we report it / T).
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 5, 3))  # examples x epochs x classes
    gold = rng.integers(0, 3, size=50)
    probs = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    true_probs = probs[np.arange(50), :, gold]
    correct = (logits.argmax(axis=2) == gold[:, None])
    stats = [metrics.batch_statistics(logits[:, t, :], gold) for t in range(5)]
    traj = {k: np.stack([s[k] for s in stats], axis=1) for k in metrics.TRAJECTORY_FIELDS}
    out = metrics.summarize(traj, gold, 3)
    np.testing.assert_allclose(out["confidence"], true_probs.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(out["variability"], true_probs.std(axis=1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["correctness"], correct.sum(axis=1) / 5)


def test_batch_statistics_by_hand():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]])
    out = metrics.batch_statistics(logits, np.array([0, 2]))
    e = np.exp([2.0, 1.0, 0.0])
    assert out["gold_prob"][0] == pytest.approx(e[0] / e.sum(), rel=1e-6)
    assert out["other_prob"][0] == pytest.approx(e[1] / e.sum(), rel=1e-6)
    assert out["margin"].tolist() == [1.0, -2.0]  # 2-1 ; 1-3
    assert out["correct"].tolist() == [1.0, 0.0]
    assert out["argmax"].tolist() == [0, 1]
    assert out["other_class"].tolist() == [1, 1]


def test_categories_follow_documented_rules_and_thresholds():
    conf = np.array([0.9, 0.9, 0.1, 0.5, NAN])
    var = np.array([0.05, 0.3, 0.05, 0.19, NAN])
    codes = metrics.categorize(conf, var)
    assert [metrics.CATEGORIES[c] if c >= 0 else None for c in codes] == [
        "easy-to-learn",
        "ambiguous",
        "hard-to-learn",
        "easy-to-learn",  # confidence 0.5 is on the easy side of the default threshold
        None,
    ]
    stricter = metrics.categorize(conf, var, {"confidence": 0.95, "variability": 0.4})
    assert stricter.tolist()[:3] == [2, 2, 2]


def test_bad_thresholds_and_methods_name_the_problem():
    with pytest.raises(ValueError, match="unknown keys.*'confidnce'"):
        metrics.categorize(np.ones(1), np.ones(1), {"confidnce": 0.5})
    with pytest.raises(ValueError, match=r"thresholds\['variability'\] must lie in \[0, 1\]"):
        metrics.categorize(np.ones(1), np.ones(1), {"variability": 2})
    with pytest.raises(ValueError, match="method must be one of .*'margin'"):
        metrics.mislabel_score(trajectories([[0.5, 0.5]]), "nope")
    with pytest.raises(ValueError, match=r"must have shape \(N, T\)"):
        metrics.confidence(np.ones(3))


def test_scores_run_higher_for_more_suspect_examples():
    # row 0: learned easily; row 1: consistently put in another class (a typical flip)
    traj = trajectories(
        gold_prob=[[0.6, 0.9, 0.95], [0.1, 0.05, 0.3]],
        other_prob=[[0.3, 0.05, 0.03], [0.8, 0.9, 0.6]],
        margin=[[1.0, 3.0, 4.0], [-2.0, -3.0, -1.0]],
    )
    for method in set(metrics.SCORE_METHODS) - set(metrics.NEIGHBOUR_METHODS) - set(metrics.TEXT_METHODS):
        score = metrics.mislabel_score(traj, method)
        assert score[1] > score[0], method
    margin = metrics.mislabel_score(traj, "margin")
    expected = (1 + np.mean([0.8 - 0.1, 0.9 - 0.05, 0.6 - 0.3])) / 2
    assert margin[1] == pytest.approx(expected, rel=1e-6)
    assert metrics.mislabel_score(traj, "aum")[1] == pytest.approx(2.0)
    assert metrics.mislabel_score(traj, "loss")[1] == pytest.approx(-math.log(0.3), rel=1e-6)
    # early variants look at the first ceil(T/2) = 2 passes only
    assert metrics.mislabel_score(traj, "early_confidence")[1] == pytest.approx(1 - 0.075, rel=1e-6)


def test_suggested_label_is_the_most_consistently_preferred_class():
    labels = np.array([0, 0])
    traj = trajectories(
        gold_prob=[[0.1, 0.2, 0.7], [0.9, 0.8, 0.9]],
        other_prob=[[0.8, 0.7, 0.2], [0.05, 0.1, 0.05]],
        argmax=[[2, 2, 0], [0, 0, 0]],
    )
    assert metrics.suggested_label(traj, labels, 3).tolist() == [2, 0]
    # never seen -> -1
    unseen = trajectories(gold_prob=[[NAN, NAN]], argmax=[[-1, -1]])
    assert metrics.suggested_label(unseen, np.array([1]), 3).tolist() == [-1]


@pytest.mark.parametrize("n_classes, passes", [(4, 6), (12, 3)])  # a sweep per class, or per pass
def test_suggested_label_matches_a_vote_table_with_ties_and_missing_passes(n_classes, passes):
    rng = np.random.default_rng(n_classes)
    n = 400
    labels = rng.integers(0, n_classes, n)
    argmax = rng.integers(0, n_classes, (n, passes))
    argmax[rng.random((n, passes)) < 0.25] = -1
    gold = rng.random((n, passes)).astype(np.float32)
    gold[:80] = 0.5  # equal weights: ties between classes, the lower class wins
    other = np.where(gold == 0.5, gold, rng.random((n, passes)).astype(np.float32))
    gold[argmax < 0], other[argmax < 0] = np.nan, np.nan
    traj = trajectories(gold_prob=gold, other_prob=other, argmax=argmax)
    votes = np.zeros((n, n_classes))
    for i, t in zip(*np.nonzero(argmax >= 0)):  # the definition, one vote at a time
        votes[i, argmax[i, t]] += gold[i, t] if argmax[i, t] == labels[i] else other[i, t]
    expected = np.where((argmax >= 0).any(axis=1), votes.argmax(axis=1), -1)
    np.testing.assert_array_equal(metrics.suggested_label(traj, labels, n_classes), expected)


def test_single_pass_warns_that_maps_need_two_passes():
    traj = trajectories(gold_prob=[[0.7], [0.2]])
    with pytest.warns(UserWarning, match="at least two passes"):
        out = metrics.summarize(traj, np.array([0, 0]), 2)
    assert out["variability"].tolist() == [0.0, 0.0]


def test_injected_label_errors_rank_first():
    """cleanlab's test habit: flip known labels in synthetic data; they must rank on top."""
    rng = np.random.default_rng(1)
    n, t, c = 2000, 6, 4
    true = rng.integers(0, c, size=n)
    noisy = true.copy()
    flipped = rng.choice(n, size=60, replace=False)
    noisy[flipped] = (true[flipped] + rng.integers(1, c, size=60)) % c
    stats = []
    for epoch in range(t):
        logits = rng.normal(scale=1.0, size=(n, c))
        logits[np.arange(n), true] += 1.0 + 0.6 * epoch  # the model learns the true class
        memorized = np.arange(n)[np.isin(np.arange(n), flipped)]
        logits[memorized, noisy[memorized]] += 0.5 * epoch  # and slowly memorizes the noise
        stats.append(metrics.batch_statistics(logits, noisy))
    traj = {k: np.stack([s[k] for s in stats], axis=1) for k in metrics.TRAJECTORY_FIELDS}
    for method in ("margin", "confidence", "aum", "wrong_confident"):
        score = metrics.mislabel_score(traj, method)
        top = np.argsort(-score)[:100]  # top 5%
        recall = np.isin(flipped, top).mean()
        assert recall >= 0.9, (method, recall)
    suggested = metrics.suggested_label(traj, noisy, c)
    assert (suggested[flipped] == true[flipped]).mean() > 0.9


# ---------------------------------------------------------------- neighbour scores


def two_clusters(n_per: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of two well-separated clusters, labelled by cluster."""
    rng = np.random.default_rng(seed)
    centres = np.array([[5.0, 0, 0, 0], [0, 5.0, 0, 0]])
    labels = np.repeat([0, 1], n_per)
    return centres[labels] + rng.normal(scale=0.5, size=(2 * n_per, 4)), labels


def test_nearest_neighbours_match_a_brute_force_search_and_never_include_self():
    emb, _ = two_clusters()
    emb[7] = np.nan  # an example without an embedding
    index, sims = metrics.nearest_neighbours(emb, 5)
    unit = np.nan_to_num(emb) / np.maximum(np.linalg.norm(np.nan_to_num(emb), axis=1, keepdims=True), 1e-12)
    full = unit @ unit.T
    np.fill_diagonal(full, -np.inf)
    full[:, 7] = -np.inf
    for row in (0, 21, 39):
        np.testing.assert_array_equal(index[row], np.argsort(-full[row])[:5])
        np.testing.assert_allclose(sims[row], np.sort(full[row])[::-1][:5], rtol=1e-5)
    assert (index != np.arange(len(emb))[:, None]).all()
    assert (index[7] == -1).all() and not (index == 7).any()
    assert np.isnan(metrics.knn_disagreement(index, np.zeros(len(emb), dtype=int))[7])


def test_nearest_neighbours_blocks_give_the_same_answer(monkeypatch):
    emb, _ = two_clusters(n_per=30)
    whole = metrics.nearest_neighbours(emb, 4)
    monkeypatch.setattr(metrics, "NEIGHBOUR_BLOCK", 7)  # many blocks, a ragged last one
    blocked = metrics.nearest_neighbours(emb, 4)
    np.testing.assert_array_equal(whole[0], blocked[0])


def test_a_label_its_neighbourhood_does_not_share_ranks_first_by_knn():
    emb, labels = two_clusters()
    noisy = labels.copy()
    noisy[[3, 30]] = 1 - noisy[[3, 30]]  # flip one example in each cluster
    index, _ = metrics.nearest_neighbours(emb, 10)
    score = metrics.knn_disagreement(index, noisy)
    assert set(np.argsort(-score)[:2]) == {3, 30}
    assert score[3] == 1.0  # all ten neighbours are of the other label
    assert metrics.knn_disagreement(index, noisy, k=3)[3] == 1.0


def test_neighbour_methods_combine_with_the_dynamics_and_need_embeddings():
    emb, labels = two_clusters()
    noisy = labels.copy()
    noisy[[3, 30]] = 1 - noisy[[3, 30]]
    n = len(noisy)
    # Dynamics that cannot tell the flips apart (every example alike): the neighbours must.
    gold = np.full((n, 3), 0.7, dtype=np.float32)
    traj = trajectories(gold, other_prob=1 - gold)
    for method in metrics.NEIGHBOUR_METHODS:
        score = metrics.mislabel_score(traj, method, labels=noisy, embeddings=emb)
        assert set(np.argsort(-score)[:2]) == {3, 30}, method
    with pytest.raises(ValueError, match="needs embeddings"):
        metrics.mislabel_score(traj, "knn", labels=noisy)
    with pytest.raises(ValueError, match=r"needs labels of shape \(40,\)"):
        metrics.mislabel_score(traj, "knn", embeddings=emb)
    with pytest.raises(ValueError, match=r"embeddings must have shape \(40, D\)"):
        metrics.mislabel_score(traj, "knn", labels=noisy, embeddings=emb[:5])
    with pytest.raises(ValueError, match="k must be an int"):
        metrics.nearest_neighbours(emb, 40)


def test_average_rank_shares_ties_and_keeps_nan():
    np.testing.assert_allclose(metrics.average_rank(np.array([3.0, 1.0, 1.0, NAN, 2.0])), [1.0, 0.375, 0.375, NAN, 0.75])


# ---------------------------------------------------------------- regions from the data's distribution


def test_quantile_regions_split_a_map_that_fixed_thresholds_put_in_one_region():
    # A run like the shipped sample's: the model wavers on nearly everything (variability
    # above 0.2), so the fixed rule calls 95%+ "ambiguous" and says nothing.
    rng = np.random.default_rng(0)
    swing = np.array([0.3, -0.3] * 3) * rng.uniform(0.75, 1.0, (600, 1))
    gold = np.clip(rng.uniform(0.35, 0.65, (600, 1)) + swing + rng.normal(0, 0.03, (600, 6)), 0, 1)
    conf, var = metrics.confidence(gold), metrics.variability(gold)
    fixed = metrics.categorize(conf, var, metrics.resolve_thresholds("fixed", gold))
    assert np.bincount(fixed, minlength=3).max() / 600 > 0.9
    limits = metrics.resolve_thresholds(None, gold)
    shares = np.bincount(metrics.categorize(conf, var, limits), minlength=3) / 600
    assert shares.max() < 0.5 and shares.min() > 0.15, shares
    assert shares[1] == pytest.approx(1 / 3, abs=0.01)  # the top third by variability
    assert limits == metrics.resolve_thresholds("quantile", gold)
    assert metrics.resolve_thresholds({"confidence": 0.4}, gold) == {"confidence": 0.4, "variability": 0.2}


def test_threshold_rules_are_checked():
    gold = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=r"thresholds must be one of \['quantile', 'fixed'\]"):
        metrics.resolve_thresholds("quantiles", gold)
    with pytest.raises(ValueError, match="quantiles must map"):
        metrics.quantile_thresholds(gold[:, 0], gold[:, 0], {"confidence": 2})
    # No example seen: nothing to take quantiles of, the fixed rule applies (and it warns).
    with pytest.warns(UserWarning, match="never seen"):
        assert metrics.resolve_thresholds(None, np.full((3, 2), NAN)) == metrics.DEFAULT_THRESHOLDS


def test_with_many_classes_the_default_puts_the_least_believed_label_first():
    # Three classes, three passes each. Example 0: the model gives its label 0.2 and splits the
    # rest over two other classes (0.4 / 0.4); example 1: label 0.3, one other class 0.7.
    # The margin (0.2 against 0.4) calls example 1 the more suspect; the default ranks by how
    # little the label is believed, as a reviewer reading the probabilities would: example 0.
    from datamap_widget import DataMap

    traj = trajectories([[0.2] * 3, [0.3] * 3, [0.9] * 3], other_prob=[[0.4] * 3, [0.7] * 3, [0.05] * 3])
    dmap = DataMap(np.array(["split", "one-rival", "clean"]), np.array([0, 1, 2]), ["a", "b", "c"], traj)
    assert dmap.suspects(top=3).index.tolist() == ["split", "one-rival", "clean"]
    assert dmap.rescore("margin").suspects(top=1).index.tolist() == ["one-rival"]  # still there by name
    # On two classes the two scores are the same ranking.
    two = trajectories([[0.2, 0.4], [0.3, 0.35], [0.45, 0.1], [0.9, 0.8]])
    np.testing.assert_array_equal(np.argsort(metrics.mislabel_score(two)), np.argsort(metrics.mislabel_score(two, "margin")))


# ---------------------------------------------------------------- regions on degenerate maps (issue 27, item 8)


def _regions(gold, seed=0):
    """The region names a DataMap shows for gold-probability trajectories ``gold`` (N, T)."""
    from datamap_widget import DataMap

    gold = np.asarray(gold, dtype=np.float32)
    n = len(gold)
    traj = trajectories(gold)
    dmap = DataMap(np.array([f"e{i}" for i in range(n)]), np.zeros(n, dtype=np.int64), ["a", "b"], traj)
    return dmap.frame["category"].tolist()


LEARNED = [0.999, 0.9995, 0.9999, 0.9999]  # right from the first pass, with the usual float jitter
NEVER = [0.002, 0.001, 0.003, 0.001]  # consistently, confidently wrong


def test_a_well_learned_map_keeps_its_one_wrong_example_apart():
    # 40 examples learned perfectly, one consistently, confidently wrong: the variability
    # quantile is 0.0, and ">= 0.0" called all 41 ambiguous.
    regions = _regions([LEARNED] * 40 + [NEVER])
    assert regions == ["easy-to-learn"] * 40 + ["hard-to-learn"]


def test_never_learned_is_hard_and_learned_is_easy_on_an_ordinary_map():
    rng = np.random.default_rng(3)
    wavering = np.clip(rng.uniform(0.2, 0.8, (60, 1)) + rng.normal(0, 0.2, (60, 4)), 0, 1)
    regions = _regions(np.vstack([wavering, [NEVER], [LEARNED]]))
    assert regions[-2:] == ["hard-to-learn", "easy-to-learn"]
    assert len(set(regions[:60])) == 3  # the ordinary examples still fill all three regions


@pytest.mark.parametrize(
    "name, gold, expected",
    [
        ("all learned", [LEARNED, [0.99, 0.995, 0.999, 0.9999], [0.95, 0.97, 0.99, 0.999]] * 10, "easy-to-learn"),
        ("all wrong", [NEVER, [0.01, 0.02, 0.005, 0.001], [0.05, 0.03, 0.01, 0.01]] * 10, "hard-to-learn"),
        ("identical, learned", [[0.7, 0.8, 0.8, 0.9]] * 30, "easy-to-learn"),
        ("identical, not learned", [[0.3, 0.3, 0.25, 0.3]] * 30, "hard-to-learn"),
        ("identical, wavering", [[0.1, 0.9, 0.1, 0.9]] * 30, "ambiguous"),
    ],
)
def test_degenerate_maps_land_in_the_region_their_trajectories_mean(name, gold, expected):
    assert set(_regions(gold)) == {expected}, name


def test_one_pass_splits_learned_from_never_learned_without_calling_anything_ambiguous():
    with pytest.warns(UserWarning, match="at least two passes"):
        regions = _regions([[0.99]] * 20 + [[0.6]] * 5 + [[0.01]] * 5)
    assert regions[:20] == ["easy-to-learn"] * 20 and regions[-5:] == ["hard-to-learn"] * 5
    assert "ambiguous" not in regions


def test_half_never_seen_warns_and_the_seen_half_keeps_its_regions():
    gold = [LEARNED] * 10 + [NEVER] * 2 + [[NAN] * 4] * 12
    with pytest.warns(UserWarning, match=r"12 of the map's 24 examples \(50%\) were never seen"):
        regions = _regions(gold)
    assert regions[:12] == ["easy-to-learn"] * 10 + ["hard-to-learn"] * 2
    assert all(r is None or r != r for r in regions[12:])  # no region at all


def test_the_text_scores_combine_the_models_and_the_bag_of_words_probability_of_the_label():
    # row 0: both views believe the label; row 1: the model memorised it, the bag of words doubts it;
    # row 2: both doubt it.
    traj = trajectories(
        gold_prob=[[0.9, 0.95], [0.8, 0.9], [0.2, 0.3]],
        other_prob=[[0.05, 0.03], [0.1, 0.05], [0.7, 0.6]],
        margin=[[3.0, 4.0], [2.0, 3.0], [-2.0, -1.0]],
    )
    labels = np.array([0, 1, 0])
    text = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    combined = metrics.mislabel_score(traj, "confidence_text", labels=labels, text_probabilities=text)
    np.testing.assert_allclose(combined, [1 - (0.925 + 0.9) / 2, 1 - (0.85 + 0.2) / 2, 1 - (0.25 + 0.3) / 2], rtol=1e-6)
    assert combined[1] > combined[0] and combined[2] > combined[1]
    np.testing.assert_allclose(metrics.mislabel_score(traj, "text", labels=labels, text_probabilities=text), [0.1, 0.8, 0.7])
    with pytest.raises(ValueError, match=r"method 'confidence_text' needs the text view's probabilities .* text_view=True"):
        metrics.mislabel_score(traj, "confidence_text", labels=labels)
    with pytest.raises(ValueError, match=r"text_probabilities must have shape \(3, C\)"):
        metrics.mislabel_score(traj, "text", labels=labels, text_probabilities=text[:2])


# ---------------------------------------------------------------- suggestions (issue 29, item 1)


def _memorising_run(n=400, t=6, c=4, flips=12, seed=5):
    """Flipped labels the model learns the true class of early, then memorises by the last passes."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, c, size=n)
    noisy = true.copy()
    flipped = rng.choice(n, size=flips, replace=False)
    noisy[flipped] = (true[flipped] + rng.integers(1, c, size=flips)) % c
    stats = []
    for epoch in range(t):
        logits = rng.normal(scale=0.3, size=(n, c))
        logits[np.arange(n), true] += 3.0
        logits[flipped, noisy[flipped]] += 1.6 * epoch  # memorised: the given label wins late
        stats.append(metrics.batch_statistics(logits, noisy))
    traj = {k: np.stack([s[k] for s in stats], axis=1) for k in metrics.TRAJECTORY_FIELDS}
    return traj, noisy, true, flipped


def test_a_label_memorised_late_gets_the_class_of_its_early_passes():
    traj, noisy, true, flipped = _memorising_run()
    assert (metrics.suggested_label(traj, noisy, 4)[flipped] == noisy[flipped]).mean() > 0.5  # the old vote repeats it
    out = metrics.suggest_labels(traj, noisy, metrics.mislabel_score(traj, "confidence"))
    shown = out["suggestion_confident"]
    assert shown[flipped].mean() >= 0.5  # the zone is 3/4 of the estimated errors: the least suspect wait
    assert (out["suggested_label"][flipped][shown[flipped]] == true[flipped][shown[flipped]]).all()
    # One suggestion everywhere: another label exactly where one is shown.
    np.testing.assert_array_equal(out["suggested_label"] != noisy, shown)


def test_a_correct_label_is_never_shown_another_suggestion():
    traj, noisy, true, flipped = _memorising_run()
    out = metrics.summarize(traj, noisy, 4)
    correct = np.ones(len(noisy), bool)
    correct[flipped] = False
    assert not out["suggestion_confident"][correct].any()
    assert (out["suggested_label"][correct] == noisy[correct]).all()


def test_a_thin_preference_is_a_weak_hint_not_a_suggestion():
    # Label 0 for both; "leans" has class 1 barely ahead in its early passes (0.57 against 0.43).
    stats = [metrics.batch_statistics(np.array([[0, 3.0], [0, 0.3]]), np.array([0, 0])) for _ in range(4)]
    traj = {k: np.stack([s[k] for s in stats], axis=1) for k in metrics.TRAJECTORY_FIELDS}
    out = metrics.suggest_labels(traj, np.array([0, 0]), metrics.mislabel_score(traj, "confidence"))
    assert out["suggestion_confident"].tolist() == [True, False]
    assert out["suggested_label"].tolist() == [1, 0]
    assert out["suggestion_weak"].tolist() == [False, True] and out["alternative"].tolist() == [1, 1]
    with pytest.raises(ValueError, match=r"score must have shape \(2,\)"):
        metrics.suggest_labels(traj, np.array([0, 0]), np.zeros(3))


# ------------------------------------------------------------------ classes never learned


def never_learned_map(n: int = 400, rare: int = 11, seed: int = 0):
    """Three classes the model learns and a rare fourth ("ABBR", ``rare`` examples) it never
    does: its examples' gold probability stays ~0.02, the model predicts another class."""
    from datamap_widget import DataMap

    rng = np.random.default_rng(seed)
    labels = np.concatenate([rng.integers(0, 3, n - rare), np.full(rare, 3)])
    passes = 4
    gold = np.clip(rng.normal(0.85, 0.08, (n, passes)), 0.01, 0.99)
    gold[labels == 3] = rng.uniform(0.005, 0.04, (rare, passes))
    correct = (gold > 0.5).astype(np.float32)
    traj = trajectories(gold, other_prob=1 - gold, correct=correct,
                        other_class=np.where(labels[:, None] == 3, 0, 3) * np.ones((1, passes)))
    names = ["DESC", "ENTY", "LOC", "ABBR"]
    return DataMap([f"q{i}" for i in range(n)], labels, names, traj), labels


def test_a_small_class_the_map_never_learned_is_found_and_no_other():
    dmap, labels = never_learned_map()
    t = dmap.trajectories
    found = metrics.unlearned_classes(t["gold_prob"], t["correct"], labels, 4)
    assert found["classes"].tolist() == [3]
    assert found["count"].tolist() == [11]
    assert found["correctness"][0] == 0 and found["confidence"][0] < 0.05
    assert metrics.unlearned_message(["ABBR"], [11]) == (
        "The model never learned class ABBR (11 examples): its suspects mean the class is too small, "
        "not that the labels are wrong; suggestions for it are unreliable."
    )


def test_a_class_is_not_unlearned_when_it_is_large_or_when_nothing_was_learned_yet():
    # Large: a quarter of the map never learned points at the training, not at the class.
    dmap, labels = never_learned_map(n=44, rare=11)
    t = dmap.trajectories
    assert metrics.unlearned_classes(t["gold_prob"], t["correct"], labels, 4)["classes"].size == 0
    # Nothing learned yet (one early pass): no class is singled out.
    gold = np.full((200, 1), 0.02)
    labels = np.repeat([0, 1, 2, 3], 50)
    assert metrics.unlearned_classes(gold, np.zeros_like(gold), labels, 4)["classes"].size == 0
    # A hard but learned class (correct half the time) is not flagged.
    dmap, labels = never_learned_map()
    gold = dmap.trajectories["gold_prob"].copy()
    gold[labels == 3] = 0.45
    correct = np.where(labels[:, None] == 3, np.array([[0, 1, 0, 1]]), dmap.trajectories["correct"])
    assert metrics.unlearned_classes(gold, correct, labels, 4)["classes"].size == 0
    with pytest.raises(ValueError, match="n_classes"):
        metrics.unlearned_classes(gold, correct, labels, 0)


def test_datamap_names_the_unlearned_class_and_its_suspects_warn(tmp_path, capsys):
    dmap, _ = never_learned_map()
    assert dmap.unlearned_classes.index.tolist() == ["ABBR"]
    assert dmap.unlearned_classes["count"].tolist() == [11]
    with pytest.warns(UserWarning, match=r"never learned class ABBR \(11 examples\)"):
        top = dmap.suspects(top=20)
    assert (top["label"] == "ABBR").sum() == 11  # the rare class floods the top suspects
    # The CLI's suspects listing says it too, as one warning line on stderr.
    from datamap_widget.cli import main
    from datamap_widget.run import write_run

    write_run(tmp_path / "run", dmap, [f"text {i}" for i in range(len(dmap))], {"settings": {}})
    assert main(["suspects", str(tmp_path / "run"), "--top", "5"]) == 0
    err = capsys.readouterr().err
    assert "datamap: warning: The model never learned class ABBR (11 examples)" in err
