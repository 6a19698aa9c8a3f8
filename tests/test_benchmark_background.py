"""benchmarks/background.py runs on tiny sizes, so the script cannot rot unnoticed (no timing is checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_background_benchmark_quick_prints_every_table():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "background.py"), "--quick"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for row in ("| record, numpy logits, batch 32 |", "| foreground | ", "| background | ",
                "| background + live widget |", "| during background training |"):
        assert row in out, row
    assert "training threads left running: none" in out
