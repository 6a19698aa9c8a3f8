"""The constants the widget shares with the browser, and :func:`browser_config`, which sends them.

The front end (js/src) holds no copy of these: they reach it once, in the ``config`` trait, so a
change here reaches it on the next widget. The wire dtypes are in :mod:`._wire`.
"""

from __future__ import annotations

from typing import Any

from ..review import CONFIRMED, RELABELED, UNREVIEWED

#: Most rows one page request may ask for, and the longest text cut sent for a table row.
MAX_PAGE_ROWS = 500
PREVIEW_CHARS = 240

#: How many nearest neighbours the detail pane lists for the current document (issue 16).
PANE_NEIGHBOURS = 8
#: How many of the model's most probable classes the detail pane shows (issue 14).
PANE_CLASSES = 3
#: Most rows of a full-text page, and the longest text sent unless the user asks for all of it:
#: 20 rows of 20,000 characters bound a page to under 2 MB, whatever the data holds.
MAX_FULL_ROWS = 20
MAX_TEXT_CHARS = 20_000
#: Most label names the number keys and the uint16 codes can address; the code itself means "no label".
MAX_LABELS = 65535
NO_LABEL = MAX_LABELS

COLOR_BY = ("correctness", "category", "label", "suggested_label", "reviewed", "mislabel_score")
#: Traits a caller may set as keyword arguments (the rest are the widget's own wire state).
SETTABLE = ("color_by", "filters", "selected_ids", "layout", "map_view")
#: The map's two views of the same points: the data map and the embeddings' 2-D projection.
MAP_VIEWS = ("data_map", "embedding")
#: Most points whose projection the widget makes as it opens. None: openTSNE takes 3-8 s even
#: for 1,000 points and a minute at 10,000 (benchmarks/results/projection.md), and opening the
#: widget must stay instant. A map without a projection (made before, or read from its parquet)
#: makes it when the embedding view is first asked for, once.
EAGER_PROJECTION_MAX = 0
REVIEWED_FILTERS = ("all", "reviewed", "unreviewed")
#: The filters with nothing chosen: every point shows.
EMPTY_FILTERS = {"categories": [], "labels": [], "suspects_k": 0, "reviewed": "all", "search": ""}
#: Progress states after which the feeding training adds no pass: the "live" badge goes.
ENDED_STATES = ("done", "stopped", "failed")
#: The one of them that means the training raised: the browser shows it as an error.
FAILED_STATE = "failed"
#: Where "Save labels…" writes, in the kernel's working folder (a notebook's own folder).
EXPORT_NAME = "datamap-labels.csv"
#: Least time between two progress messages within one epoch (the epoch's last step always goes).
PROGRESS_INTERVAL_S = 0.2


def browser_config() -> dict[str, Any]:
    """Every constant the browser needs, said once here and sent once in the ``config`` trait.

    The front end (js/src) holds no copy of these: a change here reaches it on the next widget.
    """
    return {
        "no_label": NO_LABEL,
        "marks": {"unreviewed": UNREVIEWED, "confirmed": CONFIRMED, "relabeled": RELABELED},
        "empty_filters": {k: (list(v) if isinstance(v, list) else v) for k, v in EMPTY_FILTERS.items()},
        "reviewed_filters": list(REVIEWED_FILTERS),
        "color_by": list(COLOR_BY),
        "map_views": list(MAP_VIEWS),
        "ended_states": list(ENDED_STATES),
        "failed_state": FAILED_STATE,
        "preview_chars": PREVIEW_CHARS,
        "max_page_rows": MAX_PAGE_ROWS,
        "max_full_rows": MAX_FULL_ROWS,
        "max_text_chars": MAX_TEXT_CHARS,
        "pane_neighbours": PANE_NEIGHBOURS,
        "pane_classes": PANE_CLASSES,
        "export_name": EXPORT_NAME,
    }
