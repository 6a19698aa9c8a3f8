"""Label names <-> int codes: the one conversion every module uses.

A map keeps each example's label as an int code into its ``label_names``; people, files and
the store speak in names. Pure numpy and pandas, so any module may import it.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .ids import describe_ids

__all__ = ["label_codes", "label_names_of", "name_to_code"]


def label_names_of(codes: Any, label_names: Sequence[str]) -> np.ndarray:
    """The names of int ``codes`` (an object array of str, one per code)."""
    return np.asarray(label_names, dtype=object)[np.asarray(codes, dtype=np.int64)]


def name_to_code(label_names: Sequence[str]) -> dict[str, int]:
    """``{name: code}`` of ``label_names`` (e.g. a model config's ``label2id``)."""
    return {str(name): code for code, name in enumerate(label_names)}


def label_codes(labels: Any, label_names: Sequence[str], argument: str = "labels") -> np.ndarray:
    """Label names or int codes -> int64 codes into ``label_names``.

    ValueError naming ``argument`` and the unknown labels (the first five, and how many more).
    """
    values = np.asarray([labels] if isinstance(labels, (str, bytes)) else labels).reshape(-1)
    if values.dtype.kind in "iu":
        codes = values.astype(np.int64)
        bad = values[(codes < 0) | (codes >= len(label_names))]
    else:
        codes = pd.Index(list(label_names)).get_indexer(pd.Index(values.astype(object)))
        bad = values[codes < 0]
    if bad.size:
        raise ValueError(
            f"{argument} has unknown labels {describe_ids(bad)}; expected names in {list(label_names)} "
            f"or codes 0..{len(label_names) - 1}"
        )
    return codes.astype(np.int64)
