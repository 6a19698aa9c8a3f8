"""Browser part of ``benchmarks/speed.py``: our widget, jupyter-scatter and Altair in one JupyterLab.

One JupyterLab server, one headless Chromium page, one notebook and kernel; for each point
count the peers take turns (ours, jupyter-scatter, ours, ...) so that both see the same load
on a shared machine. Each measurement:

* **first frame**: from "run cell" (a cell that builds the widget from data already in the
  kernel and displays it) to the first animation frame whose canvas has points painted,
  timed in the page's clock. The kernel's build time is measured too and reported apart.
  A peer's first display in the page also loads its JS module (jupyter-scatter's is 2 MB,
  Altair's offline Vega bundle more): that one is kept apart as "cold", the medians are warm.
* **longest task**: the longest main-thread task (``longtask`` observer) from the run to one
  second after the first frame, and during the lasso; a task of 1 s or more is what we call
  a frozen page.
* **lasso -> DataFrame**: a lasso drawn with the mouse around the whole plot (every point),
  from the mouse-up to the moment a kernel-side observer has built the selected rows as a
  pandas DataFrame (``w.selected``; ``df.iloc[scatter.selection()]`` for jupyter-scatter).
  Both ends read the same wall clock (``time.time()``).

Altair's JupyterChart has no lasso; it gets an interval brush, at 5,000 rows (its default
limit: above that it raises MaxRowsError, which is checked, not assumed).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

try:
    from . import _browser  # type: ignore[import-not-found]
except ImportError:  # run as a script from benchmarks/
    import _browser  # type: ignore[no-redef]

FROZEN_S = 1.0
ALTAIR_ROWS = 5000

PREP = _browser.SYNTHETIC_MAP + """
import json, time
_maps = {}
def _prep(n):
    tracker, df = synthetic_map(n)
    dmap = tracker.datamap()
    f = dmap.frame
    pts = pd.DataFrame({"id": df["id"], "x": f["variability"].to_numpy(np.float32), "y": f["confidence"].to_numpy(np.float32),
                        "category": f["category"].astype("category").to_numpy(), "text": df["text"]})
    _maps[n] = (dmap, df, pts)
_sel = {}
def _record_selection(frame_fn):
    def on_change(change):
        t = time.time()
        d = frame_fn()
        if len(d):
            _sel.update(t_trait=t, t_df=time.time(), rows=len(d), type=type(d).__name__)
    return on_change
