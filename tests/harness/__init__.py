"""What the tests and the benchmarks start and drive, as plain functions (no pytest here).

``postgres``  a throwaway PostgreSQL server (``postgres_server()``)
``jupyter``   a JupyterLab server with fresh settings and workspace folders (``jupyter_lab()``),
              notebooks written into it, a second kernel client (``Kernel``)
``browser``   Debian's Chromium with the project's flags, a page, a notebook opened in it
``widget``    reading the widget on a page: painted pixels, the map's geometry, themes
``maps``      synthetic DataMaps and trackers (no training) shared by several test modules
``imports``   make a package look uninstalled

The pytest fixtures in ``tests/conftest.py`` and ``tests/e2e/conftest.py`` are thin wrappers
over these; a benchmark imports them after ``benchmarks/_paths.py`` put the repository root
on ``sys.path``. A failure to start raises ``HarnessError`` (a ``RuntimeError``), which the
fixtures turn into a failed test, never a skip.
"""

from __future__ import annotations


class HarnessError(RuntimeError):
    """Something the tests need is missing or did not start; the message says how to fix it."""
