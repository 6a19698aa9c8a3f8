"""The widget on a real Store (SQLite): write-through, reopening, undo, conflicts, a killed kernel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from datamap_widget import Store, Tracker
from datamap_widget.widget import DataMapWidget
from tests.harness.maps import LABELS, clustered_map, fixed_tracker


def labels_of(w: DataMapWidget) -> list[str]:
    return [LABELS[c] for c in np.frombuffer(w.labels, "<u2")]


def reviewed_of(w: DataMapWidget) -> list[bool]:
    return np.frombuffer(w.reviewed, "<u1").astype(bool).tolist()


@pytest.fixture
def store(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'reviews.db'}") as s:
        yield s


def test_reopening_a_widget_shows_the_earlier_reviews(store):
    dmap = fixed_tracker().datamap()
    first = DataMapWidget(dmap, store=store, dataset="toy")
    first.relabel(["ex0"], "pos")
    first.mark_reviewed(["ex5"])
    assert first.save_status == "saved"
    first.close()

    again = DataMapWidget(fixed_tracker().datamap(), store=store, dataset="toy")
    assert labels_of(again)[0] == "pos" and labels_of(again)[1] == "pos"  # ex1's gold is pos too
    assert reviewed_of(again)[0] and reviewed_of(again)[5] and not reviewed_of(again)[1]
    assert again.undo() is False  # earlier sessions' work is not this widget's to undo
    suspects = again.datamap.suspects()
    assert "ex0" not in suspects.index and "ex5" not in suspects.index


def test_undo_in_the_widget_is_undone_in_the_store(store):
    w = DataMapWidget(fixed_tracker().datamap(), store=store, dataset="toy")
    w.relabel(["ex0"], "pos")
    w.mark_reviewed(["ex3"])
    w.undo()
    w.undo()
    assert store.reviewed_ids("toy") == set()
    assert store.current_labels("toy", base=w.datamap).loc["ex0"] == "neg"
    assert len(store.reviews("toy")) == 4  # the log keeps everything


def test_a_conflicting_relabel_is_reported_to_the_second_writer(store):
    ann = DataMapWidget(fixed_tracker().datamap(), store=store, dataset="toy", reviewer="ann")
    bob = DataMapWidget(fixed_tracker().datamap(), store=store, dataset="toy", reviewer="bob")
    ann.relabel(["ex0"], "pos")
    bob.relabel(["ex0", "ex1"], "neutral")  # bob still sees ex0 as "neg"
    assert "another reviewer made first" in bob.save_status and "'ex0' is now 'pos'" in bob.save_status
    assert labels_of(bob)[:2] == ["pos", "neutral"]  # ann's label stands; bob's other change is saved
    assert bob.conflicts[["id", "your_label", "current_label"]].values.tolist() == [["ex0", "neutral", "pos"]]
    log = store.reviews("toy")
    assert log[log["example_id"] == "ex0"]["new_label"].tolist() == ["pos"]
    assert store.current_labels("toy", base=ann.datamap).loc["ex1"] == "neutral"


def test_unreadable_store_at_open_is_said_not_fatal(tmp_path):
    class DownStore:
        def add_reviews(self, dataset, rows):
            raise ConnectionError("server closed the connection")

        def current_labels(self, dataset, base=None):
            raise ConnectionError("server closed the connection")

        def reviewed_in(self, dmap, dataset, run=None):
            raise ConnectionError("server closed the connection")

    with pytest.warns(RuntimeWarning, match="earlier reviews could not be read"):
        w = DataMapWidget(fixed_tracker().datamap(), store=DownStore(), dataset="toy")
    w.relabel(["ex2"], "neg")
    assert w.save_status.startswith("1 actions not saved") and len(w.pending) == 1


def test_a_killed_kernel_loses_no_acknowledged_action(tmp_path):
    """Every action the widget called saved survives a SIGKILL right after it."""
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r})
        from datamap_widget import Store
        from datamap_widget.widget import DataMapWidget
        from tests.harness.maps import fixed_tracker
        w = DataMapWidget(fixed_tracker().datamap(), store=Store({url!r}), dataset="toy")
        for i, label in enumerate(["pos", "neutral", "neg", "pos"]):
            w.relabel([f"ex{{i}}"], label)
            if w.save_status == "saved":
                print(f"ex{{i}}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    acknowledged = proc.stdout.split()
    assert acknowledged == ["ex0", "ex1", "ex2", "ex3"]
    with Store(url) as store:
        current = store.current_labels("toy", base=fixed_tracker().datamap())
    assert current.loc[acknowledged].tolist() == ["pos", "neutral", "neg", "pos"]


def test_a_widget_given_the_stores_run_id_saves_every_action(store):
    """Issue 14: a run given as a str stayed pending for ever against a real Store; the run is the int save_run returns."""
    dmap = fixed_tracker().datamap()
    run = store.save_run(dmap, "toy")
    w = DataMapWidget(dmap, store=store, dataset="toy", reviewer="ann", run=run)
    w.relabel(["ex0"], "pos")
    w.mark_reviewed(["ex5"])
    assert w.save_status == "saved" and w.pending == []
    log = store.reviews("toy")
    assert log["run"].tolist() == [run, run] and log["action"].tolist() == ["relabeled", "confirmed"]
    with pytest.raises(TypeError, match="run must be an int run id"):
        DataMapWidget(dmap, store=store, dataset="toy", run=str(run))
    with pytest.raises(ValueError, match=rf"run {run + 5} is not a run of dataset 'toy'"):
        DataMapWidget(dmap, store=store, dataset="toy", run=run + 5)


def test_a_reopened_widget_keeps_a_twice_changed_relabel_reviewed(store):
    """Issue 17.3: relabel b→c then c→a must not come back as unreviewed in a reopened widget."""
    dmap = fixed_tracker().datamap()
    run = store.save_run(dmap, "toy")
    first = DataMapWidget(dmap, store=store, dataset="toy", run=run)
    first.relabel(["ex0"], "pos")  # neg -> pos
    first.relabel(["ex0"], "neutral")  # pos -> neutral
    first.close()
    again = DataMapWidget(store.load_run(run), store=store, dataset="toy", run=run)
    assert labels_of(again)[0] == "neutral" and reviewed_of(again)[0]
    assert np.frombuffer(again.reviewed, "<u1")[0] == 2  # shown as relabeled, not merely confirmed
    assert "ex0" not in again.datamap.suspects().index
    assert "ex0" not in store.suspects("toy").index


def test_reopening_a_learning_map_re_ranks_from_the_stored_reviews(store):

    first = DataMapWidget(clustered_map("margin_knn"), store=store, dataset="clusters")
    first.relabel(["ex0", "ex1"], "a")
    first.mark_reviewed(["ex30"])
    first.close()
    again = DataMapWidget(clustered_map("margin_knn"), store=store, dataset="clusters")
    np.testing.assert_array_equal(
        again.datamap.frame["mislabel_score"].to_numpy(), first.datamap.frame["mislabel_score"].to_numpy()
    )
    assert again.datamap.current_labels[["ex0", "ex1"]].tolist() == ["a", "a"]
    # Reopened, the table follows the learned scores (reviewed rows keep the places the map gave them).
    order = np.frombuffer(again.order, "<u4")
    score = again.datamap.frame["mislabel_score"].to_numpy()
    unreviewed = order[~np.isin(order, again.datamap.positions(["ex0", "ex1", "ex30"]))]
    assert order.size == 40 and (np.diff(score[unreviewed]) <= 0).all()


# ---------------------------------------------------------------- nothing lost at the edges (issue 27, item 4)


def test_an_id_the_store_cannot_keep_is_refused_when_the_widget_is_made(store):
    # 'a\x00' is a fine Tracker id, but no store backend keeps a NUL: every action on it
    # used to stay pending, holding back every later action too.
    ids = ["a\x00"] + [f"ex{i}" for i in range(1, 12)]
    tracker = Tracker(ids, [LABELS[i % 3] for i in range(12)], label_names=LABELS)
    for _ in range(2):
        tracker.record(ids, np.tile(np.eye(3, dtype=np.float32), (4, 1)))
        tracker.end_epoch()
    with pytest.raises(ValueError, match=r"the map's id 'a\\x00' cannot be kept in the store: .*NUL"):
        DataMapWidget(tracker.datamap(), store=store, dataset="toy")
    DataMapWidget(tracker.datamap())  # without a store it is a fine id


class _Picky:
    """A store that refuses any batch holding one particular example (as PostgreSQL refuses a NUL)."""

    def __init__(self, store, refuse):
        self._store, self._refuse = store, refuse

    def __getattr__(self, name):
        return getattr(self._store, name)

    def add_reviews(self, dataset, rows):
        if any(r["example_id"] == self._refuse for r in rows):
            raise ValueError(f"rows[0]['example_id'] {self._refuse!r} cannot be stored")
        return self._store.add_reviews(dataset, rows)


def test_one_refused_action_never_holds_back_the_others(store):
    w = DataMapWidget(fixed_tracker().datamap(), store=_Picky(store, "ex3"), dataset="toy")
    w.relabel(["ex3"], "pos")
    for i in (0, 1, 2, 4, 5, 6, 7, 8, 9, 10):
        w.relabel([f"ex{i}"], "neutral" if i % 3 != 2 else "neg")
    assert len(store.reviews("toy")) == 10  # were 0: all eleven stayed pending behind ex3
    assert w.retry_save() is True  # nothing is left pending that a retry could save
    assert "1 action(s) the store refused" in w.save_status and "ex3" in w.save_status
