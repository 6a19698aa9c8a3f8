"""The widget inside marimo (``mo.ui.anywidget(w)``), against a real ``marimo run`` server in
headless Chromium: it draws, and a click and a relabel key reach the Python object.

The notebook (tests/e2e/marimo_app.py) writes ``w``'s state to a file on every change; the
test reads that file, so a pass means the gesture crossed marimo's anywidget bridge.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.harness.browser import TIMEOUT_MS
from tests.harness.jupyter import free_port, stop_server, wait_until_serving
from tests.harness.widget import Geometry


pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).with_name("marimo_app.py")


@pytest.fixture(scope="module")
def marimo_server(tmp_path_factory):
    import marimo  # noqa: F401  (the dev extra brings it: a missing one is an install error, not a skip)

    base = tmp_path_factory.mktemp("marimo")
    shutil.copy(APP, base / "app.py")
    state = base / "state.json"
    env = {
        **os.environ,
        "DATAMAP_MARIMO_STATE": str(state),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "MARIMO_SKIP_UPDATE_CHECK": "1",
        "HOME": str(base),  # a fresh marimo config, no telemetry prompt
    }
    port = free_port()
    log = open(base / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "marimo", "run", str(base / "app.py"), "--headless", "--host", "127.0.0.1",
         "--port", str(port), "--no-token", "--no-sandbox", "--no-check"],
        cwd=base, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, f"{url}/health", base / "server.log", "marimo")
        yield {"url": url, "state": state, "log": base / "server.log"}
    finally:
        stop_server(proc)
        log.close()


def painted(page, timeout: float = 30) -> int:
    """Non-white pixels of the map's WebGL canvas (marimo renders widgets in a shadow root, which
    the locator pierces and document.querySelector does not)."""
    count = """(gl) => {
        if (!gl.width) return 0;
        const c = document.createElement('canvas'); c.width = gl.width; c.height = gl.height;
        const ctx = c.getContext('2d'); ctx.drawImage(gl, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 240 || d[i+1] < 240 || d[i+2] < 240) n++;
        return n; }"""
    canvas = page.locator("canvas.dmw-gl").first
    deadline = time.time() + timeout
    while (n := canvas.evaluate(count)) < 200 and time.time() < deadline:
        time.sleep(0.3)
    return n


def read_state(path: Path, ok=lambda s: True, timeout: float = 20) -> dict:
    """The Python-side state the notebook last wrote, polled until ``ok(state)``."""
    deadline = time.time() + timeout
    state: dict = {}
    while time.time() < deadline:
        if path.exists():
            state = json.loads(path.read_text())
            if ok(state):
                return state
        time.sleep(0.25)
    return state


def test_widget_in_marimo_draws_and_selection_and_relabel_reach_python(marimo_server, browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    try:
        page.goto(marimo_server["url"], timeout=TIMEOUT_MS)
        page.wait_for_selector(".dmw-root canvas.dmw-gl", timeout=TIMEOUT_MS)
        assert painted(page) > 200, "the WebGL canvas stayed blank in marimo"
        page.locator(".dmw-table-body .dmw-row").nth(5).wait_for(timeout=20_000)
        assert page.locator(".dmw-passes").first.inner_text() == "4 passes"

        state = read_state(marimo_server["state"])
        ids, x, y, labels = state["ids"], np.array(state["x"]), np.array(state["y"]), state["labels"]
        geo = Geometry(page, x, y)
        pts = np.array([geo.to_screen(a, b) for a, b in zip(x, y)])
        gaps = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
        np.fill_diagonal(gaps, np.inf)
        target = int(np.argmax(gaps.min(axis=1)))  # the point standing most apart: one click, one point
        assert gaps[target].min() > 9

        page.keyboard.down("Shift")  # shift+click selects (a plain click only opens the document)
        page.mouse.click(*pts[target])
        page.keyboard.up("Shift")
        state = read_state(marimo_server["state"], lambda s: s["selected"] == [ids[target]])
        assert state["selected"] == [ids[target]], "the click's selection did not reach Python"
        detail = page.locator(".dmw-detail-text").first
        detail.wait_for(timeout=10_000)
        assert page.locator(".dmw-root img, .dmw-root script").count() == 0

        names = ["neg", "pos", "neutral"]
        new = next(name for name in names if name != labels[target])
        page.keyboard.press(str(names.index(new) + 1))
        state = read_state(marimo_server["state"], lambda s: len(s["changes"]) > 0)
        assert state["changes"] == [[ids[target], labels[target], new, "relabeled"]]
        shots = Path(os.environ.get("DATAMAP_E2E_ARTIFACTS", ROOT / "test-artifacts" / "e2e"))
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "marimo.png"))
        assert errors == [], f"console errors: {errors}"
    finally:
        context.close()
