"""DataMap: the frame, suspects, review marks, re-scoring and the parquet round trip."""

from __future__ import annotations

import errno

import numpy as np
import pandas as pd
import pytest

from datamap_widget import DataMap, ReviewSession, Tracker, metrics


def make_tracker(ids, n_classes=3, passes=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, size=len(ids))
    tracker = Tracker(ids, labels, label_names=[f"class {i}" for i in range(n_classes)])
    for epoch in range(passes):
        logits = rng.normal(size=(len(ids), n_classes)).astype(np.float32)
        logits[np.arange(len(ids)), labels] += epoch
        order = rng.permutation(len(ids))
        for batch in np.array_split(order, 3):
            tracker.record(np.asarray(ids)[batch], logits[batch])
        tracker.end_epoch()
    return tracker


@pytest.fixture
def dmap():
    return make_tracker([f"doc-{i}" for i in range(40)]).datamap()


def test_frame_has_the_documented_columns_indexed_by_id(dmap):
    frame = dmap.frame
    assert frame.index.name == "id"
    assert list(frame.columns) == [
        "label", "confidence", "variability", "correctness", "category",
        "mislabel_score", "suggested_label", "suggestion_support", "suggestion_confident", "n_passes", "reviewed",
    ]
    assert frame.index[0] == "doc-0" and len(frame) == 40
    assert frame[["confidence", "variability", "correctness"]].apply(lambda c: c.between(0, 1).all()).all()
    assert set(frame["category"].unique()) <= set(metrics.CATEGORIES)
    assert set(frame["suggested_label"].unique()) <= set(dmap.label_names)
    assert (frame["n_passes"] == 4).all()


def test_suspects_are_ranked_highest_score_first(dmap):
    top = dmap.suspects(top=5)
    assert len(top) == 5
    assert top["mislabel_score"].is_monotonic_decreasing
    assert top["mislabel_score"].iloc[0] == dmap.frame["mislabel_score"].max()
    assert len(dmap.suspects(frac=0.05)) == 2  # ceil(0.05 * 40)
    assert len(dmap.suspects()) == 40


def test_reviewed_examples_are_left_out_unless_asked(dmap):
    first, second = dmap.suspects(top=2).index
    session = ReviewSession.for_map(dmap)
    session.confirm(dmap.positions([first]))
    session.relabel(dmap.positions([second]), session.label_code("class 1"))
    assert {first, second}.isdisjoint(dmap.suspects(top=5, review=session).index)
    assert {first, second} <= set(dmap.suspects(top=5, review=session, include_reviewed=True).index)
    assert dmap.reviewed_frame(session).loc[[first, second], "reviewed"].all()
    assert dmap.labels_after(session)[second] == "class 1"
    session.undo()
    assert second in dmap.suspects(top=5, review=session).index and first not in dmap.suspects(top=5, review=session).index


def test_a_review_never_changes_the_map(dmap):
    frame, suspects = dmap.frame, dmap.suspects()
    session = ReviewSession.for_map(dmap)
    session.relabel(dmap.positions(suspects.index[:3]), 1)
    session.confirm(dmap.positions(suspects.index[3:5]))
    pd.testing.assert_frame_equal(dmap.frame, frame)
    pd.testing.assert_frame_equal(dmap.suspects(), suspects)
    assert (dmap.current_labels == frame["label"]).all()  # the labels it was trained on


def test_a_review_of_other_examples_is_refused(dmap):
    other = make_tracker([f"other-{i}" for i in range(40)]).datamap()
    with pytest.raises(ValueError, match="review reviews other examples than this map's"):
        dmap.suspects(review=ReviewSession.for_map(other))
    with pytest.raises(TypeError, match="review must be a ReviewSession"):
        dmap.suspects(review={"doc-0"})


def test_a_map_made_with_reviewed_ids_leaves_them_out_and_a_session_starts_from_them(dmap):
    first = dmap.suspects(top=1).index[0]
    made = DataMap(dmap.ids, dmap.labels, dmap.label_names, dmap.trajectories, reviewed=[first])
    assert first not in made.suspects().index and made.frame.loc[first, "reviewed"]
    assert ReviewSession.for_map(made).reviewed[made.positions([first])].all()
    with pytest.raises(ValueError, match=r"reviewed has 1 id\(s\) not in this data map: \['nope'\]"):
        DataMap(dmap.ids, dmap.labels, dmap.label_names, dmap.trajectories, reviewed=["nope"])


