"""A ranking that learns from the review: the neighbour part of a score, recomputed with the reviewers' labels.

The neighbour scores (:data:`~datamap_widget.metrics.NEIGHBOUR_METHODS`) ask how many of an
example's nearest neighbours carry another label. Once a reviewer has relabeled or confirmed
some examples, those labels are better evidence than the noisy ones the model was trained
on: each review updates the neighbour share of exactly the examples that have the reviewed
one among their neighbours (reverse-neighbour lists), in milliseconds and without training.
A reviewed neighbour counts :data:`REVIEWED_WEIGHT` times as much as an unreviewed one.

What the numbers said (``benchmarks/rerank.py``, ``benchmarks/results/rerank.md``): a
simulated reviewer working down ``margin_knn`` re-ranked this way found more injected errors
in the first 5% of reviews than static ``margin_knn`` or static ``margin`` on average, but not
on every set. Adding a review-only neighbour term to ``margin`` (which has no neighbour part)
found fewer errors than static ``margin``, so the scores without a neighbour part, the default
``confidence`` among them, keep their order: :func:`learns_from_reviews` says which scores learn.

A ranking follows a :class:`~datamap_widget.review.ReviewSession` (:meth:`ReviewRanking.follow`):
it listens to the session and re-scores as the reviewer works, so nobody has to tell it.
:meth:`DataMap.suspects(review=session) <datamap_widget.datamap.DataMap.suspects>` keeps one
such ranking per map and session.

The suspects' order itself is here too: :func:`suspect_order` (most suspect first, ties in
row order) and :func:`rerank_order` (new scores re-sort only the rows a reviewer has not
pinned), which the widget sends as its ``order``. Pure numpy (no pandas).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import metrics

__all__ = ["REVIEWED_WEIGHT", "ReviewRanking", "learns_from_reviews", "rerank_order", "suspect_order"]

#: Weight of a reviewed neighbour's label in the neighbour share (an unreviewed one weighs 1).
#: ``benchmarks/rerank.py``: 2, 3 and 5 all found more errors than 1 (no trust); 3 the most.
REVIEWED_WEIGHT = 3.0


def learns_from_reviews(method: str) -> bool:
    """Whether the score ``method`` is re-ranked by reviews (the scores with a neighbour part)."""
    return method in metrics.NEIGHBOUR_METHODS


def suspect_order(score: np.ndarray) -> np.ndarray:
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


def rerank_order(order: np.ndarray, score: np.ndarray, pinned: np.ndarray) -> np.ndarray:
    """``order`` with the ``pinned`` rows in their places and every other row re-sorted by ``score``
    (descending, as :func:`suspect_order`) into the places left."""
    free_slot = ~pinned[order]
    free_rows = np.flatnonzero(~pinned)
    out = order.copy()
    out[free_slot] = free_rows[suspect_order(score[free_rows])]
    return out



class ReviewRanking:
    """Mislabel scores of one map that follow the labels reviewers gave.

    Parameters
    ----------
    trajectories : the map's per-pass arrays (:data:`~datamap_widget.metrics.Trajectories`).
    labels : ``(N,)`` int codes the model was trained on.
    method : one of :data:`~datamap_widget.metrics.NEIGHBOUR_METHODS`.
    neighbours : ``(N, K)`` int positions of each example's nearest neighbours (``-1`` = none),
        as the map's score used them.
    reviewed_weight : how much a reviewed neighbour counts, default :data:`REVIEWED_WEIGHT`.

    Before any review, :attr:`score` equals ``metrics.mislabel_score(..., method)``. The model
    part (margin, AUM or confidence) never changes; for the rank averages (``margin_knn``,
    ``aum_knn``) a new neighbour share is placed on the rank scale of the shares before the
    review (interpolated), so one review moves only the examples it touches.
    """

    def __init__(
        self,
        trajectories: metrics.Trajectories,
        labels: np.ndarray,
        method: str,
        neighbours: np.ndarray,
        *,
        reviewed_weight: float = REVIEWED_WEIGHT,
    ) -> None:
        if method not in metrics.NEIGHBOUR_METHODS:
            raise ValueError(f"method must be one of {list(metrics.NEIGHBOUR_METHODS)} to learn from reviews, got {method!r}")
        if not np.isfinite(reviewed_weight) or reviewed_weight <= 0:
            raise ValueError(f"reviewed_weight must be a positive number, got {reviewed_weight!r}")
        self.labels = np.array(labels, dtype=np.int64)
        n = self.labels.shape[0]
        self.neighbours = np.asarray(neighbours, dtype=np.int64)
        if self.neighbours.ndim != 2 or self.neighbours.shape[0] != n:
            raise ValueError(f"neighbours must have shape ({n}, K) like labels, got {self.neighbours.shape}")
        self.method = method
        self.reviewed_weight = float(reviewed_weight)
        self.reviewed = np.zeros(n, dtype=bool)
        self._valid = self.neighbours >= 0
        self._safe = np.where(self._valid, self.neighbours, 0)
        self._reverse_start, self._reverse_rows = _reverse_lists(self.neighbours, n)
        share = self._share(np.arange(n))
        self._model_part: np.ndarray | None = None
        if method == "confidence_knn":
            self._model_part = 1.0 - metrics._compute_score(trajectories, "confidence")  # the confidence itself
        elif method != "knn":
            self._model_part = metrics.average_rank(metrics._compute_score(trajectories, method.removesuffix("_knn")))
        # The rank scale of the shares before any review: each distinct share -> its average rank.
        seen = ~np.isnan(share)
        self._knots, first = np.unique(share[seen], return_index=True)
        self._knot_ranks = metrics.average_rank(share)[seen][first]
        self.score = self._combine(np.arange(n), share)
        self.initial_score = self.score.copy()

    # ------------------------------------------------------------------ updates
    def follow(self, review: Any) -> Callable[[], None]:
        """Take in the reviews ``review`` (a :class:`~datamap_widget.review.ReviewSession` of this map's
        examples) holds now, then listen to it and re-score after each of its changes.

        Returns a function that stops listening. The session holds this ranking only weakly:
        once nothing else keeps the ranking, it stops listening by itself.
        """
        codes, reviewed = np.asarray(review.codes, dtype=np.int64), np.asarray(review.reviewed, dtype=bool)
        if codes.shape != self.labels.shape:
            raise ValueError(f"review has {codes.shape[0]} examples but this ranking has {self.labels.shape[0]}")
        changed = np.flatnonzero(reviewed | (codes != self.labels))
        self.update(changed, codes[changed], reviewed[changed])
        ranking = weakref.ref(self)
        unsubscribe: Callable[[], None] = lambda: None  # noqa: E731 - replaced right below

        def listener(rows: np.ndarray) -> None:
            alive = ranking()
            if alive is None:
                unsubscribe()
                return
            alive.update(rows, review.codes[rows], review.reviewed[rows])

        # Order -1: the scores are current before any view (order 0) of the same change reads them.
        unsubscribe = review.subscribe(listener, order=-1)
        return unsubscribe

    def update(self, rows: np.ndarray, labels: np.ndarray, reviewed: np.ndarray | bool = True) -> np.ndarray:
        """Record reviews of ``rows`` (their label now, reviewed or not: an undo says not) and re-score.

        Returns the positions whose score was recomputed: ``rows`` (their own label may have
        changed) and the examples that have one of them among their neighbours.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows.size == 0:
            return rows
        self.labels[rows] = np.broadcast_to(np.asarray(labels, dtype=np.int64), rows.shape)
        self.reviewed[rows] = np.broadcast_to(np.asarray(reviewed, dtype=bool), rows.shape)
        affected = np.union1d(rows, self.reverse_neighbours(rows))
        self.score[affected] = self._combine(affected, self._share(affected))
        return affected

    def reverse_neighbours(self, rows: np.ndarray) -> np.ndarray:
        """Sorted unique positions of the examples having any of ``rows`` among their neighbours."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        starts = self._reverse_start[rows]
        counts = self._reverse_start[rows + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        # Concatenated slices without a loop: each slice's offset repeated, plus a running index.
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
        return np.unique(self._reverse_rows[offsets])

    # ------------------------------------------------------------------ parts
    def _share(self, rows: np.ndarray) -> np.ndarray:
        """Weighted share of each row's neighbours whose current label differs (NaN without neighbours)."""
        valid = self._valid[rows]
        nb = self._safe[rows]
        weight = np.where(self.reviewed[nb], self.reviewed_weight, 1.0) * valid
        differ = self.labels[nb] != self.labels[rows][:, None]
        total = weight.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, (weight * differ).sum(axis=1) / np.maximum(total, 1e-300), np.nan)

    def _combine(self, rows: np.ndarray, share: np.ndarray) -> np.ndarray:
        if self.method == "knn":
            return share
        if self.method == "confidence_knn":
            return 1.0 - self._model_part[rows] * (1.0 - share)
        if self._knots.size == 0:
            return np.full(rows.shape, np.nan)
        placed = np.interp(share, self._knots, self._knot_ranks)
        return (self._model_part[rows] + np.where(np.isnan(share), np.nan, placed)) / 2.0


def _reverse_lists(neighbours: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR of who lists whom: the examples having ``j`` as a neighbour are ``rows[start[j]:start[j + 1]]``."""
    k = neighbours.shape[1]
    valid = (neighbours >= 0).reshape(-1)
    source = np.repeat(np.arange(n, dtype=np.int64), k)[valid]
    target = neighbours.reshape(-1)[valid]
    order = np.argsort(target, kind="stable")
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(target, minlength=n), out=start[1:])
    return start, source[order]
