"""``dmap.chart()`` in real JupyterLab and its saved HTML in Chromium, with hostile strings and no network.

Ids, label names and the title carry payloads that, if any of them ever reached the page as
markup, would set a global and call ``alert``; every request to anything but localhost is
aborted, so the chart can only draw if it needs no CDN. A pass means no payload ran and the
Vega canvas really has marks on it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.harness.browser import TIMEOUT_MS
from tests.harness.jupyter import Kernel
from tests.harness.maps import random_datamap

pytestmark = pytest.mark.e2e


def payload(tag: str) -> str:
    # Unquoted attribute: the JSON escapes quotes, and a payload should work if anything leaks.
    return f"</script><img src=x onerror=window.__xss_{tag}=1;alert(document.domain)><script>window.__xss_{tag}=2</script>"


NOTEBOOK_CODE = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
import numpy as np
from tests.harness.maps import random_datamap
ids = np.array([{payload('id')!r} + str(i) for i in range(150)], dtype=object)
dmap = random_datamap(150, ids=ids, label_names=[{payload('label')!r}, "pos", "neu"], seed=3)
dmap.chart(title={payload('title')!r})
"""

XSS_GLOBALS = "() => ['id', 'label', 'title'].filter(t => window['__xss_' + t] !== undefined)"

# Points drawn on the map: Vega's SVG renderer (vega-embed's default here) gives one path per point.
POINTS_DRAWN = "() => document.querySelectorAll('.vega-embed svg .mark-symbol path').length"


def offline_page(browser):
    """A page whose every request beyond localhost and file:// is aborted (and listed)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    blocked: list[str] = []

    def route(r):
        url = urlparse(r.request.url)
        if url.scheme in ("file", "data", "blob") or url.hostname in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(d):
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, blocked, dialogs, errors


def wait_drawn(page, minimum: int, timeout: float = 60) -> int:
    deadline = time.time() + timeout
    while (n := page.evaluate(POINTS_DRAWN)) < minimum and time.time() < deadline:
        time.sleep(0.3)
    return n


def test_chart_in_jupyterlab_draws_offline_and_runs_no_payload(server, browser, artifacts):
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": NOTEBOOK_CODE}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (server["root"] / "chart.ipynb").write_text(json.dumps(notebook))
    context, page, blocked, dialogs, errors = offline_page(browser)
    try:
        page.goto(f"{server['url']}/lab/tree/chart.ipynb", timeout=TIMEOUT_MS)
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget && window.jupyterapp.shell.currentWidget.sessionContext"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
            timeout=TIMEOUT_MS,
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        kernel = Kernel(server, "chart.ipynb")
        try:
            kernel.until("import json; print(json.dumps('dmap' in globals()))", bool, timeout=90)
        finally:
            kernel.client.stop_channels()
        painted = wait_drawn(page, 150)
        page.screenshot(path=str(artifacts / "chart-lab-offline.png"), full_page=True)
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        assert page.evaluate(XSS_GLOBALS) == [] and dialogs == [], f"a payload ran: dialogs {dialogs}"
        assert painted >= 150, f"the chart did not draw all 150 points offline (outputs: {str(outputs)[:600]}, blocked: {blocked})"
        assert not any("JavaScript Error" in text for text in outputs), outputs
        # The strings are shown as they are: the title is drawn from the exact payload text.
        assert any(payload("title") in text for text in outputs), outputs
        assert blocked == [], f"the notebook asked the network for {blocked}"
    finally:
        context.close()


def test_saved_chart_html_draws_offline_and_runs_no_payload(browser, tmp_path, artifacts):
    ids = [payload("id") + str(i) for i in range(150)]
    import numpy as np

    dmap = random_datamap(150, ids=np.array(ids, dtype=object), label_names=[payload("label"), "pos", "neu"], seed=3)
    dmap.chart(title=payload("title")).save(tmp_path / "map.html")
    context, page, blocked, dialogs, errors = offline_page(browser)
    try:
        page.goto((tmp_path / "map.html").as_uri(), timeout=TIMEOUT_MS)
        painted = wait_drawn(page, 150)
        page.screenshot(path=str(artifacts / "chart-html-offline.png"), full_page=True)
        assert page.evaluate(XSS_GLOBALS) == [] and dialogs == [], f"a payload ran: dialogs {dialogs}"
        assert painted >= 150, f"the saved chart did not draw all 150 points offline (errors: {errors}, blocked: {blocked})"
        assert errors == [] and blocked == [], (errors, blocked)
        # The strings are shown as they are: the title is drawn from the exact payload text.
        assert payload("title") in page.locator(".vega-embed").inner_text()
    finally:
        context.close()
