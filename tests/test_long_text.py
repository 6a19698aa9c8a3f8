"""What the model reads of long texts: the units each mode makes, and how windows are pooled."""

from __future__ import annotations

import numpy as np
import pytest

from datamap_widget.long_text import (
    DEFAULT_MAX_WINDOWS,
    MAX_CHARS_PER_TOKEN,
    check_long_text_options,
    cut_for_tokenizer,
    describe_reading,
    plan_units,
)

CLS, SEP = 101, 102


def wrap(ids):
    return [CLS, *ids, SEP]


def tokens(n, start=1000):
    return list(range(start, start + n))


def test_a_text_that_fits_is_read_whole_and_identically_by_every_mode():
    docs = [tokens(5), tokens(8, 2000)]
    made = {mode: plan_units(docs, mode, 10, stride=2, add_special_tokens=wrap) for mode in ("head", "head_tail", "windows")}
    for units in made.values():
        assert units.input_ids == [wrap(docs[0]), wrap(docs[1])]
        assert units.doc.tolist() == [0, 1] and units.covered.tolist() == [1.0, 1.0]


def test_head_reads_the_beginning_and_head_tail_the_beginning_and_the_end_at_the_same_length():
    doc = tokens(100)
    head = plan_units([doc], "head", 42, add_special_tokens=wrap)
    assert head.input_ids == [wrap(doc[:40])]
    both = plan_units([doc], "head_tail", 42, add_special_tokens=wrap)
    (unit,) = both.input_ids
    assert len(unit) == 42 and unit[0] == CLS and unit[-1] == SEP
    # Half of the 40 text tokens from the start, the other 20 from the end, in order.
    assert unit[1:-1] == doc[:20] + doc[-20:]
    assert both.covered[0] == pytest.approx(0.4) and head.covered[0] == pytest.approx(0.4)


def test_windows_cover_every_token_sharing_stride_tokens_and_the_last_ends_at_the_text_end():
    doc = tokens(23)
    units = plan_units([doc], "windows", 10, stride=3, add_special_tokens=wrap)  # 8 text tokens, step 5
    bodies = [u[1:-1] for u in units.input_ids]
    assert bodies[0] == doc[0:8] and bodies[1] == doc[5:13] and bodies[2] == doc[10:18]
    assert bodies[-1] == doc[-8:]  # the last window is aligned to the end, never padded past it
    seen = sorted(set(t for b in bodies for t in b))
    assert seen == doc and units.covered[0] == 1.0
    for a, b in zip(bodies, bodies[1:-1]):
        assert len(set(a) & set(b)) == 3  # consecutive windows share exactly `stride` tokens
    assert units.doc.tolist() == [0] * len(bodies)


def test_a_text_with_more_windows_than_the_cap_is_read_through_capped_windows_spread_over_it():
    doc = tokens(10_000)
    units = plan_units([doc, tokens(3)], "windows", 12, stride=2, max_windows=4, add_special_tokens=wrap)
    bodies = [u[1:-1] for u, d in zip(units.input_ids, units.doc) if d == 0]
    assert len(bodies) == 4 and bodies[0] == doc[:10] and bodies[-1] == doc[-10:]
    assert units.capped.tolist() == [True, False]
    assert units.covered[0] == pytest.approx(40 / 10_000)


def test_memory_is_bounded_by_the_cap_not_by_the_longest_text():
    units = plan_units([tokens(1_000_000)], "windows", 128, stride=32, add_special_tokens=wrap)
    assert units.n_units == DEFAULT_MAX_WINDOWS and max(map(len, units.input_ids)) == 128


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "tail"}, r"long_text must be one of \['head', 'head_tail', 'windows'\], got 'tail'"),
        ({"mode": "windows", "stride": 126}, r"stride=126 is not smaller than a window's 126 text tokens"),
        ({"mode": "windows", "stride": 500}, r"stride=500 is not smaller"),
        ({"mode": "windows", "stride": -1}, r"stride must be an int >= 0"),
        ({"mode": "windows", "max_windows": 0}, r"max_windows must be an int >= 1"),
        ({"mode": "head", "model_limit": 64}, r"max_length=128 is more than this model reads \(64 tokens"),
    ],
)
def test_a_setting_that_cannot_work_is_refused_with_one_line_naming_it(options, message):
    settings = {"mode": "head", "stride": 32, "max_windows": 32, "model_limit": 512, **options}
    with pytest.raises(ValueError, match=message):
        check_long_text_options(settings["mode"], 128, settings["stride"], settings["max_windows"], settings["model_limit"])


def test_a_huge_text_is_cut_to_what_the_mode_can_read_before_tokenizing():
    huge = "word " * 2_000_000  # 10 MB
    head, kept = cut_for_tokenizer(huge, "head", 126, 32)
    assert len(head) == 126 * MAX_CHARS_PER_TOKEN and kept == pytest.approx(len(head) / len(huge))
    both, _ = cut_for_tokenizer("a" * 10 + huge + "z" * 10, "head_tail", 126, 32)
    assert both.startswith("a" * 10) and both.endswith("z" * 10) and len(both) < 2 * 126 * MAX_CHARS_PER_TOKEN + 2
    spread, kept = cut_for_tokenizer("a" * 10 + huge + "z" * 10, "windows", 126, 4)
    assert spread.startswith("a" * 10) and spread.endswith("z" * 10) and kept < 0.01
    assert cut_for_tokenizer("short text", "windows", 126, 4) == ("short text", 1.0)


