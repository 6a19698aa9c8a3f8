"""Reading users' tables (JSONL, CSV, Parquet) and the sample data set shipped in the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["SAMPLE_NAME", "read_table", "sample_path", "load_sample"]

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


def sample_path() -> Path:
    """Path of the sample data set inside the installed package."""
    return Path(str(resources.files("datamap_widget") / "sample" / SAMPLE_NAME))


def load_sample() -> pd.DataFrame:
    """The sample: columns ``id``, ``text``, ``label`` (with 18 flips) and ``true_label``."""
    return read_table(sample_path())
