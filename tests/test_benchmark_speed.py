"""benchmarks/speed.py's Python parts run on tiny sizes, so the script cannot rot unnoticed.

Nothing here checks a time: the figures depend on the machine and its load.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_speed_quick_prints_every_section_and_writes_the_table(tmp_path):
    out = tmp_path / "speed.md"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--quick", "--no-browser", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert text.startswith("# Speed and scale")
    assert "Loaded/shared machine" in text
    for section in ("| tracker |", "| metrics |", "| widget python |"):
        assert section in text, section
    assert "| browser |" not in text  # --quick never starts JupyterLab
    assert "22.0 B (declared 22)" in text  # the widget's bytes per point match BYTES_PER_POINT
    assert "20 B" in text  # per example per closed pass: 4 float32 + 2 int16
