"""What crosses the comm between :class:`DataMapWidget` and the browser: traits, dtypes, requests.

Wire format (see ``js/src/sync.ts`` for the mirror):

* ``config`` (dict, sent once): every constant the browser needs, :func:`browser_config`.
* ``points`` (dict, rebuilt whenever the map changes, e.g. after each epoch)::

      {"n": int,
       "x": float32[n]            variability,
       "y": float32[n]            confidence,
       "correctness": float32[n],
       "order": uint32[n]         row indices, most suspect first (mislabel_score desc),
       "suggested": uint16[n]     code into label_names of the suggestion the map shows
                                  (another label than the given one); 65535 where it shows none,
       "category": uint8[n]       code into categories,
       "projection_x", "projection_y": float32[n]   only when the map has embeddings: the
                                  2-D projection of DataMap.projection() (NaN: no embedding)}

* ``labels`` uint16[n] (current label codes, after relabels) and ``reviewed``
  uint8[n] (0 not reviewed, 1 confirmed, 2 relabeled) travel as their own traits so an
  action resends only them.
* ``selection`` uint32[k]: selected row indices, written by both sides.
* ``map_view`` ("data_map" or "embedding": which axes the map draws, shared by both sides) and
  ``embedding_view`` ({"method": name or "", "reason": why there is none, or "", "note": e.g.
  that PCA stands in for t-SNE, or ""; "pending": the method that the ``projection`` request
  will use, for a map with none made yet: the widget never waits for it as it opens}).
* ``order`` uint32[n] or empty: the suspects' order once reviews have re-ranked them (a map
  whose score learns from reviews, see :mod:`datamap_widget.ranking`); empty means
  ``points["order"]``. Reviewed rows and the current document (the ``current`` row an action
  request names) keep their places; the rest are re-sorted by their new scores.

Every array is raw little-endian bytes, which ipywidgets sends as binary buffers, never as
JSON lists: 22 bytes per point in all, 30 with the projection. The binary traits carry their
codec as traitlets tags (:data:`BINARY_TRAIT`): what the browser writes arrives as a
memoryview and is kept as bytes.

Ids and texts are not sent per point. ``row_text`` (set once, as the widget opens) carries every
row's id and a short preview (:mod:`._row_text`), so the table never waits for the kernel; whole
texts, the detail pane and everything else the front end asks for a page at a time with a
request message ``{"kind": "dmw:request", "id": str, "method": str, "args": dict}`` (plus
buffers) and Python answers ``{"kind": "dmw:response", "id": str, "ok": bool, "result"|
"error": ...}`` (plus buffers). The methods, answered by the one table in :mod:`._router`:

* ``page`` (buffer: uint32 rows, at most MAX_PAGE_ROWS, or MAX_FULL_ROWS with ``full``) ->
  ``{"rows", "ids" (str), "texts", "truncated" (bool per row), "lengths", "scores"}``; texts
  are cut to PREVIEW_CHARS, or to MAX_TEXT_CHARS with ``full``, so a huge text never
  crosses whole unless asked for;
* ``document`` (args ``row``, ``all``) -> one document for the detail pane: id, text (whole
  with ``all``, else cut to MAX_TEXT_CHARS), truncated, length, score, ``gold_prob`` per
  pass, the model's classes (``classes``: [name, p], most probable first): with
  ``classes_from`` "mean", the top PANE_CLASSES of the mean class probabilities over the
  passes, else ("last pass": a map without them) the gold label and the best other class of
  the last pass that saw it; ``gold_label``, the label the model was trained on;
  ``neighbors``: None without embeddings, else ``{"items": [{row, id, label (current),
  text (cut to PREVIEW_CHARS), similarity}], "summary"}`` for the PANE_NEIGHBOURS nearest;
  ``reading`` (how much of the text the model read, or None) and ``text_view`` (the text
  view's top classes, or empty);
* ``accept_preview`` (buffer: rows) -> ``{"change", "reviewed", "no_suggestion", "unknown"}``:
  what ``accept_suggestions`` would do (see :meth:`DataMapWidget.accept_preview`);
* ``search`` (args ``query``) -> ``{"count"}`` + buffer: uint32 matching rows
* ``projection`` -> ``{"method"}``: makes the map's projection (once) and sends it in ``points``;
* ``save_labels`` -> ``{"path", "rows", "changed"}``: :meth:`DataMapWidget.export_labels` to
  EXPORT_NAME in the kernel's working folder (the "Save labels…" button);
* ``relabel`` (buffer: rows; args ``label`` name), ``confirm`` (buffer: rows),
  ``accept_suggestions`` (buffer: rows; args ``include_reviewed``), ``undo`` (answers with a buffer: the uint32 rows
  whose action was undone) — each with optional ``current``: the row the reviewer's pane shows
  now, which a re-ranking leaves in place —, ``retry_save`` ->
  ``{"history_size", "save_status", ...}``; the new state itself arrives as trait
  changes (``labels``, ``reviewed``, ``save_status``).

A request that fails is answered with ``ok`` false and ``"error": "ValueError: why"``; every
request is answered, so the browser never waits forever.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: dtypes of the per-point columns on the wire; 22 bytes per point together.
POINT_DTYPES: dict[str, np.dtype] = {
    "x": np.dtype("<f4"),
    "y": np.dtype("<f4"),
    "correctness": np.dtype("<f4"),
    "order": np.dtype("<u4"),
    "suggested": np.dtype("<u2"),
    "category": np.dtype("<u1"),
}
LABEL_DTYPE = np.dtype("<u2")
REVIEWED_DTYPE = np.dtype("<u1")
SELECTION_DTYPE = np.dtype("<u4")
BYTES_PER_POINT = sum(d.itemsize for d in POINT_DTYPES.values()) + LABEL_DTYPE.itemsize + REVIEWED_DTYPE.itemsize
#: The embedding view's columns, sent only for a map with embeddings (8 more bytes per point).
PROJECTION_DTYPES: dict[str, np.dtype] = {"projection_x": np.dtype("<f4"), "projection_y": np.dtype("<f4")}
PROJECTION_BYTES_PER_POINT = sum(d.itemsize for d in PROJECTION_DTYPES.values())

#: The ``kind`` of a request message from the browser, and of Python's answer.
REQUEST_KIND = "dmw:request"
RESPONSE_KIND = "dmw:response"


def to_bytes(values: np.ndarray, dtype: np.dtype) -> bytes:
    """Raw little-endian bytes of ``values`` cast to ``dtype`` (one copy)."""
    return np.ascontiguousarray(values, dtype=dtype).tobytes()


def from_bytes(buf: Any, dtype: np.dtype) -> np.ndarray:
    """Inverse of :func:`to_bytes`; accepts bytes, memoryview or None."""
    if buf is None:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(bytes(buf), dtype=dtype)


def bytes_from_json(js: Any, _widget: Any) -> bytes:
    """A buffer from the front end (memoryview) -> bytes, as ipywidgets' Image does."""
    return b"" if js is None else bytes(js)


#: The tags of a synced binary trait (``traitlets.Bytes(...).tag(**BINARY_TRAIT)``): bytes go out
#: as a buffer as they are; a buffer the browser writes comes back as bytes.
BINARY_TRAIT: dict[str, Any] = {"sync": True, "from_json": bytes_from_json}


def encode_points(columns: dict[str, np.ndarray], projection: np.ndarray | None) -> dict[str, Any]:
    """The ``points`` trait: each of :data:`POINT_DTYPES` as bytes, and the (N, 2) ``projection``'s
    two columns when there is one."""
    points: dict[str, Any] = {"n": len(columns["x"])}
    for key, dtype in POINT_DTYPES.items():
        points[key] = to_bytes(columns[key], dtype)
    if projection is not None:
        points["projection_x"] = to_bytes(projection[:, 0], PROJECTION_DTYPES["projection_x"])
        points["projection_y"] = to_bytes(projection[:, 1], PROJECTION_DTYPES["projection_y"])
    return points
