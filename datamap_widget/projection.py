"""2-D projections of sentence embeddings: the map's second view (issue 16).

The widget's map can show the same points by where the model puts them in its embedding
space instead of by variability x confidence, so a reviewer sees clusters and the stray
labels inside them. This module turns ``(N, D)`` embeddings into ``(N, 2)`` float32
coordinates; pure numpy for PCA, an optional package for the neighbour-preserving methods.

Which method is the default was decided by measurement (``benchmarks/projection.py``,
results in ``benchmarks/results/projection.md``): trustworthiness, neighbour preservation
against the cosine neighbours the detail pane lists and k-NN label agreement, and time, at
1k, 10k and 70k real embeddings. t-SNE (openTSNE) kept the most of each at every size (at
70,601 texts: 35% of the 10 nearest neighbours kept, UMAP 17%, PaCMAP 8%, PCA 6%; label
agreement 0.43 of the embedding space's 0.45), was as fast as UMAP up to 10k and needs no
numba; UMAP is 4x faster at 70k on one thread and PaCMAP 10x, for a visibly worse picture.

Every method works on L2-normalised rows, so distances are the cosine geometry that
:func:`datamap_widget.metrics.nearest_neighbours` searches. Results are deterministic for
a given ``seed``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import numbers
from collections.abc import Callable

import numpy as np

from .dependencies import require
from .ids import describe_ids

__all__ = ["DEFAULT_PROJECTION", "FALLBACK_PROJECTION", "MIN_POINTS", "PROJECTION_METHODS", "project", "resolve_method"]

#: Fewest points a projection is made of: below this there is no structure to show, and the
#: neighbour-graph methods cannot build their graph.
MIN_POINTS = 3


def _unit_rows(values: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (cosine geometry); an all-zero row stays zero."""
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    return values / np.maximum(norms, 1e-12)


