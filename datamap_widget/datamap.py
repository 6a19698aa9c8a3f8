"""DataMap: the result of tracking, as a pandas frame with suspects, save/load and views.

A DataMap keeps the per-pass trajectories it was computed from, so a saved map can be
re-scored later (:meth:`DataMap.rescore`) without training again.

A DataMap is a result: a review never changes it. The review state (current labels, marks,
undo) lives in a :class:`~datamap_widget.review.ReviewSession`; whatever depends on it takes
the session: ``dmap.suspects(review=session)`` leaves the reviewed out and, for a score that
learns from reviews, ranks with the reviewers' labels; ``dmap.labels_after(session)`` gives
the current labels; ``dmap.with_review(session)`` is a view of the map that reads the
session by default (a widget's ``w.datamap``).
"""

from __future__ import annotations

import copy
import errno
import json
import numbers
import os
import warnings
import weakref
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import metrics
from .atomic import atomic_open
from .ids import IdIndex, as_ids
from .labels import label_names_of
from .neighbours import NeighbourIndex
from .ranking import ReviewRanking, learns_from_reviews
from .review import UNREVIEWED, ReviewSession

if TYPE_CHECKING:  # pragma: no cover
    from .widget import DataMapWidget

__all__ = ["DataMap"]

#: pandas copy-on-write (always on from pandas 3): a shallow copy of a frame is then safe to hand out.
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or pd.get_option("mode.copy_on_write") is True

#: Version of the parquet layout written by :meth:`DataMap.to_parquet`.
PARQUET_FORMAT = 1
#: The map's file in a run folder (see :mod:`datamap_widget.run`), which :meth:`DataMap.read_parquet` opens
#: when given the folder.
DATAMAP_FILE = "datamap.parquet"
_METADATA_KEY = b"datamap_widget"

#: Columns of :attr:`DataMap.frame`, in order (the index is ``id``).
FRAME_COLUMNS = (
    "label",
    "confidence",
    "variability",
    "correctness",
    "category",
    "mislabel_score",
    "suggested_label",
    "suggestion_support",
    "suggestion_confident",
    "n_passes",
    "reviewed",
)