def test_the_reading_line_says_the_mode_and_how_much_was_read():
    read = {"mode": "head", "max_length": 128, "texts": 10, "texts_longer_than_max_length": 9, "mean_share_read": 0.34,
            "stride": None, "units_per_text": 1.0, "texts_capped": 0}
    assert describe_reading(read) == (
        "read: mode head, max_length=128: 9 of 10 texts are longer; the model read only the beginning of each (34% of all tokens)"
    )
    whole = describe_reading({**read, "texts_longer_than_max_length": 0})
    assert whole.startswith("read: every text whole")
    windows = describe_reading({**read, "mode": "windows", "stride": 32, "units_per_text": 4.25, "mean_share_read": 1.0})
    assert "every token, in windows sharing 32 tokens (4.2 per text" in windows


# ------------------------------------------------------------------------------ pooling windows


@pytest.mark.parametrize("how", ["certainty", "mean"])
def test_windows_are_pooled_per_text_as_the_weighted_mean_of_their_class_probabilities(how):
    torch = pytest.importorskip("torch")
    from datamap_widget.tracker import Tracker
    from datamap_widget.train import _WindowPool

    rng = np.random.default_rng(0)
    ids = ["a", "b", "c", "d"]
    labels = ["x", "y", "z", "x"]
    tracker = Tracker(ids, labels, ["x", "y", "z"])
    docs = np.array([0, 0, 0, 1, 2, 2, 3, 0])  # text 0 has four windows, 1 and 3 one, 2 two
    logits = rng.normal(size=(len(docs), 3)) * 3
    pool = _WindowPool(len(ids), 3, how)
    # Windows arrive in batches, in any order, a text's windows split over batches.
    for rows in (np.array([4, 0, 6]), np.array([1, 7]), np.array([2, 3, 5])):
        pool.add(docs[rows], torch.tensor(logits[rows], dtype=torch.float32), None)
    pool.flush_into(tracker, ids)
    tracker.end_epoch()

    # Brute force: each text's windows' softmax, averaged with weights 1 (mean) or each
    # window's certainty (max probability - 1/3) / (1 - 1/3) plus the floor.
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    gold = np.array([0, 1, 2, 0])
    weight = (probs.max(axis=1) - 1 / 3) / (2 / 3) + 0.01 if how == "certainty" else np.ones(len(docs))
    mean = np.stack([(probs[docs == d] * weight[docs == d, None]).sum(axis=0) / weight[docs == d].sum() for d in range(4)])
    traj = tracker.trajectories()
    np.testing.assert_allclose(traj["gold_prob"][:, 0], mean[np.arange(4), gold], rtol=1e-5)
    other = mean.copy()
    other[np.arange(4), gold] = -1
    np.testing.assert_allclose(traj["other_prob"][:, 0], other.max(axis=1), rtol=1e-5)
    assert traj["argmax"][:, 0].tolist() == mean.argmax(axis=1).tolist()
    assert traj["correct"][:, 0].tolist() == (mean.argmax(axis=1) == gold).astype(float).tolist()
    np.testing.assert_allclose(tracker.datamap().class_probabilities, mean, rtol=1e-5)


def test_a_text_no_window_of_reached_in_a_stopped_pass_stays_unseen_not_zero():
    torch = pytest.importorskip("torch")
    from datamap_widget.tracker import Tracker
    from datamap_widget.train import _WindowPool

    tracker = Tracker(["a", "b"], ["x", "y"])
    pool = _WindowPool(2, 2)
    pool.add(np.array([0, 0]), torch.tensor([[2.0, 0.0], [0.0, 0.0]]), None)
    pool.flush_into(tracker, ["a", "b"])
    tracker.end_epoch()
    gold = tracker.trajectories()["gold_prob"][:, 0]
    assert gold[0] > 0.5 and np.isnan(gold[1])


def test_the_text_view_scores_every_text_out_of_fold_even_with_tiny_classes():
    pytest.importorskip("sklearn")
    from datamap_widget.text_view import out_of_fold_probabilities

    texts = ["apples and pears", "pears and apples", "apples again", "stock markets fell", "markets rose", "a lone odd one"]
    probs = out_of_fold_probabilities(texts, [0, 0, 0, 1, 1, 2], 3)
    assert probs.shape == (6, 3) and np.isfinite(probs).all()
    assert probs[5, 2] == 0.0  # no other text carries its label: the bag of words cannot back it
    assert np.isnan(out_of_fold_probabilities(texts[:3], [0, 1, 0], 2)).all()  # too few texts to hold any out


def test_certainty_pooling_lets_the_window_that_decides_outweigh_those_that_say_nothing():
    torch = pytest.importorskip("torch")
    from datamap_widget.tracker import Tracker
    from datamap_widget.train import _WindowPool

    # One text, four windows: three hesitate (0.5/0.5), the verdict window is sure of the label.
    logits = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [4.0, -4.0]])
    gold = {}
    for how in ("mean", "certainty"):
        tracker = Tracker(["review"], ["positive"], ["positive", "negative"])
        pool = _WindowPool(1, 2, how)
        pool.add(np.zeros(4, dtype=int), logits, None)
        pool.flush_into(tracker, ["review"])
        tracker.end_epoch()
        gold[how] = float(tracker.trajectories()["gold_prob"][0, 0])
    assert gold["mean"] == pytest.approx((3 * 0.5 + 0.99966) / 4, abs=1e-4)
    assert gold["certainty"] > 0.98
