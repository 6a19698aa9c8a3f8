"""The reviewer's session, finished (issue 29), in real JupyterLab driven with mouse and keys.

What a person sees and does: filters narrow a selection's table and the buttons act on what
the table lists; the bulk-accept question appears by its button and keeps what a person
decided; the wheel scrolls the
notebook unless the map is clicked into or Ctrl is held, and zooms within bounds; a first-step
hint, a keyboard help on ?, Escape out of the search box; the labels saved from the widget to a
CSV next to the notebook; a readable layout at a 900 px widget. The JupyterLab/Chromium set-up
is tests/harness (fixtures: tests/e2e/conftest.py).
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from tests.harness.browser import KERNEL_IDLE, TIMEOUT_MS, new_page, run_cell
from tests.harness.jupyter import Kernel, write_notebook
from tests.harness.widget import Geometry, open_widget_notebook, wait_painted


pytestmark = pytest.mark.e2e

NOTEBOOK = "session.ipynb"
BUILD = """
import numpy as np
import pandas as pd
from IPython.display import display
from datamap_widget import Tracker, DataMapWidget

n, label_names = 240, ["DESC", "ENTY", "LOC", "HUM"]
rng = np.random.default_rng(11)
ids = [f"q{i:03d}" for i in range(n)]
gold = rng.integers(0, 4, n)
flip = np.random.default_rng(12).choice(n, 24, replace=False)  # given another label: the map suggests gold
given = gold.copy()
given[flip] = (gold[flip] + 1) % 4
texts = [f"question {i} is about {label_names[g]} and a few more words to read" for i, g in enumerate(gold)]
df = pd.DataFrame({"id": ids, "text": texts, "label": [label_names[g] for g in given]})
tracker = Tracker(ids, df["label"], label_names=label_names)
skill = rng.uniform(-1.5, 3.0, n)
wobble = rng.uniform(0.0, 2.5, n)
for t in range(4):
    logits = rng.normal(0, 0.3, (n, 4)).astype(np.float32)
    logits[np.arange(n), gold] += skill + wobble * np.sin(1.7 * t + np.arange(n))
    logits[flip, gold[flip]] += 2.0
    tracker.record(ids, logits)
    tracker.end_epoch()
