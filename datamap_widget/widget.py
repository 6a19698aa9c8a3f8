"""DataMapWidget: review and relabel a data map in a notebook.

The widget owns traits, their (de)serialization and the Python-side actions
(relabel, mark reviewed, undo, save to a store). It does no metric math: the
numbers come from :class:`~datamap_widget.datamap.DataMap`.

Wire format (see ``js/src/sync.ts`` for the mirror):

* ``points`` (dict, rebuilt whenever the map changes, e.g. after each epoch)::

      {"n": int,
       "x": float32[n]            variability,
       "y": float32[n]            confidence,
       "correctness": float32[n],
       "order": uint32[n]         row indices, most suspect first (mislabel_score desc),
       "suggested": uint16[n]     code into label_names,
       "category": uint8[n]       code into categories}

* ``labels`` uint16[n] (current label codes, after relabels) and ``reviewed``
  uint8[n] (0/1) travel as their own traits so an action resends only them.
* ``selection`` uint32[k]: selected row indices, written by both sides.

Every array is raw little-endian bytes, which ipywidgets sends as binary
buffers, never as JSON lists: 22 bytes per point in all. Ids and texts are not
sent per point; the front end asks for them a page at a time with a request
message ``{"kind": "dmw:request", "id": str, "method": str, "args": dict}``
(plus buffers) and Python answers ``{"kind": "dmw:response", "id": str,
"ok": bool, "result"| "error": ...}`` (plus buffers). Methods:

* ``page`` (buffer: uint32 rows, at most MAX_PAGE_ROWS; args ``full``) ->
  ``{"rows", "ids" (str), "texts" (cut to PREVIEW_CHARS unless full), "scores"}``
* ``search`` (args ``query``) -> ``{"count"}`` + buffer: uint32 matching rows
* ``relabel`` (buffer: rows; args ``label`` name), ``mark_reviewed`` (buffer: rows),
  ``undo``, ``retry_save`` -> ``{"history_size", "save_status", ...}``; the new
  state itself arrives as trait changes (``labels``, ``reviewed``, ``save_status``).
"""

from __future__ import annotations

import datetime as _dt
import pathlib
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from .metrics import CATEGORIES, DEFAULT_THRESHOLDS
from .store import ReviewConflict

__all__ = ["DataMapWidget"]

_STATIC = pathlib.Path(__file__).parent / "static"

#: dtypes of the per-point columns on the wire; 22 bytes per point together.
POINT_DTYPES: dict[str, np.dtype] = {
    "x": np.dtype("<f4"),
    "y": np.dtype("<f4"),
    "correctness": np.dtype("<f4"),
    "order": np.dtype("<u4"),
    "suggested": np.dtype("<u2"),
    "category": np.dtype("<u1"),
}
LABEL_DTYPE = np.dtype("<u2")
REVIEWED_DTYPE = np.dtype("<u1")
SELECTION_DTYPE = np.dtype("<u4")
BYTES_PER_POINT = sum(d.itemsize for d in POINT_DTYPES.values()) + LABEL_DTYPE.itemsize + REVIEWED_DTYPE.itemsize

#: Most rows one page request may ask for, and the longest text cut sent for a table row.
MAX_PAGE_ROWS = 500
PREVIEW_CHARS = 240
#: Most label names the number keys and the uint16 codes can address.
MAX_LABELS = 65535

COLOR_BY = ("correctness", "category", "label", "suggested_label", "reviewed")
#: Traits a caller may set as keyword arguments (the rest are the widget's own wire state).
SETTABLE = ("color_by", "filters", "selected_ids", "layout")
REVIEWED_FILTERS = ("all", "reviewed", "unreviewed")


def _to_bytes(values: np.ndarray, dtype: np.dtype) -> bytes:
    """Raw little-endian bytes of ``values`` cast to ``dtype`` (one copy)."""
    return np.ascontiguousarray(values, dtype=dtype).tobytes()


def _from_bytes(buf: Any, dtype: np.dtype) -> np.ndarray:
    """Inverse of :func:`_to_bytes`; accepts bytes, memoryview or None."""
    if buf is None:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(bytes(buf), dtype=dtype)


