"""The widget in JupyterLab's light and dark themes and in narrow and wide windows.

Contrast is computed from the browser's computed styles (text colour composited over the
first painted background, WCAG's formula), after JupyterLab itself switched theme, so a
colour left hard-coded in widget.css or the canvases shows up here. The layout checks read
element boxes at a 900 px and a 1,500 px wide window.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.harness.browser import TIMEOUT_MS
from tests.harness.jupyter import Kernel
from tests.harness.widget import CONTRASTS, FRAME_CODE, Geometry, switch_theme, wait_painted

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def artifacts() -> Path:
    out = Path(os.environ.get("DATAMAP_E2E_ARTIFACTS", ROOT / "test-artifacts" / "e2e")) / "theme"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return out


@pytest.fixture(scope="module")
def lab(server, browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.goto(f"{server['url']}/lab/tree/fixture.ipynb", timeout=TIMEOUT_MS)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=TIMEOUT_MS)
    page.wait_for_function("() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel", timeout=TIMEOUT_MS)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(".dmw-root canvas.dmw-gl", timeout=TIMEOUT_MS)
    kernel = Kernel(server)
    frame = kernel.json(FRAME_CODE)
    wait_painted(page)
    yield {"page": page, "kernel": kernel, "x": np.array(frame["x"]), "y": np.array(frame["y"]), "errors": errors}
    kernel.client.stop_channels()
    context.close()


def hover_point(lab, pick) -> None:
    """Move the mouse onto the point ``pick(x, y)`` chooses (an index), until its tooltip shows."""
    page = lab["page"]
    root = page.locator(".dmw-root").first
    root.scroll_into_view_if_needed()
    geo = Geometry(page, lab["x"], lab["y"])
    target = pick(lab["x"], lab["y"])
    sx, sy = geo.to_screen(lab["x"][target], lab["y"][target])
    page.mouse.move(sx - 30, sy - 30)
    page.mouse.move(sx, sy, steps=4)
    page.wait_for_function("() => getComputedStyle(document.querySelector('.dmw-tooltip')).display === 'block'", timeout=10_000)


def open_a_row(page) -> None:
    page.locator(".dmw-root").first.locator(".dmw-table-body .dmw-row").nth(2).click()
    page.wait_for_selector(".dmw-table-body .dmw-row.dmw-cursor", timeout=10_000)
    page.wait_for_function("() => document.querySelector('.dmw-detail-text')?.textContent !== 'loading…'", timeout=10_000)


@pytest.mark.parametrize(("theme", "layout_color0", "dark"), [("JupyterLab Light", "white", False),
                                                               ("JupyterLab Dark", "#111", True)])
def test_text_keeps_4_5_to_1_contrast_and_the_map_follows_the_theme(lab, artifacts, theme, layout_color0, dark):
    page = lab["page"]
    switch_theme(page, theme, layout_color0)
    open_a_row(page)
    hover_point(lab, lambda x, y: int(np.argmax(y)))
    page.wait_for_selector(".dmw-tooltip .dmw-tip-text", timeout=10_000)  # the text arrives with its page
    measured = page.evaluate(CONTRASTS)
    page.screenshot(path=str(artifacts / f"{theme.replace(' ', '-')}.png"))
    texts = {k: v for k, v in measured.items() if isinstance(v, dict) or v is None}
    missing = [k for k, v in texts.items() if v is None]
    assert not missing, f"not on the page: {missing}"
    low = {k: round(v["ratio"], 2) for k, v in texts.items() if v["ratio"] < 4.5}
    assert not low, f"{theme}: contrast below 4.5:1: {low} ({ {k: texts[k] for k in low} })"
    # the widget sits on the theme's background, and its map with it
    assert (measured["page background luminance"] < 0.05) == dark
    assert (measured["map background luminance"] < 0.05) == dark, measured["map background"]
    assert lab["errors"] == [], lab["errors"]


def layout(page) -> dict:
    return page.evaluate(
        """() => {
        const root = document.querySelector('.dmw-root');
        const box = (sel) => { const r = (sel ? root.querySelector(sel) : root).getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width}; };
        const header = [...root.querySelectorAll('.dmw-header .dmw-cell')].map((c) => ({title: c.textContent, cut: c.scrollWidth > c.clientWidth, ...(() => { const r = c.getBoundingClientRect(); return {left: r.left, right: r.right, width: r.width}; })()}));
        // the widest id of a real data set here (TREC), in the id column's own font
        const cell = root.querySelector('.dmw-table-body .dmw-row .dmw-cell');
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = getComputedStyle(cell).font;
        const scrollers = [];
        for (let e = root; e; e = e.parentElement) if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'hidden') scrollers.push(e.className || e.tagName);
        return {root: box(null), map: box('.dmw-map'), side: box('.dmw-side'), table: box('.dmw-table'), header,
                idNeeds: ctx.measureText('trec-train-0000').width + 8, scrollers,
                innerWidth: window.innerWidth, docScroll: document.documentElement.scrollWidth};
        }"""
    )


def check_fits(info: dict) -> None:
    assert info["scrollers"] == [], f"something scrolls sideways: {info['scrollers']}"
    assert info["docScroll"] <= info["innerWidth"]
    root = info["root"]
    for column in info["header"]:  # every column, the labels included, inside the widget and visible
        assert column["width"] > 15 and root["left"] - 1 <= column["left"] and column["right"] <= root["right"] + 1, column
        assert not column["cut"], f"the header {column['title']!r} is cut short (an ellipsis): {column}"
    (id_column,) = [c for c in info["header"] if c["title"] == "id"]
    assert id_column["width"] >= info["idNeeds"], (id_column, info["idNeeds"])


def test_narrow_window_stacks_map_over_table_without_sideways_scroll(lab, artifacts):
    page = lab["page"]
    switch_theme(page, "JupyterLab Light", "white")
    page.set_viewport_size({"width": 900, "height": 1000})
    page.wait_for_timeout(800)
    info = layout(page)
    page.screenshot(path=str(artifacts / "narrow-900.png"))
    assert info["side"]["top"] >= info["map"]["bottom"] - 1, "the table should sit under the map"
    assert info["map"]["width"] >= 320 and info["map"]["right"] <= info["root"]["right"] + 1
    check_fits(info)


def test_wide_window_keeps_map_and_table_side_by_side(lab, artifacts):
    page = lab["page"]
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.wait_for_timeout(800)
    info = layout(page)
    page.screenshot(path=str(artifacts / "wide-1500.png"))
    assert info["side"]["left"] >= info["map"]["right"], "map and table should sit side by side"
    check_fits(info)


@pytest.mark.parametrize("width", [900, 1500])
def test_tooltip_near_the_bottom_left_corner_stays_inside_the_plot(lab, artifacts, width):
    page = lab["page"]
    page.set_viewport_size({"width": width, "height": 1000})
    page.wait_for_timeout(800)
    # the point nearest the plot's bottom-left corner: low variability, low confidence
    hover_point(lab, lambda x, y: int(np.argmin(x / max(x.max(), 1e-9) + y)))
    boxes = page.evaluate(
        """() => { const b = (s) => { const r = document.querySelector(s).getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
        return {tip: b('.dmw-tooltip'), plot: b('.dmw-root .dmw-map')}; }"""
    )
    page.screenshot(path=str(artifacts / f"tooltip-{width}.png"))
    tip, plot = boxes["tip"], boxes["plot"]
    assert plot[0] - 1 <= tip[0] and plot[1] - 1 <= tip[1] and tip[2] <= plot[2] + 1 and tip[3] <= plot[3] + 1, boxes
