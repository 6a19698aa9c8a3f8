"""datamap_widget: find mislabeled examples from training dynamics, review them in a notebook.

The public surface (see the README):

- :class:`Tracker` records per-example, per-pass training dynamics from any training loop;
- :class:`DataMap` holds the cartography metrics, the suspects and save/load;
- :class:`DataMapWidget` reviews and relabels a map in a notebook;
- :class:`ReviewSession` holds a review (current labels, marks, undo): ``dmap.suspects(review=...)`` reads it;
- :func:`train_datamap` fine-tunes a transformer and returns its DataMap in one call;
- :class:`Store` keeps data maps and the review log in SQLite or PostgreSQL;
- :class:`DataMapCallback` feeds a Tracker from ``transformers.Trainer``.

The widget and the callback load on first use, so ``import datamap_widget`` imports neither
anywidget nor transformers (the latter takes seconds).
"""

from importlib.metadata import PackageNotFoundError, version

from .datamap import DataMap
from .integrations import distributed as _distributed  # noqa: F401  (plugs the ranks' merge into Tracker)
from .review import ReviewConflict, ReviewSession
from .run import read_run
from .store import Store, StoreError
from .tracker import Tracker
from .train import train_datamap

try:
    __version__ = version("datamap_widget")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
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


def __getattr__(name: str):
    """Load the heavy optional parts only when they are asked for."""
    if name == "DataMapWidget":
        from .widget import DataMapWidget

        return DataMapWidget
    if name == "DataMapCallback":
        from .integrations import DataMapCallback  # names the extra if transformers is missing

        return DataMapCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
