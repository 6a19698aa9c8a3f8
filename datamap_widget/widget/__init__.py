"""DataMapWidget: review and relabel a data map in a notebook.

This package's one public face; its modules are private:

* ``_widget``: the :class:`DataMapWidget` class: traits, public actions, review state shown;
* ``_config``: the constants the browser needs, sent once by :func:`browser_config`;
* ``_wire``: the wire format (traits, dtypes, request and response messages) and its codecs;
* ``_documents``: the user's rows aligned to the map's, and the page/document/search payloads;
* ``_live``: following a tracker: a redraw per pass, throttled progress;
* ``_router``: the browser's requests, one table of handlers with their argument checks.

The numbers come from :class:`~datamap_widget.datamap.DataMap` and the suspects' order from
:mod:`datamap_widget.ranking`: the widget does no metric math.
"""

from ._config import (
    COLOR_BY,
    EAGER_PROJECTION_MAX,
    EMPTY_FILTERS,
    ENDED_STATES,
    EXPORT_NAME,
    MAP_VIEWS,
    MAX_FULL_ROWS,
    MAX_LABELS,
    MAX_PAGE_ROWS,
    MAX_TEXT_CHARS,
    NO_LABEL,
    PANE_CLASSES,
    PANE_NEIGHBOURS,
    PREVIEW_CHARS,
    PROGRESS_INTERVAL_S,
    REVIEWED_FILTERS,
    SETTABLE,
    browser_config,
)
from ._documents import neighbour_summary
from ._widget import DataMapWidget
from ._wire import (
    BYTES_PER_POINT,
    LABEL_DTYPE,
    POINT_DTYPES,
    PROJECTION_BYTES_PER_POINT,
    PROJECTION_DTYPES,
    REVIEWED_DTYPE,
    SELECTION_DTYPE,
)

__all__ = [
    "BYTES_PER_POINT", "COLOR_BY", "EAGER_PROJECTION_MAX", "EMPTY_FILTERS", "ENDED_STATES", "EXPORT_NAME",
    "LABEL_DTYPE", "MAP_VIEWS", "MAX_FULL_ROWS", "MAX_LABELS", "MAX_PAGE_ROWS", "MAX_TEXT_CHARS", "NO_LABEL",
    "PANE_CLASSES", "PANE_NEIGHBOURS", "POINT_DTYPES", "PREVIEW_CHARS", "PROGRESS_INTERVAL_S",
    "PROJECTION_BYTES_PER_POINT", "PROJECTION_DTYPES", "REVIEWED_DTYPE", "REVIEWED_FILTERS", "SELECTION_DTYPE",
    "SETTABLE", "DataMapWidget", "browser_config", "neighbour_summary",
]

# Users (and reprs, docs, pickles) see the public path, as httpx does for its classes.
DataMapWidget.__module__ = __name__