w = DataMapWidget(tracker.datamap(), data=df)
display(w)
print("\\n".join(f"line {i} below the widget" for i in range(120)))  # a notebook long enough to scroll
"""

CHANGES = "import json; print(json.dumps(w.changes[['id', 'new_label', 'action']].values.tolist()))"


@pytest.fixture(scope="module")
def rs(server, page):
    kernel = open_widget_notebook(server, page, NOTEBOOK, BUILD)
    frame = kernel.json(
        "import json; f = w.frame; print(json.dumps({'ids': f.index.tolist(), 'label': f['label'].astype(str).tolist(), "
        "'x': f['variability'].astype('float32').astype(float).tolist(), "
        "'y': f['confidence'].astype('float32').astype(float).tolist()}))"
    )
    yield {"kernel": kernel, "server": server, **frame, "x": np.array(frame["x"]), "y": np.array(frame["y"])}
    kernel.client.stop_channels()


def table_ids(page) -> list[str]:
    return page.evaluate(
        "() => [...document.querySelectorAll('.dmw-table-body .dmw-row')].filter(r => r.style.display !== 'none')"
        ".sort((a, b) => a.dataset.pos - b.dataset.pos).map(r => r.children[0].textContent)"
    )


def title(page) -> str:
    return page.locator(".dmw-table-title").first.inner_text()


def lasso(page, rs, x0, x1, y0, y1) -> None:
    """Drag the lasso around the data rectangle [x0, x1] × [y0, y1], as a hand would."""
    page.locator(".dmw-root").first.scroll_into_view_if_needed()
    geo = Geometry(page, rs["x"], rs["y"])
    corners = [geo.to_screen(x0, y1), geo.to_screen(x1, y1), geo.to_screen(x1, y0), geo.to_screen(x0, y0)]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for c in corners[1:] + corners[:1]:
        page.mouse.move(*c, steps=4)
    page.mouse.up()


def test_the_first_step_hint_is_there_at_the_start(rs, page, artifacts):
    hint = page.locator(".dmw-start-hint").first
    assert hint.is_visible()
    assert hint.inner_text().startswith("Start here: click the map or the table first (then the keys work). "
                                        "The table lists the most likely mislabeled documents first")
    assert page.locator(".dmw-save-state").first.inner_text() == "0 labels changed · not saved"
    page.locator(".dmw-root").first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "session-1-start.png"))


def test_a_label_filter_narrows_the_selection_in_the_table_and_the_buttons_act_on_those(rs, page, artifacts):
    k = rs["kernel"]
    xmax = max(0.5, float(rs["x"].max()))
    lasso(page, rs, -0.03 * xmax, 1.03 * xmax, -0.03, 1.03)  # around every point, inside the plot
    selected = k.until("import json; print(json.dumps(w.selected_ids))", lambda v: len(v) > 100)
    labels = dict(zip(rs["ids"], rs["label"]))
    assert {labels[i] for i in selected} == {"DESC", "ENTY", "LOC", "HUM"}
    page.locator(".dmw-filter-labels .dmw-chip", has_text="DESC").first.click()
    want = [i for i in selected if labels[i] == "DESC"]
    page.wait_for_function(
        "(t) => document.querySelector('.dmw-table-title').textContent.startsWith(t)",
        arg=f"{len(want)} of {len(selected)} selected match the filters", timeout=10_000,
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dmw-table-body .dmw-row')].filter(r => r.style.display !== 'none')"
        ".every(r => r.children[0].textContent !== '…')", timeout=10_000,
    )
    shown = table_ids(page)
    assert shown and {labels[i] for i in shown} == {"DESC"}  # no ENTY, LOC or HUM row
    page.screenshot(path=str(artifacts / "session-2-filter-narrows-selection.png"))
    page.locator(".dmw-review").first.click()
    changes = k.until(CHANGES, lambda v: len(v) >= len(want), timeout=30)
    assert sorted(c[0] for c in changes) == sorted(want)
    assert {c[2] for c in changes} == {"confirmed"}
    page.locator(".dmw-filter-labels .dmw-chip", has_text="DESC").first.click()
    page.locator(".dmw-clear").first.click()


def test_the_bulk_accept_question_appears_by_its_button(rs, page, artifacts):
    k = rs["kernel"]
    k.json("import json; f = w.frame; cand = f[f['suggestion_confident'] & ~f['reviewed']].index[:5].tolist();"
           " w.selected_ids = cand; print(json.dumps(cand))")
    page.wait_for_function("() => document.querySelector('.dmw-table-title').textContent.startsWith('5 selected')", timeout=10_000)
    button = page.locator(".dmw-accept").first
    button.scroll_into_view_if_needed()
    button.click()
    apply = page.locator(".dmw-accept-apply").first
    apply.wait_for(timeout=10_000)
    b, a = button.bounding_box(), apply.bounding_box()
    page.screenshot(path=str(artifacts / "session-3-accept-by-its-button.png"))
    assert 0 <= a["y"] - (b["y"] + b["height"]) < 80, (b, a)  # right under the toolbar, not ~700 px down
    assert 0 <= a["y"] and a["y"] + a["height"] <= page.viewport_size["height"]
    page.locator(".dmw-accept-cancel").first.click()
    page.locator(".dmw-clear").first.click()


def test_bulk_accept_keeps_what_a_person_decided_and_says_so(rs, page, artifacts):  # noqa: F811
    """Issue 29.3: "Accept suggestions…" on reviewed documents changed them back to the model's suggestion."""
    k = rs["kernel"]
    pick = k.json(
        "import json; f = w.frame; cand = f[f['suggestion_confident'] & ~f['reviewed']].index[:5].tolist();"
        " w.mark_reviewed(cand[:2]); w.selected_ids = cand; print(json.dumps(cand))"
    )
    assert len(pick) == 5
    before = k.json("import json; print(json.dumps(w.frame['label'].astype(str).to_dict()))")
    page.wait_for_function("() => document.querySelector('.dmw-table-title').textContent.startsWith('5 selected')", timeout=10_000)
    page.locator(".dmw-accept").first.click()
    page.wait_for_function("() => /will change/.test(document.querySelector('.dmw-status').textContent)", timeout=10_000)
    status = page.locator(".dmw-status").first.inner_text()
    assert "3 labels will change, 2 already reviewed by a person keep their label" in status, status
    assert page.locator(".dmw-accept-include").first.inner_text() == "Include the 2 reviewed (5)"
    page.screenshot(path=str(artifacts / "session-3b-accept-keeps-reviewed.png"))
    page.locator(".dmw-accept-apply").first.click()
    after = k.until("import json; print(json.dumps(w.frame['label'].astype(str).to_dict()))",
                    lambda v: sum(v[i] != before[i] for i in pick) >= 3)
    assert sorted(i for i in pick if after[i] != before[i]) == sorted(pick[2:])
    assert [after[i] for i in pick[:2]] == [before[i] for i in pick[:2]]  # the person's decisions stay
    # Accepted: the table says there is nothing left to suggest for them.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dmw-table-body .dmw-row')].filter(r => r.style.display !== 'none')"
        ".filter(r => r.children[3].textContent === '—').length >= 3", timeout=10_000,
    )
    k.json("import json; [w.undo() for _ in range(3)]; w.selected_ids = []; print('null')")


