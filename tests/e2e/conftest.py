"""Fixtures of the browser tests, thin wrappers over tests/harness: a JupyterLab server, headless
Chromium and a page, one each per test module, and the module's screenshots folder."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

from tests.harness import HarnessError
from tests.harness.browser import chromium, new_page, require_chromium
from tests.harness.jupyter import jupyter_lab

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).with_name("fixture.ipynb")


def _started(stack: contextlib.ExitStack, manager):
    """Enter ``manager``; a harness error (Chromium missing, a server that did not start) fails the test."""
    try:
        return stack.enter_context(manager)
    except HarnessError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="module")
def artifacts(request) -> Path:
    """Screenshots folder of this test module: <$DATAMAP_E2E_ARTIFACTS or test-artifacts/e2e>/<module>
    (git-ignored). One folder per module, so one module's run does not wipe another's screenshots."""
    out = Path(os.environ.get("DATAMAP_E2E_ARTIFACTS", ROOT / "test-artifacts" / "e2e")) / Path(request.module.__file__).stem
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:  # shown even when pytest captures output
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\ne2e screenshots: {out}")
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """JupyterLab on its own port with fresh root (holding fixture.ipynb), settings, workspace and
    runtime dirs; stopped afterwards. Fails (never skips) where Chromium is missing."""
    try:
        require_chromium()
    except HarnessError as error:
        pytest.fail(str(error))
    with contextlib.ExitStack() as stack:
        yield _started(stack, jupyter_lab(tmp_path_factory.mktemp("lab"), files=[FIXTURE]))


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium with the project's flags."""
    from playwright.sync_api import sync_playwright

    with contextlib.ExitStack() as stack:
        playwright = stack.enter_context(sync_playwright())
        yield _started(stack, chromium(playwright))


@pytest.fixture(scope="module")
def page(browser):
    """A 1,500 x 1,000 page; ``page.errors`` and ``page.dialogs`` collect what went wrong."""
    with new_page(browser) as page:
        yield page
