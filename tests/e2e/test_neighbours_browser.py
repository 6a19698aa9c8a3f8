"""Neighbours in the detail pane, in real JupyterLab (headless Chromium), asserting the kernel's state.

A click on a neighbour makes it the current document: the pane shows it and a number key
relabels exactly that id. A relabel re-ranks the table (the map's score learns from reviews)
while the pane keeps the document it moved on to. The JupyterLab/Chromium set-up is tests/harness (fixtures: tests/e2e/conftest.py).
"""

from __future__ import annotations

import re

import pytest

from tests.harness.widget import CONTRASTS, open_widget_notebook, switch_theme


pytestmark = pytest.mark.e2e

NOTEBOOK = "neighbours.ipynb"
BUILD = """
import numpy as np
import pandas as pd
from datamap_widget import Tracker, DataMapWidget

n, label_names = 60, ["neg", "pos", "neutral"]
rng = np.random.default_rng(0)
ids = [f"d{i:02d}" for i in range(n)]
true = np.arange(n) % 3
given = true.copy()
given[:9] = (true[:9] + 1) % 3  # three of each class carry the next label
df = pd.DataFrame({"id": ids, "text": [f"document {i} <b>bold</b>" for i in range(n)], "label": [label_names[g] for g in given]})
tracker = Tracker(ids, df["label"], label_names=label_names)
centres = rng.normal(0, 1, (3, 16)) * 3
emb = (centres[true] + rng.normal(0, 0.3, (n, 16))).astype(np.float32)
for t in range(3):
    logits = rng.normal(0, 0.5, (n, 3)).astype(np.float32)
    logits[np.arange(n), true] += 1.0 + t
    tracker.record(ids, logits, embeddings=emb)
    tracker.end_epoch()
# margin_knn learns from the review: a relabel re-ranks the examples around it.
w = DataMapWidget(tracker.datamap().rescore("margin_knn"), data=df)
w
"""


@pytest.fixture(scope="module")
def kernel(server, page):
    k = open_widget_notebook(server, page, NOTEBOOK, BUILD)
    yield k
    k.client.stop_channels()


#: The table's rows in display order, as (data-row, text of the id cell), and the cursor's row.
TABLE_ORDER = (
    "() => [...document.querySelectorAll('.dmw-table-body .dmw-row')].filter(r => r.style.display !== 'none')"
    ".sort((a, b) => Number(a.dataset.pos) - Number(b.dataset.pos)).map(r => Number(r.dataset.row))"
)
CURSOR_ROW = "() => Number(document.querySelector('.dmw-table-body .dmw-row.dmw-cursor')?.dataset.row ?? -1)"


def test_a_relabel_re_ranks_the_table_and_the_pane_keeps_its_document(kernel, page, artifacts):
    page.locator(".dmw-table-body .dmw-row[data-pos='0']:visible").first.click()
    before = page.evaluate(TABLE_ORDER)
    top, following = before[0], before[1]
    assert kernel.json("import json; print(json.dumps(w.order == b''))")  # nothing reviewed yet
    true_label = kernel.json(f"import json; print(json.dumps(int(true[{top}])))")
    page.keyboard.press(str(true_label + 1))  # the reviewer fixes the top suspect; the pane moves on
    page.wait_for_function(f"() => document.querySelector('.dmw-detail-id')?.textContent === 'd{following:02d}'", timeout=10_000)
    order = kernel.until(
        "import json, numpy as np; print(json.dumps(np.frombuffer(w.order, '<u4').tolist()))", lambda v: len(v) == 60, timeout=30
    )
    assert order[:2] == [top, following] and order[: len(before)] != before
    page.wait_for_function(f"(o) => JSON.stringify(({TABLE_ORDER})()) === JSON.stringify(o)", arg=order[: len(before)], timeout=10_000)
    after = page.evaluate(TABLE_ORDER)
    assert after != before  # the table shows the new order...
    assert page.locator(".dmw-detail-id").first.inner_text() == f"d{following:02d}"  # ...and the pane the same document
    assert page.evaluate(CURSOR_ROW) == following
    page.screenshot(path=str(artifacts / "neighbours-0-rerank.png"), full_page=True)
    kernel.json("import json; w.undo(); print(json.dumps(True))")  # leave the map as the other tests expect it
    assert not page.errors  # type: ignore[attr-defined]