def gl_signature(page) -> list[int]:
    return page.evaluate(
        """() => { const gl = document.querySelector('.dmw-root canvas.dmw-gl');
        const c = document.createElement('canvas'); c.width = gl.width; c.height = gl.height;
        const ctx = c.getContext('2d'); ctx.drawImage(gl, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data; let s = [0, 0, 0, 0];
        for (let i = 0; i < d.length; i += 4) { s[0] += d[i]; s[1] += d[i + 1]; s[2] += d[i + 2]; s[3] += (d[i] < 240) ? i % 997 : 0; }
        return s; }"""
    )


def scroller_top(page) -> float:
    return page.evaluate(
        "() => { let e = document.querySelector('.dmw-root'); while (e && !(e.scrollHeight > e.clientHeight + 2 &&"
        " /(auto|scroll)/.test(getComputedStyle(e).overflowY))) e = e.parentElement; return e ? e.scrollTop : -1; }"
    )


def test_the_wheel_scrolls_the_notebook_until_the_map_is_clicked_and_zooms_within_bounds(rs, page, artifacts):
    page.locator(".dmw-root").first.scroll_into_view_if_needed()
    box = page.locator(".dmw-overlay").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    home = gl_signature(page)
    top = scroller_top(page)
    assert top >= 0
    page.mouse.wheel(0, 240)  # a plain wheel, as when scrolling past the widget
    page.wait_for_timeout(400)
    assert scroller_top(page) > top, "the notebook should scroll"
    assert gl_signature(page) == home, "the map should not zoom"
    hint = page.locator(".dmw-wheel-hint").first
    assert hint.is_visible() and hint.inner_text() == "Ctrl + wheel to zoom (or click the map first)"
    at = hint.bounding_box()
    assert 0 <= at["y"] and at["y"] + at["height"] <= page.viewport_size["height"], at  # on screen, where the eye is
    page.screenshot(path=str(artifacts / "session-4-wheel-hint.png"))
    # Ctrl + wheel zooms in; zooming out as far as the wheel goes stops at the home view.
    page.locator(".dmw-root").first.scroll_into_view_if_needed()
    box = page.locator(".dmw-overlay").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    top = scroller_top(page)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -300)
    page.wait_for_timeout(300)
    zoomed = gl_signature(page)
    for _ in range(12):
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(50)
    page.keyboard.up("Control")
    page.wait_for_timeout(300)
    assert zoomed != home
    assert gl_signature(page) == home, "zooming out stops at the home view"
    assert scroller_top(page) == top, "Ctrl + wheel zooms the map, not the page"
    # After a click into the map, a plain wheel zooms it.
    page.mouse.click(box["x"] + 20, box["y"] + 20)  # the plot's margin: no point, no selection
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -300)
    page.wait_for_timeout(300)
    assert gl_signature(page) != home and scroller_top(page) == top
    page.screenshot(path=str(artifacts / "session-5-zoomed.png"))
    page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # back home
    page.locator(".dmw-table-title").first.click()  # a click elsewhere gives the wheel back to the page


