"""Make a package look uninstalled for one test."""

from __future__ import annotations

import sys


def hide(monkeypatch, *modules: str) -> None:
    """Make ``import <module>`` fail as if the package were not installed (through pytest's
    ``monkeypatch``, so it is undone after the test)."""
    for name in list(sys.modules):
        if name.split(".")[0] in modules:
            monkeypatch.delitem(sys.modules, name)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)
