"""The user's rows aligned to the map's, and the document payloads the table and the pane ask for.

The map fixes the row order (its ids); ``data`` may list them in any order, with gaps or
repeats: :class:`Documents` finds each map row's text once, as the widget opens. Pages, the
detail pane's document and search read from that alignment. Request arguments are checked
before they get here (:mod:`._router`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..datamap import DataMap
from ..ids import describe_ids
from ..review import ReviewSession
from ._config import MAX_TEXT_CHARS, PANE_CLASSES, PANE_NEIGHBOURS, PREVIEW_CHARS


def category_codes(values: Any, categories: Sequence[str]) -> np.ndarray:
    """Codes of ``values`` into ``categories`` (-1 for missing or unknown), without a str round trip for categoricals."""
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):  # a list has none
        own = np.asarray(values.cat.codes)
        lookup = pd.Index(categories).get_indexer(pd.Index([str(c) for c in values.cat.categories]))
        lookup = np.append(lookup, -1)  # code -1 (missing) indexes the last entry
        return lookup[own]
    names = np.asarray(values, dtype=object).astype(str)
    return np.asarray(pd.Categorical(names, categories=list(categories)).codes, dtype=np.int64)


def _id_kind(values: Any) -> str:
    """``str``, ``int``, ``float``…: the kind of a column of ids, for messages."""
    kind = pd.api.types.infer_dtype(values, skipna=True)
    return {"string": "str", "integer": "int", "floating": "float", "boolean": "bool"}.get(kind, kind)


def id_mismatch(df: pd.DataFrame, df_ids: Any, map_ids: pd.Index, id_column: str, name: str) -> str:
    """Why ``df_ids`` match none of ``map_ids``: what was tried, an id from each side, and a likely fix."""
    source = f"its column {id_column!r}" if id_column in df.columns else "its index"
    df_values, map_values = np.asarray(df_ids), map_ids.to_numpy()
    message = (
        f"{name}'s ids ({source}) match none of the map's ids: {name} has {describe_ids(df_values, 3)}, "
        f"the map has {describe_ids(map_values, 3)}"
    )
    near = [c for c in df.columns if isinstance(c, str) and c != id_column and c.lower() == id_column.lower()]
    if near:
        return message + f"; {name} has a column {near[0]!r}: pass id_column={near[0]!r}"
    holding = _columns_holding(df, map_ids, exclude=id_column)
    if id_column not in df.columns:
        if holding:
            return message + f"; {name} has no column {id_column!r}, so its index was tried; its column {holding!r} holds the map's ids: pass id_column={holding!r}"
        return message + f"; {name} has no column {id_column!r}, so its index was tried: pass id_column= naming the id column"
    if holding:
        return message + f"; its column {holding!r} holds the map's ids: pass id_column={holding!r}"
    df_kind, map_kind = _id_kind(df_values), _id_kind(map_values)
    if df_kind != map_kind:
        first = lambda a: repr(a[0].item() if isinstance(a[0], np.generic) else a[0])  # noqa: E731
        return message + (
            f"; {name}'s ids are {df_kind} ({first(df_values)}), the map's are {map_kind} ({first(map_values)}): "
            f"convert them (e.g. .astype({map_kind}))"
        )
    # The column named is the id column and of the right kind: a hint to pass id_column= would
    # send the user after a column they already gave. These are other rows than the map's.
    return message + f"; no column of {name} holds the map's ids (is {name} the data the map was made from?)"


def _columns_holding(df: pd.DataFrame, map_ids: pd.Index, exclude: str) -> str | None:
    """The first column of ``df`` (other than ``exclude``) any of whose values is one of the map's ids, or None."""
    for column in df.columns[:100]:  # a wide frame: the id column is near the front
        if column == exclude:
            continue
        try:
            if (map_ids.get_indexer(pd.Index(df[column])) >= 0).any():
                return column
        except (TypeError, ValueError):  # unhashable cells, or a column the index cannot look up
            continue
    return None


def _same_ids(data_ids: pd.Series, ids: pd.Index) -> bool:
    """Whether ``data_ids`` are exactly ``ids``, in order (vectorized; Arrow strings compared as Arrow)."""
    if data_ids.dtype != ids.dtype:
        string_kinds = [isinstance(d, pd.StringDtype) for d in (data_ids.dtype, ids.dtype)]
        if not all(string_kinds):
            return False
        data_ids = data_ids.astype(ids.dtype)  # "string" vs "str": Arrow to Arrow, no Python objects
    try:
        return bool(np.asarray(data_ids.array == ids.array, dtype=bool).all())
    except (TypeError, ValueError):
        return False


