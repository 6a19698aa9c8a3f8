"""DataMap: the result of tracking, as a pandas frame with suspects, save/load and views.

A DataMap keeps the per-pass trajectories it was computed from, so a saved map can be
re-scored later (:meth:`DataMap.rescore`) without training again.
"""

from __future__ import annotations

import errno
import json
import numbers
import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import metrics
from .atomic import atomic_open
from .ids import IdIndex, as_ids
from .labels import label_names_of
from .neighbours import NeighbourIndex
from .ranking import ReviewRanking, learns_from_reviews

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
    reviewed : optional ids already reviewed; :meth:`suspects` leaves them out.
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
        self._reviewed = np.zeros(n, dtype=bool)
        # The label each example has after the reviews (a relabel changes it); the neighbour
        # scores re-rank from these (see mark_reviewed), self.labels stays what the model learned.
        self._review_labels = self.labels.copy()
        self._frame: pd.DataFrame | None = None
        #: (N, 2) float32 from :meth:`projection`, made once and saved with the map; its method name.
        self._projection: np.ndarray | None = None
        self.projection_method: str | None = None
        self._index: NeighbourIndex | None = None
        self._ranking: ReviewRanking | None = None
        if reviewed is not None and len(reviewed):
            self.mark_reviewed(reviewed)

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
        """
        if self._frame is None:
            self._frame = self._build_frame()
        # A copy per call, so nobody's edits reach the map (or another caller's frame). Under
        # pandas' copy-on-write a shallow copy is enough and costs nothing; without it, a deep one.
        frame = self._frame.copy(deep=not _COPY_ON_WRITE)
        frame["reviewed"] = self._reviewed.copy()  # the current marks, without a rebuild
        if self._ranking is not None:  # a neighbour score follows the reviews (see mark_reviewed)
            frame["mislabel_score"] = self._ranking.score.copy()
        return frame

    def _build_frame(self) -> pd.DataFrame:
        neighbours = None
        if self.method in metrics.NEIGHBOUR_METHODS and len(self) >= 2:
            # Searched once, by the map's index: the score, the re-ranking and the pane share them.
            neighbours = self.neighbour_index.all_neighbours(min(metrics.KNN_K, len(self) - 1))[0]
        summary = metrics.summarize(
            self.trajectories, self.labels, len(self.label_names), self.method, self.thresholds,
            embeddings=self.embeddings, neighbours=neighbours, text_probabilities=self.text_probabilities,
        )
        if neighbours is not None and self._ranking is None:
            self._ranking = ReviewRanking(self.trajectories, self.labels, self.method, neighbours)
            changed = np.flatnonzero(self._reviewed | (self._review_labels != self.labels))
            self._ranking.update(changed, self._review_labels[changed], self._reviewed[changed])
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
                "reviewed": self._reviewed,
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

    def mark_reviewed(self, ids: Sequence[Any], reviewed: bool = True) -> None:
        """Mark examples as reviewed (or not): :meth:`suspects` leaves reviewed ones out."""
        self._reviewed[self.positions(ids)] = reviewed
    def mark_reviewed(self, ids: Sequence[Any], reviewed: bool = True, *, labels: Any = None) -> None:
        """Mark examples as reviewed (or not): :meth:`suspects` leaves reviewed ones out.

        ``labels``: the label each review left (a name or code, one for all or one per id),
        for a relabel; default: the label stays as it is when marking, and goes back to the
        trained label when unmarking (an undo). :attr:`labels` (what the model learned) never
        changes. For a neighbour score (:func:`~datamap_widget.ranking.learns_from_reviews`)
        the examples that have these ones among their neighbours are re-scored with the
        reviewed labels at once (no training): :attr:`frame` and :meth:`suspects` show it.
        """
        rows = self.positions(ids)
        if labels is None:
            codes = self._review_labels[rows] if reviewed else self.labels[rows]
        else:
            codes = self._label_codes(labels, len(rows))
        self._reviewed[rows] = reviewed
        self._review_labels[rows] = codes
        if self._ranking is not None:
            self._ranking.update(rows, codes, reviewed)

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
        """Each example's label after the reviews marked here (a Series of names indexed by ``id``)."""
        names = pd.Categorical.from_codes(self._review_labels, categories=self.label_names)
        return pd.Series(names, index=pd.Index(self.ids, name="id"), name="label")

    def suspects(
        self,
        frac: float | None = None,
        top: int | None = None,
        include_reviewed: bool = False,
    ) -> pd.DataFrame:
        """The most likely mislabeled examples, highest ``mislabel_score`` first.

        For a score that learns from reviews (``dmap.learns_from_reviews``: the neighbour
        scores), the ranking already uses the labels given with :meth:`mark_reviewed` (or
        by a :class:`~datamap_widget.widget.DataMapWidget` on this map): examples whose
        neighbours were relabeled away from their label rise, those confirmed sink.

        Parameters
        ----------
        frac : share of the whole data set to return, e.g. ``0.05`` for the top 5%.
        top : number of rows to return. Give at most one of ``frac`` and ``top``; with
            neither, every seen example is returned in ranked order.
        include_reviewed : keep examples already reviewed (left out by default).
        """
        return rank_suspects(self.frame, frac=frac, top=top, include_reviewed=include_reviewed)

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
        other._reviewed = self._reviewed.copy()
        other._projection, other.projection_method = self._projection, self.projection_method  # same embeddings
        other._review_labels = self._review_labels.copy()
        other._index = self._index  # same embeddings: the index (and its cached searches) carries over
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
        columns["reviewed"] = pa.array(self._reviewed)
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
        dmap._reviewed = reviewed
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

    __hash__ = None  # type: ignore[assignment]  # mutable (review marks)

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