def _pca(unit: np.ndarray, seed: int, threads: int) -> np.ndarray:
    """The first two principal components, by an eigendecomposition of the D x D covariance.

    ``D x D`` (384 x 384 for MiniLM) rather than an SVD of the ``N x D`` matrix: the cost is
    one pass over the data, whatever N. Signs are fixed (largest loading positive) so the
    picture does not flip between runs. ``seed`` and ``threads`` are unused: PCA is
    deterministic and one matrix product.
    """
    del seed, threads
    centred = unit - unit.mean(axis=0, dtype=np.float64).astype(np.float32)
    cov = (centred.T @ centred).astype(np.float64) / max(len(unit) - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    top = vectors[:, np.argsort(values)[::-1][:2]]
    signs = np.sign(top[np.argmax(np.abs(top), axis=0), np.arange(top.shape[1])])
    top = top * np.where(signs == 0, 1.0, signs)
    out = centred @ top.astype(np.float32)
    if out.shape[1] < 2:  # one-dimensional input: the second axis is flat
        out = np.hstack([out, np.zeros((len(out), 2 - out.shape[1]), dtype=np.float32)])
    return out


def _neighbours_for(n: int, wanted: int) -> int:
    """A neighbour-graph size the method can build on ``n`` points (at most n - 1)."""
    return max(2, min(wanted, n - 1))


def _umap(unit: np.ndarray, seed: int, threads: int) -> np.ndarray:
    umap = require("umap", "the UMAP projection (dmap.projection(method='umap'))", alternative="or use method='pca'")
    # A random_state makes UMAP deterministic, and single-threaded whatever `threads` says.
    del threads
    model = umap.UMAP(n_components=2, n_neighbors=_neighbours_for(len(unit), 15), min_dist=0.1,
                      metric="euclidean", random_state=seed, n_jobs=1, init="spectral" if len(unit) > 20 else "random")
    return model.fit_transform(unit)


def _pacmap(unit: np.ndarray, seed: int, threads: int) -> np.ndarray:
    del threads  # numba's threads (NUMBA_NUM_THREADS)
    pacmap = require("pacmap", "the PaCMAP projection (dmap.projection(method='pacmap'))", alternative="or use method='pca'")
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a note about the seed on every call
        model = pacmap.PaCMAP(n_components=2, n_neighbors=_neighbours_for(len(unit), 10), random_state=seed,
                              apply_pca=unit.shape[1] > 100)
        return model.fit_transform(unit, init="pca")


def _tsne(unit: np.ndarray, seed: int, threads: int) -> np.ndarray:
    open_tsne = require("openTSNE", "the t-SNE projection (dmap.projection(method='tsne'))", alternative="or use method='pca'")
    perplexity = float(min(30, max(1, (len(unit) - 1) / 3)))
    # With a random_state openTSNE gives the same picture on every call, on any number of threads.
    model = open_tsne.TSNE(n_components=2, perplexity=perplexity, metric="euclidean", random_state=seed,
                           n_jobs=threads, verbose=False)
    return np.asarray(model.fit(unit))


#: Method name -> (function, the module it imports or None). One table, so names, docs and
#: code cannot drift (cleanlab's habit).
PROJECTION_METHODS: dict[str, tuple[Callable[[np.ndarray, int, int], np.ndarray], str | None]] = {
    "pca": (_pca, None),
    "umap": (_umap, "umap"),
    "pacmap": (_pacmap, "pacmap"),
    "tsne": (_tsne, "openTSNE"),
}

#: The measured best (benchmarks/results/projection.md), used when its package is installed
#: (the ``projection`` extra: openTSNE); otherwise :data:`FALLBACK_PROJECTION`, which needs nothing.
DEFAULT_PROJECTION = "tsne"
FALLBACK_PROJECTION = "pca"


def resolve_method(method: str | None) -> str:
    """The method ``method`` names, or for None the default when installed, else the fallback."""
    if method is None:
        module = PROJECTION_METHODS[DEFAULT_PROJECTION][1]
        installed = module is None or importlib.util.find_spec(module) is not None
        return DEFAULT_PROJECTION if installed else FALLBACK_PROJECTION
    if not isinstance(method, str) or method not in PROJECTION_METHODS:
        raise ValueError(f"method must be one of {sorted(PROJECTION_METHODS)} or None (the default), got {method!r}")
    return method


def project(embeddings: np.ndarray, method: str | None = None, *, seed: int = 0, threads: int = -1) -> np.ndarray:
    """``(N, 2)`` float32 coordinates of ``(N, D)`` embeddings, deterministic for a ``seed``.

    Parameters
    ----------
    embeddings : ``(N, D)`` finite numbers, N >= :data:`MIN_POINTS`. Rows are L2-normalised
        first (cosine geometry, as the neighbour search).
    method : one of :data:`PROJECTION_METHODS` (``"pca"``, ``"umap"``, ``"pacmap"``,
        ``"tsne"``), or None for :data:`DEFAULT_PROJECTION` (t-SNE) when its package is
        installed (``pip install 'datamap_widget[projection]'``) and :data:`FALLBACK_PROJECTION`
        (PCA) else. UMAP and PaCMAP come with the ``umap`` and ``pacmap`` extras.
    seed : random seed of the stochastic methods.
    threads : CPU threads for t-SNE (-1: all); the result is the same on any number. UMAP with
        a seed runs on one; PaCMAP follows ``NUMBA_NUM_THREADS``.

    ValueError for a wrong shape, NaN/inf rows or too few points; MissingExtraError when
    the named method's package is missing.
    """
    name = resolve_method(method)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads == 0 or threads < -1:
        raise ValueError(f"threads must be a positive int or -1 (all cores), got {threads!r}")
    values = np.asarray(embeddings)
    if values.ndim != 2 or values.shape[1] < 1:
        raise ValueError(f"embeddings must have shape (N, D) with D >= 1, got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
        raise TypeError(f"embeddings must be real numbers, got dtype {values.dtype}")
    if len(values) < MIN_POINTS:
        raise ValueError(f"a projection needs at least {MIN_POINTS} points with embeddings, got {len(values)}")
    values = values.astype(np.float32, copy=False)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"embeddings has {rows.size} rows with NaN or inf (rows {describe_ids(rows)}); "
            "project only the rows that have an embedding"
        )
    function, _module = PROJECTION_METHODS[name]
    out = np.asarray(function(_unit_rows(values), int(seed), int(threads)), dtype=np.float32)
    if out.shape != (len(values), 2):  # a library changed its output: say so rather than draw garbage
        raise RuntimeError(f"the {name} projection returned shape {out.shape}, expected ({len(values)}, 2)")
    return np.ascontiguousarray(out)
