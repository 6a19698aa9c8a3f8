"""A reviewer's loop in real JupyterLab (headless Chromium), asserting the kernel's state.

Mouse and keyboard only, as a person works: every key and button must act on the document
the detail pane shows, whatever the selection, filters or search did; keys faster than the
kernel change one document each, once; the colour menu redraws; a bulk accept changes
exactly what it announced; a busy kernel queues actions instead of timing out; a huge text
never freezes the tab. The JupyterLab/Chromium set-up is tests/harness (fixtures: tests/e2e/conftest.py).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.harness.widget import Geometry, open_widget_notebook


pytestmark = pytest.mark.e2e

NOTEBOOK = "review.ipynb"
BUILD = """
import numpy as np
import pandas as pd
from datamap_widget import Tracker, DataMapWidget

n, label_names = 240, ["neg", "pos", "neutral"]
rng = np.random.default_rng(7)
ids = [f"d{i:03d}" for i in range(n)]
gold = rng.integers(0, 3, n)
texts = [f"document {i} says something {label_names[g]}" for i, g in enumerate(gold)]
texts[10] = "x" * 1_000_000  # one 1 MB text without a space
df = pd.DataFrame({"id": ids, "text": texts, "label": [label_names[g] for g in gold]})
tracker = Tracker(ids, df["label"], label_names=label_names)
skill = rng.uniform(-1.5, 3.0, n)
wobble = rng.uniform(0.0, 2.5, n)
for t in range(4):
    logits = rng.normal(0, 0.3, (n, 3)).astype(np.float32)
    logits[np.arange(n), gold] += skill + wobble * np.sin(1.7 * t + np.arange(n))
    tracker.record(ids, logits)
    tracker.end_epoch()
w = DataMapWidget(tracker.datamap(), data=df)
w
"""

CHANGES = "import json; print(json.dumps(w.changes[['id', 'new_label', 'action']].values.tolist()))"


@pytest.fixture(scope="module")
def rl(server, page):
    kernel = open_widget_notebook(server, page, NOTEBOOK, BUILD)
    frame = kernel.json(
        "import json; f = w.frame; print(json.dumps({'ids': f.index.tolist(), "
        "'x': f['variability'].astype('float32').astype(float).tolist(), "
        "'y': f['confidence'].astype('float32').astype(float).tolist()}))"
    )
    yield {"kernel": kernel, "ids": frame["ids"], "x": np.array(frame["x"]), "y": np.array(frame["y"])}
    kernel.client.stop_channels()


def pane_id(page) -> str:
    return page.locator(".dmw-detail-id").first.inner_text()


def click_table_row(page, position: int) -> str:
    """Click the row at ``position`` of the table; returns the id the pane then shows."""
    row = page.locator(f".dmw-table-body .dmw-row[data-pos='{position}']:visible").first
    row.click()
    page.wait_for_function(
        "(r) => document.querySelector('.dmw-detail-id')?.textContent === "
        "[...document.querySelectorAll(`.dmw-table-body .dmw-row[data-pos='${r}']`)].find(e => e.style.display !== 'none').children[0].textContent",
        arg=position, timeout=10_000,
    )
    return pane_id(page)


def wait_changes(rl, n: int) -> list:
    return rl["kernel"].until(CHANGES, lambda v: len(v) >= n, timeout=30)


def table_ids(page) -> list[str]:
    """Ids of the table rows in view, in table order."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.dmw-table-body .dmw-row')].filter(r => r.style.display !== 'none')"
        ".sort((a, b) => a.dataset.pos - b.dataset.pos).map(r => r.children[0].textContent)"
    )


