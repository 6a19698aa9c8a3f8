"""The embeddings' 2-D projection (issue 16, item 2): shape, determinism, kept with the map, clear errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamap_widget import DataMap, Tracker
from datamap_widget.dependencies import MissingExtraError
from datamap_widget.projection import DEFAULT_PROJECTION, MIN_POINTS, PROJECTION_METHODS, project, resolve_method


def three_clusters(n_per: int = 40, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated directions in ``dim`` dimensions, ``n_per`` noisy points each."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:3] * 3.0
    classes = np.repeat(np.arange(3), n_per)
    return (centres[classes] + rng.normal(scale=0.2, size=(3 * n_per, dim))).astype(np.float32), classes


def knn_label_agreement(coords: np.ndarray, classes: np.ndarray, k: int = 5) -> float:
    d = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    near = np.argsort(d, axis=1)[:, :k]
    return float((classes[near] == classes[:, None]).mean())


@pytest.mark.parametrize("method", sorted(PROJECTION_METHODS))  # the dev extra installs every one
def test_each_method_gives_n_by_2_float32_that_keeps_clusters_apart_and_repeats_exactly(method):
    values, classes = three_clusters()
    coords = project(values, method)
    assert coords.shape == (120, 2) and coords.dtype == np.float32 and np.isfinite(coords).all()
    # A lasso around a cluster on the screen holds one class: the 2-D neighbours share labels.
    assert knn_label_agreement(coords, classes) > 0.95
    np.testing.assert_array_equal(project(values, method), coords)  # same seed, same picture


def test_pca_is_the_top_two_principal_components_of_the_unit_rows():
    values, _ = three_clusters(dim=8)
    coords = project(values, "pca")
    unit = values / np.linalg.norm(values, axis=1, keepdims=True)
    centred = unit - unit.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T
    # Same axes up to sign (PCA fixes the sign itself: largest loading positive).
    np.testing.assert_allclose(np.abs(coords), np.abs(expected), atol=1e-4)
    assert np.abs(coords[:, 0]).max() > np.abs(coords[:, 1]).max() * 0.5  # the first axis is the widest


def test_bad_input_is_named():
    values, _ = three_clusters()
    with pytest.raises(ValueError, match=r"embeddings must have shape \(N, D\)"):
        project(values[0], "pca")
    with pytest.raises(ValueError, match=f"at least {MIN_POINTS} points"):
        project(values[:2], "pca")
    broken = values.copy()
    broken[[4, 9]] = np.nan
    with pytest.raises(ValueError, match=r"2 rows with NaN or inf \(rows \[4, 9\]\)"):
        project(broken, "pca")
    with pytest.raises(ValueError, match="method must be one of .*'pca'.*got 'isomap'"):
        project(values, "isomap")
    with pytest.raises(TypeError, match="embeddings must be real numbers"):
        project(np.array([["a", "b"]] * 5), "pca")
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        project(values, "pca", seed=-1)
    with pytest.raises(ValueError, match=r"threads must be a positive int or -1 \(all cores\), got 0"):
        project(values, "pca", threads=0)


def test_a_missing_package_names_the_extra(monkeypatch):
    import datamap_widget.dependencies as deps

    real = deps.importlib.import_module

    def missing(name, *args):
        if name in ("umap", "openTSNE"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *args)

    monkeypatch.setattr(deps.importlib, "import_module", missing)
    with pytest.raises(MissingExtraError, match=r"t-SNE .* needs openTSNE.*pip install 'datamap_widget\[projection\]'.*method='pca'"):
        project(three_clusters()[0], "tsne")
    with pytest.raises(MissingExtraError, match=r"UMAP .* needs umap-learn.*pip install 'datamap_widget\[umap\]'"):
        project(three_clusters()[0], "umap")


def test_the_default_falls_back_to_pca_without_the_extra(monkeypatch):
    import datamap_widget.projection as projection

    assert DEFAULT_PROJECTION == "tsne" and resolve_method(None) == "tsne"  # installed with the dev extra
    monkeypatch.setattr(projection.importlib.util, "find_spec", lambda name: None)
    assert resolve_method(None) == "pca"


# ---------------------------------------------------------------- with the map


def clustered_map(n_per: int = 30, unseen: int = 0) -> DataMap:
    """Three classes whose embeddings cluster by class; the last ``unseen`` examples have no embedding."""
    values, classes = three_clusters(n_per)
    n = len(classes)
    ids = [f"doc-{i}" for i in range(n)]
    tracker = Tracker(ids, classes, label_names=["a", "b", "c"])
    rng = np.random.default_rng(1)
    for epoch in range(3):
        logits = np.eye(3)[classes] * 2 + rng.normal(scale=0.3, size=(n, 3))
        seen = n - unseen if epoch == 2 else n
        tracker.record(ids[:seen], logits[:seen], embeddings=values[:seen] if epoch == 2 else None)
        if epoch == 2 and unseen:
            tracker.record(ids[seen:], logits[seen:])
        tracker.end_epoch()
    return tracker.datamap()


def test_projection_is_made_once_per_map_and_saved_with_it(tmp_path):
    dmap = clustered_map()
    got = dmap.projection("pca")
    assert list(got.columns) == ["x", "y"] and got.index.tolist() == list(dmap.ids) and got.index.name == "id"
    assert got.dtypes.tolist() == [np.float32, np.float32] and dmap.projection_method == "pca"
    np.testing.assert_array_equal(dmap.projection().to_numpy(), got.to_numpy())  # kept, not remade
    path = tmp_path / "map.parquet"
    dmap.to_parquet(path)
    again = DataMap.read_parquet(path)
    assert again.projection_method == "pca"
    np.testing.assert_array_equal(again._projection, got.to_numpy())  # read back, not recomputed
    pd.testing.assert_frame_equal(again.projection(), got)
    assert dmap.rescore("knn").projection_method == "pca"  # same embeddings, same picture


def test_another_method_replaces_the_stored_projection():
    dmap = clustered_map()
    pca = dmap.projection("pca").to_numpy()
    tsne = dmap.projection("tsne").to_numpy()
    assert dmap.projection_method == "tsne" and not np.allclose(pca, tsne)
    np.testing.assert_array_equal(dmap.projection().to_numpy(), tsne)
    np.testing.assert_array_equal(project(dmap.embeddings, "tsne", threads=1), tsne)  # any thread count, one picture


def test_a_map_saved_before_the_embedding_view_loads_and_projects(tmp_path):
    dmap = clustered_map()
    path = tmp_path / "old.parquet"
    dmap.to_parquet(path)  # no projection made: no projection columns, as an older version wrote
    table = pq.read_table(path)
    assert "projection_x" not in table.column_names
    again = DataMap.read_parquet(path)
    assert again.projection_method is None
    assert again.projection("pca").shape == (90, 2)


def test_rows_without_an_embedding_get_nan_and_too_few_raise():
    dmap = clustered_map(unseen=5)
    got = dmap.projection("pca")
    assert got.iloc[-5:].isna().all().all() and got.iloc[:-5].notna().all().all()
    assert DataMap(dmap.ids, dmap.labels, dmap.label_names, dmap.trajectories).embeddings is None
    with pytest.raises(ValueError, match="this map has no embeddings, so it has no projection"):
        DataMap(dmap.ids, dmap.labels, dmap.label_names, dmap.trajectories).projection()
    few = np.full(dmap.embeddings.shape, np.nan, dtype=np.float16)
    few[:2] = 1.0
    sparse = DataMap(dmap.ids, dmap.labels, dmap.label_names, dmap.trajectories, embeddings=few)
    with pytest.raises(ValueError, match=f"at least {MIN_POINTS} examples with an embedding; this map has 2 of 90"):
        sparse.projection()
    with pytest.raises(ValueError, match="method must be one of"):
        dmap.projection("umap2")


def test_projection_columns_are_plain_float32_in_the_file(tmp_path):
    dmap = clustered_map()
    dmap.projection("pca")
    path = tmp_path / "map.parquet"
    dmap.to_parquet(path)
    schema = pq.read_schema(path)
    assert schema.field("projection_x").type == pa.float32() and schema.field("projection_y").type == pa.float32()
