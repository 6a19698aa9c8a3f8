"""The neighbour index of a map: nearest examples by cosine similarity, built once per map.

The detail pane asks for one document's neighbours per keypress, and the neighbour scores
and the re-ranking (:mod:`datamap_widget.ranking`) need every example's. Both search the
same unit-length float32 matrix, which is normalised once here instead of per request
(0.17 s per pane request at 100,000 x 384 before).

Exact search is a blocked matrix product (:func:`datamap_widget.metrics.search_unit`).
Which search is used where was decided by ``benchmarks/neighbour_index.py``
(``benchmarks/results/neighbour_index.md``, real MiniLM embeddings of the 70,601 shared texts,
one thread):

- one document's neighbours (the pane, ``DataMap.neighbors``) are always searched exactly:
  10-15 ms at 100,000 examples, where an HNSW query takes 0.2 ms but the graph takes 30-120 s
  to build;
- every example's neighbours (the neighbour scores, the re-ranking) through faiss-cpu (the
  ``ann`` extra) when it is installed: its exact flat index up to :data:`APPROXIMATE_ABOVE`
  examples (the numpy answer, 2.3x faster at 70,601: 79 s against 179 s), an HNSW graph above
  (M 16, ef 80: 56 s against 177 s exact at 100,000, recall@10 0.976). Without faiss-cpu the
  numpy search is used (with a warning above the threshold). pynndescent was as fast and as
  good once compiled (34 s, recall 0.978) but compiles for 40-75 s in every new process;
  hnswlib built the same graph as fast as faiss but ships no wheels (needs a C++ compiler).

The graph is not kept: its product, every example's neighbours (60 bytes per example), is
saved with the map (:meth:`~datamap_widget.DataMap.to_parquet`), so a loaded map needs no
search, and rebuilding a graph would cost less than storing one (154 MB at 100,000 x 384).
"""

from __future__ import annotations

import warnings

import numpy as np

from . import metrics

__all__ = ["APPROXIMATE_ABOVE", "NeighbourIndex"]

#: Examples above which the all-points search uses the approximate (HNSW) index when faiss-cpu
#: is installed: where the exact search (growing as N^2: 177 s at 100,000) and the graph (about
#: as N: 56 s at 100,000) cost the same, extrapolated from benchmarks/results/neighbour_index.md.
APPROXIMATE_ABOVE = 30_000
#: HNSW graph settings: links per node, candidates kept while building and while searching.
#: ef 80 to build: recall@10 0.976 in 56 s at 100,000; ef 200: 0.993 in 159 s; ef 40: 0.933 in 44 s.
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 16, 80, 64


class NeighbourIndex:
    """Cosine nearest neighbours among the rows of ``embeddings`` (``(N, D)``; a NaN row has none).

    Built lazily and cached: :attr:`unit` (the normalised float32 matrix) on the first
    search, :meth:`all_neighbours` per ``k`` on its first call. Read-only arrays are handed out.
    """

    def __init__(self, embeddings: np.ndarray, *, approximate: bool | None = None, approximate_above: int = APPROXIMATE_ABOVE) -> None:
        """``approximate``: None (default) uses the HNSW index for the all-points search above
        ``approximate_above`` examples when faiss-cpu is installed (else exact, with a warning
        saying how to make it faster); True always (MissingExtraError without faiss-cpu); False never."""
        if approximate not in (None, True, False):
            raise TypeError(f"approximate must be None, True or False, got {approximate!r}")
        if isinstance(approximate_above, bool) or not isinstance(approximate_above, (int, np.integer)) or approximate_above < 0:
            raise ValueError(f"approximate_above must be a non-negative int, got {approximate_above!r}")
        self.approximate = approximate
        self.approximate_above = int(approximate_above)
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
            faiss, approximate = self._backend()
            if faiss is not None:
                found, similarity = _faiss_all(faiss, self.unit, self._missing, k, approximate)
            else:
                found, similarity = self.search(None, k)  # type: ignore[arg-type]  # None: every row
            found.setflags(write=False)
            similarity.setflags(write=False)
            self._all[k] = (found, similarity)
        return self._all[k]

    def _backend(self):
        """(faiss or None, approximate?) for the all-points search; None: the numpy exact search.

        faiss's exact flat index gives the numpy search's answer about twice as fast, so it is
        used whenever faiss-cpu is installed; its HNSW graph above ``approximate_above``.
        """
        from .dependencies import MissingExtraError, require

        approximate = self.approximate is True or (self.approximate is None and len(self) > self.approximate_above)
        try:
            return require("faiss", f"the approximate neighbour search of {len(self):,} examples"), approximate
        except MissingExtraError as error:
            if self.approximate:
                raise
            if approximate:
                warnings.warn(f"{error}; searching exactly instead, which takes minutes at this size", RuntimeWarning, stacklevel=4)
            return None, False


def _faiss_all(faiss, unit: np.ndarray, missing: np.ndarray, k: int, approximate: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every example's ``k`` nearest others by faiss (an HNSW graph, or its exact flat index) over
    the rows that have an embedding; an example without one has none and is nobody's."""
    have = np.flatnonzero(~missing)
    n = unit.shape[0]
    found = np.full((n, k), -1, dtype=np.int64)
    similarity = np.full((n, k), np.nan, dtype=np.float32)
    if have.size < 2:
        return found, similarity
    data = np.ascontiguousarray(unit[have])
    if approximate:
        index = faiss.IndexHNSWFlat(data.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.add(data)
        index.hnsw.efSearch = max(HNSW_EF_SEARCH, k + 1)
    else:
        index = faiss.IndexFlatIP(data.shape[1])
        index.add(data)
    wanted = min(k + 1, have.size)
    sims, hits = index.search(data, wanted)
    # Each example finds itself (or an identical copy first): drop the entry that is itself, else the last.
    own = hits == np.arange(have.size)[:, None]
    keep = np.argsort(own, axis=1, kind="stable")[:, : min(k, have.size - 1)]
    hits = np.take_along_axis(hits, keep, axis=1)
    sims = np.take_along_axis(sims, keep, axis=1)
    valid = hits >= 0
    width = hits.shape[1]
    found[have, :width] = np.where(valid, have[np.where(valid, hits, 0)], -1)
    similarity[have, :width] = np.where(valid, sims, np.nan)
    return found, similarity
