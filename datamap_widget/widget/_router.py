"""The one router of the browser's requests: a table of handlers, and the argument checks they share.

A request names a ``method`` (a key of :data:`ROUTES`), its JSON ``args`` and binary buffers
(the wire format is in :mod:`._wire`). Every argument from the browser is read through
:class:`Request`, which checks it and says what was wrong, so no handler checks its own.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._config import MAX_FULL_ROWS, MAX_PAGE_ROWS
from ._wire import REQUEST_KIND, RESPONSE_KIND, SELECTION_DTYPE, from_bytes, to_bytes

if TYPE_CHECKING:
    from ._widget import DataMapWidget

Reply = tuple[Any, list[bytes]]


class Request:
    """One request's arguments, each checked as it is read.

    ``n_rows`` is the number of the map's rows: row indices must lie below it.
    """

    def __init__(self, args: dict, buffers: list, n_rows: int):
        if not isinstance(args, dict):
            raise TypeError(f"request args must be a JSON object, got {type(args).__name__}.")
        self.args = args
        self._buffers = buffers
        self._n_rows = n_rows

    def rows(self, limit: int | None = None, what: str = "request") -> np.ndarray:
        """The uint32 row indices of the first buffer (none without one), at most ``limit`` of them."""
        rows = from_bytes(self._buffers[0] if self._buffers else None, SELECTION_DTYPE).astype(np.int64)
        if limit is not None and rows.size > limit:
            raise ValueError(f"a {what} holds at most {limit} rows, got {rows.size}.")
        if rows.size and rows.max() >= self._n_rows:
            raise ValueError(f"row index {int(rows.max())} is out of range: row indices must lie in 0..{self._n_rows - 1}.")
        return rows

    def row(self, name: str) -> int:
        """The int argument ``name``, one row index."""
        row = self.args.get(name)
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < self._n_rows:
            raise ValueError(f"{name} must be an int in 0..{self._n_rows - 1}, got {row!r}.")
        return row

    def current(self) -> int:
        """The ``current`` row (the document the reviewer's pane shows), or -1 when there is none.

        Only a hint for re-ranking, so a bad one is ignored rather than refused.
        """
        current = self.args.get("current")
        valid = isinstance(current, int) and not isinstance(current, bool) and 0 <= current < self._n_rows
        return current if valid else -1

    def flag(self, name: str) -> bool:
        """The bool argument ``name``; False when absent."""
        value = self.args.get(name, False)
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be true or false, got {value!r}.")
        return value

    def text(self, name: str) -> str:
        """The str argument ``name``; "" when absent."""
        return str(self.args.get(name, ""))

    def value(self, name: str) -> Any:
        """The argument ``name`` as sent, for a widget method that checks it itself (a label name)."""
        return self.args.get(name)


# ------------------------------------------------------------------ handlers
def _page(w: DataMapWidget, req: Request) -> Reply:
    full = req.flag("full")
    rows = req.rows(MAX_FULL_ROWS if full else MAX_PAGE_ROWS, "full-text page" if full else "page")
    return w._documents.page(rows, full, w.datamap), []


def _document(w: DataMapWidget, req: Request) -> Reply:
    return w._documents.document(req.row("row"), req.flag("all"), w.datamap, w._session), []


def _search(w: DataMapWidget, req: Request) -> Reply:
    hits = w._documents.search(req.text("query"))
    return {"count": int(hits.size)}, [to_bytes(hits, SELECTION_DTYPE)]


def _projection(w: DataMapWidget, req: Request) -> Reply:
    return w._make_projection(), []


def _relabel(w: DataMapWidget, req: Request) -> Reply:
    w.relabel(w._ids[req.rows()], req.value("label"))
    return {"history_size": w.history_size, "save_status": w.save_status}, []


def _confirm(w: DataMapWidget, req: Request) -> Reply:
    w.confirm(w._ids[req.rows()])
    return {"history_size": w.history_size, "save_status": w.save_status}, []


def _accept_preview(w: DataMapWidget, req: Request) -> Reply:
    return w.accept_preview(w._ids[req.rows()]), []


def _accept_suggestions(w: DataMapWidget, req: Request) -> Reply:
    changed = w.accept_suggestions(w._ids[req.rows()], include_reviewed=req.flag("include_reviewed"))
    return {"changed": changed, "history_size": w.history_size, "save_status": w.save_status}, []


def _undo(w: DataMapWidget, req: Request) -> Reply:
    # The undone rows come back so the pane can show the document whose action was undone.
    undone = w._undo()
    rows = np.zeros(0, dtype=np.int64) if undone is None else np.asarray(undone, dtype=np.int64)
    return {"undone": undone is not None, "history_size": w.history_size}, [to_bytes(rows, SELECTION_DTYPE)]


def _retry_save(w: DataMapWidget, req: Request) -> Reply:
    return {"saved": w.retry_save(), "save_status": w.save_status}, []


def _save_labels(w: DataMapWidget, req: Request) -> Reply:
    path = w.export_labels()
    return {"path": str(path), "rows": len(w._ids), "changed": w.review_summary["changed"]}, []


@dataclass(frozen=True)
class Route:
    """A request method's handler; ``acts``: it changes the review, so the ``current`` row keeps its place."""

    handler: Callable[[DataMapWidget, Request], Reply]
    acts: bool = False


#: Every request method the browser may send, and what answers it.
ROUTES: dict[str, Route] = {
    "page": Route(_page),
    "document": Route(_document),
    "search": Route(_search),
    "projection": Route(_projection),
    "accept_preview": Route(_accept_preview),
    "relabel": Route(_relabel, acts=True),
    "confirm": Route(_confirm, acts=True),
    "accept_suggestions": Route(_accept_suggestions, acts=True),
    "undo": Route(_undo, acts=True),
    "retry_save": Route(_retry_save),
    "save_labels": Route(_save_labels),
}


def handle(widget: DataMapWidget, method: str, args: dict, buffers: list) -> Reply:
    """Answer one request: (JSON result, binary buffers). Bad arguments raise ValueError/TypeError."""
    route = ROUTES.get(method)
    if route is None:
        raise ValueError(f"unknown request method {method!r}; expected one of {', '.join(ROUTES)}.")
    request = Request(args, buffers, len(widget._ids))
    if not route.acts:
        return route.handler(widget, request)
    widget._current_row = request.current()
    try:
        return route.handler(widget, request)
    finally:
        widget._current_row = -1


def answer(widget: DataMapWidget, content: Any, buffers: list) -> None:
    """The comm's message handler: answer a ``dmw:request`` (other messages are not ours)."""
    if not isinstance(content, dict) or content.get("kind") != REQUEST_KIND:
        return
    request_id = content.get("id")
    try:
        result, out_buffers = handle(widget, content.get("method", ""), content.get("args") or {}, buffers)
        reply = {"kind": RESPONSE_KIND, "id": request_id, "ok": True, "result": result}
    except Exception as exc:  # answer every request, so the UI never waits forever
        reply = {"kind": RESPONSE_KIND, "id": request_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out_buffers = []
        if not isinstance(exc, (ValueError, TypeError)):
            traceback.print_exc()
    widget.send(reply, out_buffers)
