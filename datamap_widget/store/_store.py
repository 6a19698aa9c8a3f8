"""The :class:`Store` face: one class over the engine, the schema, the runs and the reviews."""

from __future__ import annotations

import os
from typing import Any

from ._engine import _Engine, default_url
from ._reviews import _Reviews
from ._runs import _Runs
from ._schema import _Schema, _tables


class Store(_Reviews, _Runs, _Schema, _Engine):
    """Data maps and review logs in a database.

    Parameters
    ----------
    url : a SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://user:pw@host/db``;
        ``postgresql://`` and ``postgres://`` use psycopg 3) or a plain file path (SQLite).
        Default: ``$DATAMAP_DB`` or ``./datamap.db``.

    Opening creates the tables, or migrates an older store forward. Raises
    :class:`StoreError` when that is impossible (see the module docstring).

    Examples
    --------
    >>> with Store("sqlite:///maps.db") as store:            # doctest: +SKIP
    ...     run = store.save_run(dmap, "trec")
    ...     store.add_reviews("trec", [{"example_id": 7, "action": "relabeled",
    ...                                 "old_label": "LOC", "new_label": "HUM"}])
    ...     store.suspects("trec", top=20)
    """

    def __init__(self, url: str | os.PathLike | None = None):
        raw = default_url() if url is None else url
        if hasattr(raw, "render_as_string"):  # a sqlalchemy.URL
            raw = raw.render_as_string(hide_password=False)
        if not isinstance(raw, (str, os.PathLike)):
            raise TypeError(f"url must be a str URL or a path, got {type(raw).__name__}")
        raw = os.fspath(raw)
        if not raw.strip():
            raise ValueError("url must be a SQLAlchemy URL or a file path, got an empty string")
        self._engine = None
        self._t = _tables()
        self._engine, self.url = self._make_engine(raw)
        try:
            self._migrate()
        except BaseException:
            self._engine.dispose()
            raise

    def close(self) -> None:
        """Release the database connections. The store cannot be used afterwards."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self._masked!r})"
