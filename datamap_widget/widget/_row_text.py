"""Every row's id and a short preview of its text, packed for the ``row_text`` trait.

The browser keeps these for as long as the widget lives, so the table, the tooltip and the
messages show a row's id and text at once, also while a cell keeps the kernel busy (it answers
page requests only between cells) and after a training pass re-sorted the table. Whole texts
still travel a page at a time (see the ``page`` request in :mod:`datamap_widget.widget._wire`).

Wire format (mirrored by ``js/src/rowtext.ts``)::

    {"n": int,
     "id_offsets": uint32[n + 1]        byte offsets into "ids", little-endian,
     "ids": bytes                       the ids as str, UTF-8, one after the other,
     "preview_offsets": uint32[n + 1]   byte offsets into "previews"; b"" when previews are left out,
     "previews": bytes                  each text cut to preview_chars (+ "…" where cut), UTF-8,
     "preview_chars": int}              0 when previews are left out (no texts, or over PREVIEW_MAX_ROWS)

Bytes travel as binary buffers (ipywidgets splits them out of the dict), never as JSON lists.
Ids and texts are untrusted: the browser shows them with textContent only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

#: Characters of each row's text kept in the browser: what the table's text column and the
#: tooltip show (the tooltip cuts at 140), so neither needs the kernel.
ROW_PREVIEW_CHARS = 140
#: Most rows whose previews are sent with the widget. Measured by benchmarks/row_text.py
#: (build + send + decode; bytes): at 100,000 rows the previews are ~15 MB and take seconds to
#: send, while the ids alone stay under a few MB. Above this, the previews come a page at a time.
PREVIEW_MAX_ROWS = 20_000

OFFSET_DTYPE = np.dtype("<u4")


def _pack(strings: list[str]) -> tuple[bytes, bytes]:
    """(uint32 LE offsets[n + 1], UTF-8 bytes) of ``strings`` laid end to end."""
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.uint64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.uint64, count=len(encoded)), out=offsets[1:])
    if offsets[-1] > np.iinfo(OFFSET_DTYPE).max:
        raise ValueError(f"the row texts hold {int(offsets[-1])} bytes, more than uint32 offsets address.")
    return offsets.astype(OFFSET_DTYPE).tobytes(), b"".join(encoded)


def _cut(text: Any, chars: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= chars else text[:chars] + "…"


def encode_row_text(
    ids: Iterable[Any],
    texts: Iterable[Any] | None,
    preview_chars: int = ROW_PREVIEW_CHARS,
    max_preview_rows: int = PREVIEW_MAX_ROWS,
) -> dict[str, Any]:
    """The ``row_text`` trait value for rows with ``ids`` and ``texts`` (None: no texts; ids only).

    Previews are left out (``preview_chars`` 0) without texts or above ``max_preview_rows`` rows.
    """
    if isinstance(preview_chars, bool) or not isinstance(preview_chars, int) or preview_chars < 1:
        raise ValueError(f"preview_chars must be a positive int, got {preview_chars!r}.")
    if isinstance(max_preview_rows, bool) or not isinstance(max_preview_rows, int) or max_preview_rows < 0:
        raise ValueError(f"max_preview_rows must be an int >= 0, got {max_preview_rows!r}.")
    id_strings = [str(i) for i in ids]
    n = len(id_strings)
    id_offsets, id_bytes = _pack(id_strings)
    out: dict[str, Any] = {
        "n": n, "id_offsets": id_offsets, "ids": id_bytes,
        "preview_offsets": b"", "previews": b"", "preview_chars": 0,
    }
    if texts is None or n > max_preview_rows:
        return out
    previews = [_cut(t, preview_chars) for t in texts]
    if len(previews) != n:
        raise ValueError(f"texts must hold one text per id: got {len(previews)} texts for {n} ids.")
    out["preview_offsets"], out["previews"] = _pack(previews)
    out["preview_chars"] = preview_chars
    return out


def decode_row_text(value: dict[str, Any]) -> tuple[list[str], list[str] | None]:
    """(ids, previews or None) back from a ``row_text`` value; the inverse of :func:`encode_row_text` (tests, benchmarks)."""

    def unpack(offsets: bytes, blob: bytes) -> list[str]:
        o = np.frombuffer(offsets, dtype=OFFSET_DTYPE)
        return [blob[o[i]:o[i + 1]].decode("utf-8", "surrogatepass") for i in range(len(o) - 1)]

    ids = unpack(value["id_offsets"], value["ids"])
    previews = unpack(value["preview_offsets"], value["previews"]) if value["preview_chars"] else None
    return ids, previews
