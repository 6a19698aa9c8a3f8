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
       "suggested": uint16[n]     code into label_names of the suggestion the map shows
                                  (another label than the given one); 65535 where it shows none,
       "category": uint8[n]       code into categories,
       "projection_x", "projection_y": float32[n]   only when the map has embeddings: the
                                  2-D projection of DataMap.projection() (NaN: no embedding)}

* ``labels`` uint16[n] (current label codes, after relabels) and ``reviewed``
  uint8[n] (0 not reviewed, 1 confirmed, 2 relabeled) travel as their own traits so an
  action resends only them.
* ``selection`` uint32[k]: selected row indices, written by both sides.
* ``map_view`` ("data_map" or "embedding": which axes the map draws, shared by both sides) and
  ``embedding_view`` ({"method": name or "", "reason": why there is none, or "", "note": e.g.
  that PCA stands in for t-SNE, or ""; "pending": the method that the ``projection`` request
  will use, for a map with none made yet: the widget never waits for it as it opens}).
* ``order`` uint32[n] or empty: the suspects' order once reviews have re-ranked them (a map
  whose score learns from reviews, see :mod:`datamap_widget.ranking`); empty means
  ``points["order"]``. Reviewed rows and the current document (the ``current`` row an action
  request names) keep their places; the rest are re-sorted by their new scores.

Every array is raw little-endian bytes, which ipywidgets sends as binary
buffers, never as JSON lists: 22 bytes per point in all, 30 with the projection. Ids and texts are not
sent per point; the front end asks for them a page at a time with a request
message ``{"kind": "dmw:request", "id": str, "method": str, "args": dict}``
(plus buffers) and Python answers ``{"kind": "dmw:response", "id": str,
"ok": bool, "result"| "error": ...}`` (plus buffers). Methods:

* ``page`` (buffer: uint32 rows, at most MAX_PAGE_ROWS, or MAX_FULL_ROWS with ``full``) ->
  ``{"rows", "ids" (str), "texts", "truncated" (bool per row), "lengths", "scores"}``; texts
  are cut to PREVIEW_CHARS, or to MAX_TEXT_CHARS with ``full``, so a huge text never
  crosses whole unless asked for;
* ``document`` (args ``row``, ``all``) -> one document for the detail pane: id, text (whole
  with ``all``, else cut to MAX_TEXT_CHARS), truncated, length, score, ``gold_prob`` per
  pass, the model's classes (``classes``: [name, p], most probable first): with
  ``classes_from`` "mean", the top PANE_CLASSES of the mean class probabilities over the
  passes, else ("last pass": a map without them) the gold label and the best other class of
  the last pass that saw it; ``gold_label``, the label the model was trained on; and
  ``neighbors``: None without embeddings, else ``{"items": [{row, id, label (current),
  text (cut to PREVIEW_CHARS), similarity}], "summary"}`` for the PANE_NEIGHBOURS nearest;
* ``accept_preview`` (buffer: rows) -> ``{"change", "reviewed", "no_suggestion", "unknown"}``:
  what ``accept_suggestions`` would do (see :meth:`DataMapWidget.accept_preview`);
* ``search`` (args ``query``) -> ``{"count"}`` + buffer: uint32 matching rows
* ``projection`` -> ``{"method"}``: makes the map's projection (once) and sends it in ``points``;
* ``save_labels`` -> ``{"path", "rows", "changed"}``: :meth:`DataMapWidget.export_labels` to
  EXPORT_NAME in the kernel's working folder (the "Save labels…" button);
* ``relabel`` (buffer: rows; args ``label`` name), ``mark_reviewed`` (buffer: rows),
  ``accept_suggestions`` (buffer: rows; args ``include_reviewed``), ``undo`` (answers with a buffer: the uint32 rows
  whose action was undone) — each with optional ``current``: the row the reviewer's pane shows
  now, which a re-ranking leaves in place —, ``retry_save`` ->
  ``{"history_size", "save_status", ...}``; the new state itself arrives as trait
  changes (``labels``, ``reviewed``, ``save_status``).