def test_a_key_relabels_the_document_the_pane_shows_after_a_lasso_elsewhere(rl, page, artifacts):
    shown = click_table_row(page, 3)
    geo = Geometry(page, rl["x"], rl["y"])
    row = rl["ids"].index(shown)
    # A lasso around the point farthest from the shown one.
    far = int(np.nanargmax(np.hypot(rl["x"] - rl["x"][row], rl["y"] - rl["y"][row])))
    cx, cy = geo.to_screen(rl["x"][far], rl["y"][far])
    verts = [(cx - 60, cy - 40), (cx + 60, cy - 40), (cx + 60, cy + 40), (cx - 60, cy + 40)]
    page.mouse.move(*verts[0])
    page.mouse.down()
    for v in verts[1:]:
        page.mouse.move(*v, steps=2)
    page.mouse.up()
    selected = rl["kernel"].until("import json; print(json.dumps(w.selected_ids))", lambda v: len(v) > 0)
    assert selected and shown not in selected
    assert pane_id(page) == shown  # the lasso changed the list, not the document shown
    hint = page.locator(".dmw-outside-hint").first
    assert hint.inner_text() == (
        f"This document is not in the selection: keys act on it, buttons on the {len(selected)} selected."
    )
    page.keyboard.press("3")
    assert wait_changes(rl, 1)[-1][:2] == [shown, "neutral"]
    page.screenshot(path=str(artifacts / "review-1-lasso-key.png"), full_page=True)
    page.keyboard.press("Escape")


def test_a_key_acts_on_the_pane_after_a_filter_change_and_after_a_search(rl, page):
    done = len(rl["kernel"].json(CHANGES))
    page.locator(".dmw-suspects").first.check()  # "possibly mislabeled: top 50"
    page.wait_for_function("() => document.querySelector('.dmw-table-title').textContent.startsWith('50 of')", timeout=10_000)
    shown = pane_id(page)
    page.locator(".dmw-table-title").first.click()  # back to the widget, as a user clicks before typing keys
    page.keyboard.press("1")
    assert wait_changes(rl, done + 1)[-1][:2] == [shown, "neg"]
    page.locator(".dmw-suspects").first.uncheck()
    search = page.locator(".dmw-search").first
    search.fill("document 2")
    page.wait_for_function("() => /match/.test(document.querySelector('.dmw-status').textContent)", timeout=10_000)
    shown = click_table_row(page, 1)
    page.keyboard.press("2")
    assert wait_changes(rl, done + 2)[-1][:2] == [shown, "pos"]
    search.fill("")
    page.locator(".dmw-table-title").first.click()


def test_a_search_narrows_the_selection_in_the_table(rl, page):
    k = rl["kernel"]
    chosen = k.json("import json; cand = [f'd{i:03d}' for i in (2, 20, 21, 33, 120, 200)]; w.selected_ids = cand; print(json.dumps(cand))")
    page.wait_for_function("() => document.querySelector('.dmw-table-title').textContent.startsWith('6 selected')", timeout=10_000)
    search = page.locator(".dmw-search").first
    search.fill("document 2")  # matches "document 2 ", "document 20", "document 21", "document 200", ...
    page.wait_for_function("() => /of 6 selected match/.test(document.querySelector('.dmw-table-title').textContent)", timeout=10_000)
    texts = k.json("import json; print(json.dumps(df.set_index('id').loc[%r, 'text'].tolist()))" % chosen)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dmw-table-body .dmw-row')].filter(r => r.style.display !== 'none')"
        ".every(r => r.children[0].textContent !== '…')", timeout=10_000,
    )
    expected = {i for i, t in zip(chosen, texts) if "document 2" in t}
    assert set(table_ids(page)) == expected and len(expected) == 4
    assert page.locator(".dmw-table-title").first.inner_text().startswith(f"{len(expected)} of 6 selected match")
    search.fill("")
    page.wait_for_function("() => document.querySelector('.dmw-table-title').textContent.startsWith('6 selected')", timeout=10_000)
    page.locator(".dmw-clear").first.click()


def test_the_pane_shows_the_three_most_probable_classes_the_kernel_holds(rl, page):
    shown = click_table_row(page, 0)
    page.wait_for_selector(".dmw-detail-classes .dmw-class", timeout=10_000)
    spans = page.locator(".dmw-detail-classes .dmw-class")
    got = [spans.nth(i).inner_text() for i in range(spans.count())]
    gold = page.locator(".dmw-detail-classes .dmw-class-gold")
    expected = rl["kernel"].json(
        "import json, numpy as np; d = w.datamap; row = list(d.ids).index(%r); p = d.class_probabilities[row];"
        " top = np.argsort(-p, kind='stable')[:3];"
        " print(json.dumps({'top': [[d.label_names[c], float(p[c])] for c in top], 'gold': d.label_names[d.labels[row]]}))" % shown
    )
    def percent(p: float) -> str:  # the pane's rounding: whole percents, "<1%" for a sliver
        return "<1%" if 0 < p < 0.005 else f"{int(np.floor(p * 100 + 0.5))}%"

    want = [f"{name} {percent(p)}" + (" (given label)" if name == expected["gold"] else "") for name, p in expected["top"]]
    assert got == want and len(got) == 3
    if expected["gold"] in [n for n, _ in expected["top"]]:
        assert gold.count() == 1 and gold.inner_text().startswith(expected["gold"] + " ")
    else:
        assert gold.count() == 0