def test_question_mark_opens_the_help_and_escape_leaves_the_search_box(rs, page, artifacts):
    k = rs["kernel"]
    page.locator(".dmw-table-title").first.click()
    page.keyboard.press("?")
    help_ = page.locator(".dmw-help").first
    help_.wait_for(state="visible", timeout=5_000)
    text = help_.inner_text()
    for words in ("j / ↓", "1 DESC", "4 HUM", "r / Enter", "accept the suggested label", "undo", "Escape"):
        assert words in text, words
    page.screenshot(path=str(artifacts / "session-6-help.png"))
    page.keyboard.press("Escape")
    help_.wait_for(state="hidden", timeout=5_000)
    page.locator(".dmw-help-button").first.click()
    help_.wait_for(state="visible", timeout=5_000)
    page.locator(".dmw-help-close").first.click()
    help_.wait_for(state="hidden", timeout=5_000)
    # Escape in the search box gives the keys back: the next keys review, not type.
    done = len(k.json(CHANGES))
    search = page.locator(".dmw-search").first
    search.click()
    page.keyboard.type("question 1")
    page.wait_for_function("() => /of 240 shown/.test(document.querySelector('.dmw-table-title').textContent)", timeout=10_000)
    page.keyboard.press("Escape")
    assert search.input_value() == "question 1"
    page.keyboard.press("j")
    page.wait_for_function("() => document.querySelector('.dmw-detail-id')?.textContent", timeout=10_000)
    shown = page.locator(".dmw-detail-id").first.inner_text()
    page.keyboard.press("2")
    changes = k.until(CHANGES, lambda v: len(v) > done, timeout=30)
    assert changes[-1][:2] == [shown, "ENTY"]
    assert search.input_value() == "question 1"  # the keys did not go into the box
    search.fill("")


def test_save_labels_writes_a_csv_next_to_the_notebook_and_says_so(rs, page, artifacts):
    k = rs["kernel"]
    k.json("import json; w.relabel(['q000'], 'HUM' if df['label'][0] != 'HUM' else 'DESC'); print('null')")
    changed = k.json("import json; print(json.dumps(int((w.frame['label'].astype(str) != df.set_index('id').loc[w.frame.index, 'label']).sum())))")
    assert changed >= 1
    state = page.locator(".dmw-save-state").first
    page.wait_for_function("(t) => document.querySelector('.dmw-save-state').textContent === t",
                           arg=f"{changed} label{'s' if changed != 1 else ''} changed · not saved", timeout=10_000)
    assert "only in this kernel" in state.get_attribute("title")
    page.locator(".dmw-save-labels").first.click()
    path = rs["server"]["root"] / "datamap-labels.csv"
    page.wait_for_function("(p) => document.querySelector('.dmw-status').textContent.includes(p)", arg=str(path), timeout=15_000)
    page.wait_for_function("() => document.querySelector('.dmw-save-state').textContent.includes('saved to')", timeout=10_000)
    page.screenshot(path=str(artifacts / "session-7-saved.png"))
    table = pd.read_csv(path)
    assert list(table.columns) == ["id", "label", "original_label", "changed", "reviewed"]
    assert int(table["changed"].sum()) == changed and len(table) == 240
    current = k.json("import json; print(json.dumps(w.frame['label'].astype(str).tolist()))")
    assert table["label"].tolist() == current


def test_a_900_px_widget_gives_the_text_room_and_the_pane_shows_its_neighbours_unscrolled(rs, page, artifacts):
    size = page.viewport_size
    root_width = page.locator(".dmw-root").first.bounding_box()["width"]
    page.set_viewport_size({"width": int(size["width"] - root_width + 900), "height": size["height"]})
    page.wait_for_timeout(800)
    info = page.evaluate(
        """() => { const root = document.querySelector('.dmw-root');
        const cell = root.querySelector('.dmw-table-body .dmw-row .dmw-c-text');
        const ctx = document.createElement('canvas').getContext('2d'); ctx.font = getComputedStyle(cell).font;
        return {root: root.getBoundingClientRect().width, text: cell.getBoundingClientRect().width,
                char: ctx.measureText('abcdefghijklmnopqrstuvwxyz').width / 26,
                pane: root.querySelector('.dmw-detail').getBoundingClientRect().height}; }"""
    )
    page.locator(".dmw-root").first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "session-8-900px.png"))
    page.set_viewport_size(size)
    assert abs(info["root"] - 900) < 30, info
    assert info["text"] / info["char"] >= 25, info  # was ~6 characters
    assert info["pane"] >= 250, info


