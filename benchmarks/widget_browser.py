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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import test_jupyter_ui as e2e  # noqa: E402  (reuses the e2e server/browser set-up)

CELL = """
import numpy as np, pandas as pd, time
from datamap_widget import Tracker, DataMapWidget
n = {n}
rng = np.random.default_rng(0)
ids = np.arange(n)
tracker = Tracker(ids, rng.integers(0, 3, n), label_names=["a", "b", "c"])
for t in range(4):
    tracker.record(ids, rng.normal(size=(n, 3)).astype(np.float32) + np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)] * 2)
    tracker.end_epoch()
df = pd.DataFrame({{"id": ids, "text": pd.Series([f"text {{i}}" for i in range(n)], dtype=object)}})
t0 = time.perf_counter(); w = DataMapWidget(tracker, data=df); build = time.perf_counter() - t0
print(f"kernel: DataMapWidget build {{build:.2f}} s")
w
"""


class _Tmp:
    def mktemp(self, name):
        import tempfile

        return Path(tempfile.mkdtemp(prefix=name))


def main(n: int) -> None:
    import nbformat
    from playwright.sync_api import sync_playwright

    gen = e2e.server.__wrapped__(_Tmp())
    server = next(gen)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(CELL.format(n=n))]
    nbformat.write(nb, server["root"] / "big.ipynb")
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=e2e.CHROMIUM, args=e2e.CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.add_init_script(
                "window.__long = 0; new PerformanceObserver(l => { for (const e of l.getEntries()) window.__long = Math.max(window.__long, e.duration); }).observe({entryTypes: ['longtask']});"
            )
            page.goto(f"{server['url']}/lab/tree/big.ipynb")
            page.wait_for_function("() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel", timeout=90_000)
            t0 = time.perf_counter()
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_selector(".dmw-root canvas.dmw-gl", timeout=300_000)
            e2e.wait_painted(page, timeout=300)
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
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            rows.append(("pan drag (10 moves) -> frame drawn", time.perf_counter() - t0))
            t0 = time.perf_counter()
            for _ in range(10):
                page.mouse.wheel(0, -120)
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            rows.append(("10 wheel zooms -> frame drawn", time.perf_counter() - t0))
            rows.append(("longest main-thread task in lasso/pan/zoom", page.evaluate("() => window.__long") / 1000))
            page.screenshot(path="/tmp/datamap-widget-browser-bench.png")
            browser.close()
    finally:
        try:
            next(gen)
        except StopIteration:
            pass
    print(f"{n:,} points, headless Chromium + SwiftShader")
    for name, s in rows:
        print(f"{name:48s} {s:8.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