def neighbour_summary(labels: Sequence[str]) -> str:
    """One line on a document's neighbours: how many share the most common label ("6 of 8 neighbours are HUM")."""
    if not labels:
        return "no neighbours (no embedding)"
    counts = pd.Series(list(labels), dtype=object).value_counts(sort=True)
    top, count = str(counts.index[0]), int(counts.iloc[0])
    noun = "neighbour is" if len(labels) == 1 else "neighbours are"
    return f"{count} of {len(labels)} {noun} {top}"


def _cut(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[:cap] + "…"


class Documents:
    """The text of each map row (from ``data``, aligned once) and the payloads built from it.

    Parameters
    ----------
    dmap : the map whose ids fix the row order.
    label_names : the map's label names (codes index them).
    data : the user's rows, or None (then every text is "").
    text_column, id_column : as :class:`DataMapWidget` takes them.
    """

    def __init__(self, dmap: DataMap, label_names: list[str], data: pd.DataFrame | None, text_column: str, id_column: str):
        self.ids = pd.Index(dmap.frame.index)
        self.label_names = label_names
        #: The ids of ``data`` (its id column, else its index), or None without data.
        self.data_ids: pd.Series | None = None
        texts: Any = np.full(len(self.ids), "", dtype=object)
        if data is not None:
            self.data_ids = data[id_column] if id_column in data.columns else pd.Series(data.index, index=data.index)
            if text_column not in data.columns:
                raise ValueError(f"text_column {text_column!r} is not a column of data; its columns are {list(data.columns)}.")
            texts = self._aligned_texts(dmap, data, self.data_ids, data[text_column], id_column)
        # Texts stay in the array type they came in (Arrow strings are not turned into a million
        # Python objects): pages index it by position, search runs pandas' vectorized str methods.
        self.texts: Any = texts
        self.texts_series = pd.Series(texts, copy=False)
        self._ids_str: pd.Series | None = None  # the ids as str, made on the first search

    def _aligned_texts(self, dmap: DataMap, data: pd.DataFrame, data_ids: pd.Series, column: pd.Series, id_column: str) -> Any:
        """The text of each map row, in map order ("" where data has no row for it; the first row wins)."""
        n = len(self.ids)
        if len(data_ids) == n and _same_ids(data_ids, self.ids):
            texts = column  # data lists the map's ids in the map's order: nothing to align
        else:
            map_rows = _map_rows_of(dmap, data_ids)
            known = map_rows >= 0
            if len(data_ids) and not known.any():
                raise ValueError(id_mismatch(data, data_ids, self.ids, id_column, "data") + ".")
            hit_rows, data_rows = map_rows[known], np.flatnonzero(known)
            first = np.full(n, -1, dtype=np.int64)
            if len(hit_rows) and np.bincount(hit_rows, minlength=n).max() > 1:
                hit_rows, keep = np.unique(hit_rows, return_index=True)  # the first data row of each id
                data_rows = data_rows[keep]
            first[hit_rows] = data_rows
            missing = int((first < 0).sum())
            if missing:
                warnings.warn(f"data has no row for {missing} of the map's {n} ids; their text shows empty.", UserWarning, stacklevel=4)
            texts = pd.Series(column.array.take(first, allow_fill=True), copy=False)
        if texts.hasnans:
            texts = texts.fillna("")
        if not pd.api.types.is_string_dtype(texts.dtype) or texts.dtype == object:
            texts = texts.astype(str)
        return texts.array

    # ------------------------------------------------------------ payloads
    def page(self, rows: np.ndarray, full: bool, dmap: DataMap) -> dict[str, Any]:
        """Ids, texts (cut to PREVIEW_CHARS, or MAX_TEXT_CHARS with ``full``) and scores of some rows."""
        cap = MAX_TEXT_CHARS if full else PREVIEW_CHARS
        texts = [str(t) for t in self.texts[rows]]
        lengths = [len(t) for t in texts]
        score = dmap.frame["mislabel_score"].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        return {
            "rows": rows.tolist(),
            "ids": [str(i) for i in self.ids[rows]],
            "texts": [_cut(t, cap) for t in texts],
            "truncated": [n > cap for n in lengths],
            "lengths": lengths,
            "scores": [None if np.isnan(s) else float(s) for s in score],
        }

    def document(self, row: int, whole: bool, dmap: DataMap, session: ReviewSession) -> dict[str, Any]:
        """One document for the detail pane: its text (bounded unless ``whole``) and its training history."""
        page = self.page(np.array([row]), True, dmap)
        if whole:
            page["texts"], page["truncated"] = [str(self.texts[row])], [False]
        traj = dmap.trajectories
        gold = np.asarray(traj["gold_prob"], dtype=np.float64)[row]
        classes: list[list[Any]] = []
        classes_from = "last pass"
        seen = np.flatnonzero(~np.isnan(gold))
        probs = dmap.class_probabilities
        if probs is not None and seen.size and np.isfinite(probs[row]).all():
            # The mean over the passes of the whole distribution: the reviewer sees which
            # classes the model hesitated between, not just the gold label and one other.
            mean = np.asarray(probs[row], dtype=np.float64)
            top = np.argsort(-mean, kind="stable")[:PANE_CLASSES]
            classes = [[self.label_names[int(c)], float(mean[c])] for c in top]
            classes_from = "mean"
        elif seen.size:
            # The model's view in the last pass that saw the example: the gold label and the best other class
            # (the tracker keeps these two per pass, not the whole distribution).
            last = int(seen[-1])
            label = self.label_names[int(session.original[row])]
            classes.append([label, float(gold[last])])
            other = np.asarray(traj["other_class"])[row, last]
            if other >= 0:
                classes.append([self.label_names[int(other)], float(np.asarray(traj["other_prob"])[row, last])])
            classes.sort(key=lambda c: -c[1])
        return {
            "row": row,
            "id": page["ids"][0],
            "text": page["texts"][0],
            "truncated": page["truncated"][0],
            "length": page["lengths"][0],
            "score": page["scores"][0],
            "gold_prob": [None if np.isnan(p) else float(p) for p in gold],
            "classes": classes,
            "classes_from": classes_from,
            "gold_label": self.label_names[int(session.original[row])],
            "neighbors": self._neighbours(row, dmap, session),
            "reading": _reading(row, dmap),
            "text_view": self._text_view(row, dmap),
        }

    def _text_view(self, row: int, dmap: DataMap) -> list[list[Any]]:
        """The text view's top classes for this document (a bag of words that read every word
        and never saw its label), most probable first; empty without a text view."""
        probs = dmap.text_probabilities
        if probs is None or not np.isfinite(probs[row]).all():
            return []
        top = np.argsort(-probs[row], kind="stable")[:PANE_CLASSES]
        return [[self.label_names[int(c)], float(probs[row][c])] for c in top]

    def _neighbours(self, row: int, dmap: DataMap, session: ReviewSession) -> dict[str, Any] | None:
        """The document's nearest examples in embedding space, with their *current* labels
        (relabels included) and a one-line summary; None when the map has no embeddings."""
        if dmap.embeddings is None or len(self.ids) < 2:
            return None
        k = min(PANE_NEIGHBOURS, len(self.ids) - 1)
        found, similarity = dmap.neighbour_index.search(np.array([row]), k)  # normalised once per map
        keep = found[0] >= 0
        rows, sims = found[0][keep], similarity[0][keep]
        names = np.asarray(self.label_names, dtype=object)[session.codes[rows]]
        texts = [str(t) for t in self.texts[rows]]
        items = [
            {"row": int(r), "id": str(i), "label": str(name), "text": _cut(t, PREVIEW_CHARS), "similarity": float(s)}
            for r, i, name, t, s in zip(rows, self.ids[rows], names, texts, sims)  # at most PANE_NEIGHBOURS
        ]
        return {"items": items, "summary": neighbour_summary([it["label"] for it in items])}

    def search(self, query: str) -> np.ndarray:
        """Row indices whose text or id contains ``query`` (case-insensitive), in row order."""
        if not query:
            return np.arange(len(self.ids), dtype=np.int64)
        in_text = self.texts_series.str.contains(query, case=False, regex=False, na=False).to_numpy()
        if self._ids_str is None:
            self._ids_str = pd.Series(self.ids.astype(str), dtype=object)
        in_id = self._ids_str.str.contains(query, case=False, regex=False).to_numpy()
        return np.flatnonzero(in_text | in_id)


def _map_rows_of(dmap: DataMap, ids: pd.Series) -> np.ndarray:
    """The map row of each of ``ids`` (-1 if unknown), through the map's own id index."""
    try:
        batch = dmap.id_index.coerce(np.asarray(ids), "data ids")
    except (TypeError, ValueError):  # e.g. float ids: none can match
        return np.full(len(ids), -1, dtype=np.int64)
    rows, known = dmap.id_index.lookup(batch)
    return np.where(known, rows, -1)


def _reading(row: int, dmap: DataMap) -> dict[str, Any] | None:
    """How much of this document the model read, and how (a long text's head only, say)."""
    share = dmap.share_read
    if share is None or not np.isfinite(share[row]):
        return None
    reading = dmap.reading or {}
    return {"share": float(share[row]), "mode": str(reading.get("mode", "")), "max_length": reading.get("max_length")}