def test_mark_reviewed_is_deprecated_and_still_works(dmap):
    first = dmap.suspects(top=1).index[0]
    with pytest.warns(DeprecationWarning, match=r"DataMap.mark_reviewed is deprecated.*suspects\(review=session\)"):
        dmap.mark_reviewed([first])
    assert first not in dmap.suspects(top=5).index
    assert first in dmap.suspects(top=5, include_reviewed=True).index
    assert dmap.frame.loc[first, "reviewed"]
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match=r"ids has 1 id\(s\) not in this data map: \['nope'\]"):
        dmap.mark_reviewed(["nope"])
    with pytest.warns(DeprecationWarning):
        dmap.mark_reviewed([first], labels="class 1")
    assert dmap.current_labels[first] == "class 1"
    with pytest.warns(DeprecationWarning):
        dmap.mark_reviewed([first], reviewed=False)
    assert first in dmap.suspects(top=5).index and dmap.current_labels[first] == dmap.frame.loc[first, "label"]


def test_suspects_argument_errors(dmap):
    with pytest.raises(ValueError, match="frac or top, not both"):
        dmap.suspects(frac=0.1, top=3)
    with pytest.raises(ValueError, match=r"frac must be in \(0, 1\]"):
        dmap.suspects(frac=5)
    with pytest.raises(ValueError, match="top must be a non-negative int"):
        dmap.suspects(top=-1)


def test_rescore_keeps_the_map_and_changes_the_ranking_method(dmap):
    other = dmap.rescore("aum")
    assert other.method == "aum"
    pd.testing.assert_series_equal(other.frame["confidence"], dmap.frame["confidence"])
    assert not np.allclose(other.frame["mislabel_score"], dmap.frame["mislabel_score"])
    with pytest.raises(ValueError, match="method must be one of"):
        dmap.rescore("best")


@pytest.mark.parametrize("ids", [[f"doc-{i}" for i in range(30)], list(range(100, 130))], ids=["str", "int"])
def test_parquet_round_trip_keeps_ids_labels_and_trajectories(tmp_path, ids):
    made = make_tracker(ids, passes=3).datamap(method="confidence")
    session = ReviewSession.for_map(made)
    session.confirm(made.positions([ids[3]]))
    dmap = made.with_review(session)  # a widget's w.datamap: saved with the session's marks
    path = tmp_path / "map.parquet"
    dmap.to_parquet(str(path))
    back = DataMap.read_parquet(str(path))
    assert back == dmap
    assert type(back.ids.tolist()[0]) is type(np.asarray(ids).tolist()[0])
    pd.testing.assert_frame_equal(back.frame, dmap.frame)
    assert back.frame.loc[ids[3], "reviewed"]
    # a saved map can be re-scored later: the trajectories came back
    pd.testing.assert_series_equal(back.rescore("aum").frame["mislabel_score"], dmap.rescore("aum").frame["mislabel_score"])
    # and it is a plain parquet file with the documented columns
    table = pd.read_parquet(path)
    assert {"id", "label", "confidence", "variability", "correctness", "category", "mislabel_score", "suggested_label"} <= set(table.columns)


def test_class_probabilities_survive_the_parquet_round_trip_and_rescoring(tmp_path):
    tracker = Tracker(["a", "b", "c"], [0, 1, 2], label_names=["x", "y", "z"])
    for logits in (np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0], [1.0, 1.0, 1.0]]), np.zeros((2, 3))):
        tracker.record(["a", "b", "c"][: len(logits)], logits)
        tracker.end_epoch()
    dmap = tracker.datamap()
    assert np.isnan(dmap.class_probabilities).sum() == 0
    dmap.to_parquet(str(tmp_path / "m.parquet"))
    back = DataMap.read_parquet(str(tmp_path / "m.parquet"))
    assert back.class_probabilities.shape == (3, 3) and back.class_probabilities.dtype == np.float32
    np.testing.assert_array_equal(back.class_probabilities, dmap.class_probabilities)
    assert back == dmap  # equality is the map's (ids, labels, trajectories), like embeddings these are extra
    np.testing.assert_array_equal(back.rescore("aum").class_probabilities, dmap.class_probabilities)
    with pytest.raises(ValueError, match=r"class_probabilities must have shape \(3, 3\) .* got \(3, 2\)"):
        DataMap(dmap.ids, dmap.labels, dmap.label_names, dmap.trajectories, class_probabilities=np.zeros((3, 2)))


