"""The notebooks run from top to bottom (nbclient, the venv's kernel), so they never go stale."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parents[1]


def run_notebook(name: str, workdir: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    # The venv's own python ("python3" is ipykernel's native kernel) with this checkout importable.
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    nbformat.write(notebook, workdir / name)  # the executed copy, to read when a run fails
    return notebook


def outputs_text(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.slow
def test_quickstart_runs_and_finds_injected_mistakes(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    notebook = run_notebook("quickstart.ipynb", tmp_path)
    text = outputs_text(notebook)
    assert "3 passes recorded" in text
    assert "held-out accuracy:" in text and "with the corrected ones" in text
    # The map must point at some of the injected mistakes, and relabelling must reduce them.
    found = [line for line in text.splitlines() if "of the top" in line and "suspects are injected mistakes" in line]
    assert found and int(found[0].split(" of the top")[0]) >= 3, found
    fixed = [line for line in text.splitlines() if line.startswith("reviewed ")]
    assert fixed, text
    left, before = fixed[0].split("; ")[1].split(" mistakes left (was ")
    assert int(left) < int(before.rstrip(")")), fixed[0]


def test_notebooks_are_committed_without_outputs():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), path.name
