"""The built distributions, as a user and a packager get them.

Builds the sdist and, from it, the wheel (``python -m build``, as a release would), checks what
each carries, then installs the wheel into a fresh virtual environment WITHOUT extras (no
torch, no transformers, no Altair) and uses it the way a colleague who only opens a saved map
does. pip fetches the base dependencies from its cache or index, as any install would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tests.harness.maps import random_datamap

ROOT = Path(__file__).resolve().parents[1]

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], check=True,
                   capture_output=True, text=True)
    wheel, = out.glob("*.whl")
    sdist, = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_wheel_ships_the_bundle_sample_licence_and_types_but_no_tests(dists):
    names = zipfile.ZipFile(dists["wheel"]).namelist()
    for needed in ("datamap_widget/static/widget.js", "datamap_widget/static/widget.css",
                   "datamap_widget/sample/trec_600.jsonl", "datamap_widget/py.typed",
                   "datamap_widget/dependencies.py"):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "js/", "benchmarks/")) or "node_modules" in n]
    # the shipped bundle is the committed one, byte for byte
    wheel = zipfile.ZipFile(dists["wheel"])
    assert wheel.read("datamap_widget/static/widget.js") == (ROOT / "datamap_widget/static/widget.js").read_bytes()
    metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata and "Project-URL:" in metadata
    assert "Provides-Extra: train" in metadata and "Requires-Dist: torch" in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    base = [line for line in requires if "extra ==" not in line]
    assert not [line for line in base if any(heavy in line for heavy in ("torch", "transformers", "altair", "vl-convert"))]


def test_sdist_keeps_benchmark_records_tests_and_sources_but_no_node_modules(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = [name.split("/", 1)[1] for name in tar.getnames() if "/" in name]
    records = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "benchmarks/results/runs").glob("*.json"))
    assert records, "the repository has benchmark records to ship"
    assert set(records) <= set(names), sorted(set(records) - set(names))[:5]
    for needed in ("LICENSE", "README.md", "pyproject.toml", "datamap_widget/static/widget.js",
                   "tests/data/trec.jsonl", "js/package.json", "js/src/widget.ts", "scripts/test.sh"):
        assert needed in names, needed
    assert not [n for n in names if "node_modules" in n or n.startswith((".venv/", "runs/", "test-artifacts/"))]


@pytest.fixture(scope="module")
def base_venv(dists, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed and no extras."""
    venv = tmp_path_factory.mktemp("base") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(dists["wheel"])],
                   check=True, capture_output=True, text=True)
    return venv


def test_base_install_has_no_heavy_packages(base_venv):
    listed = subprocess.run([str(base_venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                            check=True, capture_output=True, text=True).stdout
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert {"datamap-widget", "numpy", "pandas", "pyarrow", "anywidget", "sqlalchemy"} <= installed
    assert not installed & {"torch", "transformers", "accelerate", "sentence-transformers", "scikit-learn", "scipy",
                            "altair", "vl-convert-python", "fsspec", "psycopg"}


USE_A_SAVED_MAP = textwrap.dedent(
    """
    import json, subprocess, sys
    import pandas as pd
    from datamap_widget import DataMap, DataMapWidget, Store, train_datamap
    from datamap_widget.dependencies import MissingExtraError

    folder = sys.argv[1]
    dmap = DataMap.read_parquet(folder + "/datamap.parquet")
    texts = pd.read_parquet(folder + "/texts.parquet")
    with Store(folder + "/maps.db") as store:
        w = DataMapWidget(dmap, data=texts, text_column="text", store=store, dataset="d")
        state = w.get_state()
        first = dmap.suspects(top=1).index[0]
        w.relabel([first], dmap.label_names[0])
        out = {"n_points": len(w.labels), "label_names": state["label_names"], "has_text": state["has_text"],
               "esm_bytes": len(w._esm), "changes": w.changes.index.tolist(),
               "saved": store.reviews("d").shape[0]}

    def error_of(call):
        try:
            call()
        except MissingExtraError as error:
            return str(error)
        return "no error"

    out["chart"] = error_of(dmap.chart)
    # The report needs no extra: without vl-convert its map is drawn as inline SVG from numpy.
    page = dmap.report(folder + "/api", texts=texts).read_text()
    out["report_circles"] = page.count("<circle")
    out["report_script"] = "<script" in page
    out["postgres"] = error_of(lambda: Store("postgresql://u:p@localhost/db"))
    out["memory"] = error_of(lambda: dmap.to_parquet("memory://m.parquet"))
    out["train"] = error_of(lambda: train_datamap(["a", "b"], ["x", "y"]))
    print(json.dumps(out))
    """
)


def test_base_install_opens_a_saved_map_in_a_widget_and_names_each_missing_extra(base_venv, tmp_path):
    dmap = random_datamap(40, n_classes=2, label_names=["neg", "pos"])
    dmap.to_parquet(str(tmp_path / "datamap.parquet"))
    pd.DataFrame({"id": dmap.ids, "text": [f"text {i}" for i in range(40)]}).to_parquet(tmp_path / "texts.parquet")
    script = tmp_path / "use.py"
    script.write_text(USE_A_SAVED_MAP)
    # cwd=tmp_path: the installed package is used, not this checkout
    run = subprocess.run([str(base_venv / "bin" / "python"), str(script), str(tmp_path)], capture_output=True,
                         text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["n_points"] == 2 * 40 and out["label_names"] == ["neg", "pos"] and out["has_text"]
    assert out["esm_bytes"] > 10_000  # the bundle shipped in the wheel
    assert len(out["changes"]) == 1 and out["saved"] == 1
    assert "pip install 'datamap_widget[export]'" in out["chart"]
    assert out["report_circles"] == 40 and not out["report_script"]
    assert "pip install 'datamap_widget[postgres]'" in out["postgres"]
    assert "pip install 'datamap_widget[remote]'" in out["memory"]
    assert "pip install 'datamap_widget[train]'" in out["train"]

    datamap = base_venv / "bin" / "datamap"
    version = subprocess.run([str(datamap), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"datamap {VERSION}"
    report = subprocess.run([str(datamap), "report", str(tmp_path), "--top", "5"], capture_output=True, text=True,
                            cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report.html").read_text()
    assert page.count("<circle") == 40 and page.count('<td class="id">') == 5 and "<script" not in page
    train = subprocess.run([str(datamap), "train", "--sample", "--out", str(tmp_path / "run"), "--quiet"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert train.returncode == 2 and "Traceback" not in train.stderr
    assert train.stderr.strip().splitlines()[-1].startswith("datamap: error: ")
    assert "pip install 'datamap_widget[train]'" in train.stderr
