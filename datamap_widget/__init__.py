"""datamap_widget: find mislabeled examples from training dynamics, review them in a notebook.

The public surface (see the README):

- :class:`Tracker` records per-example, per-pass training dynamics from any training loop;
- :class:`DataMap` holds the cartography metrics, the suspects and save/load;
- :func:`train_datamap` fine-tunes a transformer and returns its DataMap in one call;
- :class:`DataMapCallback` feeds a Tracker from ``transformers.Trainer`` (loaded on first
  use, so that ``import datamap_widget`` does not import transformers).
"""

from importlib.metadata import PackageNotFoundError, version

from .datamap import DataMap
from .tracker import Tracker
from .train import train_datamap

try:
    __version__ = version("datamap_widget")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["DataMap", "DataMapCallback", "Tracker", "train_datamap", "__version__"]


def __getattr__(name: str):
    # Lazily, like anywidget's optional imports: transformers takes seconds to import.
    if name == "DataMapCallback":
        from .integrations.hf_trainer import DataMapCallback

        return DataMapCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
