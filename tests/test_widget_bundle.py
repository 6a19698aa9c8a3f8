"""The committed bundle in datamap_widget/static/ must match js/src (users install without Node)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "js"
STATIC = ROOT / "datamap_widget" / "static"


def _esbuild() -> Path | None:
    exe = JS / "node_modules" / ".bin" / "esbuild"
    return exe if exe.exists() else None


def _build_command(outfile: Path) -> list[str]:
    """The `build` script of js/package.json, pointed at another output file."""
    script = json.loads((JS / "package.json").read_text())["scripts"]["build"]
    first = script.split("&&")[0].split()
    assert first[0] == "esbuild", f"js/package.json build script should start with esbuild, got {script!r}"
    args = [a for a in first[1:] if not a.startswith("--outfile=")]
    return [str(_esbuild()), *args, f"--outfile={outfile}"]


def test_committed_bundle_is_built_from_the_current_sources(tmp_path):
    if shutil.which("node") is None or _esbuild() is None:
        pytest.fail("node and js/node_modules are needed to check the bundle: run `cd js && npm ci` (scripts/setup.sh does)")
    out = tmp_path / "widget.js"
    subprocess.run(_build_command(out), cwd=JS, check=True, capture_output=True, timeout=120)
    assert out.read_bytes() == (STATIC / "widget.js").read_bytes(), (
        "datamap_widget/static/widget.js is stale: run `cd js && npm run build` and commit the result"
    )
    assert (JS / "src" / "widget.css").read_bytes() == (STATIC / "widget.css").read_bytes(), (
        "datamap_widget/static/widget.css is stale: run `cd js && npm run build` and commit the result"
    )


def test_bundle_is_what_the_widget_loads():
    from datamap_widget.widget import DataMapWidget

    # anywidget reads a Path _esm/_css into its contents when the class is made.
    assert str(DataMapWidget._esm) == (STATIC / "widget.js").read_text()
    assert str(DataMapWidget._css) == (STATIC / "widget.css").read_text()
    text = (STATIC / "widget.js").read_text()
    assert "innerHTML" not in text, "texts must be rendered with textContent"
    assert re.search(r"export\s*\{[^}]*as default", text), "anywidget needs an ES module with a default export"


def test_js_package_version_matches_the_python_package():
    py = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert py, "pyproject.toml has no static version"
    assert json.loads((JS / "package.json").read_text())["version"] == py.group(1)


def test_the_browser_config_fixture_is_what_python_sends():
    """js/src/browser-config.json (the vitest fake model's config) must be browser_config(): the
    front end keeps no copy of a shared constant, and its tests must see the real ones."""
    from datamap_widget.widget import DataMapWidget, browser_config

    fixture = json.loads((JS / "src" / "browser-config.json").read_text())
    assert fixture == browser_config(), (
        "js/src/browser-config.json is stale: regenerate it with "
        "`python -c \"import json; from datamap_widget.widget import browser_config; "
        "print(json.dumps(browser_config(), indent=2))\" > js/src/browser-config.json`"
    )
    import numpy as np
    import pandas as pd

    from datamap_widget import Tracker

    tracker = Tracker(["a", "b"], ["x", "y"])
    for _ in range(2):
        tracker.record(["a", "b"], np.array([[2.0, 0.0], [0.0, 2.0]]))
        tracker.end_epoch()
    w = DataMapWidget(tracker.datamap(), data=pd.DataFrame({"id": ["a", "b"], "text": ["one", "two"]}))
    assert w.config == browser_config()


def test_every_synced_trait_has_a_name_in_the_front_end():
    """sync.ts TRAITS is where wire and TS names meet: a trait missing there never reaches the browser."""
    from datamap_widget.widget import DataMapWidget

    source = (JS / "src" / "sync.ts").read_text()
    table = re.search(r"export const TRAITS = \{(.*?)\}", source, re.S)
    assert table, "sync.ts has no TRAITS table"
    wire = set(re.findall(r"^\s*(\w+):", table.group(1), re.M))
    synced = {name for name, trait in DataMapWidget.class_traits(sync=True).items() if not name.startswith("_")}
    synced -= {"layout", "tabbable", "tooltip", "comm", "keys", "log"}  # ipywidgets' own
    assert wire == synced
