"""Debian's Chromium, headless, with the project's flags (through playwright-core), and
JupyterLab pages in it.

    with sync_playwright() as p, chromium(p) as browser, new_page(browser) as page:
        open_notebook(page, server, "a.ipynb")   # kernel started and idle
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.harness import HarnessError

CHROMIUM = os.environ.get("DATAMAP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--enable-unsafe-swiftshader",
]
VIEWPORT = {"width": 1500, "height": 1000}
TIMEOUT_MS = 90_000
KERNEL_IDLE = "() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'"


class ChromiumMissing(HarnessError):
    """No Chromium binary at ``CHROMIUM``."""


def require_chromium() -> str:
    """The Chromium binary's path; ``ChromiumMissing`` (naming the fix) where there is none."""
    if not Path(CHROMIUM).exists():
        raise ChromiumMissing(
            f"Chromium is missing at {CHROMIUM}: run scripts/setup.sh (it installs Debian's chromium with apt), "
            "or set DATAMAP_CHROMIUM to a Chromium binary."
        )
    return CHROMIUM


@contextmanager
def chromium(playwright) -> Iterator:
    """Headless Chromium launched with the project's flags; closed on exit."""
    browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@contextmanager
def new_page(browser, viewport: dict = VIEWPORT) -> Iterator:
    """A page in a new context. ``page.errors`` collects console errors and page errors,
    ``page.dialogs`` the messages of dialogs (each dismissed). The context closes on exit."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(f"pageerror: {e}"))

    def on_dialog(d):
        page.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    try:
        yield page
    finally:
        context.close()


def open_notebook(page, server: dict, name: str, timeout_ms: int = TIMEOUT_MS) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is started and idle."""
    page.goto(f"{server['url']}/lab/tree/{name}", timeout=timeout_ms)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_ms)
    page.wait_for_function(KERNEL_IDLE, timeout=timeout_ms)


def run_cell(page, index: int) -> None:
    """Run cell ``index`` of the notebook in front, as Shift+Enter would; returns at once (the
    command resolves only when the cell ends, and a test often needs the kernel busy)."""
    page.evaluate(
        "(i) => { const nb = window.jupyterapp.shell.currentWidget; nb.content.activeCellIndex = i;"
        " window.jupyterapp.commands.execute('notebook:run-cell'); }",
        index,
    )


def frame_drawn(page) -> None:
    """Wait two animation frames: what the last input asked for has been drawn."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
