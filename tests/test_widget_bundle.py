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