def test_an_older_parquet_without_class_probabilities_still_loads(tmp_path):
    import pyarrow.parquet as pq

    dmap = make_tracker(["a", "b", "c", "d"], passes=2).datamap()
    dmap.to_parquet(str(tmp_path / "new.parquet"))
    table = pq.read_table(tmp_path / "new.parquet")
    assert "class_probabilities" in table.column_names
    old = table.drop(["class_probabilities"])  # what datamap_widget wrote before it kept them
    pq.write_table(old.replace_schema_metadata(table.schema.metadata), tmp_path / "old.parquet")
    back = DataMap.read_parquet(str(tmp_path / "old.parquet"))
    assert back.class_probabilities is None
    pd.testing.assert_frame_equal(back.frame, dmap.frame)


def test_parquet_round_trip_through_an_fsspec_url():
    dmap = make_tracker(["a", "b", "c", "d"], passes=2).datamap()
    dmap.to_parquet("memory://maps/run.parquet")
    assert DataMap.read_parquet("memory://maps/run.parquet") == dmap


def test_a_failed_save_over_a_map_leaves_the_earlier_map_readable(tmp_path, disk_fills):
    path = tmp_path / "map.parquet"
    first = make_tracker([f"doc-{i}" for i in range(30)]).datamap()
    first.to_parquet(str(path))
    before = path.read_bytes()
    fake = disk_fills(times=2)
    with pytest.raises(OSError, match="No space left"):
        make_tracker([f"other-{i}" for i in range(50)], seed=1).datamap().to_parquet(str(path))
    assert fake.calls == 1
    assert path.read_bytes() == before and DataMap.read_parquet(str(path)) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.parquet"]  # no temporary file left
    # A save that fails into a new file leaves no file at all (not a truncated one).
    with pytest.raises(OSError, match="No space left"):
        first.to_parquet(str(tmp_path / "new.parquet"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.parquet"]


def test_a_save_that_really_fills_the_disk_leaves_the_earlier_map_readable(tiny_disk):
    from tests.harness.maps import random_datamap

    path = tiny_disk / "map.parquet"
    small = random_datamap(20)
    small.to_parquet(str(path))
    with pytest.raises(OSError) as raised:
        random_datamap(20_000).to_parquet(str(path))  # megabytes, on a 512 KiB disk
    assert raised.value.errno == errno.ENOSPC or "No space left" in str(raised.value)
    assert DataMap.read_parquet(str(path)) == small
    assert [p.name for p in tiny_disk.iterdir()] == ["map.parquet"]


def test_saving_over_a_map_keeps_its_permissions_and_replaces_it_whole(tmp_path):
    path = tmp_path / "map.parquet"
    make_tracker([f"doc-{i}" for i in range(30)]).datamap().to_parquet(str(path))
    path.chmod(0o640)
    second = make_tracker([f"other-{i}" for i in range(10)], seed=1).datamap()
    second.to_parquet(str(path))
    assert DataMap.read_parquet(str(path)) == second
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["map.parquet"]


def test_read_parquet_opens_a_run_folder(tmp_path):
    dmap = make_tracker([f"doc-{i}" for i in range(30)]).datamap()
    folder = tmp_path / "runs" / "sample"
    folder.mkdir(parents=True)
    dmap.to_parquet(str(folder / "datamap.parquet"))
    assert DataMap.read_parquet(str(folder)) == dmap
    assert DataMap.read_parquet(folder) == dmap  # a Path too
    with pytest.raises(FileNotFoundError, match="is a folder but not a run folder: it has no datamap.parquet"):
        DataMap.read_parquet(str(tmp_path / "runs"))


def test_missing_passes_survive_the_round_trip(tmp_path):
    tracker = Tracker(["a", "b"], [0, 1])
    tracker.record(["a", "b"], np.zeros((2, 2)))
    tracker.end_epoch()
    tracker.record(["a"], np.ones((1, 2)))
    tracker.end_epoch()
    tracker.datamap().to_parquet(str(tmp_path / "m.parquet"))
    back = DataMap.read_parquet(str(tmp_path / "m.parquet"))
    assert np.isnan(back.trajectories["gold_prob"][1, 1])
    assert back.frame.loc["b", "n_passes"] == 1


def test_reading_a_foreign_parquet_file_says_what_is_wrong(tmp_path):
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "other.parquet")
    with pytest.raises(ValueError, match="not a data map saved by DataMap.to_parquet"):
        DataMap.read_parquet(str(tmp_path / "other.parquet"))


def test_constructor_checks_shapes():
    traj = {name: np.zeros((2, 3)) for name in metrics.TRAJECTORY_FIELDS}
    with pytest.raises(ValueError, match="labels has 1 entries but ids has 2"):
        DataMap(["a", "b"], [0], ["x", "y"], traj)
    traj["margin"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"trajectories\['margin'\] must have shape \(2, T\)"):
        DataMap(["a", "b"], [0, 1], ["x", "y"], traj)


def test_frame_is_handed_out_as_a_copy_edits_do_not_reach_the_map():
    from datamap_widget import Tracker

    tracker = Tracker(["a", "b"], [0, 1])
    for _ in range(2):
        tracker.record(["a", "b"], np.array([[2.0, 0.0], [0.0, 1.0]]))
        tracker.end_epoch()
    dmap = tracker.datamap()
    before = dmap.frame["confidence"].to_numpy().copy()
    frame = dmap.frame
    frame["confidence"] = -99
    frame.loc["a", "mislabel_score"] = 5.0
    frame.iloc[1, frame.columns.get_loc("variability")] = 7.0
    again = dmap.frame
    np.testing.assert_array_equal(again["confidence"].to_numpy(), before)
    assert again.loc["a", "mislabel_score"] < 1 and again.loc["b", "variability"] == 0
    assert dmap.suspects().index.tolist() == ["b", "a"]


def test_str_ids_keep_a_trailing_nul_and_memory_follows_their_size(tmp_path):
    traj = {name: np.zeros((3, 2), dtype=np.float32 if name in ("gold_prob", "other_prob", "margin", "correct") else np.int16)
            for name in ("gold_prob", "other_prob", "margin", "correct", "argmax", "other_class")}
    ids = ["a", "a\x00", "y" * 100_000]
    dmap = DataMap(ids, [0, 1, 0], ["x", "y"], traj)
    assert dmap.ids.dtype == object and dmap.ids.nbytes < 1000  # not 3 x 400 kB of fixed-width str
    assert dmap.positions(["a\x00", "a"]).tolist() == [1, 0]
    dmap.to_parquet(str(tmp_path / "m.parquet"))
    back = DataMap.read_parquet(str(tmp_path / "m.parquet"))
    assert back.ids.tolist() == ids and back == dmap


def test_a_map_pickled_to_another_process_still_finds_its_str_ids(tmp_path):
    """str ids are indexed by Python's hash, which is salted per process: a pickle must not carry it."""
    import pickle
    import subprocess
    import sys

    traj = {name: np.zeros((3, 1), dtype=np.float32 if name in ("gold_prob", "other_prob", "margin", "correct") else np.int16)
            for name in ("gold_prob", "other_prob", "margin", "correct", "argmax", "other_class")}
    dmap = DataMap(["alpha", "beta", "gamma"], [0, 1, 0], ["x", "y"], traj)
    dmap.positions(["beta"])  # builds the index in this process
    (tmp_path / "map.pkl").write_bytes(pickle.dumps(dmap))
    code = "import pickle, sys; m = pickle.load(open(sys.argv[1], 'rb')); print(m.positions(['gamma', 'alpha']).tolist())"
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "map.pkl")], capture_output=True, text=True,
                             env={**__import__("os").environ, "PYTHONHASHSEED": seed}, check=True)
        assert out.stdout.strip() == "[2, 0]"