"""

# Cells that build and display, from data already in the kernel (``_maps[n]``).
DISPLAY = {
    "ours": (
        "_t = time.perf_counter(); obj = DataMapWidget(_maps[{n}][0], data=_maps[{n}][1]); _build = time.perf_counter() - _t\n"
        "obj"
    ),
    "jupyter-scatter": (
        "import jscatter\n"
        "_t = time.perf_counter(); obj = jscatter.Scatter(data=_maps[{n}][2], x='x', y='y', color_by='category', mouse_mode='lasso'); "
        "_view = obj.show(); _build = time.perf_counter() - _t\n"
        "_view"
    ),
    "altair": (
        "import altair as alt\n"
        "alt.JupyterChart.enable_offline()\n"
        "_t = time.perf_counter(); _brush = alt.selection_interval(name='brush')\n"
        "obj = alt.JupyterChart(alt.Chart(_maps[{n}][2][['x', 'y', 'category']]).mark_circle(size=6)"
        ".encode(x='x:Q', y='y:Q', color='category:N').add_params(_brush), embed_options={{'renderer': 'canvas'}}); "
        "_build = time.perf_counter() - _t\n"
        "obj"
    ),
}
CANVAS = {"ours": "canvas.dmw-gl", "jupyter-scatter": "canvas", "altair": "canvas"}
# Kernel code that subscribes the selection recorder and returns nothing.
OBSERVE = {
    "ours": "_sel.clear(); obj.observe(_record_selection(lambda: obj.selected), names='selected_ids')",
    "jupyter-scatter": "_sel.clear(); obj.widget.observe(_record_selection(lambda: _maps[{n}][2].iloc[obj.selection()]), names='selection')",
    "altair": (
        "_sel.clear()\n"
        "def _brushed(p=_maps[{n}][2]):\n"
        "    v = obj.selections.brush.value or {{}}\n"
        "    if not v: return p.iloc[:0]\n"
        "    return p[p.x.between(*v['x']) & p.y.between(*v['y'])]\n"
        "obj.selections.observe(_record_selection(_brushed), ['brush'])"
    ),
}
CLOSE = {
    "ours": "obj.close()",
    "jupyter-scatter": "obj.widget.close(); _view.close()",
    "altair": "obj.close()",
}


def _lasso_box(page, peer: str, cell) -> tuple[float, float, float, float]:
    """Screen rectangle (x0, y0, x1, y1) the mouse goes around: the plot area, a little inside."""
    if peer == "ours":
        box = cell.locator(".dmw-overlay").first.bounding_box()
        # Plot-area margins of the overlay (js/src/mapview.ts MARGIN); the home view pads the data by 4 %.
        return box["x"] + 46 + 3, box["y"] + 10 + 3, box["x"] + box["width"] - 10 - 3, box["y"] + box["height"] - 38 - 3
    box = cell.locator("canvas").first.bounding_box()
    if peer == "altair":  # corner to corner of the default 300 x 300 plot, which starts right of the y axis (~44 px)
        return box["x"] + 48, box["y"] + 12, box["x"] + 340, box["y"] + 306
    return box["x"] + 2, box["y"] + 2, box["x"] + box["width"] - 2, box["y"] + box["height"] - 2


def _lasso(page, x0: float, y0: float, x1: float, y1: float, brush: bool = False) -> float:
    """Drag around the rectangle (a lasso), or corner to corner (a brush); return time.time() at the gesture's end."""
    page.mouse.move(x0, y0)
    page.mouse.down()
    if brush:  # a brush streams its interval while dragging: time from the last move
        page.mouse.move(x1 - 6, y1 - 6, steps=10)
        t_up = time.time()
        page.mouse.move(x1, y1)
    else:
        for v in [(x1, y0), (x1, y1), (x0, y1), (x0, y0 + 4)]:
            page.mouse.move(*v, steps=8)
        t_up = time.time()
    page.mouse.up()
    return t_up


def measure(page, kernel, peer: str, n: int, timeout_s: float) -> dict[str, Any]:
    """One display + lasso of ``peer`` at ``n`` points; times in seconds (None where it did not happen)."""
    out: dict[str, Any] = {"peer": peer, "n": n}
    first = page.evaluate(
        "([src, sel, ms]) => window.__bench.runToFirstFrame(0, src, sel, 40, ms)",
        [DISPLAY[peer].format(n=n), CANVAS[peer], timeout_s * 1000],
    )
    out["first_frame"] = None if first["ms"] is None else first["ms"] / 1000
    # Let the kernel finish (the cell may still run after the first frame) and the page settle.
    page.wait_for_function(
        "() => window.__bench.notebook().sessionContext.session.kernel.status === 'idle'", timeout=timeout_s * 1000
    )
    time.sleep(1.0)
    out["long_load"] = page.evaluate("() => window.__long") / 1000
    out["build"] = kernel.json("print(json.dumps(_build))")
    if out["first_frame"] is None:
        kernel.json(f"{CLOSE[peer]}; print(1)")
        return out
    kernel.json(OBSERVE[peer].format(n=n) + "\nprint(1)")
    cell = page.locator(".jp-Notebook .jp-CodeCell").first
    rect = _lasso_box(page, peer, cell)
    page.evaluate("() => { window.__long = 0; }")
    t_up = _lasso(page, *rect, brush=peer == "altair")
    deadline = time.time() + timeout_s
    sel: dict = {}
    while time.time() < deadline:
        sel = kernel.json("print(json.dumps(_sel))")
        if sel.get("rows"):
            time.sleep(0.3)  # a later update (a brush's last interval, a second trait write) counts instead
            sel = kernel.json("print(json.dumps(_sel))")
            break
        time.sleep(0.05)
    _browser.frame_drawn(page)
    out["long_lasso"] = page.evaluate("() => window.__long") / 1000
    out["selected_rows"] = sel.get("rows", 0)
    out["lasso_to_df"] = sel["t_df"] - t_up if sel.get("rows") else None
    if peer == "ours":  # and in the page: the table header counts the selection
        out["table_title"] = cell.locator(".dmw-table-title").first.inner_text()
    kernel.json(f"{CLOSE[peer]}; print(1)")
    return out


