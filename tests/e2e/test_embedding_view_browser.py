"""The embedding view in real JupyterLab (headless Chromium), asserting the kernel's state.

Points selected on the data map stay selected when the map switches to the embedding view
(``w.selected_ids`` in the kernel), and a lasso drawn around a cluster in the embedding
view selects exactly the ids inside it, ready for one bulk relabel. The JupyterLab/Chromium
set-up is tests/harness (fixtures: tests/e2e/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness.widget import MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, inside, open_widget_notebook, wait_painted

pytestmark = pytest.mark.e2e

NOTEBOOK = "embedding_view.ipynb"
# Three tight clusters of embeddings, one per class; d05 (class 2's cluster) carries label "neg".
BUILD = """
import numpy as np
import pandas as pd
from datamap_widget import Tracker, DataMapWidget

n, label_names = 90, ["neg", "pos", "neutral"]
rng = np.random.default_rng(5)
ids = [f"d{i:02d}" for i in range(n)]
cluster = np.arange(n) % 3
gold = cluster.copy()
gold[5] = 0
df = pd.DataFrame({"id": ids, "text": [f"document {i} <b>bold</b>" for i in range(n)], "label": [label_names[g] for g in gold]})
tracker = Tracker(ids, df["label"], label_names=label_names)
emb = (np.eye(16)[cluster] * 4 + rng.normal(0, 0.15, (n, 16))).astype(np.float32)
for t in range(3):
    logits = rng.normal(0, 0.5, (n, 3)).astype(np.float32)
    logits[np.arange(n), cluster] += 1.0 + t
    tracker.record(ids, logits, embeddings=emb)
    tracker.end_epoch()
w = DataMapWidget(tracker.datamap(), data=df)  # the default projection: t-SNE
w
"""


@pytest.fixture(scope="module")
def kernel(server, page):
    k = open_widget_notebook(server, page, NOTEBOOK, BUILD)
    yield k
    k.client.stop_channels()


def drag(page, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*points[0])
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*p, steps=2)
    page.mouse.up()


def embedding_screen(page, px: np.ndarray, py: np.ndarray):
    """Data -> screen for the embedding view's home view: every point, 5% margins (computed here, not by the JS)."""
    rect = page.locator(".dmw-overlay").first.bounding_box()
    x0, x1, y0, y1 = px.min(), px.max(), py.min(), py.max()
    mx, my = (x1 - x0) * 0.05, (y1 - y0) * 0.05
    x0, x1, y0, y1 = x0 - mx, x1 + mx, y0 - my, y1 + my
    pw = rect["width"] - MARGIN_LEFT - MARGIN_RIGHT
    ph = rect["height"] - MARGIN_TOP - MARGIN_BOTTOM

    def to_screen(x, y):
        return (rect["x"] + MARGIN_LEFT + (x - x0) / (x1 - x0) * pw, rect["y"] + MARGIN_TOP + (y1 - y) / (y1 - y0) * ph)

    def to_data(sx, sy):
        return (x0 + (sx - rect["x"] - MARGIN_LEFT) / pw * (x1 - x0), y1 - (sy - rect["y"] - MARGIN_TOP) / ph * (y1 - y0))

    return to_screen, to_data


def test_switching_views_keeps_the_selection_and_a_lasso_in_the_embedding_view_selects_a_cluster(kernel, page, artifacts):
    # Select on the data map: a box over its left half.
    page.locator(".dmw-tool-box").first.click()
    rect = page.locator(".dmw-overlay").first.bounding_box()
    drag(page, [(rect["x"] + MARGIN_LEFT + 2, rect["y"] + MARGIN_TOP + 2),
                (rect["x"] + rect["width"] * 0.5, rect["y"] + rect["height"] - MARGIN_BOTTOM - 2)])
    before = kernel.until("import json; print(json.dumps(w.selected_ids))", lambda v: len(v) > 0)
    assert 0 < len(before) < 90
    assert page.locator(".dmw-view-embedding").first.is_enabled()
    page.locator(".dmw-view-embedding").first.click()
    assert kernel.until("import json; print(json.dumps(w.map_view))", lambda v: v == "embedding") == "embedding"
    assert kernel.json("import json; print(json.dumps(w.selected_ids))") == before
    assert f"{len(before)} selected" in page.locator(".dmw-table-title").first.inner_text()
    # The map opened without a projection (the widget never waits for t-SNE): the first switch
    # asks the kernel for it and the view turns on when it arrives.
    page.wait_for_function(
        "() => document.querySelector('.dmw-view-embedding')?.getAttribute('aria-pressed') === 'true'", timeout=120_000
    )
    assert kernel.json("import json; print(json.dumps(w.datamap.projection_method))") == "tsne"
    assert kernel.json("import json; print(json.dumps(w.selected_ids))") == before
    assert "t-SNE projection" in page.locator(".dmw-overlay").first.get_attribute("aria-label")
    wait_painted(page)
    page.screenshot(path=str(artifacts / "embedding-1-switched.png"), full_page=True)

    # Clear, then lasso around class 2's cluster (rows 2, 5, 8, ...; d05 carries the stray label "neg").
    page.locator(".dmw-clear").first.click()
    kernel.until("import json; print(json.dumps(w.selected_ids))", lambda v: v == [])
    frame = kernel.json(
        "import json; p = w.datamap.projection(); print(json.dumps({'ids': p.index.tolist(), "
        "'x': p['x'].astype(float).tolist(), 'y': p['y'].astype(float).tolist()}))"
    )
    ids, px, py = np.array(frame["ids"]), np.array(frame["x"]), np.array(frame["y"])
    to_screen, to_data = embedding_screen(page, px, py)
    members = np.arange(90) % 3 == 2
    cx, cy = px[members].mean(), py[members].mean()
    spread = max(np.ptp(px[members]), np.ptp(py[members]), 1e-3)
    page.locator(".dmw-tool-lasso").first.click()
    centre = to_screen(cx, cy)
    radius = max(abs(to_screen(cx + spread, cy)[0] - centre[0]), abs(to_screen(cx, cy + spread)[1] - centre[1]), 12)
    verts = [(round(centre[0] + radius * np.cos(a)), round(centre[1] + radius * np.sin(a))) for a in np.linspace(0, 2 * np.pi, 13)[:-1]]
    drag(page, verts)
    poly = [to_data(*v) for v in verts + [verts[-1]]]
    expected = sorted(ids[inside(px, py, poly)].tolist())
    assert expected == sorted(ids[members].tolist())  # the lasso holds that cluster, and only it
    got = kernel.until("import json; print(json.dumps(sorted(w.selected_ids)))", lambda v: len(v) > 0)
    page.screenshot(path=str(artifacts / "embedding-2-lasso.png"), full_page=True)
    assert got == expected
    # One bulk relabel of the lassoed cluster: only the stray label changes.
    page.locator(".dmw-relabel-select").first.select_option("neutral")
    page.locator(".dmw-relabel").first.click()
    changes = kernel.until(
        # One snapshot of the changes: the relabel may land between two reads of w.changes.
        "import json; c = w.changes; print(json.dumps(c[c['old_label'] != c['new_label']][['id', 'new_label']].values.tolist()))",
        lambda v: len(v) >= 1, timeout=30,
    )
    assert changes == [["d05", "neutral"]]
    # Back on the data map: the same ids are selected.
    page.locator(".dmw-view-data_map").first.click()
    assert kernel.until("import json; print(json.dumps(w.map_view))", lambda v: v == "data_map") == "data_map"
    assert sorted(kernel.json("import json; print(json.dumps(w.selected_ids))")) == expected
    assert not page.errors  # type: ignore[attr-defined]
