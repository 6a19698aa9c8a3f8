"""Shared set-up of the browser benchmarks: JupyterLab + headless Chromium, as the e2e tests do.

It uses the harness the e2e tests' fixtures wrap (``tests/harness``: ``jupyter_lab``, ``Kernel``,
Chromium with ``CHROMIUM_ARGS``) so that a benchmark and the tests start JupyterLab the same
way: fresh settings, workspace and runtime folders, news off.

    with lab() as server, notebook_page(server, "bench.ipynb", cells=2) as (page, kernel):
        ...

``page`` has ``window.__long`` (the longest main-thread task since the last reset, ms, from
the ``longtask`` observer) and ``window.__bench`` helpers (see ``PAGE_HELPERS``).
"""

from __future__ import annotations

import contextlib

try:
    from . import _paths  # noqa: F401  # type: ignore[import-not-found]
except ImportError:  # run as a script from benchmarks/
    import _paths  # noqa: F401  # type: ignore[no-redef]

from tests.harness.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, chromium, frame_drawn, open_notebook  # noqa: F401
from tests.harness.jupyter import Kernel, jupyter_lab, write_notebook  # noqa: F401
from tests.harness.widget import wait_painted  # noqa: F401

LONGTASK_OBSERVER = (
    "window.__long = 0; new PerformanceObserver(l => { for (const e of l.getEntries()) "
    "window.__long = Math.max(window.__long, e.duration); }).observe({entryTypes: ['longtask']});"
)

#: Page-side helpers: run a notebook cell and time it to the first drawn frame, in the page's clock.
PAGE_HELPERS = """
window.__bench = {
  notebook() { return window.jupyterapp.shell.currentWidget; },
  /** Non-white pixels of a canvas, read on a 160x120 copy (WebGL canvases need preserveDrawingBuffer). */
  painted(canvas) {
    if (!canvas.width || !canvas.height) return 0;
    const c = document.createElement('canvas'); c.width = 160; c.height = 120;
    const ctx = c.getContext('2d'); ctx.drawImage(canvas, 0, 0, 160, 120);
    const d = ctx.getImageData(0, 0, 160, 120).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235)) n++;
    return n;
  },
  /** Set cell `index` to `source`, clear its output, run it; resolve when a canvas matching
   *  `selector` in its output has more than `minimum` painted pixels (checked every frame). */
  async runToFirstFrame(index, source, selector, minimum, timeoutMs) {
    const nb = this.notebook();
    const cell = nb.content.widgets[index];
    cell.model.sharedModel.setSource(source);
    cell.model.outputs.clear();
    nb.content.activeCellIndex = index;
    await new Promise(r => setTimeout(r, 50));
    window.__long = 0;
    const t0 = performance.now();
    window.jupyterapp.commands.execute('notebook:run-cell');  // not awaited: resolves when the cell ends
    while (performance.now() - t0 < timeoutMs) {
      await new Promise(r => requestAnimationFrame(r));
      let best = 0;
      for (const c of cell.node.querySelectorAll(selector)) best = Math.max(best, this.painted(c));
      if (best > minimum) return { ms: performance.now() - t0, painted: best };
    }
    return { ms: null, painted: 0 };
  },
};
"""


#: Kernel code defining ``synthetic_map(n)`` -> (tracker, df): a 3-class map of ``n`` points
#: after 4 passes, and a DataFrame of ids and texts; the browser benchmarks display it.
SYNTHETIC_MAP = """
import numpy as np, pandas as pd
from datamap_widget import Tracker, DataMapWidget
def synthetic_map(n, passes=4, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.arange(n)
    tracker = Tracker(ids, rng.integers(0, 3, n), label_names=["a", "b", "c"])
    for _ in range(passes):
        logits = rng.normal(size=(n, 3)).astype(np.float32) + np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)] * 2
        tracker.record(ids, logits)
        tracker.end_epoch()
    df = pd.DataFrame({"id": ids, "text": pd.Series([f"text {i}" for i in range(n)], dtype=object)})
    return tracker, df
"""


def lab():
    """A JupyterLab server started like the e2e tests' ``server`` fixture (in a new temporary
    folder); stopped on exit."""
    return jupyter_lab()


@contextlib.contextmanager
def chromium_page(playwright):
    """Headless Chromium (the e2e flags) and one page with the long-task observer and helpers."""
    with chromium(playwright) as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.add_init_script(LONGTASK_OBSERVER + PAGE_HELPERS)
        yield page
