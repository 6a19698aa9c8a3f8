"""Review latency in real JupyterLab + headless Chromium: a key press to the next document, and to the kernel's answer.

Run: python benchmarks/review_latency.py [N ...]   (default 2,000 and 50,000 points)

For each map size it clicks the first table row, then presses "2" (relabel) 20 times, 400 ms
apart, and measures in the page's own clock:

* key -> next document shown: from the keydown to the first animation frame after the
  detail pane shows the next document (the optimistic cursor move; no kernel round trip);
* key -> kernel acknowledged: from the keydown to the kernel's answer to that relabel
  (the widget's ``dmw:settled`` event: the kernel applied it and, with a store, saved it).

Then a burst of 5 keys 30 ms apart, and the same two numbers for it. SwiftShader draws on
the CPU, so frame-bound numbers are above a real GPU's; the machine is shared, so compare
the two rows of one run rather than runs.
"""

from __future__ import annotations

import statistics
import sys

import _browser

CELL = """
tracker, df = synthetic_map({n})
w = DataMapWidget(tracker, data=df)
w
"""

PROBE = """() => {
  const root = document.querySelector('.dmw-root');
  const lat = window.__lat = { keys: [], shown: [], acks: [] };
  window.addEventListener('keydown', (e) => { if (e.key === '2') lat.keys.push(performance.now()); }, true);
  let last = root.querySelector('.dmw-detail-id')?.textContent;
  new MutationObserver(() => {
    const now = root.querySelector('.dmw-detail-id')?.textContent;
    if (now && now !== last && now !== '…') {
      last = now;
      requestAnimationFrame(() => lat.shown.push(performance.now()));
    }
  }).observe(root.querySelector('.dmw-detail'), { childList: true, subtree: true, characterData: true });
  root.addEventListener('dmw:settled', () => lat.acks.push(performance.now()));
}"""


def _after(keys: list[float], events: list[float]) -> list[float]:
    """For each key, the delay to the first event at or after it not claimed by an earlier key."""
    out, j = [], 0
    for k in keys:
        while j < len(events) and events[j] < k:
            j += 1
        if j < len(events):
            out.append(events[j] - k)
            j += 1
    return out


def _measure(page, presses: int, gap_ms: int) -> tuple[list[float], list[float]]:
    page.evaluate("() => { window.__lat.keys = []; window.__lat.shown = []; window.__lat.acks = []; }")
    for _ in range(presses):
        page.keyboard.press("2")
        page.wait_for_timeout(gap_ms)
    page.wait_for_function(f"() => window.__lat.acks.length >= {presses}", timeout=120_000)
    page.wait_for_timeout(300)
    lat = page.evaluate("() => window.__lat")
    return _after(lat["keys"], lat["shown"]), _after(lat["keys"], lat["acks"])


def main(sizes: list[int]) -> None:
    from playwright.sync_api import sync_playwright

    header = f"{'points':>8}  {'keys':<22} {'n':>3}  {'key→next doc median':>20} {'max':>7}  {'key→kernel ack median':>22} {'max':>7}"
    print(header, flush=True)
    for n in sizes:  # a fresh JupyterLab per size: leaving a notebook page would ask "leave the page?"
        with _browser.lab() as server, sync_playwright() as p, _browser.chromium_page(p) as page:
            name = f"review_{n}.ipynb"
            _browser.write_notebook(server, name, [_browser.SYNTHETIC_MAP + CELL.format(n=n)])
            _browser.open_notebook(page, server, name)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_selector(".dmw-root canvas.dmw-gl", timeout=300_000)
            _browser.wait_painted(page, timeout=300)
            page.locator(".dmw-table-body .dmw-row[data-pos='0']:visible").first.click()
            page.wait_for_function("() => /\\d/.test(document.querySelector('.dmw-detail-id')?.textContent || '')", timeout=60_000)
            page.evaluate(PROBE)
            for label, presses, gap in (("one key every 400 ms", 20, 400), ("5 keys 30 ms apart", 5, 30)):
                shown, acked = _measure(page, presses, gap)
                sm, sx, am, ax = statistics.median(shown), max(shown), statistics.median(acked), max(acked)
                print(f"{n:>8,}  {label:<22} {len(shown):>3}  {sm:>17.1f} ms {sx:>5.0f} ms  {am:>19.1f} ms {ax:>5.0f} ms", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2_000, 50_000])
