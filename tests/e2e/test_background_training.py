"""Review while the model trains: background training in real JupyterLab, driven in headless Chromium.

The notebook fine-tunes the embedded MiniLM in the background (``train_datamap(...,
background=True)``) with a live widget on the handle. While the model trains (at least 15 s),
the test clicks a row, reads the document's full text in the pane, presses a number key, and
checks through a second kernel client that the relabel is in ``w.changes`` exactly once, that
the kernel stayed free (idle) and that later passes kept it.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.harness.browser import TIMEOUT_MS
from tests.harness.jupyter import Kernel


pytestmark = pytest.mark.e2e

NOTEBOOK = "background.ipynb"
CELLS = [
    """# Fine-tune in a background thread: the cell returns at once, the widget stays usable.
import time
from datamap_widget import DataMapWidget, train_datamap
from datamap_widget.data import load_sample

df = load_sample().head(64).reset_index(drop=True)
started = time.monotonic()
handle = train_datamap(df.text, df.label, ids=df.id, background=True, epochs=100, batch_size=16, max_length=32, device="cpu")
w = DataMapWidget(handle, data=df)
w""",
]
MIN_TRAINING_S = 15


def notebook_json() -> str:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
              "source": source} for i, source in enumerate(CELLS)]
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                                   "name": "python3"}},
                       "nbformat": 4, "nbformat_minor": 5})


def idle_share(page, seconds: float = 2.0) -> float:
    """Share of 50 ms samples in which JupyterLab saw the kernel idle (a training cell keeps it busy throughout)."""
    return page.evaluate(
        """async (ms) => {
        const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        let idle = 0, n = 0;
        for (const t0 = performance.now(); performance.now() - t0 < ms; n++) {
            if (kernel.status === 'idle') idle++;
            await new Promise(r => setTimeout(r, 50));
        }
        return idle / n; }""",
        seconds * 1000,
    )


def test_a_relabel_made_while_the_model_trains_in_the_background_counts_once(server, page):
    (server["root"] / NOTEBOOK).write_text(notebook_json())
    page.goto(f"{server['url']}/lab/tree/{NOTEBOOK}", timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel", timeout=TIMEOUT_MS
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(".dmw-root canvas.dmw-gl", timeout=TIMEOUT_MS)
    kernel = Kernel(server, NOTEBOOK)
    try:
        # The cell has returned: the kernel is idle while the thread trains.
        progress = kernel.until("import json; print(json.dumps(w.progress))",
                                lambda p: p.get("epoch") is not None and p["epoch"] >= 2, timeout=180)
        assert progress["state"] == "running", progress
        assert idle_share(page) > 0.5, "the kernel is not kept busy by the training"
        names = kernel.json("import json; print(json.dumps(w.label_names))")

        # Act right after a redraw, so the table is not re-sorted between the click and the key.
        passes = kernel.json("print(w.n_passes)")
        kernel.until("print(w.n_passes)", lambda n: n > passes, timeout=120)
        row = page.locator(".dmw-table-body .dmw-row").first
        row.wait_for(timeout=10_000)
        clicked = time.monotonic()
        row.click()
        page.wait_for_function(
            "() => { const t = document.querySelector('.dmw-detail-text'); return t && t.textContent !== 'loading…' && t.textContent.length > 0; }",
            timeout=3_000,  # the document's text within 3 s, while the model trains
        )
        text_shown_s = time.monotonic() - clicked
        shown_id = page.locator(".dmw-detail-id").first.text_content()
        shown_text = page.locator(".dmw-detail-text").first.text_content()
        truth = kernel.json(
            f"import json; r = df[df.id == {shown_id!r}].iloc[0]; print(json.dumps([r.text, r.label]))"
        )
        assert shown_text == truth[0], "the pane shows the clicked document's full text"
        key = next(i for i, name in enumerate(names[:9], 1) if name != truth[1])
        new_label = names[key - 1]
        data_row = row.get_attribute("data-row")
        page.keyboard.press(str(key))
        page.wait_for_function(
            "([r, label]) => [...document.querySelectorAll('.dmw-table-body .dmw-row')].some(e => e.dataset.row === r && e.children[2].textContent === label)",
            arg=[data_row, new_label],
            timeout=1_000,  # the new label shows within 1 s
        )
        code = "import json; print(json.dumps(w.changes[['id', 'old_label', 'new_label', 'action']].values.tolist()))"
        expected = [[shown_id, truth[1], new_label, "relabeled"]]
        assert kernel.until(code, lambda v: len(v) > 0, timeout=10) == expected
        assert kernel.json("import json; print(json.dumps(w.progress['state']))") == "running", "all of that happened during training"

        # A later pass redraws the map; the relabel stays, once.
        passes = kernel.json("print(w.n_passes)")
        kernel.until("print(w.n_passes)", lambda n: n >= passes + 1, timeout=180)
        elapsed = kernel.json("print(time.monotonic() - started)")
        if elapsed < MIN_TRAINING_S:
            time.sleep(MIN_TRAINING_S - elapsed)
        final = kernel.json(
            "import json, warnings\nhandle.stop()\nwith warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n    handle.wait(120)\n"
            "print(json.dumps([w.progress['state'], w.n_passes, time.monotonic() - started, "
            "w.changes[['id', 'new_label']].values.tolist(), w.frame.loc[" + repr(shown_id) + ", 'label'], "
            "[str(c.message) for c in caught]]))",
            timeout=180,
        )
        state, n_passes, trained_s, changes, label_now, said = final
        # The map wait() returns holds the model's labels: it says the relabel lives in the widget.
        assert len(said) == 1 and "relabel" in said[0] and "w.apply" in said[0]
        assert state == "stopped" and n_passes >= passes + 1
        assert trained_s >= MIN_TRAINING_S
        assert changes == [[shown_id, new_label]], "exactly once, after the later passes"
        assert label_now == new_label
        print(f"text shown {text_shown_s:.2f} s after the click; trained {trained_s:.1f} s over {n_passes} passes")
        assert page.errors == [], f"console errors: {page.errors}"
    finally:
        kernel.client.stop_channels()
