"""The DataMapWidget class: its traits, its public actions, and the review state it shows.

Review state (labels, marks, undo, store writes) lives in :class:`~datamap_widget.review.ReviewSession`;
the widget listens to it and translates between it and the wire (:mod:`._wire`). The DataMap it
is given never changes; :attr:`DataMapWidget.datamap` is a view of it that reads the session
(:meth:`DataMap.with_review <datamap_widget.datamap.DataMap.with_review>`). The user's texts and the
payloads built from them are :mod:`._documents`; following a tracker is :mod:`._live`; the
browser's requests go through :mod:`._router`. The metric math is the map's
(:class:`~datamap_widget.datamap.DataMap`) and the suspects' order :mod:`datamap_widget.ranking`'s.
"""

from __future__ import annotations

import contextlib
import csv
import pathlib
import warnings
from collections.abc import Iterator
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from ..atomic import atomic_paths
from ..background import watch_relabels
from ..datamap import DataMap, unlearned_summary
from ..dependencies import install_command
from ..ids import describe_ids, unknown_ids_error
from ..labels import label_codes
from ..metrics import CATEGORIES, DEFAULT_THRESHOLDS
from ..projection import FALLBACK_PROJECTION, resolve_method
from ..ranking import suspect_order
from ..review import CONFIRMED, RELABELED, ReviewSession, check_run
from . import _router
from ._config import (
    COLOR_BY,
    EAGER_PROJECTION_MAX,
    EMPTY_FILTERS,
    EXPORT_NAME,
    MAP_VIEWS,
    MAX_LABELS,
    NO_LABEL,
    SETTABLE,
    browser_config,
)
from ._documents import Documents, category_codes
from ._row_text import encode_row_text
from ._live import LiveUpdates, is_tracker
from ._wire import BINARY_TRAIT, LABEL_DTYPE, POINT_DTYPES, REVIEWED_DTYPE, SELECTION_DTYPE, encode_points, from_bytes, to_bytes

# The review methods below (relabel … apply) are moved verbatim from the former widget.py while
# review.ReviewSession becomes the one owner of review state; these are the names their bodies use.
from ..ranking import rerank_order as _rerank_order
from ._documents import id_mismatch as _id_mismatch
from ._wire import to_bytes as _to_bytes

_STATIC = pathlib.Path(__file__).parent.parent / "static"


def _check_storable(ids: pd.Index, label_names: list[str]) -> None:
    """Refuse, before any review, str ids and label names no store backend can keep (a NUL, a
    lone surrogate): every action on one would be refused by the store, only later."""
    from ..store import unstorable_text

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


def _label_codes(names: Any, label_names: list[str], argument: str) -> np.ndarray:
    """Label names -> uint16 codes (the wire's); a name not in ``label_names`` raises ValueError."""
    return label_codes(np.asarray(names, dtype=object).astype(str), label_names, argument).astype(LABEL_DTYPE)