def test_undo_shows_the_document_whose_action_was_undone(rl, page):
    k = rl["kernel"]
    history = "import json; print(json.dumps(w.history_size))"
    before = k.json(history)
    shown = click_table_row(page, 4)
    page.keyboard.press("r")  # confirms it, the pane moves on
    assert k.until(history, lambda v: v == before + 1) == before + 1
    page.keyboard.press("j")
    page.wait_for_function("(s) => document.querySelector('.dmw-detail-id').textContent !== s", arg=shown, timeout=10_000)
    page.keyboard.press("u")
    page.wait_for_function("(s) => document.querySelector('.dmw-detail-id').textContent === s", arg=shown, timeout=10_000)
    assert page.locator(".dmw-table-body .dmw-row.dmw-cursor").first.locator(".dmw-cell").first.inner_text() == shown
    assert k.until(history, lambda v: v == before) == before


def test_five_keys_30ms_apart_change_five_documents_once_each(rl, page, artifacts):
    done = len(rl["kernel"].json(CHANGES))
    first = click_table_row(page, 10)
    order = table_ids(page)
    expected = order[order.index(first) : order.index(first) + 5]
    for _ in range(5):
        page.keyboard.press("r")
        page.wait_for_timeout(30)
    changes = wait_changes(rl, done + 5)
    time.sleep(1.0)  # anything late would show up now
    changes = rl["kernel"].json(CHANGES)
    page.screenshot(path=str(artifacts / "review-2-five-keys.png"), full_page=True)
    new = changes[done:]
    assert [c[0] for c in new] == expected
    assert [c[2] for c in new] == ["confirmed"] * 5


def canvas_signature(page) -> list[int]:
    return page.evaluate(
        """() => { const gl = document.querySelector('.dmw-root canvas.dmw-gl');
        const c = document.createElement('canvas'); c.width = 200; c.height = 150;
        const ctx = c.getContext('2d'); ctx.drawImage(gl, 0, 0, 200, 150);
        const d = ctx.getImageData(0, 0, 200, 150).data; let r = 0, g = 0, b = 0;
        for (let i = 0; i < d.length; i += 4) { r += d[i]; g += d[i + 1]; b += d[i + 2]; }
        return [r, g, b]; }"""
    )


def test_the_colour_menu_changes_the_drawn_pixels(rl, page, artifacts):
    before = canvas_signature(page)
    page.locator(".dmw-color-by").first.select_option("category")
    assert rl["kernel"].until("import json; print(json.dumps(w.color_by))", lambda v: v == "category") == "category"
    page.wait_for_timeout(300)
    after = canvas_signature(page)
    page.screenshot(path=str(artifacts / "review-3-colour.png"), full_page=True)
    assert after != before
    assert page.locator(".dmw-legend-item").first.inner_text() == "easy-to-learn"


