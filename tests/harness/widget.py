"""Reading the widget on a page: painted pixels of its WebGL canvas, the map's data <-> screen
geometry (computed here, independently of the JS), text contrast, JupyterLab's theme, and a
one-cell notebook showing a widget."""

from __future__ import annotations

import json
import time

import numpy as np

from tests.harness.browser import TIMEOUT_MS, open_notebook, run_cell
from tests.harness.jupyter import Kernel, write_notebook

# Plot-area margins of the map overlay, as in js/src/mapview.ts (MARGIN).
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 46, 10, 10, 38


def painted_pixels(page, index: int = 0) -> int:
    """Non-white pixels on the WebGL canvas of the index-th widget on the page (it keeps its drawing buffer)."""
    return page.evaluate(
        """(index) => {
        const root = document.querySelectorAll('.dmw-root')[index];
        const gl = root && root.querySelector('canvas.dmw-gl');
        if (!gl || !gl.width) return 0;
        const c = document.createElement('canvas'); c.width = gl.width; c.height = gl.height;
        const ctx = c.getContext('2d'); ctx.drawImage(gl, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 240 || d[i+1] < 240 || d[i+2] < 240) n++;
        return n; }""",
        index,
    )


def wait_painted(page, minimum=200, timeout=30):
    deadline = time.time() + timeout
    while painted_pixels(page) < minimum and time.time() < deadline:
        time.sleep(0.3)
    return painted_pixels(page)


def open_widget_notebook(server, page, name: str, source: str) -> Kernel:
    """Write a one-cell notebook ``name`` running ``source``, open it in JupyterLab, run the cell
    once the kernel is idle, wait for the widget's first paint; a client on that kernel."""
    write_notebook(server, name, [source])
    open_notebook(page, server, name, timeout_ms=TIMEOUT_MS)
    run_cell(page, 0)
    page.wait_for_selector(".dmw-root canvas.dmw-gl", timeout=TIMEOUT_MS)
    wait_painted(page)
    return Kernel(server, name)


class Geometry:
    """Data <-> screen mapping of the map's plot area at its home view, computed here, independently of the JS."""

    def __init__(self, page, x: np.ndarray, y: np.ndarray):
        # A person scrolls the map into view before clicking on it (the toolbar, hints and filters
        # above it can push its lower half below a 1000 px window).
        overlay = page.locator(".dmw-overlay").first
        overlay.scroll_into_view_if_needed()
        rect = overlay.bounding_box()
        self.left, self.top, self.w, self.h = rect["x"], rect["y"], rect["width"], rect["height"]
        xmax = max(0.5, float(np.nanmax(x)))
        self.x0, self.x1, self.y0, self.y1 = -0.04 * xmax, xmax * 1.04, -0.04, 1.04
        self.pw = self.w - MARGIN_LEFT - MARGIN_RIGHT
        self.ph = self.h - MARGIN_TOP - MARGIN_BOTTOM

    def to_screen(self, x, y):
        return (
            self.left + MARGIN_LEFT + (x - self.x0) / (self.x1 - self.x0) * self.pw,
            self.top + MARGIN_TOP + (self.y1 - y) / (self.y1 - self.y0) * self.ph,
        )

    def to_data(self, sx, sy):
        px, py = sx - self.left, sy - self.top
        return (
            self.x0 + (px - MARGIN_LEFT) / self.pw * (self.x1 - self.x0),
            self.y1 - (py - MARGIN_TOP) / self.ph * (self.y1 - self.y0),
        )


def inside(x: np.ndarray, y: np.ndarray, poly: list[tuple[float, float]]) -> np.ndarray:
    """Even-odd point-in-polygon, vectorized."""
    result = np.zeros(x.shape, dtype=bool)
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]
        xj, yj = poly[j]
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = ((yi > y) != (yj > y)) & (x < (xj - xi) * (y - yi) / (yj - yi) + xi)
        result ^= cross
        j = i
    return result


FRAME_CODE = (
    "import json; f = w.frame; print(json.dumps({'ids': f.index.tolist(), "
    "'x': f['variability'].astype('float32').astype(float).tolist(), "
    "'y': f['confidence'].astype('float32').astype(float).tolist(), 'text': df['text'].tolist()}))"
)


#: In page: WCAG contrast of each text element of the first widget, against what is under it.
CONTRASTS = """() => {
  const parse = (c) => {
    let m = /^rgba?\\(([^)]+)\\)$/.exec(c);
    if (m) { const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
    m = /^color\\(srgb ([^)]+)\\)$/.exec(c);
    if (m) { const p = m[1].split(/[\\s\\/]+/).filter(Boolean).map(Number); return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1]; }
    throw new Error('unparsed colour ' + c);
  };
  const over = (top, under) => { const a = top[3]; return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat(1); };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reverse().reduce((under, top) => over(top, under), [255, 255, 255, 1]);
  };
  const lum = (c) => { const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const root = document.querySelector('.dmw-root');
  const targets = {
    'table header': '.dmw-header .dmw-cell',
    'reviewed header': '.dmw-header .dmw-c-reviewed',
    'table row': '.dmw-table-body .dmw-row:not(.dmw-cursor):not(.dmw-highlight) .dmw-cell',
    'cursor row': '.dmw-table-body .dmw-row.dmw-cursor .dmw-cell',
    'button': 'button.dmw-home',
    'active button': 'button.dmw-active',
    'select': 'select.dmw-color-by',
    'pane': '.dmw-detail-text',
    'pane head': '.dmw-detail',
    'tooltip': '.dmw-tooltip .dmw-tip-line',
    'tooltip text': '.dmw-tooltip .dmw-tip-text',
    'table title': '.dmw-table-title',
    'legend': '.dmw-legend-item',
  };
  const out = {};
  for (const [name, selector] of Object.entries(targets)) {
    const el = root.querySelector(selector);
    if (!el) { out[name] = null; continue; }
    const bg = background(el);
    const fg = over(parse(getComputedStyle(el).color), bg);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    out[name] = { ratio: (a + 0.05) / (b + 0.05), fg: fg.map(Math.round), bg: bg.map(Math.round) };
  }
  // The map: the WebGL canvas' top-left pixel is its background (no point is drawn in the margin).
  const gl = root.querySelector('canvas.dmw-gl');
  const c = document.createElement('canvas'); c.width = gl.width; c.height = gl.height;
  const ctx = c.getContext('2d'); ctx.drawImage(gl, 0, 0);
  out['map background'] = Array.from(ctx.getImageData(1, 1, 1, 1).data.slice(0, 3));
  out['map background luminance'] = lum(out['map background'].concat(1));
  out['page background luminance'] = lum(background(root));
  return out;
}"""


def switch_theme(page, name: str, layout_color0: str) -> None:
    page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: {json.dumps(name)}}})")
    page.wait_for_function(
        "([name, c]) => document.body.dataset.jpThemeName === name && "
        "getComputedStyle(document.body).getPropertyValue('--jp-layout-color0').trim() === c",
        arg=[name, layout_color0], timeout=30_000,
    )
    page.wait_for_timeout(500)  # the widget redraws its canvases on the next frame