Review state (labels, marks, undo, store writes) lives in :class:`~datamap_widget.review.ReviewSession`;
this module only translates between it and the wire.
"""

from __future__ import annotations

import csv
import math
import pathlib
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from .atomic import atomic_paths
from .datamap import unlearned_summary
from .background import KernelThreadCall, watch_relabels
from .ids import describe_ids
from .dependencies import install_command
from .metrics import CATEGORIES, DEFAULT_THRESHOLDS, nearest_neighbours
from .projection import FALLBACK_PROJECTION, resolve_method
from .review import CONFIRMED, RELABELED, ReviewSession, check_run

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
#: The embedding view's columns, sent only for a map with embeddings (8 more bytes per point).
PROJECTION_DTYPES: dict[str, np.dtype] = {"projection_x": np.dtype("<f4"), "projection_y": np.dtype("<f4")}
PROJECTION_BYTES_PER_POINT = sum(d.itemsize for d in PROJECTION_DTYPES.values())

#: Most rows one page request may ask for, and the longest text cut sent for a table row.
MAX_PAGE_ROWS = 500
PREVIEW_CHARS = 240

#: How many nearest neighbours the detail pane lists for the current document (issue 16).
PANE_NEIGHBOURS = 8
#: How many of the model's most probable classes the detail pane shows (issue 14).
PANE_CLASSES = 3
#: Most rows of a full-text page, and the longest text sent unless the user asks for all of it:
#: 20 rows of 20,000 characters bound a page to under 2 MB, whatever the data holds.
MAX_FULL_ROWS = 20
MAX_TEXT_CHARS = 20_000
#: Most label names the number keys and the uint16 codes can address.
MAX_LABELS = 65535

COLOR_BY = ("correctness", "category", "label", "suggested_label", "reviewed", "mislabel_score")
#: Traits a caller may set as keyword arguments (the rest are the widget's own wire state).
SETTABLE = ("color_by", "filters", "selected_ids", "layout", "map_view")
#: The map's two views of the same points: the data map and the embeddings' 2-D projection.
MAP_VIEWS = ("data_map", "embedding")
#: Most points whose projection the widget makes as it opens. None: openTSNE takes 3-8 s even
#: for 1,000 points and a minute at 10,000 (benchmarks/results/projection.md), and opening the
#: widget must stay instant. A map without a projection (made before, or read from its parquet)
#: makes it when the embedding view is first asked for, once.
EAGER_PROJECTION_MAX = 0
REVIEWED_FILTERS = ("all", "reviewed", "unreviewed")
#: Progress states after which the feeding training adds no pass: the "live" badge goes.
ENDED_STATES = ("done", "stopped", "failed")
#: Where "Save labels…" writes, in the kernel's working folder (a notebook's own folder).
EXPORT_NAME = "datamap-labels.csv"
#: Least time between two progress messages within one epoch (the epoch's last step always goes).
PROGRESS_INTERVAL_S = 0.2


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


def _suspect_order(score: np.ndarray) -> np.ndarray:
    """Rows by ``score`` descending, ties (and unscored NaN rows, last) in row order.

    As ``argsort(kind="stable")`` but 3-4x faster: an unstable sort, then only the runs of
    equal scores are put back in row order.
    """
    keys = -np.nan_to_num(score, nan=-np.inf)
    order = np.argsort(keys)
    ranked = keys[order]
    tie = np.zeros(len(keys), dtype=bool)
    tie[1:] = ranked[1:] == ranked[:-1]
    if tie.any():
        in_run = tie.copy()
        in_run[:-1] |= tie[1:]
        rows = np.flatnonzero(in_run)
        run = np.cumsum(~tie[rows])  # run number, counted over the tied rows only
        order[rows] = order[rows][np.lexsort((order[rows], run))]
    return order


def _rerank_order(order: np.ndarray, score: np.ndarray, pinned: np.ndarray) -> np.ndarray:
    """``order`` with the ``pinned`` rows in their places and every other row re-sorted by ``score``
    (descending, as :func:`_suspect_order`) into the places left."""
    free_slot = ~pinned[order]
    free_rows = np.flatnonzero(~pinned)
    out = order.copy()
    out[free_slot] = free_rows[_suspect_order(score[free_rows])]
    return out


def _id_kind(values: Any) -> str:
    """``str``, ``int``, ``float``…: the kind of a column of ids, for messages."""
    kind = pd.api.types.infer_dtype(values, skipna=True)
    return {"string": "str", "integer": "int", "floating": "float", "boolean": "bool"}.get(kind, kind)


def _id_mismatch(df: pd.DataFrame, df_ids: Any, map_ids: pd.Index, id_column: str, name: str) -> str:
    """Why ``df_ids`` match none of ``map_ids``: what was tried, an id from each side, and a likely fix."""
    source = f"its column {id_column!r}" if id_column in df.columns else "its index"
    df_values, map_values = np.asarray(df_ids), map_ids.to_numpy()
    message = (
        f"{name}'s ids ({source}) match none of the map's ids: {name} has {describe_ids(df_values, 3)}, "
        f"the map has {describe_ids(map_values, 3)}"
    )
    near = [c for c in df.columns if isinstance(c, str) and c != id_column and c.lower() == id_column.lower()]
    if near:
        return message + f"; {name} has a column {near[0]!r}: pass id_column={near[0]!r}"
    if id_column not in df.columns:
        return message + f"; {name} has no column {id_column!r}, so its index was tried: pass id_column= naming the id column"
    df_kind, map_kind = _id_kind(df_values), _id_kind(map_values)
    if df_kind != map_kind:
        first = lambda a: repr(a[0].item() if isinstance(a[0], np.generic) else a[0])  # noqa: E731
        return message + (
            f"; {name}'s ids are {df_kind} ({first(df_values)}), the map's are {map_kind} ({first(map_values)}): "
            f"convert them (e.g. .astype({map_kind}))"
        )
    return message + "; pass id_column= naming the id column"


def _check_storable(ids: pd.Index, label_names: list[str]) -> None:
    """Refuse, before any review, str ids and label names no store backend can keep (a NUL, a
    lone surrogate): every action on one would be refused by the store, only later."""
    from .store import unstorable_text

    names = [("label name", name) for name in label_names]
    if not pd.api.types.is_numeric_dtype(ids.dtype):
        values = ids.tolist()
        if unstorable_text("".join(values)) is not None:  # one pass; the culprit is sought on failure only
            names = [("id", next(v for v in values if unstorable_text(v) is not None))] + names
    for what, value in names:
        why = unstorable_text(value)
        if why is not None:
            raise ValueError(
                f"the map's {what} {value!r} cannot be kept in the store: it {why}; "
                f"rename it, or make the widget without store= (reviews then live in this session only)."
            )


def _store_name(store: Any) -> str:
    """The store as the widget names it ("" for none): its URL without the password, else its repr."""
    if store is None:
        return ""
    url = getattr(store, "url", None)
    if hasattr(url, "render_as_string"):
        return str(url.render_as_string(hide_password=True))
    return repr(store)


def _same_ids(data_ids: pd.Series, ids: pd.Index) -> bool:
    """Whether ``data_ids`` are exactly ``ids``, in order (vectorized; Arrow strings compared as Arrow)."""
    if data_ids.dtype != ids.dtype:
        string_kinds = [isinstance(d, pd.StringDtype) for d in (data_ids.dtype, ids.dtype)]
        if not all(string_kinds):
            return False
        data_ids = data_ids.astype(ids.dtype)  # "string" vs "str": Arrow to Arrow, no Python objects
    try:
        return bool(np.asarray(data_ids.array == ids.array, dtype=bool).all())
    except (TypeError, ValueError):
        return False


def _preview(values: Sequence[str], n: int) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:n])
    more = len(values) - n
    return shown + (f" and {more} more" if more > 0 else "")


def neighbour_summary(labels: Sequence[str]) -> str:
    """One line on a document's neighbours: how many share the most common label ("6 of 8 neighbours are HUM")."""
    if not labels:
        return "no neighbours (no embedding)"
    counts = pd.Series(list(labels), dtype=object).value_counts(sort=True)
    top, count = str(counts.index[0]), int(counts.iloc[0])
    noun = "neighbour is" if len(labels) == 1 else "neighbours are"
    return f"{count} of {len(labels)} {noun} {top}"


def _is_tracker(obj: Any) -> bool:
    """Duck-type a Tracker (we never need its class): it can build a DataMap and be subscribed to."""
    return callable(getattr(obj, "datamap", None)) and callable(getattr(obj, "subscribe", None))


