"""The names users and DESIGN.md rely on (httpx's habit: pin the exported surface)."""

from __future__ import annotations

import subprocess
import sys

import datamap_widget


def test_exported_members_are_pinned():
    assert sorted(datamap_widget.__all__) == sorted(
        [
            "DataMap",
            "DataMapCallback",
            "DataMapWidget",
            "ReviewConflict",
            "ReviewSession",
            "Store",
            "StoreError",
            "Tracker",
            "read_run",
            "train_datamap",
            "__version__",
        ]
    )
    for name in datamap_widget.__all__:
        assert getattr(datamap_widget, name) is not None


def test_a_run_folder_opens_from_the_top_level():
    """A new user's first guess, `from datamap_widget import read_run`, works (reviewer pass, finding 4)."""
    from datamap_widget import read_run
    from datamap_widget.run import read_run as in_its_module

    assert read_run is in_its_module


def test_design_import_line_works():
    from datamap_widget import DataMap, DataMapCallback, DataMapWidget, Store, Tracker, train_datamap  # noqa: F401

    assert DataMapWidget.__module__ == "datamap_widget.widget"
    assert DataMapCallback.__module__ == "datamap_widget.integrations.hf_trainer"


def test_plain_import_stays_light():
    """`import datamap_widget` must not pay for transformers or the widget stack."""
    code = "import sys, datamap_widget; print(' '.join(m for m in ('transformers', 'anywidget', 'altair') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_unknown_attribute_says_so():
    try:
        datamap_widget.DataMapWidgt  # noqa: B018
    except AttributeError as error:
        assert "DataMapWidgt" in str(error)
    else:  # pragma: no cover
        raise AssertionError("a misspelt name must raise AttributeError")

