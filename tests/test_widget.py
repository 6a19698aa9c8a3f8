"""DataMapWidget from Python: wire format, actions, history, store write-through, live updates.

Trackers here are fed fixed logits, so every map is the same on every run.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from datamap_widget import DataMap, Tracker
from datamap_widget.store import ACTIONS
from datamap_widget.widget import BYTES_PER_POINT, DataMapWidget
from tests.harness.maps import INJECTION, LABELS, clustered_map, fixed_logits, fixed_tracker, frame_for
def rows_of(buf: bytes) -> list[int]:
    return np.frombuffer(buf, dtype="<u4").tolist()


class Capture:
    """Stands in for the comm: records what the widget sends to the front end."""

    def __init__(self, widget: DataMapWidget):
        self.sent: list[tuple[dict, list]] = []
        widget.send = lambda content, buffers=None: self.sent.append((content, list(buffers or [])))


def comm_msg(data: dict, buffers: list | None = None) -> dict:
    """A comm message as the kernel hands it to ipywidgets (what the front end's model.send/save_changes produce)."""
    return {"content": {"data": data}, "buffers": [memoryview(b) for b in (buffers or [])]}


def request(w: DataMapWidget, method: str, args: dict | None = None, buffers: list | None = None):
    """Send one request the way the front end does (through ipywidgets' comm handler) and return the answer."""
    cap = Capture(w)
    content = {"kind": "dmw:request", "id": "q1", "method": method, "args": args or {}}
    w._handle_msg(comm_msg({"method": "custom", "content": content}, buffers))
    (reply, out), = cap.sent
    assert reply["id"] == "q1" and reply["kind"] == "dmw:response"
    return reply, out


@pytest.fixture
def widget() -> DataMapWidget:
    return DataMapWidget(fixed_tracker().datamap(), data=frame_for())


# ----------------------------------------------------------------- wire format


def test_points_cross_as_binary_buffers_of_fixed_dtypes(widget):
    from ipywidgets.widgets.widget import _remove_buffers

    state, paths, buffers = _remove_buffers(widget.get_state())
    json.dumps(state)  # everything left is JSON
    buffer_paths = {tuple(p) for p in paths}
    for column in ("x", "y", "correctness", "order", "suggested", "category"):
        assert ("points", column) in buffer_paths
    assert {("labels",), ("reviewed",)} <= buffer_paths
    n = 12
    total = sum(len(b) for p, b in zip(paths, buffers) if p[0] in ("points", "labels", "reviewed"))
    assert total == BYTES_PER_POINT * n == 22 * n
    assert "ex0" not in json.dumps(state)  # ids are never sent per point
    assert "document number" not in json.dumps(state)  # nor texts


def test_point_columns_hold_the_map_metrics(widget):
    frame = widget.datamap.frame
    p = widget.points
    np.testing.assert_allclose(np.frombuffer(p["x"], "<f4"), frame["variability"], rtol=1e-6)
    np.testing.assert_allclose(np.frombuffer(p["y"], "<f4"), frame["confidence"], rtol=1e-6)
    np.testing.assert_allclose(np.frombuffer(p["correctness"], "<f4"), frame["correctness"], rtol=1e-6)
    order = np.frombuffer(p["order"], "<u4")
    scores = frame["mislabel_score"].to_numpy()[order]
    assert np.all(np.diff(scores) <= 0), "order runs from most to least suspect"
    assert set(order[:3]) == {0, 1, 2}, "the planted suspects come first"
    suggested = np.frombuffer(p["suggested"], "<u2")
    shown = frame["suggested_label"].astype(str).where(frame["suggestion_confident"], "none")
    assert [LABELS[c] if c < len(LABELS) else "none" for c in suggested] == shown.tolist()
    assert np.frombuffer(widget.labels, "<u2").tolist() == [i % 3 for i in range(12)]
    assert widget.label_names == LABELS


def test_suspect_order_keeps_ties_and_unseen_examples_in_row_order():
    tracker = Tracker([f"e{i}" for i in range(8)], [0, 1, 0, 1, 0, 1, 0, 1], label_names=["a", "b"])
    for _ in range(2):  # e6, e7 never seen: no score; e0-e3 share one score, e4/e5 another
        tracker.record([f"e{i}" for i in range(6)], np.array([[1.0, 0.0], [1.0, 0.0]] * 2 + [[0.0, 3.0], [3.0, 0.0]]))
        tracker.end_epoch()
    w = DataMapWidget(tracker.datamap())
    score = w.datamap.frame["mislabel_score"].to_numpy()
    expected = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
    assert np.frombuffer(w.points["order"], "<u4").tolist() == expected.tolist() == [4, 5, 1, 3, 0, 2, 6, 7]


# ----------------------------------------------------------------- selection


def test_selection_from_front_end_sets_selected_and_selected_ids(widget):
    update = {"method": "update", "state": {"selection": None}, "buffer_paths": [["selection"]]}
    widget._handle_msg(comm_msg(update, [np.array([5, 1], "<u4").tobytes()]))
    assert widget.selected_ids == ["ex1", "ex5"]
    assert widget.selected["id"].tolist() == ["ex1", "ex5"]
    assert widget.selected["text"].tolist()[1] == "x" * 1000


def test_setting_selected_ids_moves_the_front_end_selection(widget):
    widget.selected_ids = ["ex7", "ex2"]
    assert rows_of(widget.selection) == [2, 7]
    widget.selected_ids = []
    assert widget.selection == b""


def test_unknown_selected_ids_raise_and_keep_the_selection(widget):
    widget.selected_ids = ["ex3"]
    with pytest.raises(ValueError, match=r"selected_ids has 1 id\(s\) not in this data map: \['nope'\]"):
        widget.selected_ids = ["ex3", "nope"]
    assert widget.selected_ids == ["ex3"]
    assert rows_of(widget.selection) == [3]


def test_selected_without_data_gives_map_rows():
    w = DataMapWidget(fixed_tracker().datamap())
    w.selected_ids = ["ex0"]
    assert w.selected.index.tolist() == ["ex0"]
    assert "confidence" in w.selected.columns


# ----------------------------------------------------------------- actions


def test_relabel_marks_reviewed_and_shows_in_changes_and_apply(widget):
    df = frame_for()
    before = df.copy()
    widget.relabel(["ex0", "ex1"], "neutral")
    codes = np.frombuffer(widget.labels, "<u2")
    assert codes[0] == 2 and codes[1] == 2
    assert np.frombuffer(widget.reviewed, "<u1")[[0, 1]].tolist() == [2, 2]  # 2: relabeled (1: confirmed)
    ch = widget.changes
    assert ch[["id", "old_label", "new_label", "action"]].values.tolist() == [
        ["ex0", "neg", "neutral", "relabeled"],
        ["ex1", "pos", "neutral", "relabeled"],
    ]
    assert ch["at"].notna().all()
    out = widget.apply(df)
    assert out["label"].tolist()[:3] == ["neutral", "neutral", "neutral"]
    assert out["label"].tolist()[3:] == df["label"].tolist()[3:]
    pd.testing.assert_frame_equal(df, before)  # input untouched


def test_apply_writes_codes_into_integer_label_columns_and_matches_on_index():
    w = DataMapWidget(fixed_tracker().datamap())
    w.relabel("ex4", 0)
    df = pd.DataFrame({"label": np.arange(12) % 3}, index=[f"ex{i}" for i in range(12)])
    out = w.apply(df)
    assert out["label"].dtype == df["label"].dtype
    assert out.loc["ex4", "label"] == 0 and df.loc["ex4", "label"] == 1


def test_the_ui_confirms_in_the_review_vocabulary(widget):
    """The browser's request is "confirm" (the store's word), and it reaches the same session as w.confirm."""
    reply, _ = request(widget, "confirm", {}, [np.array([2], "<u4").tobytes()])
    assert reply["ok"], reply
    widget.confirm(["ex5"])
    assert widget.changes["id"].tolist() == ["ex2", "ex5"]
    assert widget.changes["action"].tolist() == ["confirmed", "confirmed"]
    assert np.frombuffer(widget.reviewed, "<u1")[[2, 5]].tolist() == [1, 1]
    reply, _ = request(widget, "mark_reviewed", {}, [np.array([3], "<u4").tobytes()])
    assert not reply["ok"] and "unknown request method 'mark_reviewed'" in reply["error"]


def test_mark_reviewed_and_undo_from_python_and_ui_share_one_history(widget):
    widget.mark_reviewed(["ex3"])
    assert "ex3" not in widget.datamap.suspects(top=12).index  # the DataMap agrees
    reply, _ = request(widget, "relabel", {"label": "pos"}, [np.array([0], "<u4").tobytes()])
    assert reply["ok"] and widget.history_size == 2
    assert widget.changes["action"].tolist() == ["confirmed", "relabeled"]
    assert widget.undo() is True  # Python undoes the UI's relabel
    assert np.frombuffer(widget.labels, "<u2")[0] == 0
    assert np.frombuffer(widget.reviewed, "<u1")[0] == 0
    reply, out = request(widget, "undo")  # the UI undoes Python's review
    assert reply["result"]["undone"] is True
    assert rows_of(out[0]) == [3]  # the row whose action was undone: the pane goes back to it
    assert np.frombuffer(widget.reviewed, "<u1")[3] == 0
    assert "ex3" in widget.datamap.suspects(top=12).index
    assert widget.changes.empty and widget.history_size == 0
    assert widget.undo() is False
    reply, out = request(widget, "undo")
    assert reply["result"]["undone"] is False and rows_of(out[0]) == []


def test_unknown_ids_and_labels_raise_clear_errors(widget):
    with pytest.raises(ValueError, match=r"ids has 2 id\(s\) not in this data map: \['zz', 'ex99'\]; expected ids of the data map"):
        widget.relabel(["ex1", "zz", "ex99"], "pos")
    with pytest.raises(ValueError, match=r"label 'positive' is unknown; expected one of \['neg', 'pos', 'neutral'\]"):
        widget.relabel(["ex1"], "positive")
    with pytest.raises(ValueError, match=r"label code 7 is out of range"):
        widget.relabel(["ex1"], 7)
    with pytest.raises(ValueError, match=r"ids has 1 id\(s\) not in this data map: \['nope'\]"):
        widget.mark_reviewed(["nope"])
    assert widget.changes.empty  # nothing half-done
    reply, _ = request(widget, "relabel", {"label": "bogus"}, [np.array([0], "<u4").tobytes()])
    assert reply["ok"] is False and "bogus" in reply["error"]


def test_bad_arguments_name_themselves():
    dmap = fixed_tracker().datamap()
    with pytest.raises(TypeError, match="colour_by"):
        DataMapWidget(dmap, colour_by="label")
    with pytest.raises(TypeError, match="data must be a pandas DataFrame"):
        DataMapWidget(dmap, data=[1, 2])
    with pytest.raises(ValueError, match="color_by must be one of"):
        DataMapWidget(dmap).color_by = "size"
    with pytest.raises(ValueError, match="color_by must be one of"):
        DataMapWidget(dmap, color_by="size")
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['labels'\]"):
        DataMapWidget(dmap, labels=b"")
    with pytest.raises(ValueError, match=r"selected_ids has 1 id\(s\) not in this data map: \['zz'\]"):
        DataMapWidget(dmap, selected_ids=["zz"])
    assert rows_of(DataMapWidget(dmap, selected_ids=["ex4", "ex1"]).selection) == [1, 4]
    with pytest.raises(ValueError, match="dataset must name the dataset"):
        DataMapWidget(dmap, store=object())


def test_data_that_does_not_fit_the_map_is_refused_or_flagged():
    dmap = fixed_tracker().datamap()
    with pytest.raises(ValueError, match=r"text_column 'body' is not a column of data; its columns are \['id', 'text', 'label'\]"):
        DataMapWidget(dmap, data=frame_for(), text_column="body")
    renamed = frame_for().rename(columns={"id": "doc"})
    with pytest.raises(ValueError, match=r"data's ids \(its index\) match none of the map's ids.*id_column="):
        DataMapWidget(dmap, data=renamed)
    w = DataMapWidget(dmap, data=renamed, id_column="doc")
    assert w.selected.empty
    with pytest.warns(UserWarning, match="data has no row for 2 of the map's 12 ids"):
        w = DataMapWidget(dmap, data=frame_for().iloc[2:])
    reply, _ = request(w, "page", {}, [np.array([0, 2], "<u4").tobytes()])
    assert reply["result"]["texts"] == ["", "document number 2 about things"]


def test_texts_align_to_the_map_whatever_the_order_of_data():
    dmap = fixed_tracker().datamap()
    data = frame_for().iloc[::-1].reset_index(drop=True)  # the map's ids, reversed
    data.loc[0, "text"] = None  # ex11 has no text
    extra = pd.DataFrame({"id": ["ex3", "stranger"], "text": ["a second row for ex3", "not in the map"], "label": ["neg", "neg"]})
    w = DataMapWidget(dmap, data=pd.concat([data, extra], ignore_index=True))
    reply, _ = request(w, "page", {}, [np.array([0, 3, 11], "<u4").tobytes()])
    # each map row gets its own id's text; the first row of a repeated id wins; a missing text is ""
    assert reply["result"]["texts"] == ["document number 0 about things", "document number 3 about things", ""]
    for strings in ("str", object):  # Arrow strings or Python objects: the same texts
        same = frame_for().astype({"id": strings, "text": strings})
        reply, _ = request(DataMapWidget(dmap, data=same), "page", {}, [np.array([1, 4], "<u4").tobytes()])
        assert reply["result"]["texts"] == ["document number 1 about things", INJECTION]


# ----------------------------------------------------------------- requests


def test_page_request_returns_ids_and_texts_verbatim_and_cut(widget):
    reply, buffers = request(widget, "page", {}, [np.array([4, 5, 0], "<u4").tobytes()])
    res = reply["result"]
    assert res["ids"] == ["ex4", "ex5", "ex0"]
    assert res["texts"][0] == INJECTION  # escaping is the front end's job: never altered here
    assert len(res["texts"][1]) < 300 and res["texts"][1].endswith("…")
    assert res["scores"][2] == pytest.approx(float(widget.datamap.frame["mislabel_score"].iloc[0]))
    full, _ = request(widget, "page", {"full": True}, [np.array([5], "<u4").tobytes()])
    assert full["result"]["texts"] == ["x" * 1000]


def test_page_request_refuses_too_many_or_bad_rows(widget):
    reply, _ = request(widget, "page", {}, [np.arange(501, dtype="<u4").tobytes()])
    assert reply["ok"] is False and "at most 500 rows" in reply["error"]
    reply, _ = request(widget, "page", {}, [np.array([12], "<u4").tobytes()])
    assert reply["ok"] is False and "0..11" in reply["error"]


def test_every_request_is_checked_in_one_place_and_answered_with_why(widget):
    """The router checks each argument the same way for every method, and says which one was wrong."""
    reply, _ = request(widget, "relabel", {"label": "pos"}, [np.array([12], "<u4").tobytes()])
    assert reply["ok"] is False and "row index 12 is out of range" in reply["error"] and "0..11" in reply["error"]
    reply, _ = request(widget, "page", {"full": "yes"}, [np.array([1], "<u4").tobytes()])
    assert reply["ok"] is False and reply["error"] == "TypeError: full must be true or false, got 'yes'."
    reply, _ = request(widget, "accept_suggestions", {"include_reviewed": 1}, [np.array([1], "<u4").tobytes()])
    assert reply["ok"] is False and "include_reviewed must be true or false" in reply["error"]
    reply, _ = request(widget, "fetch_all")
    assert reply["ok"] is False and "unknown request method 'fetch_all'" in reply["error"] and "page" in reply["error"]
    assert widget.history_size == 0, "a refused request changes nothing"


def test_search_runs_in_python_and_returns_row_indices_as_a_buffer(widget):
    reply, buffers = request(widget, "search", {"query": "NUMBER 1"})
    assert reply["result"]["count"] == 3
    assert rows_of(buffers[0]) == [1, 10, 11]
    reply, buffers = request(widget, "search", {"query": "<img"})
    assert rows_of(buffers[0]) == [4]
    reply, buffers = request(widget, "search", {"query": "ex7"})  # ids match too
    assert rows_of(buffers[0]) == [7]


# ----------------------------------------------------------------- store


class FakeStore:
    def __init__(self):
        self.rows: list[dict] = []
        self.fail: Exception | None = None

    def add_reviews(self, dataset, rows):
        if self.fail is not None:
            raise self.fail
        self.rows.extend({**r, "dataset": dataset} for r in rows)


def test_store_gets_each_action_before_it_is_confirmed():
    store = FakeStore()
    w = DataMapWidget(fixed_tracker().datamap(), store=store, dataset="toy", reviewer="ann", run=1)
    w.relabel(["ex0"], "pos")
    w.mark_reviewed(["ex5"])
    w.undo()
    w.undo()
    assert [(r["example_id"], r["action"], r["old_label"], r["new_label"]) for r in store.rows] == [
        ("ex0", "relabeled", "neg", "pos"),
        ("ex5", "confirmed", "neutral", "neutral"),
        ("ex5", "undo", "neutral", "neutral"),  # undo appends a row that cancels the confirmation
        ("ex0", "undo", "pos", "neg"),  # and one that restores the label before the relabel
    ]
    assert [r["expected_label"] for r in store.rows] == ["neg", "neutral", "neutral", "pos"]
    assert {r["action"] for r in store.rows} <= set(ACTIONS)
    assert {r["dataset"] for r in store.rows} == {"toy"}
    assert store.rows[0]["reviewer"] == "ann" and store.rows[0]["run"] == 1 and store.rows[0]["at"]
    assert w.save_status == "saved"


def test_store_failure_keeps_actions_pending_and_retries():
    store = FakeStore()
    w = DataMapWidget(fixed_tracker().datamap(), store=store, dataset="toy")
    store.fail = ConnectionError("database is locked")
    w.relabel(["ex0", "ex1"], "neutral")
    assert w.save_status == "2 actions not saved: ConnectionError: database is locked"
    assert len(w.pending) == 2 and store.rows == []
    assert np.frombuffer(w.labels, "<u2")[0] == 2  # the UI still shows the work
    w.mark_reviewed(["ex3"])  # next action retries everything
    assert w.save_status.startswith("3 actions not saved")
    reply, _ = request(w, "retry_save")  # the UI's "Retry saving" button; still failing
    assert reply["result"] == {"saved": False, "save_status": w.save_status}
    store.fail = None
    assert w.retry_save() is True
    assert [r["example_id"] for r in store.rows] == ["ex0", "ex1", "ex3"]
    assert w.save_status == "saved" and w.pending == []


# ----------------------------------------------------------------- live


def test_live_widget_follows_the_tracker_each_epoch():
    n = 12
    ids = [f"ex{i}" for i in range(n)]
    tracker = Tracker(ids, [LABELS[i % 3] for i in range(n)], label_names=LABELS)
    w = DataMapWidget(tracker, data=frame_for())
    assert w.live and w.n_passes == 0
    seen: list[int] = []
    w.observe(lambda ch: seen.append(ch["new"]), names="n_passes")
    w.relabel(["ex2"], "neg")
    w.selected_ids = ["ex6"]
    for t in range(3):
        tracker.record(ids, fixed_logits(n, t))
        tracker.end_epoch()
    assert seen == [1, 2, 3]
    expected = tracker.datamap().frame
    np.testing.assert_allclose(np.frombuffer(w.points["y"], "<f4"), expected["confidence"], rtol=1e-6)
    assert w.changes["id"].tolist() == ["ex2"]  # actions survive the redraw
    assert np.frombuffer(w.labels, "<u2")[2] == 0
    assert w.selected_ids == ["ex6"]
    assert w.datamap.frame.loc["ex2", "reviewed"]
    w.close()
    tracker.record(ids, fixed_logits(n, 3))
    tracker.end_epoch()
    assert w.n_passes == 3  # closed widgets stop listening


def test_a_failing_redraw_warns_but_never_stops_training(monkeypatch):
    n = 12
    ids = [f"ex{i}" for i in range(n)]
    tracker = Tracker(ids, [LABELS[i % 3] for i in range(n)], label_names=LABELS)
    w = DataMapWidget(tracker)
    monkeypatch.setattr(w, "_set_map", lambda dmap: (_ for _ in ()).throw(MemoryError("no room")))
    tracker.record(ids, fixed_logits(n, 0))
    with pytest.warns(RuntimeWarning, match="could not redraw after pass 1: MemoryError: no room"):
        tracker.end_epoch()
    assert tracker.n_passes == 1


def test_datamap_widget_method_builds_the_widget():
    dmap = fixed_tracker().datamap()
    w = dmap.widget(data=frame_for(), color_by="category")
    assert isinstance(w, DataMapWidget) and w.color_by == "category"


# ----------------------------------------------------------------- review loop (issue 14)


def test_selected_carries_current_and_suggested_labels_and_scores_most_suspect_first(widget):
    widget.relabel(["ex2"], "pos")
    widget.selected_ids = ["ex5", "ex2", "ex0"]
    sel = widget.selected
    assert sel["id"].tolist()[0] in {"ex0", "ex2"}  # the suspects (ex0..ex2) come before ex5
    assert sel["id"].tolist()[-1] == "ex5"
    by_id = sel.set_index("id")
    assert by_id.loc["ex2", "label"] == "pos" and by_id.loc["ex2", "original_label"] == "neutral"
    assert by_id.loc["ex2", "review"] == "relabeled" and by_id.loc["ex5", "review"] == ""
    assert by_id.loc["ex2", "suggested_label"] == "neg"  # the map's suggestion for the trained label
    assert pd.isna(by_id.loc["ex0", "suggested_label"])  # the map suggests nothing else: none, not "neg"
    assert {"mislabel_score", "confidence", "variability", "correctness", "text"} <= set(sel.columns)
    scores = sel["mislabel_score"].to_numpy()
    assert (np.diff(scores) <= 0).all()


def test_apply_writes_the_users_own_integer_codes_and_touches_no_other_row():
    """Issue 14: an int column holding category codes was re-coded on every row."""
    w = DataMapWidget(fixed_tracker().datamap())
    own = {"neg": 2, "pos": 0, "neutral": 1}  # the user's codes differ from the widget's label order
    df = pd.DataFrame({"label": [own[LABELS[i % 3]] for i in range(12)]}, index=[f"ex{i}" for i in range(12)])
    assert w.apply(df).equals(df)  # nobody relabeled anything: nothing changes
    w.relabel("ex4", "neg")
    out = w.apply(df)
    assert out["label"].dtype == df["label"].dtype
    assert (out["label"] != df["label"]).sum() == 1 and out.loc["ex4", "label"] == own["neg"]


def test_apply_to_a_categorical_lacking_the_new_label_gains_it_never_nan():
    w = DataMapWidget(fixed_tracker().datamap())
    w.relabel("ex0", "neutral")
    df = pd.DataFrame({"id": [f"ex{i}" for i in range(12)],
                       "label": pd.Categorical([LABELS[i % 3] if i % 3 != 2 else "pos" for i in range(12)], categories=["neg", "pos"])})
    out = w.apply(df)
    assert isinstance(out["label"].dtype, pd.CategoricalDtype) and out["label"].notna().all()
    assert out["label"].tolist()[0] == "neutral" and out["label"].tolist()[1:] == df["label"].tolist()[1:]


def test_run_must_be_an_int_run_id():
    with pytest.raises(TypeError, match=r"run must be an int run id .*got str 'r1'"):
        DataMapWidget(fixed_tracker().datamap(), run="r1")


def test_accept_suggestions_previews_then_changes_exactly_those_labels(widget):
    ids = ["ex1", "ex2", "ex3", "ex4"]  # ex1, ex2 suspects (suggested differs), ex3, ex4 agree
    preview = widget.accept_preview(ids)
    assert preview == {"change": 2, "reviewed": 0, "no_suggestion": 2, "unknown": 0, "unlearned": 0}
    reply, _ = request(widget, "accept_preview", {}, [np.array([1, 2, 3, 4], "<u4").tobytes()])
    assert reply["result"] == preview
    before = np.frombuffer(widget.labels, "<u2").copy()
    reply, _ = request(widget, "accept_suggestions", {}, [np.array([1, 2, 3, 4], "<u4").tobytes()])
    assert reply["ok"] and reply["result"]["changed"] == 2
    after = np.frombuffer(widget.labels, "<u2")
    assert np.flatnonzero(after != before).tolist() == [1, 2]
    assert np.frombuffer(widget.reviewed, "<u1")[[1, 2, 3, 4]].tolist() == [2, 2, 0, 0]  # no suggestion: left alone
    assert widget.history_size == 1 and widget.undo() and (np.frombuffer(widget.labels, "<u2") == before).all()


def test_huge_texts_cross_bounded_and_whole_only_on_demand():
    """Issue 17.14: a 1 MB text without spaces is sent as a bounded preview with a flag."""
    from datamap_widget.widget import MAX_FULL_ROWS, MAX_TEXT_CHARS, PREVIEW_CHARS

    df = frame_for()
    df.loc[3, "text"] = "y" * 1_000_000
    w = DataMapWidget(fixed_tracker().datamap(), data=df)
    reply, _ = request(w, "page", {"full": True}, [np.array([3, 4], "<u4").tobytes()])
    res = reply["result"]
    assert len(res["texts"][0]) == MAX_TEXT_CHARS + 1 and res["truncated"] == [True, False]
    assert res["lengths"][0] == 1_000_000 and res["texts"][1] == INJECTION
    reply, _ = request(w, "page", {}, [np.array([3], "<u4").tobytes()])
    assert len(reply["result"]["texts"][0]) == PREVIEW_CHARS + 1
    reply, _ = request(w, "document", {"row": 3})
    assert reply["result"]["truncated"] and len(reply["result"]["text"]) == MAX_TEXT_CHARS + 1
    reply, _ = request(w, "document", {"row": 3, "all": True})  # the pane's "show all"
    assert reply["result"]["text"] == "y" * 1_000_000 and not reply["result"]["truncated"]
    reply, _ = request(w, "page", {"full": True}, [np.arange(MAX_FULL_ROWS + 1, dtype="<u4").tobytes()])
    assert not reply["ok"] and f"at most {MAX_FULL_ROWS} rows" in reply["error"]


def test_document_request_gives_the_per_pass_gold_probability_and_the_models_classes(widget):
    reply, _ = request(widget, "document", {"row": 0})
    doc = reply["result"]
    assert doc["id"] == "ex0" and len(doc["gold_prob"]) == 3
    dmap = widget.datamap
    assert doc["gold_prob"] == pytest.approx(dmap.trajectories["gold_prob"][0].tolist())
    # The top three classes of the mean over the passes: the model prefers pos over the gold neg.
    assert doc["classes_from"] == "mean" and doc["gold_label"] == "neg"
    assert [c[0] for c in doc["classes"]] == ["pos", "neg", "neutral"]
    expected = dmap.class_probabilities[0]
    assert [c[1] for c in doc["classes"]] == pytest.approx([expected[1], expected[0], expected[2]], rel=1e-6)
    assert doc["classes"][0][1] > doc["classes"][1][1] >= doc["classes"][2][1]
    reply, _ = request(widget, "document", {"row": 99})
    assert not reply["ok"] and "row must be an int in 0..11" in reply["error"]


def test_document_request_says_how_much_of_a_long_text_the_model_read_and_what_the_bag_of_words_thinks():
    base = fixed_tracker().datamap()
    n = len(base)
    text = np.tile(np.array([[0.1, 0.7, 0.2]], dtype=np.float32), (n, 1))
    share = np.ones(n, dtype=np.float32)
    share[0] = 0.34
    dmap = DataMap(base.ids, base.labels, base.label_names, base.trajectories, text_probabilities=text,
                   reading={"mode": "head_tail", "max_length": 128}, share_read=share)
    w = DataMapWidget(dmap)
    doc = request(w, "document", {"row": 0})[0]["result"]
    assert doc["reading"] == {"share": pytest.approx(0.34), "mode": "head_tail", "max_length": 128}
    assert doc["text_view"] == [[dmap.label_names[1], pytest.approx(0.7)], [dmap.label_names[2], pytest.approx(0.2)],
                                [dmap.label_names[0], pytest.approx(0.1)]]
    plain = request(DataMapWidget(base), "document", {"row": 0})[0]["result"]
    assert plain["reading"] is None and plain["text_view"] == []


def test_document_request_shows_the_top_three_of_many_classes_and_relabels_keep_the_gold_label():
    names = [f"class {i}" for i in range(8)]
    tracker = Tracker(["a", "b"], ["class 0", "class 5"], label_names=names)
    logits = np.array([[0.0, 1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0], [0.0] * 5 + [4.0, 0.0, 0.0]])
    for t in range(2):
        tracker.record(["a", "b"], logits + t)
        tracker.end_epoch()
    w = DataMapWidget(tracker.datamap())
    w.relabel(["a"], "class 3")
    doc = request(w, "document", {"row": 0})[0]["result"]
    assert [c[0] for c in doc["classes"]] == ["class 3", "class 2", "class 1"]  # the gold class 0 is not among them
    assert doc["gold_label"] == "class 0"  # the label the model was trained on, not the relabel
    assert sum(c[1] for c in doc["classes"]) < 1


def test_document_request_falls_back_to_the_last_pass_for_a_map_without_class_probabilities(tmp_path):
    import pyarrow.parquet as pq

    fixed_tracker().datamap().to_parquet(str(tmp_path / "new.parquet"))
    table = pq.read_table(tmp_path / "new.parquet")
    pq.write_table(table.drop(["class_probabilities"]).replace_schema_metadata(table.schema.metadata), tmp_path / "old.parquet")
    from datamap_widget import DataMap

    old = DataMap.read_parquet(str(tmp_path / "old.parquet"))
    for dmap in (old, Tracker(["a", "b"], [0, 1], class_probabilities=False)):
        if isinstance(dmap, Tracker):
            for _ in range(2):
                dmap.record(["a", "b"], np.array([[0.0, 2.0], [0.0, 1.0]]))
                dmap.end_epoch()
        reply, _ = request(DataMapWidget(dmap), "document", {"row": 0})
        assert reply["ok"], reply
        doc = reply["result"]
        assert doc["classes_from"] == "last pass" and len(doc["classes"]) == 2


def test_progress_trait_defaults_to_idle(widget):
    assert widget.progress == {"state": "idle"}


def test_the_widget_offers_only_suggestions_the_early_passes_backed():
    # All labelled neg. "flip": predicted pos in 4 of 5 passes, from the start (offered).
    # "unsure": weakly neg in the early passes, pos only late (what memorisation looks like),
    # so the map suggests keeping neg and the widget offers nothing else.
    ids = ["same", "flip", "unsure"]
    tracker = Tracker(ids, ["neg", "neg", "neg"], label_names=LABELS)
    unsure = [[0.5, 0.3, 0], [0.5, 0.3, 0], [0.5, 0.3, 0], [0, 2.9, 0], [0, 2.9, 0]]
    for t in range(5):
        logits = np.array([[2, 0, 0], [0, 2, 0] if t < 4 else [2, 0, 0], unsure[t]], dtype=np.float32)
        tracker.record(ids, logits)
        tracker.end_epoch()
    widget = DataMapWidget(tracker)
    frame = widget.datamap.frame
    assert frame["suggested_label"].astype(str).tolist() == ["neg", "pos", "neg"]
    assert frame["suggestion_confident"].tolist() == [False, True, False]
    suggested = np.frombuffer(widget.points["suggested"], "<u2")
    assert suggested.tolist() == [65535, LABELS.index("pos"), 65535]  # none shown, never "neg" dressed as one


def test_accept_suggestions_does_what_the_screen_shows_for_unconfident_suggestions():
    """A reviewer found bulk accept relabeling rows whose table cell showed suggested = label:
    the wire sent the confident-only suggestion, accept_suggestions used the raw one."""
    ids = ["sure", "unsure"]
    tracker = Tracker(ids, ["a", "a"], label_names=["a", "b"])
    per_pass = [  # "sure": b in every pass; "unsure": b barely in the early passes (a weak hint)
        [[0, 3], [0, 0.3]],
        [[0, 3], [0, 0.3]],
        [[0, 3], [0, 3]],
        [[0, 3], [0, 3]],
    ]
    for logits in per_pass:
        tracker.record(ids, np.array(logits, dtype=float))
        tracker.end_epoch()
    frame = tracker.datamap().frame
    assert frame.loc["unsure", "suggested_label"] == "a" and not frame.loc["unsure", "suggestion_confident"]
    w = DataMapWidget(tracker.datamap())
    shown = np.frombuffer(w.points["suggested"], dtype="<u2")
    assert shown.tolist() == [1, 65535]  # "b", and no suggestion: what the table and the pane show
    assert w.accept_preview(ids) == {"change": 1, "reviewed": 0, "no_suggestion": 1, "unknown": 0, "unlearned": 0}
    assert w.accept_suggestions(ids) == 1
    changes = w.changes.set_index("id")
    assert changes.loc["sure", "new_label"] == "b"
    assert "unsure" not in changes.index  # no suggestion: neither relabeled nor confirmed


def _widget_with_embeddings(projected: bool = True) -> DataMapWidget:
    """Twelve examples on two directions: ex0..ex5 along one axis, ex6..ex11 along the other.

    ``projected``: the map carries its projection (as one read from a parquet that saved it),
    so the widget shows the embedding view at once; else it is made on first use."""
    dmap = fixed_tracker().datamap()
    emb = np.zeros((12, 2), dtype=np.float32)
    emb[:6, 0] = 1.0
    emb[:6, 1] = np.linspace(0.0, 0.3, 6)
    emb[6:, 1] = 1.0
    emb[6:, 0] = np.linspace(0.0, 0.3, 6)
    dmap.embeddings = emb
    if projected:
        dmap.projection()
    return DataMapWidget(dmap, data=frame_for())


def test_document_request_lists_the_nearest_neighbours_with_current_labels_and_a_summary():
    w = _widget_with_embeddings()
    doc = request(w, "document", {"row": 0})[0]["result"]
    items = doc["neighbors"]["items"]
    assert len(items) == 8 and [it["id"] for it in items[:5]] == ["ex1", "ex2", "ex3", "ex4", "ex5"]
    assert "ex0" not in [it["id"] for it in items]
    sims = [it["similarity"] for it in items]
    assert sims == sorted(sims, reverse=True) and sims[0] > 0.99
    assert [it["label"] for it in items[:5]] == [LABELS[i % 3] for i in range(1, 6)]
    assert items[3]["text"] == INJECTION[:240] + ("…" if len(INJECTION) > 240 else "")  # text only, as given
    assert items[4]["text"] == "x" * 240 + "…"  # capped like the table previews
    w.relabel(["ex1", "ex2", "ex3", "ex4", "ex5"], LABELS[2])
    doc = request(w, "document", {"row": 0})[0]["result"]
    assert [it["label"] for it in doc["neighbors"]["items"][:5]] == [LABELS[2]] * 5
    top = pd.Series([it["label"] for it in doc["neighbors"]["items"]]).value_counts()
    assert doc["neighbors"]["summary"] == f"{top.iloc[0]} of 8 neighbours are {LABELS[2]}"


def test_document_request_has_no_neighbours_without_embeddings(widget):
    doc = request(widget, "document", {"row": 0})[0]["result"]
    assert doc["neighbors"] is None


# ---------------------------------------------------------------- the embedding view (issue 16, item 2)


def test_the_projection_travels_as_two_float32_columns_only_with_embeddings():
    from ipywidgets.widgets.widget import _remove_buffers

    from datamap_widget.widget import PROJECTION_BYTES_PER_POINT

    w = _widget_with_embeddings()
    coords = w.datamap.projection().to_numpy()
    assert w.embedding_view == {"method": "tsne", "reason": "", "note": ""}
    np.testing.assert_array_equal(np.frombuffer(w.points["projection_x"], "<f4"), coords[:, 0])
    np.testing.assert_array_equal(np.frombuffer(w.points["projection_y"], "<f4"), coords[:, 1])
    state, paths, buffers = _remove_buffers(w.get_state())
    total = sum(len(b) for p, b in zip(paths, buffers) if p[0] in ("points", "labels", "reviewed"))
    assert total == (BYTES_PER_POINT + PROJECTION_BYTES_PER_POINT) * 12 == 30 * 12
    # Without embeddings: no projection columns, and the reason the view is off.
    plain = DataMapWidget(fixed_tracker().datamap())
    assert "projection_x" not in plain.points and plain.embedding_view["method"] == ""
    assert "no embeddings" in plain.embedding_view["reason"]


def test_map_view_is_shared_state_and_checked():
    w = _widget_with_embeddings()
    assert w.map_view == "data_map"
    w.map_view = "embedding"
    with pytest.raises(ValueError, match=r"map_view must be one of \['data_map', 'embedding'\], got 'umap'"):
        w.map_view = "umap"
    assert DataMapWidget(fixed_tracker().datamap(), map_view="embedding").map_view == "embedding"
    # The selection is the same set of ids whichever view drew it.
    w.selection = np.array([2, 5], dtype="<u4").tobytes()
    assert w.selected_ids == ["ex2", "ex5"]
    w.map_view = "data_map"
    assert w.selected_ids == ["ex2", "ex5"]


def test_a_saved_projection_is_what_the_widget_shows(tmp_path):
    dmap = _widget_with_embeddings().datamap
    dmap.projection("pca")
    path = tmp_path / "map.parquet"
    dmap.to_parquet(path)
    from datamap_widget import DataMap

    again = DataMap.read_parquet(path)
    w = DataMapWidget(again)
    assert w.embedding_view["method"] == "pca"
    np.testing.assert_array_equal(np.frombuffer(w.points["projection_x"], "<f4"), dmap.projection()["x"].to_numpy())


def test_live_training_turns_the_embedding_view_on_when_the_embeddings_arrive():
    n = 12
    ids = [f"ex{i}" for i in range(n)]
    tracker = Tracker(ids, [LABELS[i % 3] for i in range(n)], label_names=LABELS)
    w = DataMapWidget(tracker, data=frame_for())
    tracker.record(ids, fixed_logits(n, 0))
    tracker.end_epoch()
    assert w.embedding_view["method"] == "" and "appears when training reaches it" in w.embedding_view["reason"]
    assert "projection_x" not in w.points
    emb = np.random.default_rng(1).normal(size=(n, 5))
    tracker.record(ids, fixed_logits(n, 1), embeddings=emb)  # the last pass records them
    tracker.end_epoch()
    # The view is on (pending: made when the reviewer first opens it, not inside end_epoch).
    assert w.embedding_view["pending"] == "tsne" and w.embedding_view["reason"] == ""
    assert request(w, "projection")[0]["ok"] and w.embedding_view["method"] == "tsne"
    assert np.isfinite(np.frombuffer(w.points["projection_x"], "<f4")).all()
    w.close()


def test_colour_and_view_choices_are_the_same_in_python_and_typescript():
    import re
    from pathlib import Path

    from datamap_widget.widget import COLOR_BY, MAP_VIEWS

    source = (Path(__file__).resolve().parents[1] / "js" / "src" / "toolbar.ts").read_text()
    colours = re.search(r"COLOR_CHOICES[^=]*= \[(.*?)\n\];", source, re.S).group(1)
    views = re.search(r"VIEW_CHOICES[^=]*= \[(.*?)\n\];", source, re.S).group(1)
    assert tuple(re.findall(r'^\s*\["(\w+)"', colours, re.M)) == COLOR_BY
    assert tuple(re.findall(r'^\s*\["(\w+)"', views, re.M)) == MAP_VIEWS


def test_without_the_projection_extra_the_view_is_pca_and_says_how_to_get_t_sne(monkeypatch):
    import datamap_widget.projection as projection

    monkeypatch.setattr(projection.importlib.util, "find_spec", lambda name: None)  # no openTSNE
    w = _widget_with_embeddings(projected=False)
    assert w.embedding_view["pending"] == "pca"
    assert request(w, "projection")[0]["ok"]
    assert w.embedding_view["method"] == "pca" and w.datamap.projection_method == "pca"
    assert "pip install 'datamap_widget[projection]'" in w.embedding_view["note"]
    assert np.isfinite(np.frombuffer(w.points["projection_x"], "<f4")).all()


def test_the_widget_opens_at_once_and_makes_the_projection_when_the_embedding_view_is_first_asked_for():
    # t-SNE takes seconds even for 1,000 points: opening the widget must not wait for it.
    w = _widget_with_embeddings(projected=False)
    assert "projection_x" not in w.points and w.datamap.projection_method is None  # the widget opened at once
    assert w.embedding_view["pending"] == "tsne" and "made when first opened" in w.embedding_view["note"]
    reply = request(w, "projection")[0]
    assert reply["ok"] and reply["result"] == {"method": "tsne"}
    assert w.embedding_view["method"] == "tsne" and "pending" not in w.embedding_view
    np.testing.assert_array_equal(np.frombuffer(w.points["projection_x"], "<f4"), w.datamap.projection()["x"].to_numpy())
    # A map that carries its projection (made before, or read from its parquet) shows it at once.
    again = DataMapWidget(w.datamap)
    assert again.embedding_view["method"] == "tsne" and "projection_x" in again.points
    plain = DataMapWidget(fixed_tracker().datamap())
    assert not request(plain, "projection")[0]["ok"]  # no embeddings: a clear error, not a hang


# ----------------------------------------------------------------- re-ranking from the review (issue 16, item 4)


def _learning_widget() -> DataMapWidget:
    """The two-cluster map of test_ranking, scored by margin_knn (a score that learns from reviews)."""

    dmap = clustered_map("margin_knn")
    data = pd.DataFrame({"id": list(dmap.ids), "text": [f"text {i}" for i in range(len(dmap))]})
    return DataMapWidget(dmap, data=data)


def _order(w: DataMapWidget) -> list[int]:
    return rows_of(w.order) if w.order else rows_of(w.points["order"])


def test_a_relabel_reorders_the_suspects_and_keeps_the_current_document_in_place():
    w = _learning_widget()
    assert w.order == b""  # nothing reviewed: the points' order stands
    before = _order(w)
    reviewed, current = before[0], before[1]  # the reviewer fixes the top suspect; the pane moves on to the next
    shown = request(w, "document", {"row": current})[0]["result"]["id"]
    label = ["a", "b"][1 - int(w.datamap.labels[reviewed])]
    request(w, "relabel", {"label": label, "current": current}, [np.array([reviewed], dtype="<u4").tobytes()])
    after = _order(w)
    assert after != before and sorted(after) == sorted(before)
    assert after[0] == reviewed and after[1] == current  # the reviewer's place and the pane's document stay
    assert request(w, "document", {"row": current})[0]["result"]["id"] == shown
    # The rest follow the scores the review changed, as dmap.suspects() ranks them from Python too.
    score = w.datamap.frame["mislabel_score"].to_numpy()
    rest = after[2:]
    assert all(score[a] >= score[b] for a, b in zip(rest, rest[1:]))
    suspects = [w.datamap.positions([i])[0] for i in w.datamap.suspects().index]
    assert [r for r in suspects if r != current] == rest
    # The page request shows the new scores.
    page = request(w, "page", {}, [np.array(rest[:3], dtype="<u4").tobytes()])[0]["result"]
    assert page["scores"] == pytest.approx(score[rest[:3]].tolist())


def test_confirming_and_undo_from_python_re_rank_and_keep_reviewed_rows_in_place():
    w = _learning_widget()
    before = _order(w)
    top = w.datamap.ids[before[0]]
    w.mark_reviewed([top])  # a confirmation from Python: no current document to keep
    after = _order(w)
    assert after[0] == before[0]
    assert top not in w.datamap.suspects().index
    w.undo()
    assert top in w.datamap.suspects().index
    np.testing.assert_array_equal(
        w.datamap.frame["mislabel_score"].to_numpy(), _learning_widget().datamap.frame["mislabel_score"].to_numpy()
    )


def test_a_datamap_handed_to_a_widget_is_not_changed_by_its_reviews():
    dmap = clustered_map("margin_knn")
    frame, suspects, labels = dmap.frame, dmap.suspects(), dmap.current_labels
    w = DataMapWidget(dmap)
    top = suspects.index[:3].tolist()
    w.relabel(top[:2], "a")
    w.confirm(top[2:])
    w.accept_suggestions(suspects.index[3:8].tolist())
    pd.testing.assert_frame_equal(dmap.frame, frame)
    pd.testing.assert_frame_equal(dmap.suspects(), suspects)
    pd.testing.assert_series_equal(dmap.current_labels, labels)
    # The widget's own view of the map, and the map read with the widget's review, have them.
    assert set(top).isdisjoint(w.datamap.suspects().index) and set(top).isdisjoint(dmap.suspects(review=w.review).index)
    pd.testing.assert_frame_equal(w.datamap.suspects(), dmap.suspects(review=w.review))
    assert w.datamap.current_labels[top[:2]].tolist() == ["a", "a"] == dmap.labels_after(w.review)[top[:2]].tolist()


def test_the_widget_listens_to_its_session_and_re_sorts_through_the_ranking():
    w = _learning_widget()
    before = _order(w)
    top = before[0]
    # A change made on the session itself (not through a widget method) reaches the screen.
    w.review.relabel(np.array([top]), 1 - int(w.datamap.labels[top]))
    assert np.frombuffer(w.reviewed, "<u1")[top] == 2
    assert np.frombuffer(w.labels, "<u2")[top] == 1 - int(w.datamap.labels[top])
    after = _order(w)
    assert after != before and after[0] == top  # re-sorted by the ranking, the reviewed row kept in place
    score = w.datamap.frame["mislabel_score"].to_numpy()
    rest = after[1:]
    assert all(score[a] >= score[b] for a, b in zip(rest, rest[1:]))
    assert w.history_size == 1 and w.changes["action"].tolist() == ["relabeled"]


def test_the_widget_speaks_relabel_confirm_undo():
    w = DataMapWidget(fixed_tracker().datamap())
    w.relabel(["ex0"], "neutral")
    w.confirm(["ex1"])
    w.mark_reviewed(["ex2"])  # the older name of confirm
    assert w.changes["action"].tolist() == ["relabeled", "confirmed", "confirmed"]
    assert set(w.changes["action"]) <= set(ACTIONS)
    assert np.frombuffer(w.reviewed, "<u1")[:3].tolist() == [2, 1, 1]  # 0 not reviewed, 1 confirmed, 2 relabeled
    assert "0 not reviewed, 1 confirmed, 2 relabeled" in DataMapWidget.reviewed.help
    assert w.undo() and w.undo() and w.undo() and not w.undo()


def test_a_margin_map_keeps_the_order_it_was_drawn_with(widget):
    before = rows_of(widget.points["order"])
    widget.relabel(["ex0", "ex1"], "neutral")
    assert widget.order == b"" and rows_of(widget.points["order"]) == before


def test_the_pane_normalises_the_embeddings_once_per_map_not_per_document(monkeypatch):
    from datamap_widget import metrics

    calls = []
    real = metrics.unit_rows
    monkeypatch.setattr(metrics, "unit_rows", lambda values: calls.append(len(values)) or real(values))
    w = _widget_with_embeddings()
    first = request(w, "document", {"row": 0})[0]["result"]["neighbors"]["items"]
    for row in (1, 2, 0):
        request(w, "document", {"row": row})
    assert calls == [12] and request(w, "document", {"row": 0})[0]["result"]["neighbors"]["items"] == first


# ----------------------------------------------------------------- apply to a frame whose ids do not match (issue 27, item 3)


def test_apply_refuses_a_frame_whose_ids_match_none_of_the_maps():
    w = DataMapWidget(fixed_tracker().datamap())
    w.relabel("ex4", "neg")
    labels = [LABELS[i % 3] for i in range(12)]
    # No id column and an index that is not the ids: the relabel would silently go nowhere.
    with pytest.raises(ValueError, match=r"df's ids \(its index\) match none.*df has \[0, 1, 2 and 9 more\].*'ex0'.*no column 'id', so its index was tried"):
        w.apply(pd.DataFrame({"label": labels}))
    # The ids sit in a column called ID: the message names it, and id_column= takes it.
    shouting = pd.DataFrame({"ID": [f"ex{i}" for i in range(12)], "label": labels})
    with pytest.raises(ValueError, match=r"df has a column 'ID'.*id_column='ID'"):
        w.apply(shouting)
    assert w.apply(shouting, id_column="ID")["label"].tolist()[4] == "neg"


def test_apply_to_other_rows_than_the_maps_does_not_ask_for_the_id_column_it_was_given():
    # The id column was named and holds ints like the map's, just not the map's: "pass id_column="
    # sent the user after a column they had already given. Say the rows are other rows, and point
    # to a column that does hold the map's ids when there is one.
    tracker = Tracker([1000 + i for i in range(6)], ["neg", "pos"] * 3)
    for _ in range(2):
        tracker.record([1000 + i for i in range(6)], np.tile([[0.2, 0.1]], (6, 1)))
        tracker.end_epoch()
    w = DataMapWidget(tracker.datamap())
    w.relabel([1001], "neg")
    other = pd.DataFrame({"doc_id": [51000 + i for i in range(6)], "label": ["neg", "pos"] * 3})
    with pytest.raises(ValueError, match=r"no column of df holds the map's ids \(is df the data the map was made from\?\)\.$") as error:
        w.apply(other, id_column="doc_id")
    assert "pass id_column" not in str(error.value)
    both = other.assign(key=[1000 + i for i in range(6)])
    with pytest.raises(ValueError, match=r"its column 'key' holds the map's ids: pass id_column='key'"):
        w.apply(both, id_column="doc_id")
    with pytest.raises(ValueError, match=r"no column 'id', so its index was tried; its column 'key' holds the map's ids: pass id_column='key'"):
        w.apply(both)
    assert w.apply(both, id_column="key")["label"].tolist()[1] == "neg"


def test_apply_refuses_str_ids_for_an_int_id_map_and_warns_on_relabels_it_cannot_place():
    tracker = Tracker(list(range(6)), ["neg", "pos"] * 3)
    for _ in range(2):
        tracker.record(list(range(6)), np.tile([[0.2, 0.1]], (6, 1)))
        tracker.end_epoch()
    w = DataMapWidget(tracker.datamap())
    w.relabel([1, 5], "neg")
    as_text = pd.DataFrame({"id": [str(i) for i in range(6)], "label": ["neg", "pos"] * 3})
    with pytest.raises(ValueError, match=r"df's ids are str \('0'\), the map's are int \(0\)"):
        w.apply(as_text)
    part = pd.DataFrame({"id": [0, 1, 2, 3], "label": ["neg", "pos"] * 2})  # 5 is not there
    with pytest.warns(UserWarning, match=r"1 of the 2 relabeled ids is not in df's column 'id' \(e\.g\. \[5\]; df has \[0, 1, 2 and 1 more\]\)"):
        out = w.apply(part)
    assert out["label"].tolist() == ["neg", "neg", "neg", "pos"]


# ------------------------------------------------- saving from the widget (issue 29, item 9)


def test_export_labels_writes_the_corrected_labels_as_csv_or_parquet(widget, tmp_path):
    widget.relabel(["ex0"], "pos")
    widget.mark_reviewed(["ex5"])
    path = widget.export_labels(tmp_path / "labels.csv")
    assert path == tmp_path / "labels.csv"
    table = pd.read_csv(path)
    assert list(table.columns) == ["id", "label", "original_label", "changed", "reviewed"]
    assert table["id"].tolist() == [f"ex{i}" for i in range(12)]
    assert table.loc[0, ["label", "original_label"]].tolist() == ["pos", "neg"]
    assert table["changed"].tolist() == [True] + [False] * 11
    assert table.loc[table["reviewed"], "id"].tolist() == ["ex0", "ex5"]
    back = pd.read_parquet(widget.export_labels(tmp_path / "labels.parquet"))
    assert back.equals(table)
    with pytest.raises(ValueError, match=r"path must end in \.csv or \.parquet"):
        widget.export_labels(tmp_path / "labels.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv", "labels.parquet"]  # no temporary file left


def test_save_labels_request_writes_next_to_the_notebook_and_says_where(widget, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a kernel runs in its notebook's folder
    widget.relabel(["ex1", "ex2"], "neg")
    reply, _ = request(widget, "save_labels")
    assert reply["ok"], reply
    path = tmp_path / "datamap-labels.csv"
    assert reply["result"] == {"path": str(path), "rows": 12, "changed": 2}
    assert pd.read_csv(path)["changed"].sum() == 2
    assert widget.review_summary == {"changed": 2, "reviewed": 2, "store": "", "exported": str(path), "exported_current": True}
    widget.undo()
    assert widget.review_summary["exported_current"] is False  # the file no longer holds what is on screen
    widget.relabel(["ex1", "ex2"], "neg")  # back to what the file holds (reviewer pass: it said "not saved")
    assert widget.review_summary["exported_current"] is True
    widget.confirm(["ex7"])  # the file's "reviewed" column no longer matches
    assert widget.review_summary["exported_current"] is False


def test_review_summary_counts_changed_labels_and_names_the_store(widget):
    assert widget.review_summary == {"changed": 0, "reviewed": 0, "store": "", "exported": "", "exported_current": False}
    widget.relabel(["ex0", "ex1"], "neutral")
    widget.mark_reviewed(["ex5"])
    assert widget.review_summary["changed"] == 2 and widget.review_summary["reviewed"] == 3
    store = FakeStore()
    w = DataMapWidget(fixed_tracker().datamap(), store=store, dataset="toy")
    assert w.review_summary["store"] == repr(store)


# ----------------------------------------------------------------- one suggestion, a person's decisions (issue 29)


def test_bulk_accept_leaves_a_persons_decisions_alone_unless_asked(widget):
    """Issue 29.3: on a lasso of hand-reviewed documents, "Accept suggestions" changed 9 of 21
    back to the model's suggestion, and the preview did not say they had been reviewed."""
    widget.relabel(["ex1"], "neg")  # the map suggests neutral for ex1 and neg for ex2
    widget.mark_reviewed(["ex2"])
    ids = ["ex1", "ex2", "ex3", "ex4"]
    before = np.frombuffer(widget.labels, "<u2").copy()
    assert widget.accept_preview(ids) == {"change": 0, "reviewed": 2, "no_suggestion": 2, "unknown": 0, "unlearned": 0}
    assert widget.accept_suggestions(ids) == 0
    assert (np.frombuffer(widget.labels, "<u2") == before).all() and widget.history_size == 2
    rows = [np.array([1, 2, 3, 4], "<u4").tobytes()]
    reply, _ = request(widget, "accept_preview", {}, rows)
    assert reply["result"]["reviewed"] == 2
    reply, _ = request(widget, "accept_suggestions", {"include_reviewed": True}, rows)  # "Include the 2 reviewed"
    assert reply["ok"] and reply["result"]["changed"] == 2
    assert widget.frame.loc[["ex1", "ex2"], "label"].astype(str).tolist() == ["neutral", "neg"]
    assert widget.accept_preview(ids)["reviewed"] == 0  # their labels are the suggestions now: nothing to offer
    with pytest.raises(TypeError, match="include_reviewed must be a bool"):
        widget.accept_suggestions(ids, include_reviewed="yes")


def test_bulk_accept_leaves_reviews_loaded_from_a_store_alone(tmp_path):
    from datamap_widget import Store

    store = Store(tmp_path / "reviews.db")
    dmap = fixed_tracker().datamap()
    store.save_run(dmap, "toy")
    first = DataMapWidget(dmap, store=store, dataset="toy")
    first.relabel(["ex1"], "neg")
    first.mark_reviewed(["ex2"])
    w = DataMapWidget(fixed_tracker().datamap(), store=store, dataset="toy")  # a later session
    assert w.accept_preview(["ex1", "ex2"]) == {"change": 0, "reviewed": 2, "no_suggestion": 0, "unknown": 0, "unlearned": 0}
    assert w.accept_suggestions(["ex1", "ex2"]) == 0
    assert w.frame.loc[["ex1", "ex2"], "label"].astype(str).tolist() == ["neg", "neutral"]  # as the person left them


def test_the_suggestion_is_gone_once_the_label_is_it(widget):
    """Issue 29.2: after relabeling to the suggestion the screen kept offering it; Python says none."""
    widget.relabel(["ex1"], "neutral")  # the map's suggestion for ex1
    widget.selected_ids = ["ex1"]
    assert pd.isna(widget.selected.set_index("id").loc["ex1", "suggested_label"])
    assert widget.accept_preview(["ex1"]) == {"change": 0, "reviewed": 0, "no_suggestion": 1, "unknown": 0, "unlearned": 0}


def test_the_widget_names_a_class_the_map_never_learned_and_the_accept_preview_counts_moves_out_of_it():
    """A reviewer's finding: TREC's ABBR (11 examples) was never learned, flooded the top suspects,
    and "Accept suggestions" moved 5 of 5 of them to wrong labels without a word."""
    from tests.test_metrics import never_learned_map

    dmap, labels = never_learned_map()
    widget = DataMapWidget(dmap)
    assert widget.unlearned == [{"label": "ABBR", "code": 3, "count": 11}]
    frame = widget.frame
    abbr = frame.index[(frame["label"] == "ABBR") & frame["suggestion_confident"]].tolist()
    other = frame.index[(frame["label"] != "ABBR") & frame["suggestion_confident"]].tolist()
    assert len(abbr) >= 5
    preview = widget.accept_preview(abbr[:5] + other[:2])
    assert preview["change"] == 5 + len(other[:2]) and preview["unlearned"] == 5
    assert DataMapWidget(fixed_tracker().datamap()).unlearned == []


def test_a_request_answered_beside_a_running_cell_waits_for_the_cells_redraw():
    """ipykernel 7 can answer widget messages on a subshell thread while a cell runs: a request
    must not read a map the cell's end_epoch() is redrawing (reviewer pass 2 saw requests answered
    during a cell). Both take the review's lock, so the request waits for the whole redraw."""
    import threading

    tracker = fixed_tracker(12, passes=2)
    w = DataMapWidget(tracker, data=frame_for())
    answered = threading.Event()

    def ask():
        request(w, "page", {}, [np.array([0, 1], "<u4").tobytes()])
        answered.set()

    with w.review.lock:  # what a cell's redraw holds while it runs (_set_map)
        asker = threading.Thread(target=ask)
        asker.start()
        assert not answered.wait(0.3), "the request was answered in the middle of a redraw"
    assert answered.wait(5)
    asker.join()

    drawn = threading.Event()

    def redraw():
        w._set_map(tracker.datamap())
        drawn.set()

    with w.review.lock:  # what a request holds while it is answered
        drawer = threading.Thread(target=redraw)
        drawer.start()
        assert not drawn.wait(0.3), "the map was redrawn in the middle of a request"
    assert drawn.wait(5)
    drawer.join()
    w.close()