# ---------------------------------------------------------------- regions and embeddings


def wavering_map(n=300, seed=0, with_embeddings=False, **kwargs):
    """A map like the shipped sample's first run: the model changes its mind on everything."""
    rng = np.random.default_rng(seed)
    tracker = Tracker(np.arange(n), rng.integers(0, 2, n), label_names=["neg", "pos"])
    level = rng.uniform(-0.6, 0.6, n)
    for epoch in range(6):
        swing = 2.0 if epoch % 2 else -2.0
        logits = np.stack([np.zeros(n), level + swing * rng.uniform(0.7, 1.0, n)], axis=1)
        # Gold logit moves: put the swing on the gold column.
        logits = np.where(tracker.labels[:, None] == 1, logits, logits[:, ::-1])
        extra = {"embeddings": rng.normal(size=(n, 8))} if with_embeddings and epoch == 5 else {}
        tracker.record(np.arange(n), logits, **extra)
        tracker.end_epoch()
    return tracker.datamap(**kwargs)


def test_no_region_holds_nearly_everything_by_default():
    dmap = wavering_map()
    shares = dmap.frame["category"].value_counts(normalize=True)
    assert shares.max() < 0.5, shares.to_dict()
    assert set(shares.index) == set(metrics.CATEGORIES) and shares.min() > 0.15
    # The fixed rule stays an option (and here puts nearly everything in one region).
    fixed = wavering_map(thresholds="fixed")
    assert fixed.thresholds == metrics.DEFAULT_THRESHOLDS
    assert fixed.frame["category"].value_counts(normalize=True).max() > 0.9


