"""Reading users' tables (JSONL, CSV, Parquet), checking their columns, and the sample data set shipped in the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .ids import describe_ids

__all__ = ["SAMPLE_NAME", "read_table", "labeled_examples", "sample_path", "load_sample"]

#: The sample shipped in the package: 600 TREC questions (Li & Roth 2002), 18 labels flipped
#: on purpose (3%, seeded; ``true_label`` keeps the original). ``scripts/make_sample.py`` made it.
SAMPLE_NAME = "trec_600.jsonl"

# Text files are read as "utf-8-sig": UTF-8 with or without the byte-order mark that Windows
# editors and Excel put first (plain "utf-8" keeps it as part of the first line, which JSON refuses).
_READERS = {
    ".jsonl": lambda p: pd.read_json(p, lines=True, dtype=False, encoding="utf-8-sig"),
    ".ndjson": lambda p: pd.read_json(p, lines=True, dtype=False, encoding="utf-8-sig"),
    ".json": lambda p: pd.read_json(p, dtype=False, encoding="utf-8-sig"),
    ".csv": lambda p: pd.read_csv(p, keep_default_na=False, na_values=[""], encoding="utf-8-sig"),
    ".tsv": lambda p: pd.read_csv(p, sep="\t", keep_default_na=False, na_values=[""], encoding="utf-8-sig"),
    ".parquet": pd.read_parquet,
    ".pq": pd.read_parquet,
}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a JSONL, JSON, CSV, TSV or Parquet file (chosen by its suffix) into a DataFrame."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected a .jsonl, .csv or .parquet file")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; expected one of {sorted(_READERS)}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty: there is nothing to train on")
    try:
        frame = reader(path)
    except ValueError as error:
        raise ValueError(f"{path} could not be read as {path.suffix.lstrip('.').upper()}: {error}") from error
    except Exception as error:  # parsers raise their own types (ArrowInvalid, ParserError…)
        raise ValueError(f"{path} could not be read: {type(error).__name__}: {error}") from error
    if frame.empty:
        raise ValueError(f"{path} has no rows: there is nothing to train on")
    return frame


def labeled_examples(
    frame: pd.DataFrame, *, text_column: str = "text", label_column: str = "label", id_column: str = "id", source: str = "data",
) -> tuple[list[str], list[Any], list[Any]]:
    """The texts, labels and ids of a user's table, checked before any training.

    Ids come from ``id_column`` (whole numbers or strings, unique), else the row numbers.
    Labels are names (str) or whole numbers; True/False, and values of two types that print
    alike (JSON's 1 and "1"), are refused rather than silently merged. Missing values are
    refused. ValueError with a one-line message naming ``source``, the column and its flag.
    """
    columns = list(frame.columns)
    for flag, name in (("--text-column", text_column), ("--label-column", label_column)):
        if name not in frame.columns:
            raise ValueError(f"{source} has no column {name!r} ({flag}); its columns are {columns}")
    texts = frame[text_column]
    labels = frame[label_column]
    # Each refusal names where: in a file of hundreds of rows "2 missing text(s)" alone leaves
    # the user searching. Rows are counted from 0, as the ids are when there is no id column.
    if id_column in frame.columns:
        ids = frame[id_column]
        if ids.isna().any():
            raise ValueError(f"{source}: column {id_column!r} has {int(ids.isna().sum())} missing id(s), e.g. rows {_rows(ids.isna())}")
        ids = _checked_ids(ids, id_column, source)
        if ids.duplicated().any():
            dupes = ids[ids.duplicated()].unique()  # as they are: an int id 1004 is not shown as '1004'
            raise ValueError(f"{source}: column {id_column!r} has repeated ids: {describe_ids(dupes)}")
        ids = ids.to_numpy()
    else:
        ids = None  # row numbers
    where = lambda missing: f"ids {describe_ids(ids[missing.to_numpy()])}" if ids is not None else f"rows {_rows(missing)}"  # noqa: E731
    if labels.isna().any():
        raise ValueError(f"{source}: column {label_column!r} has {int(labels.isna().sum())} missing label(s), e.g. {where(labels.isna())}")
    _check_labels(labels, label_column, source)
    if texts.isna().any():
        raise ValueError(
            f"{source}: column {text_column!r} has {int(texts.isna().sum())} missing text(s), e.g. {where(texts.isna())}: remove or fill them"
        )
    blank = texts.astype(str).str.strip() == ""
    if blank.any():  # said here in the file's words; train.py would say "texts has …"
        raise ValueError(
            f"{source}: column {text_column!r} has {int(blank.sum())} blank text(s), e.g. {where(blank)}: remove or fill them"
        )
    labels = labels.astype(str) if labels.dtype.kind not in "iu" else labels
    return texts.astype(str).tolist(), labels.tolist(), (list(range(len(frame))) if ids is None else ids.tolist())


def _rows(mask: pd.Series) -> str:
    """The row numbers (from 0) where ``mask`` holds, a few of them: ``[2, 5 and 3 more]``."""
    return describe_ids(np.flatnonzero(mask.to_numpy()))


def _check_labels(labels: pd.Series, column: str, source: str) -> None:
    """Refuse labels that would silently become other classes when read as names: True/False,
    and values of different types that print alike (JSON's 1 and "1" would merge into one class)."""
    bools = "holds True/False; give the classes as names (e.g. 'yes'/'no') or whole numbers (0/1)"
    if labels.dtype.kind == "b":
        raise ValueError(f"{source}: column {column!r} {bools}")
    if labels.dtype.kind != "O":
        return
    kind = pd.api.types.infer_dtype(labels, skipna=True)  # one pass in C; the rest only on a mixed column
    if kind == "boolean":
        raise ValueError(f"{source}: column {column!r} {bools}")
    if not kind.startswith("mixed"):
        return
    types = labels.map(lambda v: type(v).__name__)
    if types.isin(["bool", "bool_"]).any():
        raise ValueError(f"{source}: column {column!r} mixes True/False with other labels; {bools.split('; ')[1]}")
    seen = pd.DataFrame({"text": labels.astype(str), "type": types, "value": labels}).drop_duplicates(["text", "type"])
    clash = seen[seen["text"].duplicated(keep=False)]
    if len(clash):
        same = clash[clash["text"] == clash["text"].iloc[0]]
        both = " and ".join(f"{v!r} ({t})" for v, t in zip(same["value"], same["type"]))
        raise ValueError(
            f"{source}: column {column!r} holds {both}, which would merge into one class "
            f"{clash['text'].iloc[0]!r}; write each label one way (all strings, or all numbers)"
        )


def _checked_ids(ids: pd.Series, column: str, source: str) -> Any:
    """Ids as all ints or all strings; whole floats (a CSV's 1.0) become ints, others are refused."""
    if ids.dtype.kind == "b":
        raise ValueError(f"{source}: column {column!r} holds True/False, not ids; ids must be whole numbers or strings")
    if ids.dtype.kind == "f":
        values = ids.to_numpy()
        fractional = ~np.isfinite(values) | (values != np.round(values))
        if fractional.any():
            raise ValueError(
                f"{source}: column {column!r} holds fractional ids (e.g. {float(values[fractional][0])!r}); "
                "ids must be whole numbers or strings"
            )
        return ids.astype(np.int64)
    if ids.dtype.kind == "O":
        kind = pd.api.types.infer_dtype(ids, skipna=False)  # one pass in C, no Python loop
        if kind == "string":
            return ids
        if kind == "integer":
            return ids.astype(np.int64)
        # Error path only: name a value of each type found.
        kinds = ids.map(lambda v: type(v).__name__)
        examples = {name: ids[kinds == name].iloc[0] for name in kinds.unique()[:3]}
        if len(examples) > 1:
            raise ValueError(
                f"{source}: column {column!r} mixes id types ({', '.join(f'{k} e.g. {v!r}' for k, v in examples.items())}); "
                "use one kind: all whole numbers or all strings"
            )
        raise ValueError(f"{source}: column {column!r} holds {kinds.iloc[0]} values; ids must be whole numbers or strings")
    return ids


def sample_path() -> Path:
    """Path of the sample data set inside the installed package."""
    return Path(str(resources.files("datamap_widget") / "sample" / SAMPLE_NAME))


def load_sample() -> pd.DataFrame:
    """The sample: columns ``id``, ``text``, ``label`` (with 18 flips) and ``true_label``."""
    return read_table(sample_path())
