"""Text and ids: what every backend can store as text, and text ids back as the run's id type.

A leaf: it imports nothing else of the store.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


#: Longest dataset name, in characters: the ``VARCHAR(255)`` of ``runs``/``reviews``/``datasets``,
#: checked here so SQLite (which ignores the length) and PostgreSQL accept the same names.
MAX_DATASET_LENGTH = 255


def _bad_text(text: str) -> str | None:
    """Why ``text`` cannot be stored as text on every backend, or None if it can.

    PostgreSQL text cannot hold NUL, and UTF-8 cannot encode a lone surrogate (from a
    broken decode); both are refused on SQLite too, so a store never depends on its backend.
    """
    if "\x00" in text:
        return f"holds a NUL character (\\x00) at position {text.index(chr(0))}"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            return f"holds a lone surrogate {text[error.start]!r} at position {error.start} (not valid Unicode text)"
    return None


def unstorable_text(text: str) -> str | None:
    """Why ``text`` cannot be stored on every backend (``"holds a NUL character …"``), or None."""
    return _bad_text(text)


def _check_text(text: str, where: str) -> str:
    why = _bad_text(text)
    if why is not None:
        raise ValueError(f"{where} {why}; the store keeps text only, got {text[:60]!r}")
    return text


def _check_texts(texts: list[str], where: str) -> list[str]:
    """Check many strings at once: one pass over their concatenation, a loop only to name a bad one."""
    if _bad_text("".join(texts)) is not None:
        i = next(k for k, text in enumerate(texts) if _bad_text(text) is not None)
        _check_text(texts[i], f"{where}[{i}]")
    return texts


def _check_dataset(dataset: Any) -> str:
    if not isinstance(dataset, str) or not dataset.strip():
        raise ValueError(f"dataset must be a non-empty str naming the dataset, got {dataset!r}")
    if len(dataset) > MAX_DATASET_LENGTH:
        raise ValueError(f"dataset must be at most {MAX_DATASET_LENGTH} characters, got {len(dataset)}: {dataset[:40]!r}...")
    return _check_text(dataset, "dataset")


def _check_label(value: Any, where: str) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"{where} must be a label name (str) or None, got {type(value).__name__} {value!r}")
    return _check_text(str(value), where)


def _typed_id(text: str, id_type: str | None) -> Any:
    return int(text) if id_type == "int" else text


def _typed_ids(texts: list[str], id_type: str | None) -> np.ndarray:
    """Stored text ids back as the run's id type, as the tracker keeps them (ids.as_ids).

    int ids: int64, or uint64 when one is 2**63 or more; str ids: Python strings (an object
    array, so memory follows their total length and a trailing NUL stays part of the id).
    """
    if id_type == "int":
        if not texts:
            return np.empty(0, dtype=np.int64)
        digits = np.asarray(texts)
        try:
            return digits.astype(np.int64)
        except OverflowError:
            return digits.astype(np.uint64)
    return np.asarray(texts, dtype=object) if texts else np.empty(0, dtype=object)


def _typed_column(texts: pd.Series, kinds: pd.Series) -> pd.Series:
    """Text ids with per-row id types back as int or str (int64 when all are ints)."""
    texts = texts.reset_index(drop=True)
    kinds = kinds.reset_index(drop=True)
    if len(texts) and (kinds == "int").all():
        return pd.Series(_typed_ids(texts.tolist(), "int"))
    if not (kinds == "int").any():
        return texts.astype(object)
    return pd.Series([int(t) if k == "int" else t for t, k in zip(texts, kinds)], dtype=object)
