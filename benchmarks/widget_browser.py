"""Time the widget with many points in real JupyterLab + headless Chromium (SwiftShader WebGL, no GPU).

Run: python benchmarks/widget_browser.py [N]   (default 1,000,000)
Prints: time until the map is painted (kernel work included), a lasso over about a third of
the points (until the table shows the selection), a pan drag, ten wheel zooms, and the longest
main-thread task while loading and while interacting (a proxy for "the page froze"). SwiftShader
draws on the CPU, so frame times here are far above a real GPU's.
"""

from __future__ import annotations

import sys
import time

import _browser

CELL = """
import time
n = {n}
tracker, df = synthetic_map(n)
t0 = time.perf_counter(); w = DataMapWidget(tracker, data=df); build = time.perf_counter() - t0
print(f"kernel: DataMapWidget build {{build:.2f}} s")
w
"""


def main(n: int) -> None:
    from playwright.sync_api import sync_playwright

    rows = []
    with _browser.lab() as server, sync_playwright() as p, _browser.chromium_page(p) as page:
        _browser.write_notebook(server, "big.ipynb", [_browser.SYNTHETIC_MAP + CELL.format(n=n)])
        _browser.open_notebook(page, server, "big.ipynb")
        t0 = time.perf_counter()
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_selector(".dmw-root canvas.dmw-gl", timeout=300_000)
        _browser.wait_painted(page, timeout=300)
        rows.append(("run cell -> map painted (incl. kernel work)", time.perf_counter() - t0))
        print(page.locator(".jp-OutputArea-output").first.inner_text()[:200])
        rows.append(("longest main-thread task while loading", page.evaluate("() => window.__long") / 1000))
        page.evaluate("() => { window.__long = 0; }")
        box = page.locator(".dmw-overlay").first.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        t0 = time.perf_counter()
        page.mouse.move(box["x"] + 50, box["y"] + 15)
        page.mouse.down()
        for v in [(cx, box["y"] + 15), (cx, box["y"] + box["height"] - 40), (box["x"] + 50, box["y"] + box["height"] - 40)]:
            page.mouse.move(*v, steps=3)
        page.mouse.up()
        page.wait_for_function("() => /selected/.test(document.querySelector('.dmw-table-title').textContent)", timeout=120_000)
        rows.append(("lasso -> table shows the selection", time.perf_counter() - t0))
        print(page.locator(".dmw-table-title").inner_text())
        page.click(".dmw-tool-pan")
        t0 = time.perf_counter()
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + 120, cy + 60, steps=10)
        page.mouse.up()
        _browser.frame_drawn(page)
        rows.append(("pan drag (10 moves) -> frame drawn", time.perf_counter() - t0))
        t0 = time.perf_counter()
        for _ in range(10):
            page.mouse.wheel(0, -120)
        _browser.frame_drawn(page)
        rows.append(("10 wheel zooms -> frame drawn", time.perf_counter() - t0))
        rows.append(("longest main-thread task in lasso/pan/zoom", page.evaluate("() => window.__long") / 1000))
        page.screenshot(path="/tmp/datamap-widget-browser-bench.png")
    print(f"{n:,} points, headless Chromium + SwiftShader")
    for name, s in rows:
        print(f"{name:48s} {s:8.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