def test_a_click_on_a_neighbour_opens_it_and_a_key_relabels_that_id(kernel, page, artifacts):
    page.locator(".dmw-table-body .dmw-row[data-pos='0']:visible").first.click()
    first = page.locator(".dmw-detail-id").first.inner_text()
    page.wait_for_selector(".dmw-neighbour", timeout=10_000)
    expected = kernel.json(f"import json; print(json.dumps(w.datamap.neighbors([{first!r}])['neighbor'].tolist()))")
    shown = page.locator(".dmw-neighbour .dmw-neighbour-id").all_inner_texts()
    assert shown == expected and len(shown) == 8
    assert page.locator(".dmw-neighbours b").count() == 0  # texts stay text
    summary = page.locator(".dmw-neighbours-summary").first.inner_text()
    assert " of 8 neighbours are " in summary
    target = shown[2]
    page.locator(".dmw-neighbour").nth(2).click()
    page.wait_for_function("(id) => document.querySelector('.dmw-detail-id')?.textContent === id", arg=target, timeout=10_000)
    page.screenshot(path=str(artifacts / "neighbours-1-click.png"), full_page=True)
    page.keyboard.press("3")
    changes = kernel.until(
        "import json; print(json.dumps(w.changes[['id', 'new_label']].values.tolist()))", lambda v: len(v) >= 1, timeout=30
    )
    assert changes == [[target, "neutral"]]
    assert not page.errors  # type: ignore[attr-defined]



def test_a_click_on_a_confusion_cell_shows_exactly_that_pair(kernel, page):
    pairs = kernel.json(
        # The cells count shown suggestions only: the map's confident ones, not yet the label (issue 29.2).
        "import json; f = w.frame; f = f[f['suggestion_confident'] & (f['label'].astype(str) != f['suggested_label'].astype(str))];"
        " print(json.dumps(f.groupby([f['label'].astype(str), f['suggested_label'].astype(str)], observed=True)"
        ".size().reset_index().values.tolist()))"
    )
    names = ["neg", "pos", "neutral"]
    given, suggested, count = min(pairs, key=lambda p: p[2])  # the smallest cell: every row of it fits in view
    cell = page.locator(f".dmw-confusion-cell[data-given='{names.index(given)}'][data-suggested='{names.index(suggested)}']").first
    assert cell.inner_text() == str(count)
    cell.click()
    title = f"{count} of 60 shown · labelled {given}, suggested {suggested} · most suspect first"
    page.wait_for_function("(t) => document.querySelector('.dmw-table-title').textContent === t", arg=title, timeout=10_000)
    rows = page.evaluate(
        "() => [...document.querySelectorAll('.dmw-table-body .dmw-row')].filter(r => r.style.display !== 'none')"
        ".map(r => [r.children[0].textContent, r.children[2].textContent, r.children[3].textContent])"
    )
    expected = kernel.json(
        f"import json; f = w.frame; m = f['suggestion_confident'] & (f['label'].astype(str) == {given!r}) & (f['suggested_label'].astype(str) == {suggested!r});"
        " print(json.dumps(sorted(f.index[m].tolist())))"
    )
    assert sorted(r[0] for r in rows) == expected and all(r[1:] == [given, suggested] for r in rows)
    page.locator(".dmw-confusion-cell.dmw-active").first.click()
    page.wait_for_function("() => document.querySelector('.dmw-table-title').textContent.startsWith('60 of 60 shown')", timeout=10_000)

#: The contrast probe of tests/harness/widget.py (CONTRASTS), aimed at the neighbour list's and the confusion table's text.
NEIGHBOUR_CONTRASTS = re.sub(
    r"const targets = \{.*?\};",
    "const targets = {'summary': '.dmw-neighbours-summary', 'similarity': '.dmw-neighbour-sim', "
    "'label': '.dmw-neighbour-label', 'id': '.dmw-neighbour-id', 'text': '.dmw-neighbour-text', "
    "'confusion title': '.dmw-confusion-title', 'confusion head': '.dmw-confusion th', "
    "'confusion count': '.dmw-confusion-cell'};",
    CONTRASTS,
    flags=re.S,
)


@pytest.mark.parametrize(("theme", "layout_color0"), [("JupyterLab Light", "white"), ("JupyterLab Dark", "#111")])
def test_the_neighbour_list_and_the_confusion_table_keep_4_5_to_1_contrast(kernel, page, theme, layout_color0):
    assert "dmw-neighbour-sim" in NEIGHBOUR_CONTRASTS
    switch_theme(page, theme, layout_color0)
    page.wait_for_selector(".dmw-neighbour", timeout=10_000)
    measured = page.evaluate(NEIGHBOUR_CONTRASTS)
    texts = {k: v for k, v in measured.items() if isinstance(v, dict) or v is None}
    # The given x suggested table counts shown suggestions only (a document with none is not a
    # suggestion of its own label), so it has no diagonal cell to measure.
    assert len(texts) == 8 and not [k for k, v in texts.items() if v is None]
    low = {k: round(v["ratio"], 2) for k, v in texts.items() if v["ratio"] < 4.5}
    assert not low, f"{theme}: contrast below 4.5:1: {low} ({ {k: texts[k] for k in low} })"