def test_at_900_px_the_toolbar_takes_two_rows_and_no_empty_band_stays_under_it(rs, page, artifacts):
    """Reviewer finding 9: at 900 px the toolbar wrapped to 4 rows, and an empty band stayed once
    the start hint was gone."""
    size = page.viewport_size
    root_width = page.locator(".dmw-root").first.bounding_box()["width"]
    page.set_viewport_size({"width": int(size["width"] - root_width + 900), "height": size["height"]})
    page.wait_for_timeout(800)
    page.locator(".dmw-root").first.scroll_into_view_if_needed()
    page.evaluate("() => { document.querySelector('.dmw-start-hint-close')?.click();"
                  " document.querySelector('.dmw-root').scrollIntoView({block: 'start'}); }")
    page.wait_for_function("() => !document.querySelector('.dmw-status').textContent", timeout=15_000)
    info = page.evaluate(
        """() => { const root = document.querySelector('.dmw-root');
        const bar = root.querySelector('.dmw-toolbar');
        const tops = [...bar.querySelectorAll('button, select, .dmw-save-state, .dmw-passes')]
          .filter((e) => e.offsetParent !== null).map((e) => e.getBoundingClientRect())
          .map((r) => Math.round(r.top + r.height / 2));
        const rows = []; for (const t of tops.sort((a, b) => a - b)) if (!rows.length || t - rows[rows.length - 1] > 8) rows.push(t);
        let next = bar.nextElementSibling; while (next && next.getBoundingClientRect().height === 0) next = next.nextElementSibling;
        const save = root.querySelector('.dmw-save-state');
        return {root: root.getBoundingClientRect().width, rows: rows.length, bar: bar.getBoundingClientRect().height,
                band: next.getBoundingClientRect().top - bar.getBoundingClientRect().bottom, next: next.className,
                save: save.textContent, saveClipped: save.scrollWidth > save.clientWidth + 1}; }"""
    )
    page.screenshot(path=str(artifacts / "session-9-900px-toolbar.png"))
    page.set_viewport_size(size)
    assert abs(info["root"] - 900) < 30, info
    assert info["rows"] <= 2, info
    assert info["band"] <= 6, info  # only the flex gap between the toolbar and the key legend
    # Saved by the test above: the whole line reads, not "1 label changed · saved t…" (cut at 15em).
    assert info["save"].endswith("saved to datamap-labels.csv") and not info["saveClipped"], info


RARE_NOTEBOOK = "rare.ipynb"
RARE_BUILD = """
import numpy as np
import pandas as pd
from IPython.display import display
from datamap_widget import Tracker, DataMapWidget

n, label_names = 240, ["DESC", "ENTY", "LOC", "HUM", "ABBR"]
rng = np.random.default_rng(5)
ids = [f"r{i:03d}" for i in range(n)]
gold = rng.integers(0, 4, n)
gold[:10] = 4  # ABBR: 10 examples the model never learns, it answers DESC for them
texts = [f"question {i} about {label_names[g]} with some words" for i, g in enumerate(gold)]
df = pd.DataFrame({"id": ids, "text": texts, "label": [label_names[g] for g in gold]})
tracker = Tracker(ids, df["label"], label_names=label_names)
for t in range(4):
    logits = rng.normal(0, 0.3, (n, 5)).astype(np.float32)
    logits[np.arange(n), gold] += rng.uniform(0.5, 3.5, n)
    logits[:10, 4] -= 3.0
    logits[:10, 0] += 4.0
    tracker.record(ids, logits)
    tracker.end_epoch()
w = DataMapWidget(tracker.datamap(), data=df, color_by="suggested_label")
display(w)
"""


