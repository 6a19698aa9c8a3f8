"""Review while a cell blocks the kernel (issue 29 item 4), in real JupyterLab driven with mouse and keys.

The usual foreground training: a cell loops over passes (``tracker.end_epoch()`` with new
logits, then work that holds the kernel), so the map redraws and the table re-sorts while the
kernel answers no request from the widget. What a person must see meanwhile: every row of the
table with its id and text (also rows that come into view only after the re-sort, never asked
for before), and, after pressing a key, a status line that says plainly that the action waits
for the cell. Once the cell ends, the action is applied, once.
"""

from __future__ import annotations

import pytest

from tests.harness.browser import TIMEOUT_MS, open_notebook, run_cell
from tests.harness.jupyter import Kernel, write_notebook
from tests.harness.widget import wait_painted


pytestmark = pytest.mark.e2e

NOTEBOOK = "busy.ipynb"
BUILD = """
import time
import numpy as np
import pandas as pd
from datamap_widget import Tracker, DataMapWidget

n, label_names = 600, ["neg", "pos"]
ids = [f"d{i:04d}" for i in range(n)]
df = pd.DataFrame({"id": ids, "text": [f"text of document {i} with a few words" for i in range(n)],
                   "label": [label_names[i % 2] for i in range(n)]})
tracker = Tracker(ids, df["label"], label_names=label_names)
gold = np.arange(n) % 2


def one_pass(reverse):
    # Row i's margin grows with i (or shrinks, reversed): the most suspect rows swap ends each pass.
    margin = np.linspace(-3, 3, n) * (-1 if reverse else 1)
    logits = np.zeros((n, 2), dtype=np.float32)
    logits[np.arange(n), gold] = margin
    tracker.record(ids, logits)
    tracker.end_epoch()


one_pass(False)
one_pass(True)
w = DataMapWidget(tracker, data=df)
w
"""
# A foreground "training" loop: each pass re-sorts the table; the sleep stands for the model's work.
LOOP = """
for t in range(12):
    one_pass(t % 2 == 0)
    time.sleep(1.5)
"""


def visible_rows(page) -> list[list[str]]:
    """[data-row, id cell, text cell] of the table rows on screen, top first."""
    return page.evaluate(
        "() => { const body = document.querySelector('.dmw-table-body'); const top = body.getBoundingClientRect().top;"
        " const bottom = top + body.clientHeight;"
        " return [...body.querySelectorAll('.dmw-row')].filter(r => r.style.display !== 'none')"
        ".filter(r => { const b = r.getBoundingClientRect(); return b.bottom > top && b.top < bottom; })"
        ".sort((a, b) => a.dataset.pos - b.dataset.pos)"
        ".map(r => [r.dataset.row, r.children[0].textContent, r.children[1].textContent]); }"
    )


def passes(page) -> int:
    return int(page.locator(".dmw-passes").first.inner_text().split()[-2])


def test_a_cell_blocking_the_kernel_blanks_no_row_and_the_status_says_actions_wait(server, page, artifacts):
    write_notebook(server, NOTEBOOK, [BUILD, LOOP])
    open_notebook(page, server, NOTEBOOK, timeout_ms=TIMEOUT_MS)
    run_cell(page, 0)
    page.wait_for_selector(".dmw-root canvas.dmw-gl", timeout=TIMEOUT_MS)
    wait_painted(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dmw-table-body .dmw-row')].filter(r => r.style.display !== 'none')"
        ".every(r => r.children[0].textContent !== '…')", timeout=20_000,
    )
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'", timeout=30_000
    )
    first = visible_rows(page)
    before = passes(page)

    # The loop runs in the notebook, as a person runs it (the kernel is busy until it ends).
    run_cell(page, 1)
    page.wait_for_function(f"() => /(\\d+) pass/.exec(document.querySelector('.dmw-passes').textContent)[1] > {before}",
                           timeout=30_000)
    page.wait_for_timeout(300)  # the redraw of that pass has drawn
    rows = visible_rows(page)
    assert rows and [r[0] for r in rows] != [r[0] for r in first], "the pass re-sorted the table"
    assert any(r[0] not in {f[0] for f in first} for r in rows), "rows never shown before came into view"
    page.locator(".dmw-root").first.screenshot(path=str(artifacts / "busy-1-resorted.png"))
    for row, shown_id, text in rows:
        assert shown_id == f"d{int(row):04d}", f"row {row} shows {shown_id!r} for its id while the kernel is busy"
        assert text == f"text of document {int(row)} with a few words", f"row {row} shows {text!r} for its text"

    # A key pressed now is queued: the status line says that it waits for the cell.
    target = page.locator(".dmw-table-body .dmw-row").first
    target_row = target.get_attribute("data-row")
    target.click()
    page.keyboard.press("r")
    page.wait_for_function(
        "() => document.querySelector('.dmw-status').textContent.startsWith('Waiting for the kernel')", timeout=5_000
    )
    status = page.locator(".dmw-status").first.inner_text()
    page.locator(".dmw-root").first.screenshot(path=str(artifacts / "busy-2-queued.png"))
    assert status == "Waiting for the kernel: a cell is running. 1 action queued; it applies when it finishes.", status
    assert passes(page) < before + 12, "all of that happened while the cell ran"

    # The cell ends: the action is applied once and the message goes.
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'", timeout=60_000
    )
    kernel = Kernel(server, NOTEBOOK)
    try:
        done = kernel.until("import json; print(json.dumps(w.changes['id'].tolist()))", lambda v: len(v) > 0, timeout=20)
        assert done == [f"d{int(target_row):04d}"]
    finally:
        kernel.client.stop_channels()
    page.wait_for_function(
        "() => !document.querySelector('.dmw-status').textContent.startsWith('Waiting')", timeout=10_000
    )
    assert page.errors == [], f"console errors: {page.errors}"
