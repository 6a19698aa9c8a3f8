"""The map's neighbour index (neighbours.py): exact search on a cached unit matrix, HNSW above a size."""

from __future__ import annotations

import numpy as np
import pytest

from datamap_widget import metrics
from datamap_widget.dependencies import MissingExtraError
from datamap_widget.neighbours import NeighbourIndex
from tests.harness.imports import hide


def clustered(n: int = 3000, d: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (30, d))
    return (centres[rng.integers(0, 30, n)] + rng.normal(0, 0.4, (n, d))).astype(np.float32)


def test_exact_search_matches_the_metrics_search_and_the_matrix_is_normalised_once():
    x = clustered(500)
    x[7] = np.nan  # an example without an embedding
    index = NeighbourIndex(x)
    found, sims = index.search(np.array([0, 7, 42]), 8)
    ref_found, ref_sims = metrics.nearest_neighbours(x, 8, rows=np.array([0, 7, 42]))
    np.testing.assert_array_equal(found, ref_found)
    np.testing.assert_allclose(sims, ref_sims, rtol=1e-6, equal_nan=True)
    assert (found[1] == -1).all() and 7 not in found
    assert index.unit is index.unit and not index.unit.flags.writeable
    np.testing.assert_allclose(np.linalg.norm(index.unit[:5], axis=1), 1.0, rtol=1e-6)


def test_the_approximate_all_points_search_finds_nearly_all_true_neighbours():
    x = clustered()
    x[11] = np.nan
    exact = NeighbourIndex(x, approximate=False).all_neighbours(10)  # faiss's flat index: the numpy answer
    ref_found, ref_sims = metrics.nearest_neighbours(x, 10)
    assert (exact[0] == ref_found).mean() > 0.999  # the same, but for near-ties BLAS rounds either way
    np.testing.assert_allclose(exact[1], ref_sims, atol=1e-5, equal_nan=True)
    approx = NeighbourIndex(x, approximate_above=1000).all_neighbours(10)
    found, sims = approx
    assert found.shape == (3000, 10) and (found[11] == -1).all() and not (found == 11).any()
    assert not (found == np.arange(3000)[:, None]).any()  # never one's own neighbour
    assert (np.diff(sims[found[:, 0] >= 0], axis=1) <= 1e-6).all()  # nearest first
    kth = exact[1][:, -1:]
    unit = NeighbourIndex(x).unit
    true_sims = np.einsum("id,ikd->ik", unit, unit[np.where(found >= 0, found, 0)])
    hits = (true_sims >= kth - 1e-5) & (found >= 0)
    keep = ~np.isnan(x).any(axis=1)
    assert hits[keep].mean() > 0.95


def test_without_faiss_the_search_is_exact_and_says_how_to_make_it_fast(monkeypatch):
    hide(monkeypatch, "faiss")
    x = clustered(300)
    with pytest.warns(RuntimeWarning, match=r"pip install 'datamap_widget\[ann\]'.*searching exactly instead"):
        found, _ = NeighbourIndex(x, approximate_above=100).all_neighbours(5)
    np.testing.assert_array_equal(found, metrics.nearest_neighbours(x, 5)[0])
    with pytest.raises(MissingExtraError, match=r"faiss-cpu, which is not installed: pip install 'datamap_widget\[ann\]'"):
        NeighbourIndex(x, approximate=True).all_neighbours(5)


def test_a_wider_search_serves_narrower_ones_and_bad_arguments_are_named():
    index = NeighbourIndex(clustered(200))
    wide = index.all_neighbours(10)
    np.testing.assert_array_equal(index.all_neighbours(4)[0], wide[0][:, :4])
    with pytest.raises(ValueError, match=r"k must be an int in \[1, 199\]"):
        index.search(np.array([0]), 200)
    with pytest.raises(ValueError, match=r"rows must be positions in \[0, 200\), got \[200\]"):
        index.search(np.array([200]), 3)
    with pytest.raises(TypeError, match="approximate must be None, True or False"):
        NeighbourIndex(clustered(10), approximate="yes")
    with pytest.raises(ValueError, match=r"embeddings must have shape \(N, D\)"):
        NeighbourIndex(np.zeros(5))
