"""Tracker: recording, within-pass averaging, missing passes and every error a user can hit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from datamap_widget import DataMap, Tracker


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def tracker():
    return Tracker(["a", "b", "c"], ["pos", "neg", "pos"])


def test_labels_become_codes_in_sorted_name_order(tracker):
    assert tracker.label_names == ["neg", "pos"]
    assert tracker.labels.tolist() == [1, 0, 1]
    named = Tracker([1, 2], [0, 2], label_names=["x", "y", "z"])
    assert named.label_names == ["x", "y", "z"] and named.labels.tolist() == [0, 2]
    assert Tracker([1, 2], [0, 2]).label_names == ["0", "1", "2"]
    ordered = Tracker(["a", "b"], ["pos", "neg"], label_names=["pos", "neg"])
    assert ordered.labels.tolist() == [0, 1]


def test_one_pass_gives_gold_probability_per_example(tracker):
    logits = np.array([[0.0, 2.0], [1.0, 0.0], [3.0, -1.0]])
    tracker.record(["a", "b", "c"], logits)
    tracker.end_epoch()
    traj = tracker.trajectories()
    expected = softmax(logits)[[0, 1, 2], [1, 0, 1]]
    np.testing.assert_allclose(traj["gold_prob"][:, 0], expected, rtol=1e-6)
    assert traj["correct"][:, 0].tolist() == [1.0, 1.0, 0.0]
    assert traj["argmax"][:, 0].tolist() == [1, 0, 0]
    assert tracker.n_passes == 1


def test_example_seen_twice_in_a_pass_is_averaged(tracker):
    tracker.record(["a"], np.array([[0.0, 0.0]]))  # p = 0.5
    tracker.record(["a", "b", "c"], np.array([[-10.0, 10.0], [1.0, 0.0], [0.0, 1.0]]))  # p ~ 1
    tracker.end_epoch()
    gold = tracker.trajectories()["gold_prob"][0, 0]
    assert gold == pytest.approx((0.5 + 1.0) / 2, abs=1e-6)
    assert tracker.trajectories()["correct"][0, 0] == pytest.approx(0.5)  # tie at 0.5 -> argmax 0, wrong


def test_unseen_example_has_the_pass_missing_not_zero(tracker):
    tracker.record(["a", "b", "c"], np.zeros((3, 2)))
    tracker.end_epoch()
    tracker.record(["a", "b"], np.array([[0.0, 4.0], [4.0, 0.0]]))
    tracker.end_epoch()
    traj = tracker.trajectories()
    assert math.isnan(traj["gold_prob"][2, 1]) and traj["argmax"][2, 1] == -1
    frame = tracker.datamap().frame
    assert frame.loc["c", "n_passes"] == 1
    assert frame.loc["c", "confidence"] == pytest.approx(0.5)  # only the seen pass counts
    assert frame.loc["a", "n_passes"] == 2


def test_datamap_mid_training_and_before_any_pass(tracker):
    with pytest.warns(UserWarning, match="no closed pass yet, so every metric is missing"):
        empty = tracker.datamap()
    assert isinstance(empty, DataMap) and empty.n_passes == 0
    assert empty.frame["confidence"].isna().all()
    assert len(empty.suspects()) == 0
    for _ in range(2):
        tracker.record(["a", "b", "c"], np.array([[0.0, 2.0], [1.0, 0.0], [3.0, -1.0]]))
        tracker.end_epoch()
    tracker.record(["a"], np.zeros((1, 2)))  # an open pass is not in the map yet
    assert tracker.datamap().n_passes == 2
    assert tracker.pending == 1


def test_single_pass_map_warns(tracker):
    tracker.record(["a", "b", "c"], np.zeros((3, 2)))
    tracker.end_epoch()
    with pytest.warns(UserWarning, match="at least two passes"):
        frame = tracker.datamap().frame
    assert (frame["variability"] == 0).all()


def test_torch_input_matches_numpy_input():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 3)).astype(np.float32)
    ids = list(range(10, 16))
    a = Tracker(ids, [0, 1, 2, 0, 1, 2])
    b = Tracker(ids, [0, 1, 2, 0, 1, 2])
    a.record(ids, logits)
    b.record(torch.tensor(ids), torch.from_numpy(logits).requires_grad_())
    a.end_epoch(), b.end_epoch()
    for name, values in a.trajectories().items():
        np.testing.assert_allclose(values, b.trajectories()[name], rtol=1e-6)


def test_device_path_gives_the_same_map_as_the_numpy_path():
    rng = np.random.default_rng(2)
    ids = np.array(["x%d" % i for i in range(20)])
    labels = rng.integers(0, 4, size=20)
    host, device = Tracker(ids, labels), Tracker(ids, labels)
    device._force_device_path = True  # what a CUDA tensor takes, run on the CPU
    for _ in range(3):
        for batch in np.array_split(rng.permutation(20), 4):
            logits = rng.normal(size=(len(batch), 4)).astype(np.float32)
            host.record(ids[batch], logits)
            device.record(list(ids[batch]), torch.from_numpy(logits))
        host.end_epoch(), device.end_epoch()
    for name, values in host.trajectories().items():
        np.testing.assert_allclose(values, device.trajectories()[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_bfloat16_logits_are_accepted(tracker):
    tracker.record(["a", "b", "c"], torch.zeros((3, 2), dtype=torch.bfloat16))
    tracker.end_epoch()
    assert tracker.trajectories()["gold_prob"][:, 0].tolist() == [0.5, 0.5, 0.5]


def test_subscribers_hear_every_end_epoch(tracker):
    heard = []
    unsubscribe = tracker.subscribe(lambda t: heard.append(t.n_passes))
    tracker.record(["a", "b", "c"], np.zeros((3, 2)))
    tracker.end_epoch()
    with pytest.warns(UserWarning, match="nothing recorded"):
        tracker.end_epoch()
        unsubscribe()
        tracker.end_epoch()
    assert heard == [1, 2]


# ------------------------------------------------------------------ errors


def test_duplicate_ids_are_named():
    with pytest.raises(ValueError, match=r"ids must be unique; 1 id\(s\) repeat: \['b'\]"):
        Tracker(["a", "b", "b"], [0, 1, 1])


def test_empty_dataset():
    with pytest.raises(ValueError, match="ids is empty"):
        Tracker([], [])


def test_labels_and_ids_must_have_the_same_length():
    with pytest.raises(ValueError, match="labels has 1 entries but ids has 2"):
        Tracker(["a", "b"], ["x"])


def test_labels_outside_label_names_are_named():
    with pytest.raises(ValueError, match=r"labels has values not in label_names \['neg', 'pos'\]: \['neutral'\]"):
        Tracker(["a", "b"], ["pos", "neutral"], label_names=["neg", "pos"])
    with pytest.raises(ValueError, match=r"codes outside 0..1.*\[5\]"):
        Tracker(["a", "b"], [0, 5], label_names=["neg", "pos"])


def test_mixed_id_types_are_refused():
    with pytest.raises(TypeError, match="ids must be all str or all int"):
        Tracker(["a", 1], [0, 1])


def test_unknown_ids_in_record_are_named(tracker):
    with pytest.raises(ValueError, match=r"batch_ids has 1 id\(s\) the tracker does not know: \['zz'\]"):
        tracker.record(["a", "zz"], np.zeros((2, 2)))
    # a longer id that shares a prefix with a known one must not match it
    with pytest.raises(ValueError, match="does not know"):
        tracker.record(["abc"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="does not know"):
        Tracker([0, 1, 2], [0, 1, 0]).record([3], np.zeros((1, 2)))


def test_wrong_logit_shapes_are_named(tracker):
    with pytest.raises(ValueError, match="logits has 3 rows but batch_ids has 2"):
        tracker.record(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"logits has 3 columns but the tracker has 2 classes \['neg', 'pos'\]"):
        tracker.record(["a", "b"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(batch, classes\)"):
        tracker.record(["a", "b"], np.zeros(2))


def test_nan_logits_name_the_ids_and_lose_nothing(tracker):
    tracker.record(["a", "b", "c"], np.array([[0.0, 2.0], [1.0, 0.0], [3.0, -1.0]]))
    before = {k: v.copy() for k, v in tracker._sums.items()}
    with pytest.raises(ValueError, match=r"NaN or infinite values for 2 example\(s\): \['b', 'c'\]"):
        tracker.record(["a", "b", "c"], np.array([[0.0, 1.0], [np.nan, 0.0], [np.inf, 0.0]]))
    for name, values in tracker._sums.items():
        np.testing.assert_array_equal(values, before[name])
    tracker.end_epoch()
    with pytest.warns(UserWarning, match="at least two passes"):
        assert tracker.datamap().frame["n_passes"].tolist() == [1, 1, 1]


def test_nan_logits_on_the_device_path_are_reported_at_end_epoch(tracker):
    tracker._force_device_path = True
    tracker.record(["a", "b", "c"], torch.tensor([[0.0, 2.0], [float("nan"), 0.0], [3.0, -1.0]]))
    with pytest.raises(ValueError, match=r"NaN or infinite values for 1 example\(s\): \['b'\]"):
        tracker.end_epoch()
    assert tracker.n_passes == 1  # the pass closed with the good records
    with pytest.warns(UserWarning, match="at least two passes"):
        frame = tracker.datamap().frame
    assert frame.loc["b", "n_passes"] == 0 and frame.loc["a", "n_passes"] == 1


# ---------------------------------------------------------------- hardening (issue 17, items 6-10)


def test_float64_logits_beyond_float32_range_give_probabilities_not_nan():
    logits = np.array([[1e39, 0.0], [0.0, 1e39], [-1e39, 1e39]])  # finite in float64
    for force_device in (False, True):
        tracker = Tracker(["a", "b", "c"], [0, 0, 1])
        tracker._force_device_path = force_device
        tracker.record(["a", "b", "c"], torch.from_numpy(logits) if force_device else logits)
        tracker.end_epoch()
        traj = tracker.trajectories()
        np.testing.assert_allclose(traj["gold_prob"][:, 0], [1.0, 0.0, 1.0], atol=1e-6)
        assert traj["correct"][:, 0].tolist() == [1.0, 0.0, 1.0]
        assert np.isfinite(traj["margin"]).all()  # kept at float32's largest value, not inf
        assert traj["margin"][0, 0] > 1e38 and traj["margin"][1, 0] < -1e38


def test_uint64_ids_at_or_above_2_63_keep_their_value():
    big = np.array([2**63, 2**63 + 1, 2**64 - 1], dtype=np.uint64)
    tracker = Tracker(big, [0, 1, 0])
    assert tracker.ids.dtype == np.uint64 and tracker.ids.tolist() == [2**63, 2**63 + 1, 2**64 - 1]
    tracker.record([2**64 - 1, 2**63], np.array([[3.0, 0.0], [0.0, 3.0]]))
    with pytest.raises(ValueError, match="does not know"):
        tracker.record([-1], np.zeros((1, 2)))  # -1 is not 2**64 - 1
    tracker.end_epoch()
    with pytest.warns(UserWarning, match="at least two passes"):
        frame = tracker.datamap().frame
    assert frame.index.tolist() == [2**63, 2**63 + 1, 2**64 - 1]
    assert frame.loc[2**64 - 1, "n_passes"] == 1 and frame.loc[2**63 + 1, "n_passes"] == 0
    assert Tracker([2**63, 5], [0, 1]).ids.dtype == np.uint64  # a Python list too


def test_ids_that_differ_by_a_trailing_nul_are_two_examples():
    tracker = Tracker(["a", "a\x00"], [0, 1])
    assert tracker.ids.tolist() == ["a", "a\x00"]
    tracker.record(["a\x00"], np.array([[0.0, 5.0]]))
    tracker.end_epoch()
    with pytest.warns(UserWarning, match="at least two passes"):
        frame = tracker.datamap().frame
    assert frame.index.tolist() == ["a", "a\x00"]
    assert frame.loc["a\x00", "n_passes"] == 1 and frame.loc["a", "n_passes"] == 0


def test_bool_ids_are_refused_not_turned_into_1_and_0():
    for ids in ([True, False], np.array([True, False]), [1, True]):
        with pytest.raises(TypeError, match="ids must be str or int ids, got bool"):
            Tracker(ids, [0, 1])
    tracker = Tracker([0, 1], [0, 1])
    with pytest.raises(TypeError, match="batch_ids must be str or int ids, got bool"):
        tracker.record([True], np.zeros((1, 2)))


def test_one_long_id_does_not_widen_every_id():
    import tracemalloc

    ids = [f"s{i}" for i in range(1000)] + ["x" * 10_000]  # fixed width: 1,001 x 10,000 x 4 B = 40 MB
    labels = [i % 2 for i in range(len(ids))]
    tracemalloc.start()
    tracker = Tracker(ids, labels)
    tracker.record(ids[-2:], np.zeros((2, 2)))
    tracker.end_epoch()
    with pytest.warns(UserWarning, match="at least two passes"):
        dmap = tracker.datamap()
        _ = dmap.frame
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * 2**20, f"{peak / 2**20:.0f} MiB for 11 kB of ids"
    assert dmap.ids[-1] == "x" * 10_000


def test_categorical_labels_keep_their_category_order_and_unused_categories():
    import pandas as pd

    labels = pd.Series(pd.Categorical(["pos", "neg", "pos"], categories=["pos", "neutral", "neg"]))
    tracker = Tracker(["a", "b", "c"], labels)
    assert tracker.label_names == ["pos", "neutral", "neg"] and tracker.labels.tolist() == [0, 2, 0]
    assert Tracker(["a", "b", "c"], labels.array).label_names == ["pos", "neutral", "neg"]
    renamed = Tracker(["a", "b", "c"], labels, label_names=["neg", "neutral", "pos"])
    assert renamed.labels.tolist() == [2, 0, 2]
    with pytest.raises(ValueError, match="labels has 1 missing value"):
        Tracker(["a", "b"], pd.Categorical(["pos", None], categories=["pos", "neg"]))


def test_a_single_class_is_refused():
    with pytest.raises(ValueError, match=r"at least two classes, got only \['pos'\]"):
        Tracker(["a", "b"], ["pos", "pos"])
    Tracker(["a", "b"], ["pos", "pos"], label_names=["neg", "pos"])  # two classes, one used: fine


def test_logits_on_the_meta_device_are_refused_at_record_and_the_tracker_goes_on(tracker):
    with pytest.raises(TypeError, match="'meta' device"):
        tracker.record(["a", "b"], torch.zeros((2, 2), device="meta"))
    tracker.record(["a", "b", "c"], np.zeros((3, 2)))
    tracker.end_epoch()
    assert tracker.n_passes == 1 and tracker.pending == 0


def test_unknown_ids_on_the_device_path_close_the_pass_with_the_others():
    tracker = Tracker([10, 11, 12], [0, 1, 0])
    tracker._force_device_path = True
    tracker.record(torch.tensor([10, 99, 12]), torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 2.0]]))
    with pytest.raises(ValueError, match=r"1 id\(s\) the tracker does not know.*dropped.*closed with all the others"):
        tracker.end_epoch()
    assert tracker.n_passes == 1 and tracker.pending == 0
    seen = ~np.isnan(tracker.trajectories()["gold_prob"][:, 0])
    assert seen.tolist() == [True, False, True]
    tracker.record(torch.tensor([11]), torch.tensor([[0.0, 3.0]]))
    tracker.end_epoch()  # the next pass works
    assert tracker.n_passes == 2


def test_range_ids_out_of_range_on_the_device_path_are_reported_not_a_crash():
    tracker = Tracker([0, 1, 2], [0, 1, 0])
    tracker._force_device_path = True
    tracker.record(torch.tensor([0, 7]), torch.zeros((2, 2)))
    with pytest.raises(ValueError, match="does not know"):
        tracker.end_epoch()
    assert tracker.n_passes == 1


def test_a_device_pass_that_cannot_be_read_back_is_discarded_and_the_tracker_goes_on(tracker, monkeypatch):
    from datamap_widget import tracker as tracker_module

    tracker._force_device_path = True
    tracker.record(["a", "b"], torch.zeros((2, 2)))

    def broken(self, owner):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    with monkeypatch.context() as patch:
        patch.setattr(tracker_module._DevicePass, "flush_into", broken)
        with pytest.raises(RuntimeError, match=r"discarded with its 2 record\(s\).*next pass records as usual"):
            tracker.end_epoch()
    assert tracker.n_passes == 0 and tracker.pending == 0
    tracker.record(["a", "b", "c"], torch.zeros((3, 2)))
    tracker.end_epoch()
    assert tracker.n_passes == 1


def test_trajectories_are_views_later_passes_never_change():
    tracker = Tracker(["a", "b"], [0, 1])
    maps = []
    for k in range(7):  # past the first buffer growth
        tracker.record(["a", "b"], np.array([[float(k), 0.0], [0.0, float(k)]]))
        tracker.end_epoch()
        maps.append(tracker.trajectories())
    assert [m["gold_prob"].shape for m in maps] == [(2, k + 1) for k in range(7)]
    np.testing.assert_allclose(maps[0]["gold_prob"][:, 0], [0.5, 0.5])
    np.testing.assert_array_equal(maps[6]["gold_prob"][:, :3], maps[2]["gold_prob"])
    with pytest.raises(ValueError, match="read-only"):
        maps[6]["gold_prob"][0, 0] = 0.0


# ---------------------------------------------------------------- embeddings


def test_embeddings_keep_the_latest_per_example_as_float16():
    tracker = Tracker(["a", "b", "c"], [0, 1, 0])
    logits = np.zeros((2, 2))
    tracker.record(["a", "b"], logits, embeddings=np.array([[1.0, 2.0], [3.0, 4.0]]))
    tracker.record(["b"], logits[:1], embeddings=np.array([[5.0, 6.0]]))  # a later forward pass wins
    tracker.end_epoch()
    assert tracker.embeddings.dtype == np.float16
    np.testing.assert_array_equal(tracker.embeddings[:2], [[1, 2], [5, 6]])
    assert np.isnan(tracker.embeddings[2]).all()  # never given one: NaN, not zeros
    np.testing.assert_array_equal(tracker.datamap().embeddings[:2], [[1, 2], [5, 6]])


def test_no_embeddings_cost_nothing_and_bad_ones_name_the_argument():
    tracker = Tracker([0, 1], [0, 1])
    tracker.record([0, 1], np.zeros((2, 2)))
    assert tracker.embeddings is None and tracker.datamap().embeddings is None
    with pytest.raises(ValueError, match=r"embeddings must have shape \(2, D\) like logits' rows, got shape \(3, 4\)"):
        tracker.record([0, 1], np.zeros((2, 2)), embeddings=np.zeros((3, 4)))
    tracker.record([0, 1], np.zeros((2, 2)), embeddings=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="embeddings has 5 columns but earlier batches had 4"):
        tracker.record([0, 1], np.zeros((2, 2)), embeddings=np.zeros((2, 5)))


def test_embeddings_from_torch_tensors_with_gradients():
    torch = pytest.importorskip("torch")
    tracker = Tracker([0, 1], [0, 1])
    hidden = torch.ones((2, 3), requires_grad=True) * 2
    tracker.record(torch.tensor([1, 0]), torch.zeros((2, 2)), embeddings=hidden)
    np.testing.assert_array_equal(tracker.embeddings, [[2, 2, 2], [2, 2, 2]])


# ---------------------------------------------------------------- class probabilities (issue 14, item 4)


def test_class_probabilities_are_the_mean_softmax_over_the_passes_each_example_was_seen_in():
    rng = np.random.default_rng(3)
    ids = ["a", "b", "c", "d"]
    logits = rng.normal(0, 2, size=(3, 4, 3))  # pass x example x class
    extra_a = rng.normal(0, 2, size=(1, 3))  # "a" is seen twice in pass 0
    for force_device in (False, True):  # the numpy path and the accelerator path (run on the CPU)
        tracker = Tracker(ids, [0, 1, 2, 0], label_names=["x", "y", "z"])
        tracker._force_device_path = force_device
        for t in range(3):
            rows = [0, 1, 2] if t == 1 else [0, 1, 2, 3]  # "d" misses pass 1
            batch = torch.tensor(logits[t][rows]) if force_device else logits[t][rows]
            tracker.record([ids[r] for r in rows], batch)
            if t == 0:
                tracker.record(["a"], torch.tensor(extra_a) if force_device else extra_a)
            tracker.end_epoch()
        probs = tracker.datamap().class_probabilities
        per_pass = softmax(logits.reshape(-1, 3)).reshape(3, 4, 3)
        expected = per_pass.mean(axis=0)
        expected[0] = ((per_pass[0, 0] + softmax(extra_a)[0]) / 2 + per_pass[1, 0] + per_pass[2, 0]) / 3
        expected[3] = (per_pass[0, 3] + per_pass[2, 3]) / 2  # the missed pass is left out, not a zero
        assert probs.shape == (4, 3) and probs.dtype == np.float32
        np.testing.assert_allclose(probs, expected, rtol=1e-5, err_msg=f"device path: {force_device}")
        np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
        # The gold column's mean is the map's confidence, for every example.
        np.testing.assert_allclose(probs[np.arange(4), tracker.labels], tracker.datamap().frame["confidence"], rtol=1e-5)


def test_class_probabilities_of_an_unseen_example_are_missing_and_a_map_before_any_pass_has_them_missing(tracker):
    with pytest.warns(UserWarning, match="no closed pass"):
        assert np.isnan(tracker.datamap().class_probabilities).all()
    tracker.record(["a", "b"], np.array([[0.0, 2.0], [1.0, 0.0]]))
    tracker.end_epoch()
    probs = tracker.datamap().class_probabilities
    assert np.isnan(probs[2]).all() and not np.isnan(probs[:2]).any()


def test_nan_logits_leave_the_class_probabilities_untouched(tracker):
    tracker.record(["a", "b", "c"], np.array([[0.0, 2.0], [1.0, 0.0], [3.0, -1.0]]))
    with pytest.raises(ValueError, match=r"NaN or infinite values for 1 example\(s\): \['b'\]"):
        tracker.record(["a", "b"], np.array([[5.0, -5.0], [np.nan, 0.0]]))
    tracker.end_epoch()
    probs = tracker.datamap().class_probabilities
    np.testing.assert_allclose(probs, softmax(np.array([[0.0, 2.0], [1.0, 0.0], [3.0, -1.0]])), rtol=1e-6)


def test_class_probabilities_can_be_turned_off_and_cost_nothing_then():
    tracker = Tracker(["a", "b"], [0, 1], class_probabilities=False)
    tracker.record(["a", "b"], np.zeros((2, 2)))
    tracker.end_epoch()
    assert tracker._prob_pass is None and tracker._prob_total is None
    assert tracker.datamap().class_probabilities is None


def test_class_probabilities_are_a_snapshot_later_passes_do_not_change(tracker):
    tracker.record(["a", "b", "c"], np.zeros((3, 2)))
    tracker.end_epoch()
    first = tracker.datamap()
    tracker.record(["a", "b", "c"], np.array([[9.0, -9.0]] * 3))
    tracker.end_epoch()
    np.testing.assert_allclose(first.class_probabilities, 0.5)
    assert not first.class_probabilities.flags.writeable
    assert tracker.datamap().class_probabilities[0, 0] == pytest.approx((0.5 + 1.0) / 2, abs=1e-6)


# ---------------------------------------------------------------- clearer refusals (issue 27, item 9)


def test_logits_as_a_list_of_lists_are_numbers_not_labels(tracker):
    tracker.record(["a", "b", "c"], [[2.0, 0.0], [0.0, 1.0], [1, 1]])  # said "labels must be all str or all int"
    tracker.end_epoch()
    assert tracker.trajectories()["gold_prob"][:, 0] == pytest.approx(softmax(np.array([[2.0, 0.0], [0.0, 1.0], [1, 1]]))[[0, 1, 2], [1, 0, 1]])
    with pytest.raises(TypeError, match=r"logits must be numbers .*could not be read as numbers"):
        tracker.record(["a"], [["high", "low"]])


@pytest.mark.parametrize(
    "logits, said",
    [
        (np.array([[1.0, None]], dtype=object), r"logits must be real numbers, got object \(Python objects\) values"),
        (np.array([[1.0 + 2j, 0.0]]), r"logits must be real numbers, got complex values"),  # the imaginary part was dropped
        (torch.tensor([[1.0 + 2j, 0.0]]), r"logits must be real numbers .*got a torch.complex64 tensor"),
        (np.array([[True, False]]), r"logits must be real numbers, got bool values"),
    ],
)
def test_logits_that_are_not_real_numbers_are_refused_by_name(tracker, logits, said):
    with pytest.raises(TypeError, match=said):
        tracker.record(["a"], logits)
    assert tracker.pending == 0


def test_ids_on_the_meta_device_are_refused_in_one_line():
    with pytest.raises(TypeError, match=r"ids are on the 'meta' device, which holds shapes but no values"):
        Tracker(torch.arange(3, device="meta"), [0, 1, 0])
    tracker = Tracker([0, 1, 2], [0, 1, 0])
    with pytest.raises(TypeError, match=r"batch_ids are on the 'meta' device"):
        tracker.record(torch.arange(3, device="meta"), np.zeros((3, 2)))


def test_an_id_that_is_not_valid_unicode_is_refused_at_construction_naming_it():
    # It used to be accepted and only fail in to_parquet, after the training.
    for make in (lambda: Tracker(["fine", "bad\ud800"], ["x", "y"]),
                 lambda: DataMap(np.array(["fine", "bad\ud800"], dtype=object), np.array([0, 1]), ["x", "y"],
                                 {k: np.zeros((2, 1)) for k in ("gold_prob", "other_prob", "margin", "correct", "argmax", "other_class")})):
        with pytest.raises(ValueError, match=r"ids has an id that is not valid Unicode text: 'bad\\ud800'"):
            make()


@pytest.mark.parametrize("labels", [[True, False, True], np.array([True, False, True]), np.array([True, False, True], dtype=object)])
def test_bool_labels_are_refused_not_turned_into_classes(labels):
    with pytest.raises(TypeError, match=r"labels holds True/False, which would silently become the classes 1 and 0"):
        Tracker(["a", "b", "c"], labels)


def test_end_epoch_with_nothing_recorded_warns_and_still_counts_the_pass(tracker):
    with pytest.warns(UserWarning, match=r"end_epoch closed pass 1 with nothing recorded in it"):
        tracker.end_epoch()
    assert tracker.n_passes == 1  # pass t stays epoch t
    tracker.record(["a", "b", "c"], np.zeros((3, 2)))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracker.end_epoch()  # a pass with records: no warning


def test_a_tracker_restored_from_its_state_dict_continues_as_the_original_would():
    ids, labels = [f"e{i}" for i in range(6)], ["a", "b", "a", "b", "a", "b"]
    rng = np.random.default_rng(0)
    passes = [rng.normal(size=(6, 2)) for _ in range(3)]
    original = Tracker(ids, labels)
    for logits in passes[:2]:
        original.record(ids[:5], logits[:5], embeddings=logits[:5] * 2)  # e5 missing from both passes
        original.end_epoch()
    restored = Tracker(ids, labels)
    seen = []
    restored.subscribe(lambda tracker: seen.append(tracker.n_passes))
    restored.load_state_dict(original.state_dict())
    assert restored.n_passes == 2 and seen == [2]  # a live widget redraws the restored passes
    for tracker in (original, restored):
        tracker.record(ids, passes[2])
        tracker.end_epoch()
    a, b = original.datamap(), restored.datamap()
    for name, values in a.trajectories.items():
        np.testing.assert_array_equal(values, b.trajectories[name])
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    np.testing.assert_array_equal(a.class_probabilities, b.class_probabilities)
    with pytest.raises(ValueError, match=r"has shape \(3, 6\), expected \(passes, 5\)"):
        Tracker(ids[:5], labels[:5]).load_state_dict(original.state_dict())
