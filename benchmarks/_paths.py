"""Put the repository root on ``sys.path`` (once), so a benchmark run as a script from any folder
imports this checkout's ``datamap_widget`` and the shared harness ``tests.harness`` (the
JupyterLab server, the PostgreSQL server and the Chromium page the tests use too).

    import _paths  # noqa: F401  (first, before datamap_widget or tests.harness)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