@contextlib.contextmanager
def _quiet(following: bool) -> Iterator[None]:
    """A tracker's map mid-training warns (after one pass variability is 0): the pass counter says as much."""
    with warnings.catch_warnings():
        if following:
            warnings.simplefilter("ignore", UserWarning)
        yield


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
    label_column : str, default "label"
        The label column of the frames :meth:`apply` writes (its default there).
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

    points = traitlets.Dict(help="Per-point columns as little-endian bytes; see the wire format in datamap_widget.widget._wire.").tag(sync=True)
    labels = traitlets.Bytes(b"", help="uint16 current label code per point.").tag(**BINARY_TRAIT)
    reviewed = traitlets.Bytes(b"", help="uint8 review mark per point: 0 not reviewed, 1 confirmed, 2 relabeled.").tag(**BINARY_TRAIT)
    selection = traitlets.Bytes(b"", help="uint32 selected row indices.").tag(**BINARY_TRAIT)
    order = traitlets.Bytes(b"", help="uint32 suspect order after re-ranking from reviews; empty: points['order'].").tag(**BINARY_TRAIT)
    label_names = traitlets.List(traitlets.Unicode(), help="Label names; codes index this list.").tag(sync=True)
    categories = traitlets.List(traitlets.Unicode(), default_value=list(CATEGORIES)).tag(sync=True)
    thresholds = traitlets.Dict(default_value=dict(DEFAULT_THRESHOLDS), help="Region guides.").tag(sync=True)
    n_passes = traitlets.Int(0, help="Closed training passes behind the map.").tag(sync=True)
    color_by = traitlets.Unicode("correctness", help=f"One of {COLOR_BY}.").tag(sync=True)
    config = traitlets.Dict(help="Every constant the browser needs (browser_config()), sent once.").tag(sync=True)
    filters = traitlets.Dict(
        default_value=EMPTY_FILTERS,
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

    unlearned = traitlets.List(
        help='Classes the map never learned: [{"label", "code", "count"}] (datamap.unlearned_summary).',
    ).tag(sync=True)
    row_text = traitlets.Dict(
        help="Every row's id and a short text preview as binary buffers (see widget._row_text): "
        "the table shows them at once, also while a cell keeps the kernel busy.",
    ).tag(sync=True)
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
        label_column: str = "label",
        **kwargs: Any,
    ) -> None:
        self._live: LiveUpdates | None = None  # first: close() runs from __del__ even when __init__ fails
        unknown = set(kwargs) - set(SETTABLE)
        if unknown:
            raise TypeError(
                f"DataMapWidget() got unexpected keyword arguments {sorted(unknown)}; check the spelling "
                f"(expected data, text_column, id_column, label_column, store, dataset, reviewer, run, {', '.join(SETTABLE)})."
            )
        initial_selection = kwargs.pop("selected_ids", None)
        if store is not None and not dataset:
            raise ValueError("dataset must name the dataset when store is given (got dataset=None).")
        if data is not None and not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame or None, got {type(data).__name__}.")
        if not is_tracker(dmap_or_tracker) and is_tracker(getattr(dmap_or_tracker, "tracker", None)):
            dmap_or_tracker = dmap_or_tracker.tracker  # a TrainingHandle: follow the tracker it feeds
        tracker = dmap_or_tracker if is_tracker(dmap_or_tracker) else None
        if tracker is None and not isinstance(dmap_or_tracker, DataMap):
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
        self._label_column = label_column

        with _quiet(tracker is not None):
            dmap: DataMap = tracker.datamap() if tracker is not None else dmap_or_tracker
            label_names = [str(n) for n in dmap.label_names]
            if len(label_names) > MAX_LABELS:
                raise ValueError(f"at most {MAX_LABELS} labels are supported, got {len(label_names)}.")
            ids = pd.Index(dmap.frame.index)
            if store is not None:
                _check_storable(ids, label_names)
            documents = Documents(dmap, label_names, data, text_column, id_column)
        #: The map drawn now (a tracker's latest); its ids fix the row order for the widget's life.
        self._dmap = dmap
        self._map_ids = dmap.ids
        self._ids = ids
        self._label_names = label_names
        self._documents = documents
        self._data_ids = documents.data_ids
        self._texts_series = documents.texts_series
        self._session = ReviewSession(
            ids, label_names, _label_codes(dmap.frame["label"], label_names, "label"),
            np.asarray(dmap.frame["reviewed"], dtype=bool).astype(np.uint8) * CONFIRMED,
            store=store, dataset=dataset, reviewer=reviewer, run=run,
        )
        self._session.subscribe(self._after_action)  # every change of the review reaches the front end
        # Set from each map by _set_map: the suspects' order, the suggestion shown per row
        # (a label code, -1 for none) and the rows never seen in training.
        self._order = np.zeros(0, dtype=np.int64)
        self._offered = np.full(len(ids), -1, dtype=np.int64)
        self._unseen = np.zeros(len(ids), dtype=bool)
        self._syncing_selection = False
        self._current_row = -1  # the pane's document while an action from the front end runs
        # The last "Save labels" file and the labels and marks it holds: the screen says "saved"
        # while the session holds the same (also after undoing back to it), not after N actions.
        self._exported: tuple[str, np.ndarray, np.ndarray] | None = None
        super().__init__(
            config=browser_config(), label_names=list(label_names), has_text=data is not None,
            row_text=encode_row_text(ids, documents.texts if data is not None else None), **kwargs,
        )
        if tracker is not None:
            self._live = LiveUpdates(tracker, lambda new: self._set_map(new), self._show_progress)

        self._publish_review_state()
        with _quiet(tracker is not None):
            self._set_map(dmap)
        if store is not None:
            self._restore_from_store(dmap)
        self.observe(self._on_selection, names="selection")
        self.observe(self._on_selected_ids, names="selected_ids")
        self.on_msg(self._on_custom_msg)
        if initial_selection is not None:
            self.selected_ids = list(initial_selection)
        if self._live is not None:
            self.live = True
            self._live.start()
            watch_relabels(self)  # handle.wait() warns that its map lacks this widget's relabels

    # ---------------------------------------------------------------- the map
    def _set_map(self, dmap: DataMap) -> None:
        """Serialize the map's metric columns into the ``points`` trait (holding the review's lock,
        so a front-end request answered on another thread waits for the whole redraw)."""
        with self._session.lock:
            self._draw_map(dmap)

    def _draw_map(self, dmap: DataMap) -> None:
        frame = dmap.frame
        if dmap.ids is not self._map_ids and (len(frame) != len(self._ids) or not frame.index.equals(self._ids)):
            raise ValueError("the tracker's map changed its ids; a widget follows one fixed set of examples.")
        # A view that reads the session: the map given stays as it was (a review never changes it).
        self._dmap = dmap.with_review(self._session)
        score = np.asarray(frame["mislabel_score"], dtype=np.float64)
        order = suspect_order(score)
        category = category_codes(frame["category"], CATEGORIES)
        category = np.where(category < 0, 255, category)
        raw = category_codes(frame["suggested_label"], self._label_names)
        # The suggestion the map shows: another label, where the map calls it confident (enough
        # passes backed it, metrics.SUGGESTION_MIN_SUPPORT); none elsewhere (-1, sent as
        # MAX_LABELS), never the given label dressed as a suggestion. One array for the screen,
        # the `a` key, accept_suggestions and `selected`, so all agree (issue 29.2).
        confident = frame["suggestion_confident"].to_numpy(dtype=bool)
        self._offered = np.where(confident & (raw >= 0), raw, -1)
        self._unseen = raw < 0
        columns = {
            "x": frame["variability"].to_numpy(dtype=np.float32, na_value=np.nan),
            "y": frame["confidence"].to_numpy(dtype=np.float32, na_value=np.nan),
            "correctness": frame["correctness"].to_numpy(dtype=np.float32, na_value=np.nan),
            "order": order,
            "suggested": np.where(self._offered < 0, NO_LABEL, self._offered),
            "category": category,
        }
        coords, embedding_view = self._projection_of(dmap)
        points = encode_points(columns, coords)
        self._order = order.astype(np.int64)
        with self.hold_sync():
            self.n_passes = dmap.n_passes
            self.thresholds = {k: float(v) for k, v in dmap.thresholds.items()}
            self.embedding_view = embedding_view
            self.unlearned = unlearned_summary(dmap)
            self.points = points
            self.order = b""
            if self._session.reviewed.any():
                self._rerank()  # a new pass's scores, with what was reviewed so far

    def _projection_of(self, dmap: DataMap) -> tuple[np.ndarray | None, dict[str, str]]:
        """The map's 2-D projection (made once per map, see DataMap.projection) and the embedding_view trait.

        No embeddings, or too few, is no error here: the view switch says why it is off.
        """
        if dmap.embeddings is None:
            reason = (
                "The embedding view needs the sentence embeddings the training run records in its last pass: "
                "it appears when training reaches it (train with embeddings=True)."
                if self._live is not None
                else "This map has no embeddings, so there is no embedding view: train with embeddings=True "
                "(the default of train_datamap) or pass embeddings= to Tracker.record."
            )
            return None, {"method": "", "reason": reason, "note": ""}
        if dmap.projection_method is None and len(dmap) > EAGER_PROJECTION_MAX:
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
        if dmap.embeddings is None:
            raise ValueError(self.embedding_view.get("reason") or "this map has no embeddings")
        dmap.projection()  # kept on the map: _set_map finds it made
        self._set_map(dmap)
        return {"method": str(dmap.projection_method)}

    # ----------------------------------------------------------- live updates
    def _show_progress(self, progress: dict, live: bool) -> None:
        """Show the feeding training's progress, and whether it may still add passes (one message)."""
        with self.hold_sync():
            self.progress = progress
            self.live = live

    def close(self) -> None:
        """Stop following the tracker and close the widget."""
        if self._live is not None:
            self._live.close()
        super().close()

    def relabels_for(self, tracker: Any) -> int:
        """How many labels this widget changed, if it follows ``tracker`` (else 0): read by ``handle.wait()``."""
        if self._live is None or self._live.tracker is not tracker or not self._live.following:
            return 0
        return int(np.count_nonzero(self._session.codes != self._session.original))

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
            raise unknown_ids_error(argument, bad, hint=f"expected ids of the data map, e.g. {describe_ids(self._ids, 3)}")
        return np.unique(rows)

    def _selection_rows(self) -> np.ndarray:
        return from_bytes(self.selection, SELECTION_DTYPE).astype(np.int64)

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
            self.selection = to_bytes(rows, SELECTION_DTYPE)
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
    def frame(self) -> pd.DataFrame:
        """The map's frame with the widget's current labels and reviewed flags."""
        frame = self._dmap.frame.copy()
        frame["label"] = pd.Categorical(self._session.current_names(), categories=self._label_names)
        frame["reviewed"] = self._session.reviewed
        return frame

    # ------------------------------------------------------------ review state
    # Moved verbatim from the former widget.py (review.ReviewSession is becoming the one owner of
    # review state); keep these together.
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
        rows = rows[suspect_order(score)]  # the table's order: most suspect first, unscored last
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

    @property
    def datamap(self) -> DataMap:
        """The DataMap currently drawn (the latest one while a tracker feeds the widget), as this
        widget's review sees it: a view (:meth:`DataMap.with_review`) whose ``suspects()``,
        ``frame`` and ``current_labels`` follow :attr:`review`. The map given is never changed."""
        return self._dmap

    @property
    def review(self) -> ReviewSession:
        """The :class:`~datamap_widget.review.ReviewSession` holding this widget's reviews, e.g. for
        ``dmap.suspects(review=w.review)`` or ``dmap.labels_after(w.review)``."""
        return self._session

    @property
    def changes(self) -> pd.DataFrame:
        """This session's actions in effect (undone ones left out), one row per example and action:
        id, old_label, new_label, action, at. Reviews restored from a store are in the labels
        (:attr:`current_labels`, :meth:`apply`) but not here: the whole log is ``store.reviews(dataset)``."""
        return self._session.changes()

    def apply(self, df: pd.DataFrame, label_column: str | None = None, *, codes: Any = None, id_column: str | None = None) -> pd.DataFrame:
        """A copy of ``df`` with the relabels written into ``label_column`` (default: the widget's
        ``label_column``, "label" unless set; a run folder's widget takes the run's); ``df`` itself is untouched.

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
        label_column = self._label_column if label_column is None else label_column
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

    def relabel(self, ids: Any, label: str | int) -> None:
        """Give the examples ``ids`` the label ``label`` (a name or code) and mark them reviewed."""
        rows = self._rows_of(ids, "ids")
        code = self._session.label_code(label)
        self._session.relabel(rows, code)  # the session tells _after_action

    def confirm(self, ids: Any) -> None:
        """Confirm ``ids``: their label is right as it is; they count as reviewed."""
        self._session.confirm(self._rows_of(ids, "ids"))  # the session tells _after_action

    def mark_reviewed(self, ids: Any) -> None:
        """Mark ``ids`` as reviewed, their label confirmed as it is: the same as :meth:`confirm`."""
        self.confirm(ids)

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
        self._session.relabel(change, self._offered[change].astype(LABEL_DTYPE))  # the session tells _after_action
        return int(change.size)

    def undo(self) -> bool:
        """Take back the last action (from the UI or Python). Returns False when there is none."""
        return self._undo() is not None

    def _undo(self) -> np.ndarray | None:
        """Undo the last action; its row positions, or None when there was none."""
        return self._session.undo()  # the session tells _after_action

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

    def _after_action(self, rows: np.ndarray) -> None:
        """The session's listener: it changed ``rows`` (and wrote through to the store); tell the front end (one message).

        Whoever changed the session (an action here or from the UI, an undo, a restore from the
        store, another reviewer's label found on a save), the screen and the order follow.
        """
        with self.hold_sync():
            self._publish_review_state()
            self._rerank()

    def _rerank(self) -> None:
        """Send the suspects' order the reviews gave (a map whose score learns from them; else nothing).

        Reviewed rows and the current document keep their places in the table, so the
        reviewer's place and what the pane shows never move; the other rows are re-sorted by
        their new scores into the remaining places.
        """
        if not self._dmap.learns_from_reviews:
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
        if not (hasattr(store, "current_labels") and hasattr(store, "reviewed_in")):
            return  # a minimal store that only takes writes
        try:
            current = store.current_labels(self._dataset, base=dmap)
            reviewed = store.reviewed_in(dmap, self._dataset, run=self._run)  # dmap itself is not changed
        except Exception as exc:  # the store is down: the map still works, the status says what is missing
            self.save_status = f"earlier reviews could not be read: {type(exc).__name__}: {exc}"
            warnings.warn(f"DataMapWidget: {self.save_status}", RuntimeWarning, stacklevel=3)
            return
        self._session.restore(current, reviewed)  # the session tells _after_action: screen, order and ranking follow

    # ------------------------------------------------------- more actions
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

    def _publish_summary(self) -> None:
        session = self._session
        exported = self._exported[0] if self._exported else ""
        current = self._exported is not None and (
            np.array_equal(self._exported[1], session.codes) and np.array_equal(self._exported[2], session.reviewed)
        )
        self.review_summary = {
            "changed": int(np.count_nonzero(session.codes != session.original)),
            "reviewed": int(np.count_nonzero(session.reviewed)),
            "store": _store_name(self._store),
            "exported": exported,
            "exported_current": bool(current),
        }

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
        self._exported = (str(written), session.codes.copy(), np.asarray(session.reviewed, dtype=bool).copy())
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

    # -------------------------------------------------------------- requests
    def _on_custom_msg(self, _widget: Any, content: Any, buffers: list) -> None:
        # ipykernel 7 with a front end that uses subshells answers widget messages on another
        # thread while a cell runs (one that may redraw this map): they take turns on one lock.
        with self._session.lock:
            _router.answer(self, content, buffers)

    def handle_request(self, method: str, args: dict, buffers: list) -> tuple[Any, list[bytes]]:
        """Answer one front-end request; returns (JSON result, binary buffers). See :data:`._router.ROUTES`."""
        return _router.handle(self, method, args, buffers)
