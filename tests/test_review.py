"""review.py without a database: the actions, undo as a stack, marks, changes, conflicts, the pandas round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datamap_widget.review import (
    ACTIONS,
    CONFIRMED,
    RELABELED,
    UNREVIEWED,
    ReviewConflict,
    ReviewSession,
    check_run,
    hidden_by_reviews,
    review_state,
)

NAMES = ["neg", "pos", "neutral"]


def session(n: int = 6, **kw) -> ReviewSession:
    ids = pd.Index([f"ex{i}" for i in range(n)])
    return ReviewSession(ids, NAMES, np.arange(n) % 3, **kw)


class LogStore:
    """Takes review rows like Store.add_reviews; can fail or raise a conflict once."""

    def __init__(self):
        self.rows: list[dict] = []
        self.fail: Exception | None = None

    def add_reviews(self, dataset, rows):
        if self.fail is not None:
            raise self.fail
        self.rows.extend(rows)
        return list(range(len(rows)))


def test_relabel_confirm_and_undo_are_a_stack_with_distinct_marks():
    s = session()
    s.relabel(np.array([0]), 1)
    s.confirm(np.array([3]))
    s.relabel(np.array([4]), 1)  # ex4's label is already pos: a confirmation
    assert s.codes.tolist()[:5] == [1, 1, 2, 0, 1]
    assert s.marks.tolist() == [RELABELED, 0, 0, CONFIRMED, CONFIRMED, 0]
    assert s.changes()[["id", "action"]].values.tolist() == [["ex0", "relabeled"], ["ex3", "confirmed"], ["ex4", "confirmed"]]
    assert s.undo().tolist() == [4]
    assert s.undo().tolist() == [3]
    assert s.marks[3] == UNREVIEWED
    assert s.undo().tolist() == [0]
    assert s.codes.tolist() == [0, 1, 2, 0, 1, 2] and not s.reviewed.any()
    assert s.undo() is None and s.changes().empty


def test_relabel_back_to_the_trained_label_counts_as_confirmed():
    s = session()
    s.relabel(np.array([0]), 2)
    s.relabel(np.array([0]), 0)
    assert s.marks[0] == CONFIRMED and s.codes[0] == 0


def test_store_rows_speak_the_log_vocabulary_and_failures_stay_pending():
    store = LogStore()
    s = session(store=store, dataset="toy", reviewer="ann", run=3)
    s.relabel(np.array([0, 1]), 2)
    assert [(r["example_id"], r["action"], r["old_label"], r["new_label"], r["run"]) for r in store.rows] == [
        ("ex0", "relabeled", "neg", "neutral", 3), ("ex1", "relabeled", "pos", "neutral", 3)]
    store.fail = ConnectionError("down")
    s.undo()
    assert len(s.pending) == 2 and s.save_status == "2 actions not saved: ConnectionError: down"
    store.fail = None
    assert s.flush() and s.save_status == "saved" and [r["action"] for r in store.rows[2:]] == ["undo", "undo"]


def test_a_conflict_keeps_the_other_reviewers_label():
    store = LogStore()
    s = session(store=store, dataset="toy")
    store.fail = ReviewConflict("toy", ["ex0"], {"ex0": "neutral"}, {"ex0": "neg"})
    s.relabel(np.array([0]), 1)
    store.fail = None
    assert s.codes[0] == 2 and s.marks[0] == RELABELED
    assert s.conflicts_frame[["id", "your_label", "current_label"]].values.tolist() == [["ex0", "pos", "neutral"]]
    assert "another reviewer made first" in s.save_status


def test_listeners_hear_every_change_after_the_store_has_it():
    store = LogStore()
    s = session(store=store, dataset="toy")
    heard: list[tuple[list[int], int]] = []
    stop = s.subscribe(lambda rows: heard.append((rows.tolist(), len(store.rows))))
    s.relabel(np.array([0, 1]), 2)
    s.confirm(np.array([3]))
    s.undo()
    s.restore(pd.Series({"ex5": "neg"}), {"ex5"})
    # Each listener call comes after the rows were written: a view never shows an unsaved state as saved.
    assert heard == [([0, 1], 2), ([3], 3), ([3], 4), ([0, 1, 5], 4)]
    store.fail = ReviewConflict("toy", ["ex2"], {"ex2": "pos"}, {"ex2": "neutral"})
    s.confirm(np.array([2]))
    assert heard[-2:] == [([2], 4), ([2], 4)]  # the other reviewer's label, then the action itself
    stop()
    s.undo()
    assert len(heard) == 6  # unsubscribed: the undo is not heard


def test_listeners_run_by_order_so_derived_state_is_current_for_views():
    s = session()
    calls: list[str] = []
    s.subscribe(lambda rows: calls.append("view"))
    s.subscribe(lambda rows: calls.append("ranking"), order=-1)
    s.confirm(np.array([0]))
    assert calls == ["ranking", "view"]
    with pytest.raises(TypeError, match="listener must be callable"):
        s.subscribe("not a function")


def test_the_vocabulary_is_relabel_confirm_undo_as_the_log_says():
    store = LogStore()
    s = session(store=store, dataset="toy")
    s.relabel(np.array([0]), 1)
    s.confirm(np.array([1]))
    s.undo()
    assert [r["action"] for r in store.rows] == ["relabeled", "confirmed", "undo"]
    assert set(ACTIONS) == {"confirmed", "relabeled", "skipped", "undo"}
    assert all(callable(getattr(ReviewSession, verb)) for verb in ("relabel", "confirm", "undo"))
    assert not hasattr(ReviewSession, "mark_reviewed")


def test_current_labels_are_the_sessions():
    s = session()
    s.relabel(np.array([1]), 0)
    labels = s.current_labels
    assert labels.index.name == "id" and labels.tolist() == ["neg", "neg", "neutral", "neg", "pos", "neutral"]


def test_run_is_an_int_run_id_everywhere():
    assert check_run(np.int64(4)) == 4 and check_run(None) is None
    with pytest.raises(TypeError, match=r"run must be an int run id .* got str 'r1'"):
        session(store=LogStore(), dataset="toy", run="r1")
    with pytest.raises(ValueError, match="dataset must name the dataset"):
        session(store=LogStore())


def test_apply_keeps_dtype_and_changes_only_relabeled_rows():
    s = session()
    s.relabel(np.array([0]), 2)  # ex0: neg -> neutral
    ids = pd.Series([f"ex{i}" for i in range(6)])
    obj = pd.DataFrame({"label": [NAMES[i % 3] for i in range(6)]})
    out = s.apply(obj, ids, "label")
    assert out["label"].tolist() == ["neutral", "pos", "neutral", "neg", "pos", "neutral"]
    # a categorical lacking the new label gains it instead of turning into NaN
    # the user's own values (rows 2 and 5 say pos), which nobody relabeled
    cat = pd.DataFrame({"label": pd.Categorical(["neg", "pos", "pos", "neg", "pos", "pos"], categories=["neg", "pos"])})
    out = s.apply(cat, ids, "label")
    assert isinstance(out["label"].dtype, pd.CategoricalDtype) and out["label"].notna().all()
    assert out["label"].tolist() == ["neutral", "pos", "pos", "neg", "pos", "pos"]
    assert list(out["label"].cat.categories) == ["neg", "pos", "neutral"]


def test_apply_to_integer_codes_uses_the_columns_own_codes():
    s = session()
    s.relabel(np.array([0]), 1)  # ex0: neg -> pos
    ids = pd.Series([f"ex{i}" for i in range(6)])
    # the user's codes are not the map's: neg=7, pos=3, neutral=5
    mine = {"neg": 7, "pos": 3, "neutral": 5}
    df = pd.DataFrame({"label": np.array([mine[NAMES[i % 3]] for i in range(6)], dtype=np.int32)})
    out = s.apply(df, ids, "label")
    assert out["label"].dtype == np.int32
    assert out["label"].tolist() == [3, 3, 5, 7, 3, 5]
    assert s.apply(df, ids, "label", codes=mine)["label"].tolist() == [3, 3, 5, 7, 3, 5]
    ambiguous = pd.DataFrame({"label": [7, 3, 5, 7, 3, 7]})  # ex5 (neutral) holds 7 like neg
    with pytest.raises(ValueError, match=r"do not map one to one .* pass codes="):
        s.apply(ambiguous, ids, "label")
    s2 = session(3)
    s2.relabel(np.array([0]), 2)
    only_two = pd.DataFrame({"label": [0, 1, 1]})  # pos and neutral both hold 1
    with pytest.raises(ValueError, match="do not map one to one"):
        s2.apply(only_two, pd.Series(["ex0", "ex1", "ex2"]), "label")
    unseen = pd.DataFrame({"label": [0, 1, 1]})
    s3 = session(3)
    s3.relabel(np.array([1]), 0)  # neg's code is read off ex0; pos and neutral are never the target
    with pytest.raises(ValueError, match="do not map one to one"):
        s3.apply(unseen, pd.Series(["ex0", "ex1", "ex2"]), "label")
    s4 = session(2)
    s4.relabel(np.array([0]), 2)  # neutral appears in no row of the column: no code to write
    with pytest.raises(ValueError, match=r"no integer code is known for the new labels \['neutral'\]"):
        s4.apply(pd.DataFrame({"label": [4, 9]}), pd.Series(["ex0", "ex1"]), "label")


def test_b_to_c_then_c_to_a_stays_hidden_on_the_run_with_b():
    log = pd.DataFrame({
        "example_id": ["x", "x"], "id_type": ["str", "str"], "action": ["relabeled", "relabeled"],
        "old_label": ["b", "c"], "new_label": ["c", "a"],
        "at": pd.to_datetime(["2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"], utc=True), "run": [1, 1],
    })
    state = review_state(log)
    ids = np.array(["x"], dtype=object)
    created = pd.Timestamp("2026-01-01", tz="UTC")
    assert hidden_by_reviews(state, ids, np.array(["b"], dtype=object), 1, created).tolist() == [True]
    assert hidden_by_reviews(state, ids, np.array(["a"], dtype=object), 2, created).tolist() == [True]
    assert hidden_by_reviews(state, ids, np.array(["b"], dtype=object), 2, created).tolist() == [False]