def test_resolved_thresholds_survive_save_and_rescore(tmp_path):
    dmap = wavering_map()
    assert dmap.thresholds != metrics.DEFAULT_THRESHOLDS
    path = tmp_path / "map.parquet"
    dmap.to_parquet(path)
    again = DataMap.read_parquet(path)
    assert again.thresholds == dmap.thresholds
    pd.testing.assert_series_equal(again.frame["category"], dmap.frame["category"])
    assert dmap.rescore("aum").thresholds == dmap.thresholds


def test_embeddings_travel_with_the_map_and_feed_the_neighbour_scores(tmp_path):
    dmap = wavering_map(with_embeddings=True, method="margin_knn")
    assert dmap.embeddings.shape == (300, 8) and dmap.embeddings.dtype == np.float16
    path = tmp_path / "map.parquet"
    dmap.to_parquet(path)
    again = DataMap.read_parquet(path)
    np.testing.assert_array_equal(again.embeddings, dmap.embeddings)
    assert again == dmap and again.method == "margin_knn"
    np.testing.assert_allclose(again.frame["mislabel_score"], dmap.frame["mislabel_score"])
    assert dmap.rescore("knn").embeddings is dmap.embeddings


def test_a_neighbour_score_on_a_map_without_embeddings_says_what_is_missing():
    dmap = make_tracker(list(range(20))).datamap()
    assert dmap.embeddings is None
    with pytest.raises(ValueError, match="method 'knn' needs the embeddings recorded in training"):
        dmap.rescore("knn")
    with pytest.raises(ValueError, match=r"embeddings must have shape \(20, D\)"):
        DataMap(dmap.ids, dmap.labels, dmap.label_names, dmap.trajectories, embeddings=np.zeros((3, 4)))


def test_a_suggestion_is_offered_only_where_the_early_passes_preferred_it():
    # 4 passes of 2 classes; gold label 0 for all three examples. The suggestion reads the
    # first half of the passes (metrics.suggest_labels): "flip" was b there, "unsure" a.
    tracker = Tracker(["same", "flip", "unsure"], [0, 0, 0], label_names=["a", "b"])
    per_pass = [  # logits per pass: "flip" predicted b in 3 of 4 passes, "unsure" in 1 of 4
        [[2, 0], [0, 2], [2, 0]],
        [[2, 0], [0, 2], [2, 0]],
        [[2, 0], [0, 2], [2, 0]],
        [[2, 0], [2, 0], [0, 3]],
    ]
    for logits in per_pass:
        tracker.record(["same", "flip", "unsure"], np.array(logits, dtype=float))
        tracker.end_epoch()
    frame = tracker.datamap().frame
    assert frame["suggested_label"].tolist() == ["a", "b", "a"]
    p = float(1 / (1 + np.exp(-2.0)))  # softmax of logits (2, 0): the early passes' probability
    assert frame["suggestion_support"].tolist() == pytest.approx([p, p, p])
    assert frame["suggestion_confident"].tolist() == [False, True, False]


# ---------------------------------------------------------------- neighbours (issue 16, item 1)