def _bytes_from_json(js: Any, _widget: Any) -> bytes:
    """A buffer from the front end (memoryview) -> bytes, as ipywidgets' Image does."""
    return b"" if js is None else bytes(js)


def _category_codes(values: Any, categories: Sequence[str]) -> np.ndarray:
    """Codes of ``values`` into ``categories`` (-1 for missing or unknown), without a str round trip for categoricals."""
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        own = np.asarray(values.cat.codes)
        lookup = pd.Index(categories).get_indexer(pd.Index([str(c) for c in values.cat.categories]))
        lookup = np.append(lookup, -1)  # code -1 (missing) indexes the last entry
        return lookup[own]
    names = np.asarray(values, dtype=object).astype(str)
    return np.asarray(pd.Categorical(names, categories=list(categories)).codes, dtype=np.int64)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _preview(values: Sequence[str], n: int) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:n])
    more = len(values) - n
    return shown + (f" and {more} more" if more > 0 else "")


def _is_tracker(obj: Any) -> bool:
    """Duck-type a Tracker (we never need its class): it can build a DataMap and be subscribed to."""
    return callable(getattr(obj, "datamap", None)) and callable(getattr(obj, "subscribe", None))


class DataMapWidget(anywidget.AnyWidget):
    """Interactive data map: see, select, filter, relabel and mark reviewed.

    Parameters
    ----------
    dmap_or_tracker : DataMap or Tracker
        A finished map, or a tracker: then the map redraws after every
        ``tracker.end_epoch()``, also while the training cell still runs.
    data : pandas.DataFrame, optional
        The user's rows. Its ``id_column`` (else its index) holds the map's ids;
        ``text_column`` holds the text shown in the table and detail pane.
    text_column : str, default "text"
    id_column : str, default "id"
    store : Store, optional
        Each action is written through ``store.add_reviews(dataset, rows)``
        before the UI is told it is saved; failures stay pending and are
        retried on the next action or by :meth:`retry_save`.
    dataset : str, optional
        Dataset name for the store; required when ``store`` is given.
    reviewer : str, optional
        Written with each review row.
    run : str, optional
        Run id written with each review row.
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    points = traitlets.Dict(help="Per-point columns as little-endian bytes; see module docstring.").tag(sync=True)
    labels = traitlets.Bytes(b"", help="uint16 current label code per point.").tag(sync=True)
    reviewed = traitlets.Bytes(b"", help="uint8 reviewed flag (0/1) per point.").tag(sync=True)
    selection = traitlets.Bytes(b"", help="uint32 selected row indices.").tag(sync=True, from_json=_bytes_from_json)
    label_names = traitlets.List(traitlets.Unicode(), help="Label names; codes index this list.").tag(sync=True)
    categories = traitlets.List(traitlets.Unicode(), default_value=list(CATEGORIES)).tag(sync=True)
    thresholds = traitlets.Dict(default_value=dict(DEFAULT_THRESHOLDS), help="Region guides.").tag(sync=True)
    n_passes = traitlets.Int(0, help="Closed training passes behind the map.").tag(sync=True)
    color_by = traitlets.Unicode("correctness", help=f"One of {COLOR_BY}.").tag(sync=True)
    filters = traitlets.Dict(
        default_value={"categories": [], "labels": [], "suspects_k": 0, "reviewed": "all", "search": ""},
        help="UI filters: empty lists mean no filter; suspects_k > 0 keeps the top k unreviewed suspects.",
    ).tag(sync=True)
    save_status = traitlets.Unicode("", help='"" without a store, "saved", or what is pending and why.').tag(sync=True)
    history_size = traitlets.Int(0, help="Actions that undo can take back.").tag(sync=True)
    has_text = traitlets.Bool(False).tag(sync=True)
    live = traitlets.Bool(False, help="Whether a tracker feeds the map.").tag(sync=True)

    selected_ids = traitlets.List(help="Ids of the selected points; set it to move the selection.")

    def __init__(
        self,
        dmap_or_tracker: Any,
        data: pd.DataFrame | None = None,
        text_column: str = "text",
        id_column: str = "id",
        store: Any = None,
        dataset: str | None = None,
        reviewer: str | None = None,
        run: str | None = None,
        **kwargs: Any,
    ) -> None:
        unknown = set(kwargs) - set(SETTABLE)
        if unknown:
            raise TypeError(
                f"DataMapWidget() got unexpected keyword arguments {sorted(unknown)}; check the spelling "
                f"(expected data, text_column, id_column, store, dataset, reviewer, run, {', '.join(SETTABLE)})."
            )
        initial_selection = kwargs.pop("selected_ids", None)
        if store is not None and not dataset:
            raise ValueError("dataset must name the dataset when store is given (got dataset=None).")
        if data is not None and not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame or None, got {type(data).__name__}.")
        self._tracker = dmap_or_tracker if _is_tracker(dmap_or_tracker) else None
        if self._tracker is None and not hasattr(dmap_or_tracker, "frame"):
            raise TypeError(
                f"dmap_or_tracker must be a DataMap or a Tracker, got {type(dmap_or_tracker).__name__}."
            )
        self._store = store
        self._dataset = dataset
        self._reviewer = reviewer
        self._run = run
        self._data = data
        self._text_column = text_column
        self._id_column = id_column
        self._history: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._conflicts: list[dict[str, Any]] = []
        self._syncing_selection = False
        self._unsubscribe: Callable[[], None] | None = None
        self._ids: pd.Index = pd.Index([])
        self._ids_str: pd.Series | None = None
        self._dmap: Any = None
        super().__init__(**kwargs)

        with warnings.catch_warnings():
            if self._tracker is not None:
                warnings.simplefilter("ignore", UserWarning)
            dmap = self._tracker.datamap() if self._tracker is not None else dmap_or_tracker
            self._init_rows(dmap)
            self._set_map(dmap)
        if store is not None:
            self._restore_from_store(dmap)
        self.observe(self._on_selection, names="selection")
        self.observe(self._on_selected_ids, names="selected_ids")
        self.on_msg(self._on_custom_msg)
        if initial_selection is not None:
            self.selected_ids = list(initial_selection)
        if self._tracker is not None:
            self.live = True
            self._unsubscribe = self._tracker.subscribe(self._on_epoch)

    # ------------------------------------------------------------------ data
    def _init_rows(self, dmap: Any) -> None:
        """Fix the row order (the map's ids) and align the user's texts to it."""
        frame = dmap.frame
        self._ids = pd.Index(frame.index)
        self._label_names = [str(n) for n in dmap.label_names]
        if len(self._label_names) > MAX_LABELS:
            raise ValueError(f"at most {MAX_LABELS} labels are supported, got {len(self._label_names)}.")
        self.label_names = list(self._label_names)
        self._label_codes = self._codes(frame["label"], "label")
        self._reviewed = np.asarray(frame["reviewed"], dtype=bool).copy()
        self._texts = np.full(len(self._ids), "", dtype=object)
        self._data_ids: pd.Series | None = None
        if self._data is not None:
            data_ids = self._data_id_series(self._data, "data")
            self._data_ids = data_ids
            if self._text_column not in self._data.columns:
                raise ValueError(
                    f"text_column {self._text_column!r} is not a column of data; its columns are {list(self._data.columns)}."
                )
            found = self._ids.get_indexer(pd.Index(data_ids)) >= 0
            source = f"column {self._id_column!r}" if self._id_column in self._data.columns else "index"
            if len(data_ids) and not found.any():
                raise ValueError(
                    f"data's ids (its {source}) match none of the map's ids: data has {_preview(list(data_ids[:3]), 3)}, "
                    f"the map has {_preview(list(self._ids[:3]), 3)}; pass id_column= naming the id column."
                )
            missing = len(self._ids) - int(pd.Index(data_ids[found]).nunique())
            if missing:
                warnings.warn(f"data has no row for {missing} of the map's {len(self._ids)} ids; their text shows empty.", UserWarning, stacklevel=3)
            texts = pd.Series(self._data[self._text_column].to_numpy(), index=data_ids.to_numpy())
            texts = texts[~texts.index.duplicated()]
            aligned = texts.reindex(self._ids)
            self._texts = aligned.fillna("").astype(str).to_numpy(dtype=object)
            self.has_text = True
        self._texts_series = pd.Series(self._texts, dtype=object)
        self.labels = _to_bytes(self._label_codes, LABEL_DTYPE)
        self.reviewed = _to_bytes(self._reviewed, REVIEWED_DTYPE)

    def _data_id_series(self, df: pd.DataFrame, name: str) -> pd.Series:
        """The ids of ``df``: its id column, else its index."""
        if self._id_column in df.columns:
            return df[self._id_column]
        return pd.Series(df.index, index=df.index)

    def _codes(self, names: Any, argument: str) -> np.ndarray:
        """Label names -> uint16 codes; a name not in label_names raises ValueError."""
        codes = _category_codes(names, self._label_names)
        if (codes < 0).any():
            bad = sorted(set(np.asarray(names, dtype=object).astype(str)[codes < 0]))
            raise ValueError(f"{argument} has unknown labels {_preview(bad, 5)}; expected one of {self._label_names}.")
        return codes.astype(LABEL_DTYPE)

    def _set_map(self, dmap: Any) -> None:
        """Serialize the map's metric columns into the ``points`` trait."""
        frame = dmap.frame
        if len(frame) != len(self._ids) or not frame.index.equals(self._ids):
            raise ValueError("the tracker's map changed its ids; a widget follows one fixed set of examples.")
        self._dmap = dmap
        score = np.asarray(frame["mislabel_score"], dtype=np.float64)
        order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
        category = _category_codes(frame["category"], CATEGORIES)
        category = np.where(category < 0, 255, category)
        suggested = _category_codes(frame["suggested_label"], self._label_names)
        # Offer another label only where the map calls the suggestion confident (enough passes
        # backed it, metrics.SUGGESTION_MIN_SUPPORT); elsewhere the suggestion is to keep it.
        given = _category_codes(frame["label"], self._label_names)
        suggested = np.where(frame["suggestion_confident"].to_numpy(dtype=bool), suggested, given)
        suggested = np.where(suggested < 0, MAX_LABELS, suggested)
        columns = {
            "x": frame["variability"].to_numpy(dtype=np.float32, na_value=np.nan),
            "y": frame["confidence"].to_numpy(dtype=np.float32, na_value=np.nan),
            "correctness": frame["correctness"].to_numpy(dtype=np.float32, na_value=np.nan),
            "order": order,
            "suggested": suggested,
            "category": category,
        }
        points: dict[str, Any] = {"n": len(frame)}
        for key, dtype in POINT_DTYPES.items():
            points[key] = _to_bytes(columns[key], dtype)
        thresholds = getattr(dmap, "thresholds", None) or DEFAULT_THRESHOLDS
        if hasattr(self, "_reviewed") and self._reviewed.any():
            self._sync_dmap_reviewed(np.flatnonzero(self._reviewed))
        with self.hold_sync():
            self.n_passes = int(getattr(dmap, "n_passes", 0) or 0)
            self.thresholds = {k: float(v) for k, v in thresholds.items()}
            self.points = points

    def _on_epoch(self, tracker: Any) -> None:
        """Tracker callback: redraw the map with the latest passes (keeps labels, reviews, selection).

        A failure here must never stop the training loop that called ``end_epoch()``: it becomes a warning.
        """
        try:
            with warnings.catch_warnings():
                # After one pass the map warns that variability is 0; the pass counter says as much.
                warnings.simplefilter("ignore", UserWarning)
                dmap = tracker.datamap()
                self._set_map(dmap)
        except Exception as exc:  # noqa: BLE001 - reported, and training goes on
            warnings.warn(
                f"DataMapWidget could not redraw after pass {getattr(tracker, 'n_passes', '?')}: "
                f"{type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )

    def close(self) -> None:
        """Stop following the tracker and close the widget."""
        unsubscribe = getattr(self, "_unsubscribe", None)  # absent when __init__ failed early
        if unsubscribe is not None:
            unsubscribe()
            self._unsubscribe = None
        super().close()

    # ------------------------------------------------------------- ids / rows
    def _rows_of(self, ids: Any, argument: str = "ids") -> np.ndarray:
        """Ids -> row indices; unknown ids raise a ValueError naming them."""
        if isinstance(ids, (str, bytes, int, np.integer)):
            ids = [ids]
        ids_list = list(ids)
        if not ids_list:
            return np.zeros(0, dtype=np.int64)
        rows = self._ids.get_indexer(pd.Index(ids_list))
        if (rows < 0).any():
            bad = [v for v, r in zip(ids_list, rows) if r < 0]
            raise ValueError(
                f"{argument} has {len(bad)} unknown ids: {_preview(bad, 5)}; expected ids of the data map "
                f"(e.g. {_preview(list(self._ids[:3]), 3)})."
            )
        return np.unique(rows)

    def _selection_rows(self) -> np.ndarray:
        return _from_bytes(self.selection, SELECTION_DTYPE).astype(np.int64)

    def _on_selection(self, change: dict) -> None:
        rows = self._selection_rows()
        if rows.size and (rows.max() >= len(self._ids)):
            return
        if self._syncing_selection:
            return
        self._syncing_selection = True
        try:
            self.selected_ids = self._ids[np.sort(rows)].tolist()
        finally:
            self._syncing_selection = False

    def _on_selected_ids(self, change: dict) -> None:
        if self._syncing_selection:
            return
        try:
            rows = self._rows_of(change["new"], "selected_ids")
        except ValueError:
            self._syncing_selection = True
            try:
                self.selected_ids = change["old"] if isinstance(change["old"], list) else []
            finally:
                self._syncing_selection = False
            raise
        self._syncing_selection = True
        try:
            self.selection = _to_bytes(rows, SELECTION_DTYPE)
            self.selected_ids = self._ids[rows].tolist()
        finally:
            self._syncing_selection = False

    @traitlets.validate("color_by")
    def _check_color_by(self, proposal: dict) -> str:
        if proposal["value"] not in COLOR_BY:
            raise ValueError(f"color_by must be one of {list(COLOR_BY)}, got {proposal['value']!r}.")
        return proposal["value"]

    @property
    def selected(self) -> pd.DataFrame:
        """The selected rows of ``data`` (in data order), or of the map's frame without ``data``."""
        ids = self.selected_ids
        if self._data is None:
            return self.frame.loc[ids]
        assert self._data_ids is not None
        return self._data[self._data_ids.isin(ids).to_numpy()]

    @property
    def frame(self) -> pd.DataFrame:
        """The map's frame with the widget's current labels and reviewed flags."""
        frame = self._dmap.frame.copy()
        frame["label"] = np.asarray(self._label_names, dtype=object)[self._label_codes]
        frame["reviewed"] = self._reviewed.copy()
        return frame

    @property
    def datamap(self) -> Any:
        """The DataMap currently drawn (the latest one while a tracker feeds the widget)."""
        return self._dmap

    # ---------------------------------------------------------------- actions
    def relabel(self, ids: Any, label: str | int) -> None:
        """Give the examples ``ids`` the label ``label`` (a name or code) and mark them reviewed."""
        rows = self._rows_of(ids, "ids")
        code = self._label_code(label)
        self._do("relabel", rows, new_codes=np.full(rows.size, code, dtype=LABEL_DTYPE), reviewed=True)

    def mark_reviewed(self, ids: Any) -> None:
        """Mark ``ids`` as reviewed (label confirmed as it is)."""
        rows = self._rows_of(ids, "ids")
        self._do("review", rows, new_codes=self._label_codes[rows].copy(), reviewed=True)

    def undo(self) -> bool:
        """Take back the last action (from the UI or Python). Returns False when there is none."""
        if not self._history:
            return False
        action = self._history.pop()
        rows = action["rows"]
        now = _now()
        # The review log is append-only: an "undo" row cancels the example's latest review in the
        # store (a stack, like this history) and restores the label it had before.
        store_rows = self._review_rows(rows, "undo", action["new_codes"], action["old_codes"], now)
        self._label_codes[rows] = action["old_codes"]
        self._reviewed[rows] = action["old_reviewed"]
        self._publish(rows, store_rows)
        return True

    def _label_code(self, label: Any) -> int:
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            if 0 <= int(label) < len(self._label_names):
                return int(label)
            raise ValueError(
                f"label code {label} is out of range; expected 0..{len(self._label_names) - 1} or one of {self._label_names}."
            )
        if isinstance(label, str) and label in self._label_names:
            return self._label_names.index(label)
        raise ValueError(f"label {label!r} is unknown; expected one of {self._label_names}.")

    def _do(self, kind: str, rows: np.ndarray, new_codes: np.ndarray, reviewed: bool) -> None:
        if rows.size == 0:
            return
        now = _now()
        action = {
            "kind": kind,
            "rows": rows,
            "old_codes": self._label_codes[rows].copy(),
            "new_codes": new_codes,
            "old_reviewed": self._reviewed[rows].copy(),
            "at": now,
        }
        self._label_codes[rows] = new_codes
        self._reviewed[rows] = reviewed
        self._history.append(action)
        store_kind = "relabeled" if kind == "relabel" else "confirmed"
        store_rows = self._review_rows(rows, store_kind, action["old_codes"], new_codes, now)
        self._publish(rows, store_rows)

    def _publish(self, rows: np.ndarray, store_rows: list[dict[str, Any]]) -> None:
        """Write through to the store, then tell the front end (labels, reviewed, status)."""
        self._pending.extend(store_rows)
        self._flush()
        with self.hold_sync():
            self.labels = _to_bytes(self._label_codes, LABEL_DTYPE)
            self.reviewed = _to_bytes(self._reviewed, REVIEWED_DTYPE)
            self.history_size = len(self._history)
        self._sync_dmap_reviewed(rows)

    def _sync_dmap_reviewed(self, rows: np.ndarray | None = None) -> None:
        """Keep the DataMap's reviewed marks in step with the widget, so ``dmap.suspects()`` agrees."""
        mark = getattr(self._dmap, "mark_reviewed", None)
        if mark is None:
            return
        rows = np.arange(len(self._ids)) if rows is None else rows
        on = rows[self._reviewed[rows]]
        off = rows[~self._reviewed[rows]]
        if on.size:
            mark(self._ids[on], True)
        if off.size:
            mark(self._ids[off], False)

    def _review_rows(self, rows: np.ndarray, action: str, old: np.ndarray, new: np.ndarray, at: str) -> list[dict[str, Any]]:
        """Rows for ``store.add_reviews`` (none without a store: nothing would read them)."""
        if self._store is None:
            return []
        names = np.asarray(self._label_names, dtype=object)
        # expected_label: the label this widget believed current. If another reviewer changed the
        # example meanwhile, the store refuses the batch (ReviewConflict) instead of overwriting.
        return [
            {"example_id": example_id, "action": action, "old_label": o, "new_label": n,
             "expected_label": o, "reviewer": self._reviewer, "at": at, "run": self._run}
            for example_id, o, n in zip(self._ids[rows].tolist(), names[old].tolist(), names[new].tolist())
        ]

    def _restore_from_store(self, dmap: Any) -> None:
        """Show what earlier sessions did on this dataset: the labels and reviewed marks of the store's log.

        Restored reviews are not in this widget's undo history (they were made, and saved, before).
        """
        store = self._store
        if not (hasattr(store, "current_labels") and hasattr(store, "apply_reviews")):
            return  # a minimal store that only takes writes
        try:
            current = store.current_labels(self._dataset, base=dmap)
            reviewed = store.apply_reviews(dmap, self._dataset)
        except Exception as exc:  # the store is down: the map still works, the status says what is missing
            self.save_status = f"earlier reviews could not be read: {type(exc).__name__}: {exc}"
            warnings.warn(f"DataMapWidget: {self.save_status}", RuntimeWarning, stacklevel=3)
            return
        names = pd.Series(current).reindex(self._ids)
        known = (names.notna() & names.isin(self._label_names)).to_numpy()
        codes = self._label_codes.copy()
        codes[known] = _category_codes(names[known], self._label_names)
        self._label_codes = codes.astype(LABEL_DTYPE)
        if reviewed:
            rows = self._ids.get_indexer(pd.Index(list(reviewed)))
            self._reviewed[rows[rows >= 0]] = True
        self.labels = _to_bytes(self._label_codes, LABEL_DTYPE)
        self.reviewed = _to_bytes(self._reviewed, REVIEWED_DTYPE)
        self.save_status = "saved"

    def _take_conflict(self, conflict: ReviewConflict) -> None:
        """Another reviewer changed these examples first: show their label, drop our rows for them, say so."""
        ids = set(conflict.ids)
        mine = {r["example_id"]: r["new_label"] for r in self._pending if r["example_id"] in ids}
        self._pending = [r for r in self._pending if r["example_id"] not in ids]
        rows = self._ids.get_indexer(pd.Index(list(ids)))
        now = _now()
        for example_id, row in zip(list(ids), rows):
            theirs = conflict.current.get(example_id)
            self._conflicts.append({"id": example_id, "your_label": mine.get(example_id), "current_label": theirs, "at": now})
            if row >= 0 and theirs in self._label_names:
                self._label_codes[row] = self._label_names.index(theirs)
                self._reviewed[row] = True

    @property
    def conflicts(self) -> pd.DataFrame:
        """Changes the store refused because another reviewer changed the example first: id, your_label, current_label, at."""
        return pd.DataFrame(self._conflicts, columns=["id", "your_label", "current_label", "at"])

    def _flush(self) -> None:
        if self._store is None:
            self._pending.clear()
            return
        if not self._pending:
            self.save_status = "saved"
            return
        refused = 0
        while self._pending:
            try:
                self._store.add_reviews(self._dataset, list(self._pending))
            except ReviewConflict as conflict:  # someone else was first: theirs stands, ours is reported
                before = len(self._pending)
                self._take_conflict(conflict)
                refused += before - len(self._pending)
                if len(self._pending) == before:  # nothing matched: do not loop forever
                    break
                continue
            except Exception as exc:  # the store may fail in any way; keep the actions and say why
                n = len(self._pending)
                self.save_status = f"{n} actions not saved: {type(exc).__name__}: {exc}"
                return
            self._pending.clear()
        if refused:
            shown = ", ".join(f"{c['id']!r} is now {c['current_label']!r}" for c in self._conflicts[-refused:][:3])
            self.save_status = (
                f"saved, except {refused} change(s) another reviewer made first ({shown}); "
                "the map shows their label (see w.conflicts)"
            )
        else:
            self.save_status = "saved"

    def retry_save(self) -> bool:
        """Try again to write pending actions to the store. Returns True when nothing is left pending."""
        self._flush()
        with self.hold_sync():  # a conflict found now may have changed labels
            self.labels = _to_bytes(self._label_codes, LABEL_DTYPE)
            self.reviewed = _to_bytes(self._reviewed, REVIEWED_DTYPE)
        return not self._pending

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Review rows not yet written to the store."""
        return list(self._pending)

    @property
    def changes(self) -> pd.DataFrame:
        """Actions in effect (undone ones left out), one row per example: id, old_label, new_label, action, at."""
        parts = []
        names = np.asarray(self._label_names, dtype=object)
        for action in self._history:
            rows = action["rows"]
            parts.append(
                pd.DataFrame(
                    {
                        "id": self._ids[rows],
                        "old_label": names[action["old_codes"]],
                        "new_label": names[action["new_codes"]],
                        "action": "relabeled" if action["kind"] == "relabel" else "confirmed",
                        "at": action["at"],
                    }
                )
            )
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in ("id", "old_label", "new_label", "action", "at")})
        return pd.concat(parts, ignore_index=True)

    def apply(self, df: pd.DataFrame, label_column: str = "label") -> pd.DataFrame:
        """A copy of ``df`` with the widget's current labels written into ``label_column``.

        Rows are matched by ``id_column`` (else the index). Integer label
        columns receive codes, others names. ``df`` itself is left untouched.
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}.")
        if label_column not in df.columns:
            raise ValueError(f"df has no column {label_column!r} (label_column); its columns are {list(df.columns)}.")
        out = df.copy()
        ids = self._data_id_series(df, "df")
        rows = self._ids.get_indexer(pd.Index(ids))
        known = rows >= 0
        codes = self._label_codes[rows[known]]
        dtype = out[label_column].dtype
        if pd.api.types.is_integer_dtype(dtype):
            col = out[label_column].to_numpy(copy=True)
            col[known] = codes
        else:
            col = out[label_column].to_numpy(dtype=object, copy=True)
            col[known] = np.asarray(self._label_names, dtype=object)[codes]
            try:
                col = pd.Series(col, index=out.index).astype(dtype)
            except (TypeError, ValueError):  # e.g. a categorical lacking the new label: keep object
                col = pd.Series(col, index=out.index)
        out[label_column] = col
        return out

    # -------------------------------------------------------------- requests
    def _on_custom_msg(self, _widget: Any, content: Any, buffers: list) -> None:
        if not isinstance(content, dict) or content.get("kind") != "dmw:request":
            return
        request_id = content.get("id")
        try:
            result, out_buffers = self.handle_request(content.get("method", ""), content.get("args") or {}, buffers)
            reply = {"kind": "dmw:response", "id": request_id, "ok": True, "result": result}
        except Exception as exc:  # answer every request, so the UI never waits forever
            reply = {"kind": "dmw:response", "id": request_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            out_buffers = []
            if not isinstance(exc, (ValueError, TypeError)):
                traceback.print_exc()
        self.send(reply, out_buffers)

    def handle_request(self, method: str, args: dict, buffers: list) -> tuple[Any, list[bytes]]:
        """Answer one front-end request; returns (JSON result, binary buffers)."""
        if method == "page":
            rows = _from_bytes(buffers[0] if buffers else None, SELECTION_DTYPE).astype(np.int64)
            full = bool(args.get("full", False))
            return self._page(rows, full), []
        if method == "search":
            hits = self._search(str(args.get("query", "")))
            return {"count": int(hits.size)}, [_to_bytes(hits, SELECTION_DTYPE)]
        rows = _from_bytes(buffers[0] if buffers else None, SELECTION_DTYPE).astype(np.int64)
        if rows.size and rows.max() >= len(self._ids):
            raise ValueError(f"row index {int(rows.max())} is out of range for {len(self._ids)} points.")
        if method == "relabel":
            self.relabel(self._ids[rows], args.get("label"))
            return {"history_size": self.history_size, "save_status": self.save_status}, []
        if method == "mark_reviewed":
            self.mark_reviewed(self._ids[rows])
            return {"history_size": self.history_size, "save_status": self.save_status}, []
        if method == "undo":
            done = self.undo()
            return {"undone": done, "history_size": self.history_size}, []
        if method == "retry_save":
            return {"saved": self.retry_save(), "save_status": self.save_status}, []
        raise ValueError(f"unknown request method {method!r}; expected page, search, relabel, mark_reviewed, undo or retry_save.")

    def _page(self, rows: np.ndarray, full: bool) -> dict[str, Any]:
        """Ids, texts (cut to PREVIEW_CHARS unless ``full``) and scores for up to MAX_PAGE_ROWS rows."""
        if rows.size > MAX_PAGE_ROWS:
            raise ValueError(f"a page holds at most {MAX_PAGE_ROWS} rows, got {rows.size}.")
        if rows.size and (rows.min() < 0 or rows.max() >= len(self._ids)):
            raise ValueError(f"row indices must lie in 0..{len(self._ids) - 1}.")
        texts = self._texts[rows]
        if not full:
            texts = [t if len(t) <= PREVIEW_CHARS else t[:PREVIEW_CHARS] + "…" for t in texts]
        score = self._dmap.frame["mislabel_score"].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        return {
            "rows": rows.tolist(),
            "ids": [str(i) for i in self._ids[rows]],
            "texts": [str(t) for t in texts],
            "scores": [None if np.isnan(s) else float(s) for s in score],
        }

    def _search(self, query: str) -> np.ndarray:
        """Row indices whose text or id contains ``query`` (case-insensitive), in row order."""
        if not query:
            return np.arange(len(self._ids), dtype=np.int64)
        in_text = self._texts_series.str.contains(query, case=False, regex=False, na=False).to_numpy()
        if self._ids_str is None:
            self._ids_str = pd.Series(self._ids.astype(str), dtype=object)
        in_id = self._ids_str.str.contains(query, case=False, regex=False).to_numpy()
        return np.flatnonzero(in_text | in_id)
