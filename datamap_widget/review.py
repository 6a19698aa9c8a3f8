"""The review log's rules and the review session a widget delegates to.

One vocabulary everywhere (the store's): a person *confirms* an example (its label is right),
*relabels* it (gives it another label), *skips* it, or takes the last action back (*undo*).
The log is append-only; undo is a stack per example (an undo row cancels the example's latest
live review). Here live:

- :data:`ACTIONS`, :class:`ReviewConflict` and the rules that read a log
  (:func:`review_state`, :func:`hidden_by_reviews`), used by :mod:`datamap_widget.store`;
- :class:`ReviewSession`: the one owner of mutable review state (current labels, review
  marks, the undo history, writes pending for a store, conflicts). Its verbs are the log's:
  :meth:`~ReviewSession.relabel`, :meth:`~ReviewSession.confirm`, :meth:`~ReviewSession.undo`.
  Whatever depends on reviews reads a session and listens to it
  (:meth:`~ReviewSession.subscribe`): the widget, the re-ranking
  (:meth:`datamap_widget.ranking.ReviewRanking.follow`) and
  :meth:`DataMap.suspects(review=...) <datamap_widget.datamap.DataMap.suspects>`. A review
  never changes a :class:`~datamap_widget.datamap.DataMap`. No SQL and no traits here.

Rule for "reviewed and unchanged stays hidden": an example whose latest live review confirmed
or relabeled it is left out of the suspects of a run as long as the run's label is unchanged
since the review: it equals the label the latest review left, or, for the run a review was
made on (and runs saved before it), a label one of the example's live reviews saw. So a
relabel b→c followed by c→a stays hidden on the run that had b.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

__all__ = [
    "ACTIONS",
    "REVIEW_ACTIONS",
    "ReviewConflict",
    "ReviewSession",
    "check_run",
    "review_state",
    "hidden_by_reviews",
]

#: Actions a review row may carry. ``undo`` cancels the example's latest confirmed/relabeled
#: review and restores ``new_label``.
ACTIONS = ("confirmed", "relabeled", "skipped", "undo")
#: The actions that count as reviewing an example.
REVIEW_ACTIONS = ("confirmed", "relabeled")

#: Review marks per example as the widget sends them (uint8): not reviewed, confirmed, relabeled.
UNREVIEWED, CONFIRMED, RELABELED = 0, 1, 2


class ReviewConflict(ValueError):
    """Some rows' ``expected_label`` differs from the example's current label; nothing of the batch was written.

    Attributes
    ----------
    ids : list of the conflicting example ids.
    current : dict id -> the current label (None when the store knows no label for it).
    """

    def __init__(self, dataset: str, ids: list[Any], current: dict[Any, Any], expected: dict[Any, Any]):
        self.dataset = dataset
        self.ids = ids
        self.current = current
        shown = ", ".join(f"{i!r}: expected {expected[i]!r}, current {current[i]!r}" for i in ids[:5])
        more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
        super().__init__(
            f"{len(ids)} review(s) in dataset {dataset!r} conflict with a change made meanwhile ({shown}{more}); "
            "nothing of this batch was written: reload the current labels and review again"
        )


def check_run(run: Any, argument: str = "run") -> int | None:
    """A run id as the store keeps it: an int (numpy ints accepted) or None; anything else is a TypeError."""
    if isinstance(run, np.generic):
        run = run.item()
    if run is not None and (isinstance(run, bool) or not isinstance(run, int)):
        raise TypeError(
            f"{argument} must be an int run id (as returned by Store.save_run) or None, got {type(run).__name__} {run!r}"
        )
    return run


# ------------------------------------------------------------------------- reading a log


def review_state(log: pd.DataFrame) -> pd.DataFrame:
    """Per example (text id): reviewed, the label seen/left by its latest live review, and its current label.

    ``log`` holds the columns example_id, id_type, action, old_label, new_label, at, run in
    write order. Undo cancels the latest live review of its example, like a stack; this is
    computed without a loop over rows: a review survives iff the per-example undo depth
    never drops below its own depth afterwards (parenthesis matching on a floored cumulative
    sum). ``live_before`` lists, per example, (label seen, run, at) of every live review.
    """
    columns = ["reviewed", "before", "after", "review_run", "review_at", "label", "id_type"]
    events = log[log["action"] != "skipped"].reset_index(drop=True)
    if events.empty:
        state = pd.DataFrame({c: pd.Series(dtype=bool if c == "reviewed" else object) for c in columns},
                             index=pd.Index([], dtype=object))
        state.attrs["live"] = events.assign(after=pd.Series(dtype=object))
        return state
    is_review = events["action"].isin(REVIEW_ACTIONS).to_numpy()
    step = pd.Series(np.where(is_review, 1, -1), index=events.index)
    key = events["example_id"]
    total = step.groupby(key).cumsum()
    floor = total.groupby(key).cummin().clip(upper=0)
    depth = total - floor  # undos with nothing to undo do nothing
    suffix_min = depth[::-1].groupby(key[::-1]).cummin()[::-1]
    live = is_review & (suffix_min >= depth).to_numpy()
    after = events["new_label"].where(events["new_label"].notna(), events["old_label"])
    events = events.assign(after=after, live=live)
    live_reviews = events[events["live"]]
    last_review = live_reviews.drop_duplicates("example_id", keep="last").set_index("example_id")
    setting = events[events["live"] | (events["action"] == "undo").to_numpy()]
    last_label = setting.drop_duplicates("example_id", keep="last").set_index("example_id")
    label_now = last_label["after"].where(last_label["live"], last_label["new_label"])
    index = pd.Index(events["example_id"].unique(), dtype=object)
    kinds = events.drop_duplicates("example_id", keep="last").set_index("example_id")["id_type"]
    state = pd.DataFrame(index=index)
    state["reviewed"] = index.isin(last_review.index)
    state["before"] = last_review["old_label"].reindex(index).astype(object)
    state["after"] = last_review["after"].reindex(index).astype(object)
    state["review_run"] = last_review["run"].reindex(index).astype(object)
    state["review_at"] = last_review["at"].reindex(index)
    state["label"] = label_now.reindex(index).astype(object)
    state["id_type"] = kinds.reindex(index)
    state = state.where(state.notna(), None).assign(reviewed=state["reviewed"].astype(bool))
    state.attrs["live"] = live_reviews[["example_id", "old_label", "run", "at"]].reset_index(drop=True)
    return state


def _saved_after(review_run: pd.Series, review_at: pd.Series, run_id: Any, run_created: Any) -> np.ndarray:
    """Whether the run was saved after each review: by run id when the review names one, else by exact time."""
    if run_id is None:
        return np.zeros(len(review_run), dtype=bool)
    runs = pd.to_numeric(review_run, errors="coerce").to_numpy(dtype=float)
    at = pd.to_datetime(review_at, utc=True)
    created = pd.Timestamp(run_created)
    created = created.tz_localize("UTC") if created.tzinfo is None else created.tz_convert("UTC")
    by_time = (at < created).to_numpy(dtype=bool)
    return np.where(np.isnan(runs), by_time, int(run_id) > np.nan_to_num(runs, nan=0))


def hidden_by_reviews(state: pd.DataFrame, ids_text: np.ndarray, labels: np.ndarray, run_id: Any, run_created: Any) -> np.ndarray:
    """Which examples of a run (text ids, given labels) count as reviewed under the review rule (module docstring)."""
    n = len(ids_text)
    if state.empty or n == 0:
        return np.zeros(n, dtype=bool)
    ids_index = pd.Index(ids_text, dtype=object)
    pos = state.index.get_indexer(ids_index)
    found = pos >= 0
    sub = state.iloc[pos[found]]
    given = np.asarray(labels, dtype=object)[found]
    keep_after = sub["reviewed"].to_numpy(dtype=bool) & (given == sub["after"].to_numpy(dtype=object))
    out = np.zeros(n, dtype=bool)
    out[np.flatnonzero(found)] = keep_after
    # Any live review that saw the run's label, made on this run or one saved before it: unchanged.
    live = state.attrs.get("live")
    if live is not None and len(live):
        row_of = ids_index.get_indexer(pd.Index(live["example_id"], dtype=object))
        on_run = row_of >= 0
        seen = live[on_run]
        rows = row_of[on_run]
        saw_it = seen["old_label"].to_numpy(dtype=object) == np.asarray(labels, dtype=object)[rows]
        later = _saved_after(seen["run"].reset_index(drop=True), seen["at"].reset_index(drop=True), run_id, run_created)
        ok = rows[saw_it & ~later]
        reviewed = np.zeros(n, dtype=bool)
        reviewed[np.flatnonzero(found)] = sub["reviewed"].to_numpy(dtype=bool)
        out[ok[reviewed[ok]]] = True
    return out


# ------------------------------------------------------------------------- a session


class ReviewLog(Protocol):
    """What a session needs from a store: append rows (raising ReviewConflict when someone was first)."""

    def add_reviews(self, dataset: str, rows: list[dict[str, Any]]) -> Any: ...


def _now() -> str:
    # Microseconds: a review in the same second as a save_run must still order after it.
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


#: A listener of a session: called with the row positions whose label or mark may have changed.
ReviewListener = Callable[[np.ndarray], None]


class ReviewSession:
    """One reviewer's work on one map: current labels, review marks, undo, store writes.

    Rows are positions into ``ids``. Every action is validated, applied, pushed on the undo
    stack and written through to ``store`` (when given) before the caller is told; a store
    failure keeps the rows pending (retried by the next action or :meth:`flush`); a
    :class:`ReviewConflict` keeps the other reviewer's label and records a conflict. Then the
    listeners (:meth:`subscribe`) hear which rows changed.

    Make one for a map with :meth:`for_map`; ``codes`` are the labels the map was trained on
    (kept in :attr:`original`), ``marks`` the review marks it starts from.
    """

    def __init__(
        self,
        ids: pd.Index,
        label_names: Sequence[str],
        codes: np.ndarray,
        marks: np.ndarray | None = None,
        *,
        store: ReviewLog | None = None,
        dataset: str | None = None,
        reviewer: str | None = None,
        run: int | None = None,
    ) -> None:
        if store is not None and not dataset:
            raise ValueError("dataset must name the dataset when store is given (got dataset=None).")
        if reviewer is not None and not isinstance(reviewer, str):
            raise TypeError(f"reviewer must be a str or None, got {type(reviewer).__name__} {reviewer!r}")
        self.ids = ids
        self.label_names = [str(n) for n in label_names]
        self.original = np.asarray(codes, dtype=np.uint16).copy()
        self.codes = self.original.copy()
        self.marks = np.zeros(len(ids), dtype=np.uint8) if marks is None else np.asarray(marks, dtype=np.uint8).copy()
        self.store = store
        self.dataset = dataset
        self.reviewer = reviewer
        self.run = check_run(run)
        self.history: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []
        #: Review rows the store refused for what they hold (never retried), each with the reason.
        self.refused: list[tuple[dict[str, Any], str]] = []
        self.conflicts: list[dict[str, Any]] = []
        self.save_status = ""
        # Widget messages may be handled on another thread than the user's cell (ipykernel 7
        # answers them while a cell runs): one lock keeps each action and each read whole.
        self._lock = threading.RLock()
        self._listeners: list[tuple[int, int, ReviewListener]] = []
        self._subscriptions = itertools.count()

    @property
    def lock(self) -> threading.RLock:
        """The lock every change of this review holds. Whoever shows the review takes it too (the
        widget, for each front-end request and each redraw), so a request a kernel answers beside
        a running cell never sees half of a redraw or of an action."""
        return self._lock

    @classmethod
    def for_map(cls, dmap: Any, *, reviewed: Any = None, **kwargs: Any) -> "ReviewSession":
        """A session over the examples of ``dmap`` (a :class:`~datamap_widget.datamap.DataMap`).

        It starts from the map's labels and the reviewed marks the map was made with, plus
        ``reviewed`` (ids to mark confirmed, e.g. :meth:`Store.reviewed_in`). Keywords go to
        the constructor (``store``, ``dataset``, ``reviewer``, ``run``).
        """
        frame = dmap.frame
        session = cls(
            pd.Index(frame.index), dmap.label_names, np.asarray(dmap.labels),
            np.asarray(frame["reviewed"], dtype=bool).astype(np.uint8) * CONFIRMED, **kwargs,
        )
        if reviewed is not None and len(reviewed):
            session.restore(pd.Series(dtype=object), list(reviewed))
        return session

    @property
    def reviewed(self) -> np.ndarray:
        """Per row: whether a person confirmed or relabeled it (marks 1 or 2)."""
        return self.marks > UNREVIEWED

    # ---------------------------------------------------------------- listeners
    def subscribe(self, listener: ReviewListener, *, order: int = 0) -> Callable[[], None]:
        """Call ``listener(rows)`` after every change of labels or marks; returns a function that unsubscribes.

        ``rows`` are the positions that may have changed. Listeners run on the thread that made
        the change, with the session's lock held, in ascending ``order`` and then in the order
        they subscribed: state derived from the review (a ranking, order -1) is up to date
        before the views (order 0) read it.
        """
        if not callable(listener):
            raise TypeError(f"listener must be callable, got {type(listener).__name__}")
        entry = (int(order), next(self._subscriptions), listener)
        with self._lock:
            self._listeners.append(entry)
            self._listeners.sort(key=lambda e: e[:2])

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._listeners:
                    self._listeners.remove(entry)

        return unsubscribe

    def _notify(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        for _order, _n, listener in list(self._listeners):  # a listener may unsubscribe itself
            listener(rows)

    # ---------------------------------------------------------------- actions
    def label_code(self, label: Any, argument: str = "label") -> int:
        """A label name or code -> its code; anything else is a ValueError naming the labels."""
        if isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_)):
            if 0 <= int(label) < len(self.label_names):
                return int(label)
            raise ValueError(
                f"{argument} code {label} is out of range; expected 0..{len(self.label_names) - 1} or one of {self.label_names}."
            )
        if isinstance(label, str) and label in self.label_names:
            return self.label_names.index(label)
        raise ValueError(f"{argument} {label!r} is unknown; expected one of {self.label_names}.")

    def relabel(self, rows: np.ndarray, codes: np.ndarray | int) -> None:
        """Give ``rows`` the label ``codes`` (one code, or one per row) and mark them reviewed.

        A row whose label is already that label is logged as *confirmed*: nothing changed.
        """
        rows = np.asarray(rows, dtype=np.int64)
        wanted = np.asarray(codes)
        bad = wanted[(wanted < 0) | (wanted >= len(self.label_names))] if wanted.dtype.kind in "iu" else wanted
        if bad.size:  # a name, or a code no label has: say which (label_code maps names to codes)
            self.label_code(bad.reshape(-1)[0].item(), "label")
        new = np.broadcast_to(wanted.astype(np.uint16), rows.shape).copy()
        self._do(rows, new)

    def confirm(self, rows: np.ndarray) -> None:
        """Mark ``rows`` reviewed with their label as it is."""
        rows = np.asarray(rows, dtype=np.int64)
        self._do(rows, self.codes[rows].copy())

    def _do(self, rows: np.ndarray, new: np.ndarray) -> None:
        if rows.size == 0:
            return
        with self._lock:
            self._do_locked(rows, new)

    def _do_locked(self, rows: np.ndarray, new: np.ndarray) -> None:
        old = self.codes[rows].copy()
        at = _now()
        actions = np.where(new != old, "relabeled", "confirmed").astype(object)
        step = {"actions": actions, "rows": rows, "old_codes": old, "new_codes": new,
                "old_marks": self.marks[rows].copy(), "at": at}
        self.codes[rows] = new
        # A relabel back to the label the map was trained on is a confirmation of that label.
        self.marks[rows] = np.where(new != self.original[rows], RELABELED, CONFIRMED)
        self.history.append(step)
        self._write(self._log_rows(rows, actions, old, new, at))
        self._notify(rows)

    def undo(self) -> np.ndarray | None:
        """Take back the last action; returns its rows, or None when there is nothing to undo."""
        with self._lock:
            if not self.history:
                return None
            step = self.history.pop()
            return self._undo_locked(step)

    def _undo_locked(self, step: dict[str, Any]) -> np.ndarray:
        rows = step["rows"]
        # The log is append-only: an "undo" row cancels the example's latest review in the
        # store (a stack, like this history) and restores the label it had before.
        rows_out = self._log_rows(rows, np.full(rows.size, "undo", dtype=object), step["new_codes"], step["old_codes"], _now())
        self.codes[rows] = step["old_codes"]
        self.marks[rows] = step["old_marks"]
        self._write(rows_out)
        self._notify(rows)
        return rows

    def _log_rows(self, rows: np.ndarray, actions: np.ndarray, old: np.ndarray, new: np.ndarray, at: str) -> list[dict[str, Any]]:
        """Rows for ``store.add_reviews`` (none without a store: nothing would read them)."""
        if self.store is None:
            return []
        names = np.asarray(self.label_names, dtype=object)
        ids = self.ids[rows]
        ids_list = ids.tolist()
        # expected_label: the label this session believed current. If another reviewer changed
        # the example meanwhile, the store refuses the batch (ReviewConflict) instead of overwriting.
        return [
            {"example_id": example_id, "action": action, "old_label": o, "new_label": n,
             "expected_label": o, "reviewer": self.reviewer, "at": at, "run": self.run}
            for example_id, action, o, n in zip(ids_list, actions.tolist(), names[old].tolist(), names[new].tolist())
        ]

    # ------------------------------------------------------------------ store
    def _write(self, rows: list[dict[str, Any]]) -> None:
        self.pending.extend(rows)
        self._flush_locked()

    def flush(self) -> bool:
        """Write pending rows to the store; returns True when nothing is left pending."""
        with self._lock:
            return self._flush_locked()

    def _flush_locked(self) -> bool:
        if self.store is None:
            self.pending.clear()
            return True
        refused = 0
        while self.pending:
            try:
                self.store.add_reviews(self.dataset, list(self.pending))
            except ReviewConflict as conflict:  # someone else was first: theirs stands, ours is reported
                before = len(self.pending)
                self._take_conflict(conflict)
                refused += before - len(self.pending)
                if len(self.pending) == before:  # nothing matched: do not loop forever
                    break
                continue
            except (ValueError, TypeError):
                # The store refused what a row holds, not the connection: a retry would fail the
                # same way and hold every later action back. Write row by row, set the refused aside.
                if not self._write_one_by_one():
                    return False
                continue
            except Exception as exc:  # the store may fail in any way; keep the actions and say why
                self.save_status = f"{len(self.pending)} actions not saved: {type(exc).__name__}: {exc}"
                return False
            self.pending.clear()
        if self.refused:  # said on every later save too, until the session ends: nothing hides them
            shown = "; ".join(f"{r['example_id']!r} ({why})" for r, why in self.refused[:3])
            self.save_status = (
                f"saved, except {len(self.refused)} action(s) the store refused and will not take on a retry: {shown}"
            )
            return not self.pending
        if refused:
            shown = ", ".join(f"{c['id']!r} is now {c['current_label']!r}" for c in self.conflicts[-refused:][:3])
            self.save_status = (
                f"saved, except {refused} change(s) another reviewer made first ({shown}); "
                "the map shows their label (see w.conflicts)"
            )
        else:
            self.save_status = "saved"
        return not self.pending

    def _write_one_by_one(self) -> bool:
        """After the store refused a batch's content: write each pending row alone, keep the rows
        it refuses in :attr:`refused` (with why) and go on. False when the store failed otherwise
        (those rows stay pending, ``save_status`` says why)."""
        while self.pending:
            row = self.pending[0]
            try:
                self.store.add_reviews(self.dataset, [row])
            except ReviewConflict as conflict:
                self._take_conflict(conflict)
                if self.pending and self.pending[0] is row:  # not about this row: leave it
                    self.pending.pop(0)
                    self.refused.append((row, f"{type(conflict).__name__}: {conflict}"))
                continue
            except (ValueError, TypeError) as exc:
                self.pending.pop(0)
                self.refused.append((row, f"{type(exc).__name__}: {exc}"))
                continue
            except Exception as exc:
                self.save_status = f"{len(self.pending)} actions not saved: {type(exc).__name__}: {exc}"
                return False
            self.pending.pop(0)
        return True

    def _take_conflict(self, conflict: ReviewConflict) -> None:
        """Another reviewer changed these examples first: show their label, drop our rows for them, say so."""
        ids = list(conflict.ids)
        mine = {r["example_id"]: r["new_label"] for r in self.pending if r["example_id"] in set(ids)}
        self.pending = [r for r in self.pending if r["example_id"] not in set(ids)]
        rows = self.ids.get_indexer(pd.Index(ids))
        now = _now()
        for example_id, row in zip(ids, rows):
            theirs = conflict.current.get(example_id)
            self.conflicts.append({"id": example_id, "your_label": mine.get(example_id), "current_label": theirs, "at": now})
            if row >= 0 and theirs in self.label_names:
                code = self.label_names.index(theirs)
                self.codes[row] = code
                self.marks[row] = RELABELED if code != self.original[row] else CONFIRMED
        self._notify(rows[rows >= 0])

    def restore(self, current: pd.Series, reviewed_ids: Any) -> None:
        """Show what earlier sessions did: ``current`` labels (id -> name) and the ids the log counts as reviewed.

        Restored reviews are not on this session's undo stack (they were made, and saved, before).
        """
        with self._lock:
            self._restore_locked(current, reviewed_ids)

    def _restore_locked(self, current: pd.Series, reviewed_ids: Any) -> None:
        names = pd.Series(current).reindex(self.ids)
        known = (names.notna() & names.isin(self.label_names)).to_numpy()
        if known.any():
            self.codes[known] = pd.Index(self.label_names).get_indexer(names[known].astype(str))
        if reviewed_ids:
            rows = self.ids.get_indexer(pd.Index(list(reviewed_ids)))
            rows = rows[rows >= 0]
            self.marks[rows] = np.where(self.codes[rows] != self.original[rows], RELABELED, CONFIRMED)
        self.save_status = "saved"
        self._notify(np.flatnonzero(self.reviewed | (self.codes != self.original)))

    def _overwrite(self, rows: np.ndarray, codes: np.ndarray, marks: np.ndarray) -> None:
        """Set labels and marks of ``rows`` without a log row or an undo step.

        Only for the deprecated ``DataMap.mark_reviewed``, whose unmarking has no word in the
        log's vocabulary; every review a person makes goes through relabel, confirm or undo.
        """
        rows = np.asarray(rows, dtype=np.int64)
        with self._lock:
            self.codes[rows] = codes
            self.marks[rows] = marks
            self._notify(rows)

    # ------------------------------------------------------------------ reading
    @property
    def conflicts_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.conflicts, columns=["id", "your_label", "current_label", "at"])

    def changes(self) -> pd.DataFrame:
        """Actions in effect (undone ones left out), one row per example and action: id, old_label, new_label, action, at."""
        columns = ("id", "old_label", "new_label", "action", "at")
        with self._lock:
            history = list(self.history)
        if not history:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        names = np.asarray(self.label_names, dtype=object)
        rows = np.concatenate([s["rows"] for s in history])
        sizes = [len(s["rows"]) for s in history]
        return pd.DataFrame(
            {
                "id": self.ids[rows],
                "old_label": names[np.concatenate([s["old_codes"] for s in history])],
                "new_label": names[np.concatenate([s["new_codes"] for s in history])],
                "action": np.concatenate([s["actions"] for s in history]),
                "at": np.repeat([s["at"] for s in history], sizes),
            }
        )

    @property
    def current_labels(self) -> pd.Series:
        """Every example's label now (relabels included): a categorical Series indexed by ``id``."""
        names = pd.Categorical.from_codes(self.codes.astype(np.int64), categories=self.label_names)
        return pd.Series(names, index=pd.Index(self.ids, name="id"), name="label")

    def current_names(self, rows: np.ndarray | None = None) -> np.ndarray:
        names = np.asarray(self.label_names, dtype=object)
        return names[self.codes if rows is None else self.codes[rows]]

    def apply(self, df: pd.DataFrame, df_ids: pd.Series, label_column: str, codes: Any = None) -> pd.DataFrame:
        """A copy of ``df`` whose ``label_column`` carries the relabels; see :meth:`DataMapWidget.apply`."""
        if label_column not in df.columns:
            raise ValueError(f"df has no column {label_column!r} (label_column); its columns are {list(df.columns)}.")
        out = df.copy()
        column = out[label_column]
        rows = self.ids.get_indexer(pd.Index(df_ids))
        matched = rows >= 0
        # Only rows somebody relabeled change: every other row keeps its value exactly.
        changed = np.zeros(len(df), dtype=bool)
        changed[matched] = self.codes[rows[matched]] != self.original[rows[matched]]
        if not changed.any():
            return out
        where = np.flatnonzero(changed)
        new_names = np.asarray(self.label_names, dtype=object)[self.codes[rows[where]]]
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            missing = [n for n in dict.fromkeys(new_names.tolist()) if n not in set(map(str, dtype.categories))]
            if missing and dtype.categories.dtype.kind not in "OUS":
                raise ValueError(
                    f"df[{label_column!r}] is a categorical of {dtype.categories.dtype} and lacks the new labels {missing}; "
                    "convert it to str names first."
                )
            column = column.cat.add_categories(missing) if missing else column.copy()
            by_name = {str(c): c for c in column.cat.categories}
            values = column.to_numpy(dtype=object, copy=True)
            values[where] = [by_name[n] for n in new_names]
            out[label_column] = pd.Categorical(values, categories=column.cat.categories, ordered=dtype.ordered)
            return out
        if pd.api.types.is_integer_dtype(dtype):
            lookup = self._int_codes(df, rows, matched, label_column, codes, new_names)
            values = column.to_numpy(copy=True)
            values[where] = [lookup[n] for n in new_names]
            out[label_column] = pd.Series(values, index=out.index, dtype=dtype)
            return out
        if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            values = column.to_numpy(dtype=object, copy=True)
            values[where] = new_names
            out[label_column] = pd.Series(values, index=out.index).astype(dtype)
            return out
        raise TypeError(
            f"df[{label_column!r}] has dtype {dtype}; expected label names (str/object), a categorical or integer codes."
        )

    def _int_codes(self, df: pd.DataFrame, rows: np.ndarray, matched: np.ndarray, label_column: str,
                   codes: Any, new_names: np.ndarray) -> dict[str, int]:
        """Label name -> the int the user's column uses for it: from ``codes`` or read off the unchanged rows."""
        if codes is not None:
            if isinstance(codes, dict):
                lookup = {str(k): int(v) for k, v in codes.items()}
            elif isinstance(codes, (list, tuple)):
                lookup = {str(name): i for i, name in enumerate(codes)}
            else:
                raise TypeError(f"codes must be a dict name -> int or a list of label names (code = position), got {type(codes).__name__}.")
        else:
            # Read the mapping off the data itself: each original label name and the int the column holds for it.
            pairs = pd.DataFrame({
                "name": np.asarray(self.label_names, dtype=object)[self.original[rows[matched]]],
                "value": df[label_column].to_numpy()[matched],
            }).drop_duplicates()
            if pairs["name"].duplicated().any() or pairs["value"].duplicated().any():
                bad = pairs[pairs["name"].duplicated(keep=False) | pairs["value"].duplicated(keep=False)]
                raise ValueError(
                    f"df[{label_column!r}] holds integers that do not map one to one onto the label names "
                    f"(e.g. {bad.head(4).values.tolist()}); pass codes= (a dict name -> int, or the list of names in code order)."
                )
            lookup = dict(zip(pairs["name"], pairs["value"].astype(int)))
        unknown = [n for n in dict.fromkeys(new_names.tolist()) if n not in lookup]
        if unknown:
            raise ValueError(
                f"no integer code is known for the new labels {unknown} in df[{label_column!r}]; "
                "pass codes= (a dict name -> int, or the list of names in code order)."
            )
        return lookup