def test_a_class_the_map_never_learned_is_named_and_bulk_accept_says_so(rs, browser, artifacts):
    """Reviewer finding 1, and screenshots of the fixed states: the never-learned class's note,
    the accept preview naming it, 'Changed N labels', the suggested colouring under the ring,
    the pane's given-label probability and scaled sparkline, the confusion table's diagonal."""
    server = rs["server"]
    write_notebook(server, RARE_NOTEBOOK, [RARE_BUILD])
    with new_page(browser) as page:
        # A workspace of its own: the default one would reopen session.ipynb beside it.
        page.goto(f"{server['url']}/lab/workspaces/rare/tree/{RARE_NOTEBOOK}", timeout=TIMEOUT_MS)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=TIMEOUT_MS)
        page.wait_for_function(KERNEL_IDLE, timeout=TIMEOUT_MS)
        run_cell(page, 0)
        page.wait_for_selector(".dmw-root canvas.dmw-gl", timeout=TIMEOUT_MS)
        wait_painted(page)
        k = Kernel(server, RARE_NOTEBOOK)
        _check_the_unlearned_class(page, k, artifacts)


def _check_the_unlearned_class(page, k, artifacts) -> None:
    try:
        note = page.locator(".dmw-unlearned-note").first
        note.wait_for(state="visible", timeout=15_000)
        assert note.inner_text() == (
            "The model never learned class ABBR (10 examples): its suspects mean the class is too small, "
            "not that the labels are wrong; suggestions for it are unreliable."
        )
        page.evaluate("() => document.querySelector('.dmw-root').scrollIntoView({block: 'start'})")
        page.screenshot(path=str(artifacts / "session-10-unlearned-note.png"))
        # The first suspect opens in the pane: its given label's probability, the sparkline's scale.
        page.locator(".dmw-table-body .dmw-row").first.click()
        page.wait_for_function("() => document.querySelector('.dmw-spark-passes')?.textContent === '4 passes'", timeout=15_000)
        classes = page.locator(".dmw-detail-classes").first.inner_text()
        assert "(given label)" in classes, classes
        page.screenshot(path=str(artifacts / "session-11-pane-and-ring.png"))
        page.locator(".dmw-detail-model").first.screenshot(path=str(artifacts / "session-11b-pane-classes-sparkline.png"))
        ring = page.evaluate(
            "() => { const o = document.querySelector('.dmw-overlay').getBoundingClientRect(); return [o.left, o.top]; }"
        )
        page.screenshot(path=str(artifacts / "session-11c-ring.png"),
                        clip={"x": ring[0] + 20, "y": ring[1] + 340, "width": 160, "height": 80})
        # Bulk accept over the ABBR suspects and a few others: the preview names the class.
        k.json("import json; f = w.frame; cand = f[f['suggestion_confident']].index.tolist(); w.selected_ids = cand; print('null')")
        page.wait_for_function("() => / selected/.test(document.querySelector('.dmw-table-title').textContent)", timeout=10_000)
        page.locator(".dmw-accept").first.click()
        page.wait_for_function("() => /will change/.test(document.querySelector('.dmw-status').textContent)", timeout=10_000)
        status = page.locator(".dmw-status").first.inner_text()
        assert "changes move documents out of ABBR, which the model never learned" in status, status
        page.screenshot(path=str(artifacts / "session-12-accept-preview-unlearned.png"))
        page.locator(".dmw-accept-apply").first.click()
        page.wait_for_function("() => /^Changed \\d+ labels/.test(document.querySelector('.dmw-status').textContent)", timeout=15_000)
        page.screenshot(path=str(artifacts / "session-13-changed-n-labels.png"))
        # A label filter that hides some of the selection: said by the table.
        page.locator(".dmw-filter-labels .dmw-chip", has_text="LOC").first.click()
        hidden = page.locator(".dmw-selection-hidden").first
        hidden.wait_for(state="visible", timeout=10_000)
        assert "selected documents" in hidden.inner_text() and "hidden by the filters" in hidden.inner_text()
        page.screenshot(path=str(artifacts / "session-14-selection-hidden-by-filter.png"))
    finally:
        k.client.stop_channels()
