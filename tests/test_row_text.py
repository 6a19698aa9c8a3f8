"""row_text: every row's id and a short preview cross with the widget as binary buffers (issue 29 item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from ipywidgets.widgets.widget import _remove_buffers

from datamap_widget.widget._row_text import ROW_PREVIEW_CHARS, decode_row_text, encode_row_text
from datamap_widget.widget import DataMapWidget
from tests.harness.maps import fixed_tracker, frame_for


def test_the_widget_sends_every_rows_id_and_preview_as_binary_buffers():
    df = frame_for()
    w = DataMapWidget(fixed_tracker().datamap(), data=df)
    ids, previews = decode_row_text(w.row_text)
    assert ids == [str(i) for i in w.frame.index]
    texts = dict(zip(df["id"], df["text"]))
    assert previews == [t if len(t) <= ROW_PREVIEW_CHARS else t[:ROW_PREVIEW_CHARS] + "…" for t in (texts[i] for i in ids)]
    state, paths, buffers = _remove_buffers(w.get_state(["row_text"]))
    assert {tuple(p) for p in paths} == {("row_text", k) for k in ("id_offsets", "ids", "preview_offsets", "previews")}
    assert np.frombuffer(w.row_text["id_offsets"], dtype="<u4")[-1] == len(w.row_text["ids"])


def test_without_texts_or_above_the_row_cap_only_ids_are_sent():
    w = DataMapWidget(fixed_tracker().datamap())
    ids, previews = decode_row_text(w.row_text)
    assert previews is None and w.row_text["preview_chars"] == 0 and len(ids) == w.row_text["n"]
    value = encode_row_text(["a", "b", "c"], ["x", "y", "z"], max_preview_rows=2)
    assert decode_row_text(value) == (["a", "b", "c"], None)


def test_unicode_and_markup_round_trip_untouched():
    value = encode_row_text(["é-1", "<b>2</b>"], ["数据 " * 100, "<img src=x onerror=alert(1)>"], preview_chars=10)
    assert decode_row_text(value) == (["é-1", "<b>2</b>"], ["数据 数据 数据 数…", "<img src=x…"])


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="preview_chars"):
        encode_row_text(["a"], ["x"], preview_chars=0)
    with pytest.raises(ValueError, match="texts must hold one text per id"):
        encode_row_text(["a", "b"], ["x"])