class DataMap:
    """Per-example cartography metrics of one training run.

    Usually made by :meth:`Tracker.datamap` or :func:`train_datamap`, or loaded with
    :meth:`DataMap.read_parquet`.

    Parameters
    ----------
    ids : (N,) unique str or int ids.
    labels : (N,) int codes into ``label_names`` (the gold labels the model was trained on).
    label_names : the class names.
    trajectories : the per-pass arrays, see :data:`datamap_widget.metrics.Trajectories`.
    method : which :data:`~datamap_widget.metrics.SCORE_METHODS` ranks suspects; default
        :data:`~datamap_widget.metrics.DEFAULT_METHOD`.
    thresholds : region rules, see :func:`datamap_widget.metrics.categorize`: ``"quantile"``
        (default: from this map's own confidence and variability, see
        :data:`~datamap_widget.metrics.REGION_QUANTILES`), ``"fixed"``
        (:data:`~datamap_widget.metrics.DEFAULT_THRESHOLDS`) or a mapping of values.
        :attr:`thresholds` holds the resolved values, so a saved map keeps its regions.
    reviewed : optional ids already reviewed when the map was made (e.g. per a store's log);
        :meth:`suspects` leaves them out, and a :class:`~datamap_widget.review.ReviewSession`
        made with :meth:`ReviewSession.for_map <datamap_widget.review.ReviewSession.for_map>`
        starts from them.
    id_index : an :class:`~datamap_widget.ids.IdIndex` of exactly these ids, when one exists
        already (the Tracker's): ids are then not checked and indexed a second time.
    embeddings : optional ``(N, D)`` sentence embeddings from the training passes (see
        :meth:`Tracker.record`), kept as float16; the neighbour-based scores need them.
    class_probabilities : optional ``(N, C)`` mean over the passes of each example's softmax
        over the ``C`` classes of ``label_names`` (see :attr:`class_probabilities`).
    text_probabilities : optional ``(N, C)`` out-of-fold class probabilities of the text view
        (:mod:`datamap_widget.text_view`); the ``text`` scores need them.
    reading : optional summary of what the model read of the texts (``long_text`` mode,
        ``max_length``, share of the tokens read…: ``fine_tune``'s ``settings["read"]``),
        kept with the map so the widget and the report can say it.
    share_read : optional ``(N,)`` share of each text's tokens the model read (1.0 for a
        text read whole), for the widget's pane.
    """

    def __init__(
        self,
        ids: Sequence[Any] | np.ndarray,
        labels: Sequence[int] | np.ndarray,
        label_names: Sequence[str],
        trajectories: Mapping[str, np.ndarray],
        method: str | None = None,
        thresholds: Mapping[str, float] | str | None = None,
        reviewed: Sequence[Any] | None = None,
        *,
        id_index: IdIndex | None = None,
        embeddings: np.ndarray | None = None,
        class_probabilities: np.ndarray | None = None,
        text_probabilities: np.ndarray | None = None,
        reading: Mapping[str, Any] | None = None,
        share_read: np.ndarray | None = None,
    ):
        if id_index is not None and id_index.ids is ids:
            self.ids = ids
        else:
            self.ids = as_ids(ids, "ids")
            id_index = None
        self._id_index_cache = id_index
        self.labels = np.asarray(labels, dtype=np.int64)
        self.label_names = [str(name) for name in label_names]
        self.method = method or metrics.DEFAULT_METHOD
        if self.method not in metrics.SCORE_METHODS:
            raise ValueError(f"method must be one of {sorted(metrics.SCORE_METHODS)}, got {self.method!r}")
        n = len(self.ids)
        if self.labels.shape != (n,):
            raise ValueError(f"labels has {len(self.labels)} entries but ids has {n}")
        self.trajectories = {name: np.asarray(trajectories[name]) for name in metrics.TRAJECTORY_FIELDS}
        for name, values in self.trajectories.items():
            if values.ndim != 2 or values.shape[0] != n:
                raise ValueError(f"trajectories[{name!r}] must have shape ({n}, T), got {values.shape}")
        self.thresholds = metrics.resolve_thresholds(thresholds, self.trajectories["gold_prob"])
        if embeddings is not None:
            embeddings = np.asarray(embeddings)
            if embeddings.ndim != 2 or embeddings.shape[0] != n:
                raise ValueError(f"embeddings must have shape ({n}, D), one row per id, got {embeddings.shape}")
            embeddings = embeddings.astype(np.float16, copy=False)
        self.embeddings = embeddings
        if class_probabilities is not None:
            class_probabilities = np.asarray(class_probabilities)
            expected = (n, len(self.label_names))
            if class_probabilities.shape != expected:
                raise ValueError(
                    f"class_probabilities must have shape {expected} (one row per id, one column per label name), "
                    f"got {class_probabilities.shape}"
                )
            if not np.issubdtype(class_probabilities.dtype, np.floating):
                raise TypeError(f"class_probabilities must be floats, got dtype {class_probabilities.dtype}")
            # A read-only view (the caller's array keeps its flags): rescored maps share it.
            class_probabilities = class_probabilities.astype(np.float32, copy=False).view()
            class_probabilities.flags.writeable = False
        #: ``(N, C)`` float32, rows in map order (:attr:`ids`), columns in :attr:`label_names`
        #: order: each example's softmax averaged over the passes it was seen in (within a pass,
        #: over its records), so a row sums to 1; NaN rows for examples never seen. None for a
        #: map without them (``Tracker(class_probabilities=False)``, an older parquet file, a
        #: map loaded from a Store). Read-only.
        self.class_probabilities: np.ndarray | None = class_probabilities
        #: ``(N, C)`` float32, rows in map order, columns in :attr:`label_names` order: the text
        #: view's out-of-fold class probabilities (a bag of words that read every word and never
        #: saw the example's label); None when the run had no text view. Read-only.
        self.text_probabilities: np.ndarray | None = _class_matrix(text_probabilities, n, self.label_names, "text_probabilities")
        #: What the model read of the texts (see ``reading`` above), or None.
        self.reading: dict[str, Any] | None = None if reading is None else dict(reading)
        if share_read is not None:
            share_read = np.asarray(share_read, dtype=np.float32)
            if share_read.shape != (n,):
                raise ValueError(f"share_read must have shape ({n},), one share per id, got {share_read.shape}")
            share_read = share_read.view()
            share_read.flags.writeable = False
        #: ``(N,)`` float32 share of each text's tokens the model read, or None. Read-only.
        self.share_read: np.ndarray | None = share_read
        if self.method in metrics.TEXT_METHODS and self.text_probabilities is None:
            raise ValueError(
                f"method {self.method!r} needs the text view's probabilities and this map has none; pick one of "
                f"{sorted(set(metrics.SCORE_METHODS) - set(metrics.TEXT_METHODS) - set(metrics.NEIGHBOUR_METHODS))} "
                "or train with text_view=True"
            )
        if self.method in metrics.NEIGHBOUR_METHODS and embeddings is None:
            raise ValueError(
                f"method {self.method!r} needs the embeddings recorded in training and this map has none; "
                f"pick one of {sorted(set(metrics.SCORE_METHODS) - set(metrics.NEIGHBOUR_METHODS))} "
                "or train with embeddings=True"
            )
        # What is computed once and shared with the views of this map (with_review): the frame,
        # the projection, the neighbour index and search, and one ranking per review session.
        self._shared = SimpleNamespace(
            frame=None, projection=None, projection_method=None, index=None, neighbours=None, unlearned=None,
            rankings=weakref.WeakKeyDictionary(), checked=weakref.WeakSet(),
        )
        # The marks the map was made with; a review never changes them (it lives in a session).
        base_reviewed = np.zeros(n, dtype=bool)
        if reviewed is not None and len(reviewed):
            base_reviewed[self.positions(reviewed, "reviewed")] = True
        base_reviewed.flags.writeable = False
        self._base_reviewed = base_reviewed
        # The session this map reads when none is passed: set by with_review (a view), or the
        # map's own one made by the deprecated mark_reviewed.
        self._review: ReviewSession | None = None
        self._own_review = False

    def __getstate__(self) -> dict[str, Any]:
        # A session (a lock, listeners) stays in its process: a pickled map keeps the marks it
        # reads now as the marks it was made with, and the caches but the per-session rankings.
        state = dict(self.__dict__)
        if self._review is not None:
            reviewed = np.asarray(self._review.reviewed, dtype=bool).copy()
            reviewed.flags.writeable = False
            state["_base_reviewed"] = reviewed
        state["_review"], state["_own_review"] = None, False
        state["_shared"] = {k: v for k, v in vars(self._shared).items() if k not in ("rankings", "checked")}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        shared = SimpleNamespace(**state.pop("_shared"), rankings=weakref.WeakKeyDictionary(), checked=weakref.WeakSet())
        self.__dict__.update(state, _shared=shared)

    # Caches live in _shared, so a view made by with_review and its map compute each once.
    _frame = property(lambda self: self._shared.frame, lambda self, v: setattr(self._shared, "frame", v))
    #: (N, 2) float32 from :meth:`projection`, made once and saved with the map.
    _projection = property(lambda self: self._shared.projection, lambda self, v: setattr(self._shared, "projection", v))
    _index = property(lambda self: self._shared.index, lambda self, v: setattr(self._shared, "index", v))

    @property
    def projection_method(self) -> str | None:
        """The method of the projection made by :meth:`projection` (None while none is made)."""
        return self._shared.projection_method

    @projection_method.setter
    def projection_method(self, value: str | None) -> None:
        self._shared.projection_method = value

    # ---------------------------------------------------------------- basics

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_passes(self) -> int:
        """Number of recorded passes (epochs)."""
        return self.trajectories["gold_prob"].shape[1]

    def __repr__(self) -> str:
        return (
            f"DataMap({len(self)} examples, {len(self.label_names)} classes, {self.n_passes} passes, "
            f"method={self.method!r})"
        )

    @property
    def frame(self) -> pd.DataFrame:
        """One row per example, indexed by ``id``, in training order.

        Columns: ``label`` (gold), ``confidence``, ``variability``, ``correctness`` (all in
        [0, 1]), ``category`` (one of :data:`~datamap_widget.metrics.CATEGORIES`, missing
        for an example never seen), ``mislabel_score`` (higher = more suspect),
        ``suggested_label`` (the label to offer: another class where the map shows one, else
        the example's own label; see :func:`~datamap_widget.metrics.suggest_labels`),
        ``suggestion_support`` (the early passes' mean probability of the suggested label),
        ``suggestion_confident`` (another label is shown: exactly where ``suggested_label``
        differs from ``label``), ``n_passes`` (passes the example was seen in) and ``reviewed``.

        ``reviewed`` holds the marks the map was made with; for a view made by
        :meth:`with_review` (a widget's ``w.datamap``), the session's marks, and
        ``mislabel_score`` the ranking that learned from its reviews (see :meth:`suspects`).
        """
        return self.reviewed_frame(self._review)

    def reviewed_frame(self, review: ReviewSession | None) -> pd.DataFrame:
        """:attr:`frame` as the review ``review`` (a :class:`~datamap_widget.review.ReviewSession` of
        this map's examples) sees it: its ``reviewed`` marks and, for a score that learns from
        reviews, the scores re-ranked with its labels. None: the map as it was made."""
        if self._frame is None:
            self._frame = self._build_frame()
        # A copy per call, so nobody's edits reach the map (or another caller's frame). Under
        # pandas' copy-on-write a shallow copy is enough and costs nothing; without it, a deep one.
        frame = self._frame.copy(deep=not _COPY_ON_WRITE)
        if review is None:
            frame["reviewed"] = self._base_reviewed.copy()
            return frame
        review = self._checked_review(review)
        frame["reviewed"] = np.asarray(review.reviewed, dtype=bool)  # a fresh array per read
        ranking = self._ranking_for(review)
        if ranking is not None:  # a neighbour score follows the reviews
            frame["mislabel_score"] = ranking.score.copy()
        return frame

    def _checked_review(self, review: Any, argument: str = "review") -> ReviewSession:
        """``review`` if it is a ReviewSession of exactly this map's ids, else a clear TypeError/ValueError."""
        if not isinstance(review, ReviewSession):
            raise TypeError(
                f"{argument} must be a ReviewSession (ReviewSession.for_map(dmap), or a widget's w.review) or None, "
                f"got {type(review).__name__}"
            )
        if review in self._shared.checked:
            return review
        if len(review.ids) != len(self) or not pd.Index(review.ids).equals(pd.Index(self.ids)):
            raise ValueError(
                f"{argument} reviews other examples than this map's ({len(review.ids)} ids, this map has {len(self)}); "
                "make it with ReviewSession.for_map(dmap)"
            )
        if list(review.label_names) != self.label_names:
            raise ValueError(f"{argument} has the labels {review.label_names}, this map {self.label_names}")
        self._shared.checked.add(review)
        return review

    def _ranking_for(self, review: ReviewSession) -> ReviewRanking | None:
        """The ranking of this map that follows ``review`` (made once per session), or None when the score does not learn."""
        if not self.learns_from_reviews:
            return None
        ranking = self._shared.rankings.get(review)
        if ranking is None:
            if self._frame is None:
                self._frame = self._build_frame()
            neighbours = self._shared.neighbours
            if neighbours is None:
                return None
            ranking = ReviewRanking(self.trajectories, self.labels, self.method, neighbours)
            ranking.follow(review)  # listens to the session: the scores follow each action
            self._shared.rankings[review] = ranking
        return ranking

    def with_review(self, review: ReviewSession) -> "DataMap":
        """A view of this map that reads ``review`` by default: its :attr:`frame`, :meth:`suspects` and
        :attr:`current_labels` follow the session as the reviewer works. This map is unchanged;
        the view shares its data and caches. A widget's ``w.datamap`` is such a view."""
        review = self._checked_review(review)
        view = copy.copy(self)
        view._review, view._own_review = review, False
        return view

    @property
    def review(self) -> ReviewSession | None:
        """The session this map reads by default (see :meth:`with_review`), or None."""
        return self._review

    def _build_frame(self) -> pd.DataFrame:
        neighbours = None
        if self.method in metrics.NEIGHBOUR_METHODS and len(self) >= 2:
            # Searched once, by the map's index: the score, the re-ranking and the pane share them.
            neighbours = self.neighbour_index.all_neighbours(min(metrics.KNN_K, len(self) - 1))[0]
        summary = metrics.summarize(
            self.trajectories, self.labels, len(self.label_names), self.method, self.thresholds,
            embeddings=self.embeddings, neighbours=neighbours, text_probabilities=self.text_probabilities,
        )
        self._shared.neighbours = neighbours  # a ranking that follows a review starts from them
        names = pd.Categorical.from_codes(self.labels, categories=self.label_names)
        suggested = pd.Categorical.from_codes(summary["suggested_label"], categories=self.label_names)
        category = pd.Categorical.from_codes(summary["category"], categories=list(metrics.CATEGORIES))
        index = pd.Index(self.ids, name="id")
        return pd.DataFrame(
            {
                "label": names,
                "confidence": summary["confidence"],
                "variability": summary["variability"],
                "correctness": summary["correctness"],
                "category": category,
                "mislabel_score": summary["mislabel_score"],
                "suggested_label": suggested,
                "suggestion_support": summary["suggestion_support"],
                "suggestion_confident": summary["suggestion_confident"],
                "n_passes": summary["n_passes"],
                "reviewed": self._base_reviewed.copy(),
            },
            index=index,
        )

    # ---------------------------------------------------------------- suspects and review

    @property
    def id_index(self) -> IdIndex:
        """The map's :class:`~datamap_widget.ids.IdIndex` (ids checked unique), built once."""
        if self._id_index_cache is None:
            self._id_index_cache = IdIndex(self.ids, "ids")
        return self._id_index_cache

    def positions(self, ids: Sequence[Any], argument: str = "ids") -> np.ndarray:
        """Row positions of ``ids`` in this map; ValueError naming any unknown id."""
        return self.id_index.positions(ids, argument, "in this data map")

    @property
    def neighbour_index(self) -> NeighbourIndex:
        """The map's :class:`~datamap_widget.neighbours.NeighbourIndex` over its embeddings, built once.

        ValueError when the map has no embeddings.
        """
        if self.embeddings is None:
            raise ValueError(
                "this map has no embeddings, so it has no neighbours: train with embeddings=True "
                "(the default of train_datamap / datamap train) or pass embeddings= to Tracker.record"
            )
        if self._index is None or self._index.embeddings is not self.embeddings:  # new embeddings: a new index
            self._index = NeighbourIndex(self.embeddings)
        return self._index

    def neighbors(self, ids: Sequence[Any], k: int = 8) -> pd.DataFrame:
        """The ``k`` nearest examples of each of ``ids`` in the model's embedding space.

        Exact cosine search over the sentence embeddings recorded in training (see
        :meth:`Tracker.record`); a reviewer reads a document beside the examples the model
        sees as alike, and their labels. One row per (id, neighbour), nearest first, with
        columns ``id``, ``rank`` (1 = nearest), ``neighbor``, ``similarity`` (cosine, in
        [-1, 1]), ``label`` and ``suggested_label`` of the neighbour. An example without an
        embedding has no rows. ValueError when the map has no embeddings or an id is unknown.
        """
        index = self.neighbour_index
        ids = list(ids) if not isinstance(ids, (str, bytes)) else [ids]
        rows = self.positions(ids)
        found, similarity = index.search(rows, k)
        query = np.repeat(np.arange(len(rows)), found.shape[1])
        flat, sims = found.reshape(-1), similarity.reshape(-1)
        keep = flat >= 0
        query, flat, sims = query[keep], flat[keep], sims[keep]
        if self._frame is None:
            self._frame = self._build_frame()
        suggested = self._frame["suggested_label"].to_numpy(dtype=object)  # read only: no copy needed
        all_ids = np.asarray(self.ids, dtype=object)
        return pd.DataFrame({
            "id": all_ids[rows][query],
            "rank": np.tile(np.arange(1, found.shape[1] + 1), len(rows))[keep].astype(np.int64),
            "neighbor": all_ids[flat],
            "similarity": sims.astype(np.float64),
            "label": label_names_of(self.labels[flat], self.label_names),
            "suggested_label": suggested[flat],
        })

    def projection(self, method: str | None = None, *, seed: int = 0, threads: int = -1) -> pd.DataFrame:
        """2-D coordinates of each example's embedding: the map's second view (the widget's "Embedding").

        Computed once per map and kept with it (:meth:`to_parquet` saves it), so a reviewer
        sees the same picture each time. ``method`` is one of
        :data:`~datamap_widget.projection.PROJECTION_METHODS`; None keeps the one already made,
        else uses :data:`~datamap_widget.projection.DEFAULT_PROJECTION` (t-SNE, chosen by
        ``benchmarks/projection.py``) when the ``projection`` extra is installed and PCA
        (numpy only) when not. Another method recomputes and replaces the stored one;
        ``seed`` (of the stochastic methods) and ``threads`` count only when one is made.

        Returns a frame indexed by ``id`` with float32 columns ``x`` and ``y``; an example
        without an embedding (never seen in the pass that recorded them) has NaN there.
        ValueError when the map has no embeddings or fewer than
        :data:`~datamap_widget.projection.MIN_POINTS` examples have one.
        """
        from . import projection as projections

        if self.embeddings is None:
            raise ValueError(
                "this map has no embeddings, so it has no projection: train with embeddings=True "
                "(the default of train_datamap / datamap train) or pass embeddings= to Tracker.record"
            )
        if self._projection is None or (method is not None and projections.resolve_method(method) != self.projection_method):
            name = projections.resolve_method(method)
            values = self.embeddings
            known = np.isfinite(values).all(axis=1)
            if known.sum() < projections.MIN_POINTS:
                raise ValueError(
                    f"a projection needs at least {projections.MIN_POINTS} examples with an embedding; this map "
                    f"has {int(known.sum())} of {len(self)} (the others were not seen in the pass that recorded them)"
                )
            coords = np.full((len(self), 2), np.nan, dtype=np.float32)
            coords[known] = projections.project(values[known], name, seed=seed, threads=threads)
            self._projection, self.projection_method = coords, name
        return pd.DataFrame({"x": self._projection[:, 0], "y": self._projection[:, 1]}, index=pd.Index(self.ids, name="id"))

    def mark_reviewed(self, ids: Sequence[Any], reviewed: bool = True, *, labels: Any = None) -> None:
        """Deprecated: review in a :class:`~datamap_widget.review.ReviewSession` and pass it.

        ``session = ReviewSession.for_map(dmap)``, then ``session.confirm(rows)``,
        ``session.relabel(rows, code)``, ``session.undo()`` (or a widget's ``w.confirm``,
        ``w.relabel``, ``w.undo``), and ``dmap.suspects(review=session)``,
        ``dmap.labels_after(session)``. Still works: it reviews in a session this map reads
        from then on (a map from ``w.datamap``: the widget's own). ``labels`` (a name or code,
        one for all or one per id) makes it a relabel; ``reviewed=False`` takes the marks off
        and gives the trained labels back (or ``labels``).
        """
        warnings.warn(
            "DataMap.mark_reviewed is deprecated: a review no longer changes a DataMap. Review in a session "
            "(session = ReviewSession.for_map(dmap); session.confirm / session.relabel / session.undo, or a widget's "
            "w.confirm / w.relabel / w.undo) and pass it: dmap.suspects(review=session), dmap.labels_after(session).",
            DeprecationWarning,
            stacklevel=2,
        )
        rows = self.positions(ids)
        codes = None if labels is None else self._label_codes(labels, len(rows))  # checked before anything changes
        if self._review is None:
            self._review, self._own_review = ReviewSession.for_map(self), True
        review = self._review
        if not reviewed:  # no word of the log's vocabulary takes a mark off: set it as it was asked
            review._overwrite(rows, review.original[rows] if codes is None else codes, UNREVIEWED)
        elif codes is None:
            review.confirm(rows)
        else:
            review.relabel(rows, codes)

    def _label_codes(self, labels: Any, count: int) -> np.ndarray:
        """Label names or codes (one, or one per row) -> int codes; ValueError naming the unknown ones."""
        values = np.asarray([labels] if isinstance(labels, (str, bytes)) else labels).reshape(-1)
        if values.size not in (1, count):
            raise ValueError(f"labels must be one label or one per id ({count}), got {values.size}")
        if values.dtype.kind in "iu":
            codes = values.astype(np.int64)
            bad = values[(codes < 0) | (codes >= len(self.label_names))]
        else:
            codes = pd.Index(self.label_names).get_indexer(pd.Index(values.astype(object)))
            bad = values[codes < 0]
        if bad.size:
            raise ValueError(
                f"labels has unknown labels {bad[:5].tolist()}; expected names in {self.label_names} "
                f"or codes 0..{len(self.label_names) - 1}"
            )
        return np.broadcast_to(codes, (count,)).astype(np.int64)

    @property
    def learns_from_reviews(self) -> bool:
        """Whether reviews re-rank this map's suspects: its score has a neighbour part (see :mod:`datamap_widget.ranking`)."""
        return learns_from_reviews(self.method) and self.embeddings is not None and len(self) >= 2

    @property
    def current_labels(self) -> pd.Series:
        """Each example's label after the reviews of the session this map reads (:meth:`with_review`;
        none: the labels it was trained on), a Series of names indexed by ``id``. See :meth:`labels_after`."""
        return self.labels_after(self._review)

    def labels_after(self, review: ReviewSession | None) -> pd.Series:
        """Each example's label after the reviews of ``review`` (a :class:`~datamap_widget.review.ReviewSession`
        of this map's examples; None: the labels the map was trained on), a categorical Series of
        names indexed by ``id``. :attr:`labels` (what the model learned) never changes."""
        if review is not None:
            return self._checked_review(review).current_labels
        names = pd.Categorical.from_codes(self.labels, categories=self.label_names)
        return pd.Series(names, index=pd.Index(self.ids, name="id"), name="label")

    def suspects(
        self,
        frac: float | None = None,
        top: int | None = None,
        include_reviewed: bool = False,
        *,
        review: ReviewSession | None = None,
    ) -> pd.DataFrame:
        """The most likely mislabeled examples, highest ``mislabel_score`` first.

        With ``review`` (a :class:`~datamap_widget.review.ReviewSession`, e.g. a widget's
        ``w.review``), the examples it reviewed are left out and, for a score that learns
        from reviews (``dmap.learns_from_reviews``: the neighbour scores), the ranking uses
        its labels: examples whose neighbours were relabeled away from their label rise,
        those confirmed sink. The map itself never changes.

        Parameters
        ----------
        frac : share of the whole data set to return, e.g. ``0.05`` for the top 5%.
        top : number of rows to return. Give at most one of ``frac`` and ``top``; with
            neither, every seen example is returned in ranked order.
        include_reviewed : keep examples already reviewed (left out by default).
        review : the review to read; default the one this map reads (:meth:`with_review`),
            else only the marks the map was made with.
        """
        frame = self.reviewed_frame(self._review if review is None else review)
        rows = rank_suspects(frame, frac=frac, top=top, include_reviewed=include_reviewed)
        unlearned = self.unlearned_classes
        if len(unlearned) and rows["label"].isin(unlearned.index).any():
            # Their suspects are a class too small to learn, not wrong labels: say so where they are listed.
            warnings.warn(
                metrics.unlearned_message(unlearned.index.tolist(), unlearned["count"].tolist()), UserWarning, stacklevel=2
            )
        return rows

    @property
    def unlearned_classes(self) -> pd.DataFrame:
        """Classes the model never learned (see :func:`datamap_widget.metrics.unlearned_classes`
        for the rule), indexed by ``label``, with ``count`` (examples seen), mean ``confidence``
        and mean ``correctness``; empty when every class was learned. Their examples flood the
        top suspects and their suggested labels are unreliable: :meth:`suspects` warns when it
        lists them, and the widget says so."""
        shared = self._shared
        if shared.unlearned is None:  # the trajectories never change: found once per map (and its views)
            found = metrics.unlearned_classes(
                self.trajectories["gold_prob"], self.trajectories["correct"], self.labels, len(self.label_names)
            )
            index = pd.Index([self.label_names[c] for c in found["classes"]], name="label", dtype=object)
            shared.unlearned = pd.DataFrame(
                {"count": found["count"], "confidence": found["confidence"], "correctness": found["correctness"]}, index=index
            )
        return shared.unlearned.copy()

    def rescore(self, method: str) -> "DataMap":
        """The same map ranked by another score (see :data:`~datamap_widget.metrics.SCORE_METHODS`)."""
        other = DataMap(
            self.ids, self.labels, self.label_names, self.trajectories, method, self.thresholds,
            id_index=self._id_index_cache,
            embeddings=self.embeddings,
            class_probabilities=self.class_probabilities,
            text_probabilities=self.text_probabilities,
            reading=self.reading,
            share_read=self.share_read,
        )
        other._base_reviewed = self._base_reviewed
        other._projection, other.projection_method = self._projection, self.projection_method  # same embeddings
        other._index = self._index  # same embeddings: the index (and its cached searches) carries over
        review = self._review
        if review is not None and self._own_review:  # the deprecated marks: the other map gets a copy
            review, original = ReviewSession(review.ids, review.label_names, review.original, review.marks), review
            review.codes[:] = original.codes
        other._review, other._own_review = review, self._own_review
        return other

    # ---------------------------------------------------------------- save / load

    def to_parquet(self, path: str) -> None:
        """Save the frame, the label names, the trajectories, the embeddings and the class
        probabilities (those the map has) to a parquet file.

        ``path`` is a local path or an fsspec URL (``s3://…``, ``memory://…``). Ids keep
        their type (str or int), so :meth:`read_parquet` gives back an equal map.

        A local file is written whole or not at all (see :mod:`datamap_widget.atomic`): the
        map goes to a temporary file beside ``path`` that replaces it only once complete, so
        a failed write (a full disk) leaves an earlier map at ``path`` readable. An fsspec
        URL is written as that file system writes it (object stores such as S3 publish an
        object only when its upload completes; a ``file://`` URL is written in place).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = self.frame
        columns: dict[str, Any] = {"id": pa.array(self.ids)}
        columns["label"] = pa.array(frame["label"].astype(str).to_numpy())
        for name in ("confidence", "variability", "correctness"):
            columns[name] = pa.array(frame[name].to_numpy(dtype=np.float64))
        columns["category"] = pa.array(frame["category"].astype(object).where(frame["category"].notna(), None))
        columns["mislabel_score"] = pa.array(frame["mislabel_score"].to_numpy(dtype=np.float64))
        columns["suggested_label"] = pa.array(
            frame["suggested_label"].astype(object).where(frame["suggested_label"].notna(), None)
        )
        columns["suggestion_support"] = pa.array(frame["suggestion_support"].to_numpy(dtype=np.float64))
        columns["suggestion_confident"] = pa.array(frame["suggestion_confident"].to_numpy(dtype=bool))
        columns["n_passes"] = pa.array(frame["n_passes"].to_numpy())
        columns["reviewed"] = pa.array(frame["reviewed"].to_numpy(dtype=bool))
        t = self.n_passes
        for name in metrics.TRAJECTORY_FIELDS:
            values = np.ascontiguousarray(self.trajectories[name])
            columns[f"traj_{name}"] = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), t)
        if self.embeddings is not None:
            flat = np.ascontiguousarray(self.embeddings, dtype=np.float16).reshape(-1)
            columns["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float16()), self.embeddings.shape[1])
            searched = self._index.stored() if self._index is not None else None
            if searched is not None:  # the all-points search (minutes at 10^5): saved, so a loaded map skips it
                found, similarity = searched
                k = found.shape[1]
                columns["neighbours"] = pa.FixedSizeListArray.from_arrays(pa.array(found.reshape(-1).astype(np.int32)), k)
                columns["neighbour_similarity"] = pa.FixedSizeListArray.from_arrays(
                    pa.array(similarity.reshape(-1).astype(np.float16), type=pa.float16()), k
                )
        if self.class_probabilities is not None:
            flat = np.ascontiguousarray(self.class_probabilities, dtype=np.float32).reshape(-1)
            columns["class_probabilities"] = pa.FixedSizeListArray.from_arrays(pa.array(flat), len(self.label_names))
        if self.text_probabilities is not None:
            flat = np.ascontiguousarray(self.text_probabilities, dtype=np.float32).reshape(-1)
            columns["text_probabilities"] = pa.FixedSizeListArray.from_arrays(pa.array(flat), len(self.label_names))
        if self._projection is not None:  # made once (it can take a minute): saved, not recomputed on load
            columns["projection_x"] = pa.array(self._projection[:, 0])
            columns["projection_y"] = pa.array(self._projection[:, 1])
        meta = {
            "format": PARQUET_FORMAT,
            "label_names": self.label_names,
            "method": self.method,
            "thresholds": self.thresholds,
            "id_type": "str" if self.ids.dtype.kind in "OUS" else "int",
        }
        if self._projection is not None:
            meta["projection_method"] = self.projection_method
        if self.reading is not None:
            meta["reading"] = self.reading
        if self.share_read is not None:
            columns["share_read"] = pa.array(self.share_read)
        table = pa.table(columns).replace_schema_metadata({_METADATA_KEY: json.dumps(meta).encode()})
        if "://" in str(path):
            with _open(path, "wb") as handle:
                pq.write_table(table, handle)
        else:
            with atomic_open(path, "wb") as handle:
                pq.write_table(table, handle)

    @classmethod
    def read_parquet(cls, path: str | os.PathLike) -> "DataMap":
        """Load a map saved by :meth:`to_parquet` (local path or fsspec URL).

        ``path`` may also be a local run folder (``datamap train --out DIR``): its
        ``datamap.parquet`` is read. To open a run folder with its texts and record, use
        :func:`datamap_widget.run.read_run`. A file written before class probabilities were
        saved loads with :attr:`class_probabilities` None.
        """
        import pyarrow.parquet as pq

        if "://" not in str(path) and os.path.isdir(path):
            if not os.path.exists(os.path.join(path, DATAMAP_FILE)):
                raise FileNotFoundError(errno.ENOENT, f"{path} is a folder but not a run folder: it has no {DATAMAP_FILE}")
            path = os.path.join(path, DATAMAP_FILE)

        with _open(path, "rb") as handle:
            table = pq.read_table(handle)
        raw = (table.schema.metadata or {}).get(_METADATA_KEY)
        if raw is None:
            raise ValueError(f"{path} is not a data map saved by DataMap.to_parquet (no datamap_widget metadata)")
        meta = json.loads(raw)
        if meta.get("format", 0) > PARQUET_FORMAT:
            raise ValueError(
                f"{path} was written by a newer datamap_widget (format {meta['format']}); this version reads "
                f"format {PARQUET_FORMAT}: upgrade datamap_widget"
            )
        ids = table.column("id").to_numpy(zero_copy_only=False)
        ids = ids.astype(object) if meta["id_type"] == "str" else ids
        names = meta["label_names"]
        label_text = table.column("label").to_numpy(zero_copy_only=False).astype(str)
        labels = pd.Categorical(label_text, categories=names).codes.astype(np.int64)
        trajectories = {}
        n = table.num_rows
        for name in metrics.TRAJECTORY_FIELDS:
            column = table.column(f"traj_{name}").combine_chunks()
            flat = column.flatten().to_numpy(zero_copy_only=False)
            trajectories[name] = flat.reshape(n, -1) if n else flat.reshape(0, 0)
        embeddings = None
        if "embedding" in table.column_names:
            column = table.column("embedding").combine_chunks()
            embeddings = column.flatten().to_numpy(zero_copy_only=False).astype(np.float16).reshape(n, -1)
        class_probabilities = None
        if "class_probabilities" in table.column_names:
            column = table.column("class_probabilities").combine_chunks()
            flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
            class_probabilities = flat.reshape(n, len(names))
        text_probabilities = None
        if "text_probabilities" in table.column_names:  # absent in maps saved before the text view
            column = table.column("text_probabilities").combine_chunks()
            text_probabilities = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(n, len(names))
        share_read = None
        if "share_read" in table.column_names:
            share_read = table.column("share_read").to_numpy(zero_copy_only=False).astype(np.float32)
        reviewed = table.column("reviewed").to_numpy(zero_copy_only=False).astype(bool)
        dmap = cls(
            ids, labels, names, trajectories, meta["method"], meta["thresholds"], embeddings=embeddings,
            class_probabilities=class_probabilities, text_probabilities=text_probabilities, reading=meta.get("reading"),
            share_read=share_read,
        )
        reviewed.flags.writeable = False
        dmap._base_reviewed = reviewed  # the marks it was saved with
        if "projection_x" in table.column_names:  # absent in maps saved before the embedding view
            coords = np.column_stack([table.column(f"projection_{axis}").to_numpy(zero_copy_only=False) for axis in "xy"])
            dmap._projection = coords.astype(np.float32).reshape(n, 2)
            dmap.projection_method = str(meta.get("projection_method", "unknown"))
        if embeddings is not None and "neighbours" in table.column_names:
            found = table.column("neighbours").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(n, -1)
            sims = table.column("neighbour_similarity").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(n, -1)
            dmap.neighbour_index.restore(found, sims)
        return dmap

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataMap):
            return NotImplemented
        return (
            np.array_equal(self.ids, other.ids)
            and np.array_equal(self.labels, other.labels)
            and self.label_names == other.label_names
            and self.method == other.method
            and all(
                np.array_equal(self.trajectories[k], other.trajectories[k], equal_nan=k in ("gold_prob", "other_prob", "margin", "correct"))
                for k in metrics.TRAJECTORY_FIELDS
            )
        )

    __hash__ = None  # type: ignore[assignment]  # equal by value, like arrays

    # ---------------------------------------------------------------- figures and reports

    def chart(self, **kw: Any) -> Any:
        """The data map as an Altair chart with marginal histograms.

        Keywords go to :func:`datamap_widget.chart.datamap_chart` (``max_points``, ``bins``,
        ``width``, ``height``, ``title``). Above 5,000 examples the map is a binned heatmap,
        so the chart stays small. Export with ``.save("map.png")`` / ``.save("map.svg")`` or
        :func:`datamap_widget.chart.save_chart`.
        """
        from .chart import datamap_chart

        return datamap_chart(self, **kw)

    def report(self, path: Any, texts: Any = None, **kw: Any) -> Any:
        """Write a self-contained HTML report (figure, summary, top suspects); returns its path.

        ``path`` is a folder (``report.html`` is written in it) or an ``.html`` file;
        ``texts`` shows each suspect's text (Series by id, mapping, or sequence in map
        order). Keywords go to :func:`datamap_widget.report.write_report` (``run``, ``top``,
        ``frac``, ``title``, ``chart_options``, ``max_text_chars``).
        """
        from .report import write_report

        return write_report(self, path, texts, **kw)

    def widget(self, data: pd.DataFrame | None = None, **kwargs: Any) -> "DataMapWidget":
        """An interactive :class:`~datamap_widget.widget.DataMapWidget` of this map (see its arguments)."""
        from .widget import DataMapWidget  # anywidget/ipywidgets load only when a widget is made

        return DataMapWidget(self, data=data, **kwargs)


def _class_matrix(values: Any, n: int, label_names: list[str], name: str) -> np.ndarray | None:
    """An optional ``(N, C)`` float matrix as a read-only float32 view, or None."""
    if values is None:
        return None
    values = np.asarray(values)
    expected = (n, len(label_names))
    if values.shape != expected:
        raise ValueError(f"{name} must have shape {expected} (one row per id, one column per label name), got {values.shape}")
    if not np.issubdtype(values.dtype, np.floating):
        raise TypeError(f"{name} must be floats, got dtype {values.dtype}")
    values = values.astype(np.float32, copy=False).view()
    values.flags.writeable = False
    return values


def unlearned_summary(dmap: Any) -> list[dict[str, Any]]:
    """``[{"label", "code", "count"}]`` of the classes ``dmap`` never learned (none for a map
    without trajectories): what the widget warns about and counts in a bulk accept's preview."""
    frame = getattr(dmap, "unlearned_classes", None)
    if not isinstance(frame, pd.DataFrame) or not len(frame):
        return []
    names = list(getattr(dmap, "label_names", []))
    return [{"label": str(name), "code": names.index(name), "count": int(c)} for name, c in frame["count"].items()]


