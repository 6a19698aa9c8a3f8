"""datamap_widget: find mislabeled examples from training dynamics, review them in a notebook.

The public surface (see the README):

- :class:`Tracker` records per-example, per-pass training dynamics from any training loop;
- :class:`DataMap` holds the cartography metrics, the suspects and save/load;
- :class:`DataMapWidget` reviews and relabels a map in a notebook (loaded on first use);
- :func:`train_datamap` fine-tunes a transformer and returns its DataMap in one call;
- :class:`Store` keeps data maps and the review log in SQLite or PostgreSQL.
"""

from importlib.metadata import PackageNotFoundError, version

from .datamap import DataMap
from .store import ReviewConflict, Store, StoreError
from .tracker import Tracker
from .train import train_datamap

try:
    __version__ = version("datamap_widget")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["DataMap", "DataMapWidget", "ReviewConflict", "Store", "StoreError", "Tracker", "train_datamap", "__version__"]


def __getattr__(name: str):
    """Load the widget (anywidget, ipywidgets) only when it is asked for."""
    if name == "DataMapWidget":
        from .widget import DataMapWidget

        return DataMapWidget
    raise AttributeError(f"module 'datamap_widget' has no attribute {name!r}")