def altair_limit(kernel, n: int) -> str:
    """What JupyterChart does above its default row limit, checked in the kernel."""
    return kernel.json(
        "import altair as alt\n"
        "try:\n"
        f"    alt.JupyterChart(alt.Chart(_maps[{n}][2][['x', 'y']]).mark_circle().encode(x='x:Q', y='y:Q')); _r = 'no error'\n"
        "except Exception as e:\n"
        "    _r = type(e).__name__\n"
        "print(json.dumps(_r))"
    )


def run(sizes: list[int], repeats: int = 2, timeout_s: float = 180, altair: bool = True, screenshot: str | None = None) -> list[dict]:
    """All browser measurements; one dict per (peer, n, repeat), plus Altair's limit check."""
    from playwright.sync_api import sync_playwright

    results: list[dict] = []
    with _browser.lab() as server, sync_playwright() as p, _browser.chromium_page(p) as page:
        _browser.write_notebook(server, "speed.ipynb", [""])
        _browser.open_notebook(page, server, "speed.ipynb")
        kernel = _browser.Kernel(server, "speed.ipynb")
        try:
            kernel.json(PREP + "\nprint(1)")
            all_sizes = sorted(set(sizes) | ({ALTAIR_ROWS} if altair else set()))
            for n in all_sizes:
                kernel.json(f"_prep({n}); print(1)", timeout=600)
            seen: set[str] = set()

            def take(peer: str, n: int) -> None:
                # The first display of a peer in the page also loads its JS module: kept, marked cold.
                result = measure(page, kernel, peer, n, timeout_s)
                result["cold"] = peer not in seen
                seen.add(peer)
                results.append(result)
                print(json.dumps(result), flush=True)

            if altair:
                for _ in range(repeats):
                    take("altair", ALTAIR_ROWS)
                for n in sizes:
                    results.append({"peer": "altair", "n": n, "error": altair_limit(kernel, n)})
            for n in sizes:
                for r in range(repeats):
                    order = ["ours", "jupyter-scatter"] if r % 2 == 0 else ["jupyter-scatter", "ours"]
                    for peer in order:
                        take(peer, n)
            if screenshot:
                page.screenshot(path=screenshot)
        finally:
            kernel.client.stop_channels()
    return results


def summarize(results: list[dict]) -> list[dict]:
    """Median over the warm repeats per (peer, n) (all of them if only a cold one exists);
    ``first_frame_cold``: the first display of the peer in the page, its JS module loading included."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in results:
        groups.setdefault((r["peer"], r["n"]), []).append(r)
    out = []
    for (peer, n), every in groups.items():
        rs = [r for r in every if not r.get("cold")] or every
        row: dict[str, Any] = {"peer": peer, "n": n, "repeats": len(rs)}
        row["first_frame_cold"] = next((r.get("first_frame") for r in every if r.get("cold")), None)
        for key in ("first_frame", "build", "long_load", "lasso_to_df", "long_lasso", "selected_rows"):
            values = [r[key] for r in rs if r.get(key) is not None]
            row[key] = statistics.median(values) if values else None
        row["error"] = next((r["error"] for r in rs if r.get("error")), None)
        row["missed"] = sum(1 for r in rs if "first_frame" in r and r["first_frame"] is None)
        out.append(row)
    return out


if __name__ == "__main__":
    import sys

    sizes = [int(a) for a in sys.argv[1:]] or [100_000]
    for row in summarize(run(sizes, repeats=1, screenshot="/tmp/speed-browser.png")):
        print(row)