def check_suspect_size(frac: Any, top: Any) -> None:
    """Validate the ``frac`` / ``top`` arguments that every ``suspects()`` takes."""
    if frac is not None and top is not None:
        raise ValueError("give frac or top, not both")
    if frac is not None and (isinstance(frac, bool) or not isinstance(frac, numbers.Real) or not 0 < frac <= 1):
        raise ValueError(f"frac must be in (0, 1], got {frac!r}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 0):
        raise ValueError(f"top must be a non-negative int, got {top!r}")


def rank_suspects(
    frame: pd.DataFrame, frac: float | None = None, top: int | None = None, include_reviewed: bool = False
) -> pd.DataFrame:
    """Rows of a cartography frame (``mislabel_score``, ``reviewed`` columns) ranked most suspect first.

    Unscored rows (never seen in training) are left out; so are reviewed rows unless
    ``include_reviewed``. ``frac`` is a share of the whole frame, ``top`` a row count.
    """
    check_suspect_size(frac, top)
    ranked = frame[frame["mislabel_score"].notna()]
    if not include_reviewed:
        ranked = ranked[~ranked["reviewed"].astype(bool)]
    ranked = ranked.sort_values("mislabel_score", ascending=False, kind="stable")
    if frac is not None:
        top = int(np.ceil(frac * len(frame)))
    return ranked if top is None else ranked.head(int(top))


def _open(path: Any, mode: str):
    """Open a local path or an fsspec URL."""
    text = str(path)
    if "://" in text:
        from .dependencies import require

        fsspec = require("fsspec", f"opening the URL {text!r} (fsspec)")
        return fsspec.open(text, mode).open()
    return open(text, mode)