class DataMapWidget(anywidget.AnyWidget):
    """Interactive data map: see, select, filter, relabel and mark reviewed.

    Parameters
    ----------
    dmap_or_tracker : DataMap, Tracker or TrainingHandle
        A finished map, or a tracker: then the map redraws after every
        ``tracker.end_epoch()``, also while the training cell still runs, and
        ``progress`` follows ``tracker.progress``. A handle of background training
        (``train_datamap(..., background=True)``) stands for its tracker.
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
    run : int, optional
        The store's run id of this map (what ``store.save_run`` returned), written with
        each review row; default: the dataset's newest run when the row is written.
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    points = traitlets.Dict(help="Per-point columns as little-endian bytes; see module docstring.").tag(sync=True)
    labels = traitlets.Bytes(b"", help="uint16 current label code per point.").tag(sync=True)
    reviewed = traitlets.Bytes(b"", help="uint8 reviewed flag (0/1) per point.").tag(sync=True)
    selection = traitlets.Bytes(b"", help="uint32 selected row indices.").tag(sync=True, from_json=_bytes_from_json)
    order = traitlets.Bytes(b"", help="uint32 suspect order after re-ranking from reviews; empty: points['order'].").tag(sync=True)
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
    review_summary = traitlets.Dict(
        default_value={"changed": 0, "reviewed": 0, "store": "", "exported": "", "exported_current": False},
        help='What the reviews amount to and where they are kept: "changed" labels, "reviewed" examples, the '
        '"store" they are written to ("" without one: they live in this kernel only), the file of the last '
        '"exported" labels and whether it still holds them ("exported_current").',
    ).tag(sync=True)
    has_text = traitlets.Bool(False).tag(sync=True)
    progress = traitlets.Dict(
        default_value={"state": "idle"},
        help='Training progress: state ("idle"|"running"|"done"|"stopped"|"failed"), epoch, epochs, step, steps, loss, message.',
    ).tag(sync=True)
    live = traitlets.Bool(False, help="Whether a tracker feeds the map: False once its training finished, failed or was stopped.").tag(sync=True)
    progress = traitlets.Dict(
        default_value={"state": "idle"},
        help="The feeding training's progress (Tracker.progress): state idle|running|done|stopped|failed, "
        "epoch (1-based), epochs, step and steps (within the epoch), loss (or null), message.",
    ).tag(sync=True)

    map_view = traitlets.Unicode(
        "data_map", help=f"One of {MAP_VIEWS}: variability x confidence, or the embeddings' 2-D projection.",
    ).tag(sync=True)
    embedding_view = traitlets.Dict(
        default_value={"method": "", "reason": "", "note": ""},
        help='The embedding view: "method" of the projection sent in points ("" when none), "reason" there is none, '
        'and a "note" on it (e.g. that PCA stands in for t-SNE, and how to install it).',
    ).tag(sync=True)

    unlearned = traitlets.List(help='Classes the map never learned: [{"label", "code", "count"}] (datamap.unlearned_summary).').tag(sync=True)

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
        run: int | None = None,
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
        if not _is_tracker(dmap_or_tracker) and _is_tracker(getattr(dmap_or_tracker, "tracker", None)):
            dmap_or_tracker = dmap_or_tracker.tracker  # a TrainingHandle: follow the tracker it feeds
        self._tracker = dmap_or_tracker if _is_tracker(dmap_or_tracker) else None
        if self._tracker is None and not hasattr(dmap_or_tracker, "frame"):
            raise TypeError(
                f"dmap_or_tracker must be a DataMap, a Tracker or a TrainingHandle, got {type(dmap_or_tracker).__name__}."
            )
        run = check_run(run)
        if reviewer is not None and not isinstance(reviewer, str):
            raise TypeError(f"reviewer must be a str or None, got {type(reviewer).__name__} {reviewer!r}.")
        if store is not None and run is not None and callable(getattr(store, "runs", None)):
            known = store.runs(dataset)["id"].tolist()
            if run not in known:
                raise ValueError(f"run {run} is not a run of dataset {dataset!r} in the store; its runs are {known}.")
        self._store = store
        self._dataset = dataset
        self._reviewer = reviewer
        self._run = run
        self._data = data
        self._text_column = text_column
        self._id_column = id_column
        self._syncing_selection = False
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe_progress: Callable[[], None] | None = None
        self._progress_key: tuple = ()
        self._progress_sent = 0.0
        self._ids: pd.Index = pd.Index([])
        self._ids_str: pd.Series | None = None
        self._dmap: Any = None
        self._order = np.zeros(0, dtype=np.int64)
        self._current_row = -1  # the pane's document while an action from the front end runs
        self._revision = 0  # actions taken (and undone): an export is current while it holds the last one
        self._exported: tuple[str, int] | None = None
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
            tracker = self._tracker
            # Passes may close in a training thread: the redraw runs on the kernel's main thread,
            # like every action from the front end, so the two never interleave.
            redraw = KernelThreadCall(lambda: self._on_epoch(tracker))
            self._unsubscribe = tracker.subscribe(lambda _tracker: redraw())
            watch_relabels(self)  # handle.wait() warns that its map lacks this widget's relabels
            if callable(getattr(tracker, "subscribe_progress", None)):
                self._show_progress = KernelThreadCall(self._sync_progress)
                self._unsubscribe_progress = tracker.subscribe_progress(self._on_progress)
                self._sync_progress()

    # ------------------------------------------------------------------ data
    def _init_rows(self, dmap: Any) -> None:
        """Fix the row order (the map's ids) and align the user's texts to it."""
        frame = dmap.frame
        self._ids = pd.Index(frame.index)
        self._label_names = [str(n) for n in dmap.label_names]
        if len(self._label_names) > MAX_LABELS:
            raise ValueError(f"at most {MAX_LABELS} labels are supported, got {len(self._label_names)}.")
        self.label_names = list(self._label_names)
        if self._store is not None:
            _check_storable(self._ids, self._label_names)
        self._session = ReviewSession(
            self._ids, self._label_names, self._codes(frame["label"], "label"),
            np.asarray(frame["reviewed"], dtype=bool).astype(np.uint8) * CONFIRMED,
            store=self._store, dataset=self._dataset, reviewer=self._reviewer, run=self._run,
        )
        self._map_ids = getattr(dmap, "ids", None)
        self._texts: Any = np.full(len(self._ids), "", dtype=object)
        self._data_ids: pd.Series | None = None
        if self._data is not None:
            data_ids = self._data_id_series(self._data, "data")
            self._data_ids = data_ids
            if self._text_column not in self._data.columns:
                raise ValueError(
                    f"text_column {self._text_column!r} is not a column of data; its columns are {list(self._data.columns)}."
                )
            self._texts = self._aligned_texts(dmap, data_ids, self._data[self._text_column])
            self.has_text = True
        # Texts stay in the array type they came in (Arrow strings are not turned into a million
        # Python objects): pages index it by position, search runs pandas' vectorized str methods.
        self._texts_series = pd.Series(self._texts, copy=False)
        self._publish_review_state()

    def _aligned_texts(self, dmap: Any, data_ids: pd.Series, column: pd.Series) -> Any:
        """The text of each map row, in map order ("" where data has no row for it; the first row wins)."""
        n = len(self._ids)
        if len(data_ids) == n and _same_ids(data_ids, self._ids):
            texts = column  # data lists the map's ids in the map's order: nothing to align
        else:
            map_rows = self._map_rows_of(dmap, data_ids)
            known = map_rows >= 0
            if len(data_ids) and not known.any():
                raise ValueError(_id_mismatch(self._data, data_ids, self._ids, self._id_column, "data") + ".")
            hit_rows, data_rows = map_rows[known], np.flatnonzero(known)
            first = np.full(n, -1, dtype=np.int64)
            if len(hit_rows) and np.bincount(hit_rows, minlength=n).max() > 1:
                hit_rows, keep = np.unique(hit_rows, return_index=True)  # the first data row of each id
                data_rows = data_rows[keep]
            first[hit_rows] = data_rows
            missing = int((first < 0).sum())
            if missing:
                warnings.warn(f"data has no row for {missing} of the map's {n} ids; their text shows empty.", UserWarning, stacklevel=4)
            texts = pd.Series(column.array.take(first, allow_fill=True), copy=False)
        if texts.hasnans:
            texts = texts.fillna("")
        if not pd.api.types.is_string_dtype(texts.dtype) or texts.dtype == object:
            texts = texts.astype(str)
        return texts.array

    def _map_rows_of(self, dmap: Any, ids: pd.Series) -> np.ndarray:
        """The map row of each of ``ids`` (-1 if unknown), through the map's own id index when it has one."""
        index = getattr(dmap, "id_index", None)
        if index is None:
            return self._ids.get_indexer(pd.Index(ids))
        try:
            batch = index.coerce(np.asarray(ids), "data ids")
        except (TypeError, ValueError):  # e.g. float ids: none can match
            return np.full(len(ids), -1, dtype=np.int64)
        rows, known = index.lookup(batch)
        return np.where(known, rows, -1)

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
        same_array = self._map_ids is not None and getattr(dmap, "ids", None) is self._map_ids
        if not same_array and (len(frame) != len(self._ids) or not frame.index.equals(self._ids)):
            raise ValueError("the tracker's map changed its ids; a widget follows one fixed set of examples.")
        self._dmap = dmap
        score = np.asarray(frame["mislabel_score"], dtype=np.float64)
        order = _suspect_order(score)
        category = _category_codes(frame["category"], CATEGORIES)
        category = np.where(category < 0, 255, category)
        raw = _category_codes(frame["suggested_label"], self._label_names)
        # The suggestion the map shows: another label, where the map calls it confident (enough
        # passes backed it, metrics.SUGGESTION_MIN_SUPPORT); none elsewhere (-1, sent as
        # MAX_LABELS), never the given label dressed as a suggestion. One array for the screen,
        # the `a` key, accept_suggestions and `selected`, so all agree (issue 29.2).
        confident = frame["suggestion_confident"].to_numpy(dtype=bool)
        self._offered = np.where(confident & (raw >= 0), raw, -1)
        self._unseen = raw < 0
        suggested = np.where(self._offered < 0, MAX_LABELS, self._offered)
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
        coords, embedding_view = self._projection_of(dmap)
        if coords is not None:
            points["projection_x"] = _to_bytes(coords[:, 0], PROJECTION_DTYPES["projection_x"])
            points["projection_y"] = _to_bytes(coords[:, 1], PROJECTION_DTYPES["projection_y"])
        thresholds = getattr(dmap, "thresholds", None) or DEFAULT_THRESHOLDS
        if hasattr(self, "_session") and self._session.reviewed.any():
            self._sync_dmap_reviewed(np.flatnonzero(self._session.reviewed))
        self._order = order.astype(np.int64)
        with self.hold_sync():
            self.n_passes = int(getattr(dmap, "n_passes", 0) or 0)
            self.thresholds = {k: float(v) for k, v in thresholds.items()}
            self.embedding_view = embedding_view
            self.unlearned = unlearned_summary(dmap)
            self.points = points
            self.order = b""
            if hasattr(self, "_session") and self._session.reviewed.any():
                self._rerank()  # a new pass's scores, with what was reviewed so far

    def _projection_of(self, dmap: Any) -> tuple[np.ndarray | None, dict[str, str]]:
        """The map's 2-D projection (made once per map, see DataMap.projection) and the embedding_view trait.

        No embeddings, or too few, is no error here: the view switch says why it is off.
        """
        if getattr(dmap, "embeddings", None) is None or not callable(getattr(dmap, "projection", None)):
            reason = (
                "The embedding view needs the sentence embeddings the training run records in its last pass: "
                "it appears when training reaches it (train with embeddings=True)."
                if self._tracker is not None
                else "This map has no embeddings, so there is no embedding view: train with embeddings=True "
                "(the default of train_datamap) or pass embeddings= to Tracker.record."
            )
            return None, {"method": "", "reason": reason, "note": ""}
        if getattr(dmap, "projection_method", None) is None and len(dmap) > EAGER_PROJECTION_MAX:
            method = resolve_method(None)
            return None, {"method": "", "reason": "", "pending": method,
                          "note": f"made when first opened ({len(dmap):,} points: seconds to minutes, once; kept with the map)"}
        try:
            coords = dmap.projection().to_numpy(dtype=np.float32)
        except ValueError as exc:
            return None, {"method": "", "reason": f"No embedding view: {exc}.", "note": ""}
        method = str(dmap.projection_method)
        note = ""
        if method == FALLBACK_PROJECTION and resolve_method(None) == FALLBACK_PROJECTION:
            note = (f"PCA, as openTSNE is not installed: {install_command('projection')} gives the t-SNE view, "
                    "which keeps far more of each point's neighbours (benchmarks/results/projection.md)")
        return coords, {"method": method, "reason": "", "note": note}

    def _make_projection(self) -> dict[str, Any]:
        """Make the map's projection now (the front end asked for the embedding view) and send it."""
        dmap = self._dmap
        if getattr(dmap, "embeddings", None) is None:
            raise ValueError(self.embedding_view.get("reason") or "this map has no embeddings")
        dmap.projection()  # kept on the map: _set_map finds it made
        self._set_map(dmap)
        return {"method": str(dmap.projection_method)}

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

    def _on_progress(self, progress: dict) -> None:
        """Tracker progress listener (any thread): at most one message per PROGRESS_INTERVAL_S within an epoch."""
        key = (progress.get("state"), progress.get("epoch"), progress.get("message"))
        now = time.monotonic()
        last_step = progress.get("step") is not None and progress.get("step") == progress.get("steps")
        if key == self._progress_key and not last_step and now - self._progress_sent < PROGRESS_INTERVAL_S:
            return
        self._progress_key, self._progress_sent = key, now
        self._show_progress()

    def _sync_progress(self) -> None:
        """Copy the tracker's latest progress into the ``progress`` trait (JSON: a NaN loss is sent as null)."""
        progress = dict(self._tracker.progress)
        loss = progress.get("loss")
        if loss is not None and not math.isfinite(loss):
            progress["loss"] = None
        with self.hold_sync():
            self.progress = progress
            # "live" while the training may still add passes: gone once it finished, failed or was stopped.
            self.live = progress.get("state") not in ENDED_STATES

    def close(self) -> None:
        """Stop following the tracker and close the widget."""
        for name in ("_unsubscribe", "_unsubscribe_progress"):
            unsubscribe = getattr(self, name, None)  # absent when __init__ failed early
            if unsubscribe is not None:
                unsubscribe()
                setattr(self, name, None)
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

    @traitlets.validate("map_view")
    def _check_map_view(self, proposal: dict) -> str:
        if proposal["value"] not in MAP_VIEWS:
            raise ValueError(f"map_view must be one of {list(MAP_VIEWS)}, got {proposal['value']!r}.")
        return proposal["value"]

    @traitlets.validate("color_by")
    def _check_color_by(self, proposal: dict) -> str:
        if proposal["value"] not in COLOR_BY:
            raise ValueError(f"color_by must be one of {list(COLOR_BY)}, got {proposal['value']!r}.")
        return proposal["value"]

    @property
    def selected(self) -> pd.DataFrame:
        """The selected examples, most suspect first, with their current state.

        The rows of ``data`` (its columns, its index) for the selected ids, or the map's
        frame without ``data``, with the map's columns added (and winning over same-named
        ones, since they are current): ``label`` (the current label, after relabels),
        ``original_label`` (the label the map was trained on), ``suggested_label`` (the
        suggestion the screen shows: missing where the map suggests no other label, or the
        label already is the suggestion),
        ``confidence``, ``variability``, ``correctness``, ``mislabel_score``, ``category``
        and ``review`` ("relabeled", "confirmed" or "").
        """
        rows = self._rows_of(self.selected_ids, "selected_ids")
        score = self._dmap.frame["mislabel_score"].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        rows = rows[np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")]
        state = self.frame.iloc[rows]
        names = np.asarray(self._label_names, dtype=object)
        marks = self._session.marks[rows]
        shown = self._shown_suggestions(rows)
        state = state.assign(
            original_label=pd.Categorical(names[self._session.original[rows]], categories=self._label_names),
            suggested_label=pd.Categorical.from_codes(shown, categories=self._label_names),
            review=np.where(marks == RELABELED, "relabeled", np.where(marks == CONFIRMED, "confirmed", "")),
        )
        columns = ["label", "original_label", "suggested_label", "confidence", "variability", "correctness",
                   "mislabel_score", "category", "review"]
        if self._data is None:
            return state[columns + [c for c in state.columns if c not in columns]]
        assert self._data_ids is not None
        # One data row per id (the first, as the texts use), in the order of the selection.
        first = ~pd.Index(self._data_ids).duplicated()
        where = pd.Index(self._data_ids[first]).get_indexer(state.index)
        found = where >= 0
        picked = self._data[first].iloc[where[found]].copy()
        for column in columns:
            picked[column] = state[column].to_numpy()[found]
        return picked

    @property
    def frame(self) -> pd.DataFrame:
        """The map's frame with the widget's current labels and reviewed flags."""
        frame = self._dmap.frame.copy()
        frame["label"] = pd.Categorical(self._session.current_names(), categories=self._label_names)
        frame["reviewed"] = self._session.reviewed
        return frame

    @property
    def current_labels(self) -> pd.Series:
        """The current label of every example (relabels included), indexed by id, in the map's order.

        The labels to train on next. A map from training (``handle.wait()``, ``tracker.datamap()``)
        keeps the labels the model trained on; the reviewer's relabels are here, in
        :attr:`changes` and in :meth:`apply`.
        """
        return pd.Series(
            pd.Categorical(self._session.current_names(), categories=self._label_names),
            index=self._ids.copy(), name="label",
        )

    def relabels_for(self, tracker: Any) -> int:
        """How many labels this widget changed, if it follows ``tracker`` (else 0): read by ``handle.wait()``."""
        if self._tracker is not tracker or self._unsubscribe is None:
            return 0
        return int(np.count_nonzero(self._session.codes != self._session.original))

    @property
    def datamap(self) -> Any:
        """The DataMap currently drawn (the latest one while a tracker feeds the widget)."""
        return self._dmap

    # ---------------------------------------------------------------- actions
    def relabel(self, ids: Any, label: str | int) -> None:
        """Give the examples ``ids`` the label ``label`` (a name or code) and mark them reviewed."""
        rows = self._rows_of(ids, "ids")
        code = self._session.label_code(label)
        self._session.relabel(rows, code)
        self._after_action(rows)

    def mark_reviewed(self, ids: Any) -> None:
        """Mark ``ids`` as reviewed (label confirmed as it is)."""
        rows = self._rows_of(ids, "ids")
        self._session.confirm(rows)
        self._after_action(rows)

    def _shown_suggestions(self, rows: np.ndarray) -> np.ndarray:
        """The suggestion the screen shows for each of ``rows`` (a label code), -1 where it shows none.

        None where the map offers no other label (not confident, or never seen) and where the
        current label already is the suggestion (accepted: nothing left to suggest), so the
        table, the pane, the tooltip, the ``a`` key, :meth:`accept_suggestions` and
        :attr:`selected` show one suggestion.
        """
        offered = self._offered[rows]
        return np.where(offered == self._session.codes[rows], -1, offered)

    def _accept_plan(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """``rows`` sorted for a bulk accept: ``open`` (unreviewed, with a suggestion), ``reviewed``
        (a person's decision, with a suggestion that would undo it), ``none`` (no suggestion shown)."""
        shown = self._shown_suggestions(rows)
        has = shown >= 0
        decided = self._session.reviewed[rows]
        return {"open": rows[has & ~decided], "reviewed": rows[has & decided], "none": rows[~has]}

    def accept_preview(self, ids: Any) -> dict[str, int]:
        """What :meth:`accept_suggestions` would do to ``ids``.

        ``change``: labels it changes by default; ``reviewed``: examples a person already decided
        (confirmed or relabeled, here or in the store) whose suggestion differs: kept as they are
        unless ``include_reviewed=True``; ``no_suggestion``: examples the map suggests nothing
        else for (or whose label already is the suggestion); ``unknown``: of those, the ones never
        seen in training; ``unlearned``: of the changes, those moving an example out of a class
        the map never learned (see :attr:`DataMap.unlearned_classes`), whose suggestions are unreliable.
        """
        rows = self._rows_of(ids, "ids")
        plan = self._accept_plan(rows)
        unseen = int(self._unseen[plan["none"]].sum())
        unlearned = [c["code"] for c in self.unlearned]
        return {"change": int(plan["open"].size), "reviewed": int(plan["reviewed"].size),
                "no_suggestion": int(plan["none"].size), "unknown": unseen,
                "unlearned": int(np.isin(self._session.codes[plan["open"]], unlearned).sum())}

    def accept_suggestions(self, ids: Any, include_reviewed: bool = False) -> int:
        """Give each of ``ids`` the suggestion the map shows for it (one undo step); returns how many labels changed.

        A person's decisions stay: examples already reviewed (confirmed or relabeled, in this
        session or loaded from the store) are left alone unless ``include_reviewed=True``.
        Examples without a suggestion (the map offers no other label, or never saw them) are
        left alone too. :meth:`accept_preview` says how many fall in each group.
        """
        if not isinstance(include_reviewed, (bool, np.bool_)):
            raise TypeError(f"include_reviewed must be a bool, got {type(include_reviewed).__name__} {include_reviewed!r}.")
        rows = self._rows_of(ids, "ids")
        plan = self._accept_plan(rows)
        change = np.concatenate([plan["open"], plan["reviewed"]]) if include_reviewed else plan["open"]
        change = np.sort(change)
        if not change.size:
            return 0
        self._session.relabel(change, self._offered[change].astype(LABEL_DTYPE))
        self._after_action(change)
        return int(change.size)

    def undo(self) -> bool:
        """Take back the last action (from the UI or Python). Returns False when there is none."""
        return self._undo() is not None

    def _undo(self) -> np.ndarray | None:
        """Undo the last action; its row positions, or None when there was none."""
        rows = self._session.undo()
        if rows is not None:
            self._after_action(rows)
        return rows

    def _publish_review_state(self) -> None:
        """Send the session's labels, marks and store status to the front end in one message."""
        session = self._session
        with self.hold_sync():
            self.labels = _to_bytes(session.codes, LABEL_DTYPE)
            self.reviewed = _to_bytes(session.marks, REVIEWED_DTYPE)
            self.history_size = len(session.history)
            if session.store is not None:
                self.save_status = session.save_status
            self._publish_summary()

    def _publish_summary(self) -> None:
        session = self._session
        exported, at = self._exported or ("", -1)
        self.review_summary = {
            "changed": int(np.count_nonzero(session.codes != session.original)),
            "reviewed": int(np.count_nonzero(session.reviewed)),
            "store": _store_name(self._store),
            "exported": exported,
            "exported_current": bool(exported) and at == self._revision,
        }

    def _after_action(self, rows: np.ndarray) -> None:
        """The session has written through to the store: tell the DataMap, then the front end (one message)."""
        self._revision += 1
        self._sync_dmap_reviewed(rows)
        with self.hold_sync():
            self._publish_review_state()
            self._rerank()

    def _sync_dmap_reviewed(self, rows: np.ndarray | None = None) -> None:
        """Keep the DataMap's reviewed marks and reviewed labels in step with the widget, so
        ``dmap.suspects()`` agrees (and a score that learns from reviews re-scores)."""
        mark = getattr(self._dmap, "mark_reviewed", None)
        if mark is None:
            return
        rows = np.arange(len(self._ids)) if rows is None else rows
        reviewed = self._session.reviewed
        codes = self._session.codes
        on = rows[reviewed[rows]]
        off = rows[~reviewed[rows]]
        if on.size:
            mark(self._ids[on], True, labels=codes[on])
        if off.size:
            mark(self._ids[off], False, labels=codes[off])

    def _rerank(self) -> None:
        """Send the suspects' order the reviews gave (a map whose score learns from them; else nothing).

        Reviewed rows and the current document keep their places in the table, so the
        reviewer's place and what the pane shows never move; the other rows are re-sorted by
        their new scores into the remaining places.
        """
        if not getattr(self._dmap, "learns_from_reviews", False):
            return
        score = np.asarray(self._dmap.frame["mislabel_score"], dtype=np.float64)
        pinned = self._session.reviewed.copy()
        if 0 <= self._current_row < len(pinned):
            pinned[self._current_row] = True
        order = _rerank_order(self._order, score, pinned)
        if not np.array_equal(order, self._order):
            self._order = order
            self.order = _to_bytes(order, POINT_DTYPES["order"])

    def _restore_from_store(self, dmap: Any) -> None:
        """Show what earlier sessions did on this dataset: the labels and reviewed marks of the store's log."""
        store = self._store
        if not (hasattr(store, "current_labels") and hasattr(store, "apply_reviews")):
            return  # a minimal store that only takes writes
        try:
            current = store.current_labels(self._dataset, base=dmap)
            reviewed = store.apply_reviews(dmap, self._dataset, run=self._run)
        except Exception as exc:  # the store is down: the map still works, the status says what is missing
            self.save_status = f"earlier reviews could not be read: {type(exc).__name__}: {exc}"
            warnings.warn(f"DataMapWidget: {self.save_status}", RuntimeWarning, stacklevel=3)
            return
        self._session.restore(current, reviewed)
        session = self._session
        # The store's reviews and relabels reach the map (and a score that learns from them).
        self._sync_dmap_reviewed(np.flatnonzero(session.reviewed | (session.codes != session.original)))
        with self.hold_sync():
            self._publish_review_state()
            self._rerank()

    def export_labels(self, path: str | pathlib.Path | None = None) -> pathlib.Path:
        """Write the corrected labels to ``path`` (``.csv`` or ``.parquet``), whole or not at all.

        One row per example, in the map's order: ``id``, ``label`` (current), ``original_label``,
        ``changed`` and ``reviewed`` (confirmed or relabeled). The default path is
        ``datamap-labels.csv`` in the working folder (a notebook's own folder); an existing file
        there is replaced. Returns the path written. The widget's "Save labels…" button calls this.
        """
        target = pathlib.Path(EXPORT_NAME if path is None else path)
        suffix = target.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise ValueError(f"path must end in .csv or .parquet, got {str(target)!r}.")
        session = self._session
        names = np.asarray(self._label_names, dtype=object)
        table = pd.DataFrame(
            {
                "id": self._ids.to_numpy(),
                "label": names[session.codes],
                "original_label": names[session.original],
                "changed": session.codes != session.original,
                "reviewed": np.asarray(session.reviewed, dtype=bool),
            }
        )
        with atomic_paths(target) as (temporary,):  # an earlier export stays whole if this one fails
            if suffix == ".csv":
                # Every str cell quoted: a line break or carriage return inside an id stays in its cell.
                table.to_csv(temporary, index=False, quoting=csv.QUOTE_NONNUMERIC)
            else:
                table.to_parquet(temporary, index=False)
        written = target.resolve()
        self._exported = (str(written), self._revision)
        self._publish_summary()
        return written

    @property
    def conflicts(self) -> pd.DataFrame:
        """Changes the store refused because another reviewer changed the example first: id, your_label, current_label, at."""
        return self._session.conflicts_frame

    def retry_save(self) -> bool:
        """Try again to write pending actions to the store. Returns True when nothing is left pending."""
        done = self._session.flush()
        self._publish_review_state()  # a conflict found now may have changed labels
        return done

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Review rows not yet written to the store."""
        return list(self._session.pending)

    @property
    def changes(self) -> pd.DataFrame:
        """Actions in effect (undone ones left out), one row per example and action: id, old_label, new_label, action, at."""
        return self._session.changes()

    def apply(self, df: pd.DataFrame, label_column: str = "label", *, codes: Any = None, id_column: str | None = None) -> pd.DataFrame:
        """A copy of ``df`` with the relabels written into ``label_column``; ``df`` itself is untouched.

        Rows are matched by ``id_column`` (default: the widget's ``id_column``; else the index).
        ids that match none of the map's raise ValueError (naming what was tried, with an id
        from each side); relabeled ids missing from ``df`` warn, since their new labels cannot
        be written. Only rows somebody relabeled
        change, and the column keeps its dtype: names for a str/object column, a category
        for a categorical (gaining new categories when needed), and for an integer column
        the integer of each new label's name, read from ``codes`` (a dict name -> int, or
        the names in code order) or else from the column itself (the values its unchanged
        rows hold for each name); a mapping that is not one to one raises ValueError.
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}.")
        column = self._id_column if id_column is None else id_column
        df_ids = df[column] if column in df.columns else pd.Series(df.index, index=df.index)
        if len(df_ids):
            rows = self._ids.get_indexer(pd.Index(df_ids))
            if not (rows >= 0).any():
                raise ValueError(_id_mismatch(df, df_ids, self._ids, column, "df") + ".")
            relabeled = np.flatnonzero(self._session.codes != self._session.original)
            lost = relabeled[~np.isin(relabeled, rows)]
            if len(lost):
                where = f"its column {column!r}" if column in df.columns else "its index"
                warnings.warn(
                    f"{len(lost)} of the {len(relabeled)} relabeled ids {'is' if len(lost) == 1 else 'are'} not in "
                    f"df's {where[4:]} (e.g. {describe_ids(self._ids[lost].to_numpy(), 3)}; df has "
                    f"{describe_ids(df_ids.to_numpy(), 3)}): their new labels were not written.",
                    UserWarning,
                    stacklevel=2,
                )
        return self._session.apply(df, df_ids, label_column, codes=codes)

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
        if method == "document":
            return self._document(args.get("row"), bool(args.get("all", False))), []
        if method == "search":
            hits = self._search(str(args.get("query", "")))
            return {"count": int(hits.size)}, [_to_bytes(hits, SELECTION_DTYPE)]
        rows = _from_bytes(buffers[0] if buffers else None, SELECTION_DTYPE).astype(np.int64)
        if rows.size and rows.max() >= len(self._ids):
            raise ValueError(f"row index {int(rows.max())} is out of range for {len(self._ids)} points.")
        current = args.get("current")
        valid = isinstance(current, int) and not isinstance(current, bool) and 0 <= current < len(self._ids)
        self._current_row = current if valid else -1
        try:
            return self._handle_action(method, args, rows)
        finally:
            self._current_row = -1

    def _handle_action(self, method: str, args: dict, rows: np.ndarray) -> tuple[Any, list[bytes]]:
        if method == "relabel":
            self.relabel(self._ids[rows], args.get("label"))
            return {"history_size": self.history_size, "save_status": self.save_status}, []
        if method == "mark_reviewed":
            self.mark_reviewed(self._ids[rows])
            return {"history_size": self.history_size, "save_status": self.save_status}, []
        if method == "accept_preview":
            return self.accept_preview(self._ids[rows]), []
        if method == "accept_suggestions":
            changed = self.accept_suggestions(self._ids[rows], include_reviewed=args.get("include_reviewed") is True)
            return {"changed": changed, "history_size": self.history_size, "save_status": self.save_status}, []
        if method == "undo":
            # The undone rows come back so the pane can show the document whose action was undone.
            undone = self._undo()
            rows = np.zeros(0, dtype=np.int64) if undone is None else np.asarray(undone, dtype=np.int64)
            return {"undone": undone is not None, "history_size": self.history_size}, [_to_bytes(rows, SELECTION_DTYPE)]
        if method == "projection":
            return self._make_projection(), []
        if method == "retry_save":
            return {"saved": self.retry_save(), "save_status": self.save_status}, []
        if method == "save_labels":
            path = self.export_labels()
            summary = self.review_summary
            return {"path": str(path), "rows": len(self._ids), "changed": summary["changed"]}, []
        raise ValueError(
            f"unknown request method {method!r}; expected page, document, search, projection, relabel, mark_reviewed, "
            "accept_preview, accept_suggestions, undo, retry_save or save_labels."
        )

    def _page(self, rows: np.ndarray, full: bool) -> dict[str, Any]:
        """Ids, texts (cut to PREVIEW_CHARS, or MAX_TEXT_CHARS with ``full``) and scores of some rows."""
        limit = MAX_FULL_ROWS if full else MAX_PAGE_ROWS
        if rows.size > limit:
            what = "full-text page" if full else "page"
            raise ValueError(f"a {what} holds at most {limit} rows, got {rows.size}.")
        if rows.size and (rows.min() < 0 or rows.max() >= len(self._ids)):
            raise ValueError(f"row indices must lie in 0..{len(self._ids) - 1}.")
        cap = MAX_TEXT_CHARS if full else PREVIEW_CHARS
        texts = [str(t) for t in self._texts[rows]]
        lengths = [len(t) for t in texts]
        score = self._dmap.frame["mislabel_score"].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        return {
            "rows": rows.tolist(),
            "ids": [str(i) for i in self._ids[rows]],
            "texts": [t if len(t) <= cap else t[:cap] + "…" for t in texts],
            "truncated": [n > cap for n in lengths],
            "lengths": lengths,
            "scores": [None if np.isnan(s) else float(s) for s in score],
        }

    def _document(self, row: Any, whole: bool) -> dict[str, Any]:
        """One document for the detail pane: its text (bounded unless ``whole``) and its training history."""
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < len(self._ids):
            raise ValueError(f"row must be an int in 0..{len(self._ids) - 1}, got {row!r}.")
        page = self._page(np.array([row]), full=True)
        text = str(self._texts[row])
        if whole:
            page["texts"], page["truncated"] = [text], [False]
        traj = getattr(self._dmap, "trajectories", None) or {}
        gold = np.asarray(traj.get("gold_prob", np.zeros((len(self._ids), 0))), dtype=np.float64)[row]
        classes: list[list[Any]] = []
        classes_from = "last pass"
        seen = np.flatnonzero(~np.isnan(gold))
        probs = getattr(self._dmap, "class_probabilities", None)
        if probs is not None and seen.size and np.isfinite(probs[row]).all():
            # The mean over the passes of the whole distribution: the reviewer sees which
            # classes the model hesitated between, not just the gold label and one other.
            mean = np.asarray(probs[row], dtype=np.float64)
            top = np.argsort(-mean, kind="stable")[:PANE_CLASSES]
            classes = [[self._label_names[int(c)], float(mean[c])] for c in top]
            classes_from = "mean"
        elif seen.size:
            # The model's view in the last pass that saw the example: the gold label and the best other class
            # (the tracker keeps these two per pass, not the whole distribution).
            last = int(seen[-1])
            label = self._label_names[int(self._session.original[row])]
            classes.append([label, float(gold[last])])
            other = np.asarray(traj.get("other_class"))[row, last] if "other_class" in traj else -1
            if other >= 0:
                classes.append([self._label_names[int(other)], float(np.asarray(traj["other_prob"])[row, last])])
            classes.sort(key=lambda c: -c[1])
        return {
            "row": row,
            "id": page["ids"][0],
            "text": page["texts"][0],
            "truncated": page["truncated"][0],
            "length": page["lengths"][0],
            "score": page["scores"][0],
            "gold_prob": [None if np.isnan(p) else float(p) for p in gold],
            "classes": classes,
            "classes_from": classes_from,
            "gold_label": self._label_names[int(self._session.original[row])],
            "neighbors": self._pane_neighbours(row),
            "reading": self._pane_reading(row),
            "text_view": self._pane_text_view(row),
        }

    def _pane_reading(self, row: int) -> dict[str, Any] | None:
        """How much of this document the model read, and how (a long text's head only, say)."""
        share = getattr(self._dmap, "share_read", None)
        reading = getattr(self._dmap, "reading", None) or {}
        if share is None or not np.isfinite(share[row]):
            return None
        return {"share": float(share[row]), "mode": str(reading.get("mode", "")), "max_length": reading.get("max_length")}

    def _pane_text_view(self, row: int) -> list[list[Any]]:
        """The text view's top classes for this document (a bag of words that read every word
        and never saw its label), most probable first; empty without a text view."""
        probs = getattr(self._dmap, "text_probabilities", None)
        if probs is None or not np.isfinite(probs[row]).all():
            return []
        top = np.argsort(-probs[row], kind="stable")[:PANE_CLASSES]
        return [[self._label_names[int(c)], float(probs[row][c])] for c in top]

    def _pane_neighbours(self, row: int) -> dict[str, Any] | None:
        """The current document's nearest examples in embedding space, with their *current* labels
        (relabels included) and a one-line summary; None when the map has no embeddings."""
        embeddings = getattr(self._dmap, "embeddings", None)
        if embeddings is None or len(self._ids) < 2:
            return None
        k = min(PANE_NEIGHBOURS, len(self._ids) - 1)
        index = getattr(self._dmap, "neighbour_index", None)  # normalised once per map, not per request
        if index is not None:
            found, similarity = index.search(np.array([row]), k)
        else:
            found, similarity = nearest_neighbours(embeddings, k, rows=np.array([row]))
        keep = found[0] >= 0
        rows, sims = found[0][keep], similarity[0][keep]
        names = np.asarray(self._label_names, dtype=object)[self._session.codes[rows]]
        texts = [str(t) for t in self._texts[rows]]
        items = [
            {
                "row": int(r),
                "id": str(i),
                "label": str(name),
                "text": t if len(t) <= PREVIEW_CHARS else t[:PREVIEW_CHARS] + "…",
                "similarity": float(s),
            }
            for r, i, name, t, s in zip(rows, self._ids[rows], names, texts, sims)  # at most PANE_NEIGHBOURS
        ]
        return {"items": items, "summary": neighbour_summary([it["label"] for it in items])}

    def _search(self, query: str) -> np.ndarray:
        """Row indices whose text or id contains ``query`` (case-insensitive), in row order."""
        if not query:
            return np.arange(len(self._ids), dtype=np.int64)
        in_text = self._texts_series.str.contains(query, case=False, regex=False, na=False).to_numpy()
        if self._ids_str is None:
            self._ids_str = pd.Series(self._ids.astype(str), dtype=object)
        in_id = self._ids_str.str.contains(query, case=False, regex=False).to_numpy()
        return np.flatnonzero(in_text | in_id)