def clustered_map(n_per=20, seed=3):
    """Two tight clusters of embeddings, one per class; example 0's label is flipped into the other class."""
    rng = np.random.default_rng(seed)
    centres = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    classes = np.repeat([0, 1], n_per)
    emb = centres[classes] + rng.normal(scale=0.05, size=(2 * n_per, 3))
    labels = classes.copy()
    labels[0] = 1  # lives in class 0's cluster, labeled 1
    ids = [f"doc-{i}" for i in range(2 * n_per)]
    tracker = Tracker(ids, labels, label_names=["neg", "pos"])
    for epoch in range(3):
        logits = np.where(classes[:, None] == np.arange(2), 2.0, 0.0) + rng.normal(scale=0.1, size=(2 * n_per, 2))
        tracker.record(ids, logits, embeddings=emb if epoch == 2 else None)
        tracker.end_epoch()
    return tracker.datamap(), emb


def test_neighbors_are_the_nearest_examples_by_cosine_with_their_labels():
    dmap, emb = clustered_map()
    got = dmap.neighbors(["doc-0", "doc-25"], k=5)
    assert list(got.columns) == ["id", "rank", "neighbor", "similarity", "label", "suggested_label"]
    assert got["id"].tolist() == ["doc-0"] * 5 + ["doc-25"] * 5 and got["rank"].tolist() == [1, 2, 3, 4, 5] * 2
    # Exact: the same five as a brute-force cosine ranking over float16-stored embeddings.
    unit = dmap.embeddings.astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    sims = unit @ unit[0]
    sims[0] = -np.inf
    expected = [f"doc-{i}" for i in np.argsort(-sims)[:5]]
    assert got.loc[got["id"] == "doc-0", "neighbor"].tolist() == expected
    np.testing.assert_allclose(got.loc[got["id"] == "doc-0", "similarity"], np.sort(sims)[::-1][:5], rtol=1e-5)
    # doc-0 (labeled pos) sits among class-0 examples: its neighbours say neg; doc-25's say pos.
    assert set(got.loc[got["id"] == "doc-0", "label"]) == {"neg"}
    assert set(got.loc[got["id"] == "doc-25", "label"]) == {"pos"}
    assert "doc-0" not in got.loc[got["id"] == "doc-0", "neighbor"].tolist()  # never its own neighbour


def test_neighbors_explain_what_is_missing():
    dmap, _ = clustered_map()
    with pytest.raises(ValueError, match="unknown|not in"):
        dmap.neighbors(["nope"])
    with pytest.raises(ValueError, match="k must be an int"):
        dmap.neighbors(["doc-1"], k=0)
    plain = make_tracker(list(range(20))).datamap()
    with pytest.raises(ValueError, match="no embeddings"):
        plain.neighbors([0])


def test_the_text_view_and_what_was_read_survive_the_parquet_round_trip_and_rescoring(tmp_path):
    base = make_tracker(list(range(10))).datamap()
    text = np.random.default_rng(1).dirichlet(np.ones(3), size=10).astype(np.float32)
    reading = {"mode": "head_tail", "max_length": 128, "texts": 10, "texts_longer_than_max_length": 7, "mean_share_read": 0.4}
    dmap = DataMap(base.ids, base.labels, base.label_names, base.trajectories, "confidence_text",
                   text_probabilities=text, reading=reading)
    expected = 1 - (base.frame["confidence"].to_numpy() + text[np.arange(10), base.labels]) / 2
    np.testing.assert_allclose(dmap.frame["mislabel_score"].to_numpy(), expected, rtol=1e-6)
    dmap.to_parquet(str(tmp_path / "m.parquet"))
    back = DataMap.read_parquet(str(tmp_path / "m.parquet"))
    assert back.method == "confidence_text" and back.reading == reading
    np.testing.assert_array_equal(back.text_probabilities, text)
    np.testing.assert_allclose(back.frame["mislabel_score"], dmap.frame["mislabel_score"])
    assert back.rescore("confidence").text_probabilities is not None  # rescoring keeps the view
    assert not back.text_probabilities.flags.writeable
    with pytest.raises(ValueError, match=r"method 'confidence_text' needs the text view's probabilities and this map has none"):
        DataMap(base.ids, base.labels, base.label_names, base.trajectories, "confidence_text")
    with pytest.raises(ValueError, match=r"text_probabilities must have shape \(10, 3\)"):
        DataMap(base.ids, base.labels, base.label_names, base.trajectories, text_probabilities=text[:, :2])
