"""The neighbour index of a map: nearest examples by cosine similarity, built once per map.

The detail pane asks for one document's neighbours per keypress, and the neighbour scores
and the re-ranking (:mod:`datamap_widget.ranking`) need every example's. Both search the
same unit-length float32 matrix, which is normalised once here instead of per request
(0.17 s per pane request at 100,000 x 384 before).

Exact search is a blocked matrix product (:func:`datamap_widget.metrics.search_unit`).
Which search is used at which size was decided by ``benchmarks/neighbour_index.py``
(``benchmarks/results/neighbour_index.md``); see :data:`APPROXIMATE_ABOVE`.
"""

from __future__ import annotations

import numpy as np

from . import metrics

__all__ = ["NeighbourIndex"]


class NeighbourIndex:
    """Cosine nearest neighbours among the rows of ``embeddings`` (``(N, D)``; a NaN row has none).

    Built lazily and cached: :attr:`unit` (the normalised float32 matrix) on the first
    search, :meth:`all_neighbours` per ``k`` on its first call. Read-only arrays are handed out.
    """

    def __init__(self, embeddings: np.ndarray) -> None:
        values = np.asarray(embeddings)
        if values.ndim != 2:
            raise ValueError(f"embeddings must have shape (N, D), got shape {values.shape}")
        self._embeddings = values
        self.embeddings = embeddings  # as given: the map checks it still holds these
        self._unit: np.ndarray | None = None
        self._missing: np.ndarray | None = None
        self._all: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return self._embeddings.shape[0]

    @property
    def unit(self) -> np.ndarray:
        """The embeddings as float32 rows of length 1 (zero for a row without an embedding), read-only."""
        if self._unit is None:
            unit, missing = metrics.unit_rows(self._embeddings)
            unit.setflags(write=False)
            self._unit, self._missing = unit, missing
        return self._unit

    def search(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, similarities)`` of the ``k`` nearest other examples of each of ``rows`` (positions), nearest first.

        ``-1`` / NaN where there are fewer than ``k`` (an example without an embedding has none).
        """
        n = len(self)
        k = metrics._check_k(k, n)
        queries = metrics._check_rows(rows, n)
        unit = self.unit
        return metrics.search_unit(unit, self._missing, queries, k)

    def stored(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The widest all-points search done so far (what a saved map keeps), or None."""
        return self._all[max(self._all)] if self._all else None

    def restore(self, found: np.ndarray, similarity: np.ndarray) -> None:
        """Take back an all-points search saved with the map (``(N, k)`` positions and similarities)."""
        found = np.asarray(found, dtype=np.int64)
        similarity = np.asarray(similarity, dtype=np.float32)
        if found.ndim != 2 or found.shape[0] != len(self) or similarity.shape != found.shape:
            raise ValueError(f"saved neighbours must be two ({len(self)}, k) arrays, got {found.shape} and {similarity.shape}")
        if found.size and (found.min() < -1 or found.max() >= len(self)):
            raise ValueError(f"saved neighbours must be positions in [-1, {len(self)}), got {int(found.min())}..{int(found.max())}")
        found.setflags(write=False)
        similarity.setflags(write=False)
        self._all[found.shape[1]] = (found, similarity)

    def all_neighbours(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest neighbours of every example, ``(N, k)`` each; computed once per ``k``."""
        k = metrics._check_k(k, len(self))
        wider = [w for w in self._all if w > k]
        if k not in self._all and wider:  # the first k columns of a wider search are this search
            found, similarity = self._all[min(wider)]
            return found[:, :k], similarity[:, :k]
        if k not in self._all:
            found, similarity = self.search(None, k)  # type: ignore[arg-type]  # None: every row
            found.setflags(write=False)
            similarity.setflags(write=False)
            self._all[k] = (found, similarity)
        return self._all[k]