def test_bulk_accept_changes_exactly_the_previewed_rows(rl, page):
    k = rl["kernel"]
    pick = k.json(
        "import json; f = w.frame; cand = f[f['suggested_label'].astype(str) != f['label'].astype(str)].index[:6].tolist()"
        " + f[f['suggested_label'].astype(str) == f['label'].astype(str)].index[-3:].tolist();"
        " w.selected_ids = cand; print(json.dumps(cand))"
    )
    will = k.json(f"import json; print(json.dumps(w.accept_preview({pick!r})))")
    page.wait_for_function("() => document.querySelector('.dmw-table-title').textContent.startsWith('9 selected')", timeout=10_000)
    before = k.json("import json; print(json.dumps(w.frame['label'].astype(str).to_dict()))")
    page.locator(".dmw-accept").first.click()
    status = page.locator(".dmw-status").first
    page.wait_for_function("() => /will change/.test(document.querySelector('.dmw-status').textContent)", timeout=10_000)
    assert f"{will['change']} labels will change" in status.inner_text()
    page.locator(".dmw-accept-apply").first.click()
    after = k.until(
        "import json; print(json.dumps(w.frame['label'].astype(str).to_dict()))",
        lambda v: sum(v[i] != before[i] for i in v) >= will["change"],
    )
    changed = sorted(i for i in after if after[i] != before[i])
    assert len(changed) == will["change"] and set(changed) <= set(pick)
    suggested = k.json("import json; print(json.dumps(w.frame['suggested_label'].astype(str).to_dict()))")
    assert all(after[i] == suggested[i] for i in changed)
    page.locator(".dmw-clear").first.click()


def test_a_key_during_a_blocking_cell_is_shown_at_once_and_applied_once(rl, page, artifacts):
    """A CPU-bound cell runs while the reviewer presses a key.

    Depending on the kernel, widget messages are handled during the cell (ipykernel 7 here
    answers them while the cell runs) or only after it; either way the label shows at once, the
    relabel lands exactly once, and no raw time-out is shown. When the answer came only after
    the cell, the status line must have said that the action was queued.
    """
    done = len(rl["kernel"].json(CHANGES))
    shown = click_table_row(page, 2)
    page.evaluate(
        """() => { window.__said = []; window.__settled = [];
        const root = document.querySelector('.dmw-root'), status = root.querySelector('.dmw-status');
        new MutationObserver(() => window.__said.push(status.textContent)).observe(status, {childList: true, subtree: true, characterData: true});
        root.addEventListener('dmw:settled', e => window.__settled.push(performance.now()));
        const code = 'import time\\nt0 = time.time()\\nwhile time.time() - t0 < 6: sum(range(1000))';
        window.__cell = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.requestExecute({code}).done
            .then(() => performance.now()); }"""
    )
    page.wait_for_timeout(300)
    page.locator(".dmw-table-title").first.click()
    page.keyboard.press("2")
    row = rl["ids"].index(shown)
    label = page.evaluate(f"() => document.querySelector(\".dmw-table-body .dmw-row[data-row='{row}']\").children[2].textContent")
    assert label == "pos"  # shown at once, whatever the kernel is doing
    cell_end = page.evaluate("() => window.__cell")
    page.screenshot(path=str(artifacts / "review-4-blocking-cell.png"), full_page=True)
    wait_changes(rl, done + 1)
    time.sleep(1.0)
    changes = rl["kernel"].json(CHANGES)
    assert [c[:2] for c in changes[done:]] == [[shown, "pos"]]
    settled, said = page.evaluate("() => [window.__settled, window.__said]")
    assert len(settled) == 1
    if settled[0] >= cell_end:
        assert any("queued and will be applied once each" in t for t in said), said
    assert not any("did not answer" in t for t in said), said
    assert page.errors == [], f"console errors: {page.errors}"


def test_a_one_megabyte_text_shows_bounded_with_show_all_on_demand(rl, page, artifacts):
    search = page.locator(".dmw-search").first
    search.fill("d010")
    page.wait_for_function("() => document.querySelector('.dmw-table-title').textContent.startsWith('1 of')", timeout=10_000)
    click_table_row(page, 0)
    page.wait_for_selector(".dmw-show-all", timeout=20_000)
    length = page.evaluate("() => document.querySelector('.dmw-detail-text').textContent.length")
    assert length <= 20_001
    assert page.locator(".dmw-show-all").first.inner_text() == "Show all 1,000,000 characters"
    page.locator(".dmw-show-all").first.click()
    page.wait_for_function("() => document.querySelector('.dmw-detail-text').textContent.length === 1000000", timeout=60_000)
    # The pane wraps the unbroken text instead of widening the page.
    width = page.evaluate("() => [document.querySelector('.dmw-detail').scrollWidth, document.querySelector('.dmw-detail').clientWidth]")
    page.screenshot(path=str(artifacts / "review-5-huge-text.png"))
    assert width[0] <= width[1] + 1
    search.fill("")
    assert page.errors == [], f"console errors: {page.errors}"
