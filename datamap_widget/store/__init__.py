"""Store: data maps and the review log in a database (SQLite by default, PostgreSQL by URL).

A :class:`Store` keeps three tables:

- ``runs``: one row per saved data map (dataset, created_at, model, settings, summary, the
  label names, the id type and the trajectory layout);
- ``cartography``: one row per example of a run (label, confidence, variability,
  correctness, category, mislabel_score, suggested_label, and the per-pass trajectories
  packed as bytes, so :meth:`Store.load_run` rebuilds an equal :class:`DataMap`);
- ``reviews``: the append-only audit log of what people did (confirmed, relabeled,
  skipped, undo). The current label of every example, and which examples count as
  reviewed, are derived from it; nothing is ever updated in place.

Example ids are stored as text with an id-type marker (``str`` or ``int``) so they
round-trip. The schema is versioned (table ``meta``, key ``schema_version``) and migrated
forward on open by an ordered list of migrations (:data:`MIGRATIONS`).

Review rule (the rules live in :mod:`datamap_widget.review`, which this module applies in
SQL's place): an example whose latest (not undone) review is *confirmed* or *relabeled* is
left out of :meth:`Store.suspects` and marked by :meth:`Store.apply_reviews` as long as its
label is unchanged since the review: the run's label equals the label the latest review
left, or, for the run a review was made on and runs saved before it, a label one of the
example's live reviews saw (so b→c then c→a stays reviewed). A run saved later with another
label resurfaces the example. *skipped* changes nothing; *undo* cancels the example's latest
review and restores ``new_label``. A review row written without ``run`` is recorded with
the dataset's latest run at write time, so "made on or after this run" follows the log's
own order, never clock seconds.

Writes of reviews are atomic check-and-append: PostgreSQL locks the dataset's row in
``datasets`` (``SELECT … FOR UPDATE``), SQLite takes the write lock up front
(``BEGIN IMMEDIATE``), so concurrent writers lose nothing and a row carrying
``expected_label`` that no longer matches the current label raises :class:`ReviewConflict`
and writes nothing of its batch.

Exceptions::

    Exception
    ├── StoreError (RuntimeError)      the database cannot be used: malformed URL, unknown
    │                                  driver, unreachable server, read-only file, a store
    │                                  written by a newer version, a locked database.
    │                                  Messages name the URL with the password masked.
    └── ValueError
        └── ReviewConflict             expected_label differs from the current label;
                                       .ids and .current name the conflicting examples.

Bad arguments raise ValueError / TypeError naming the argument. Text (dataset names, ids,
labels, reviewers) must be storable on every backend: no NUL character, no lone surrogate,
dataset names at most :data:`MAX_DATASET_LENGTH` characters; SQLite and PostgreSQL refuse
the same values with the same ValueError.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from . import metrics
from .datamap import DataMap, check_suspect_size, rank_suspects
from .dependencies import require
from .review import ACTIONS, REVIEW_ACTIONS, ReviewConflict, check_run, hidden_by_reviews, review_state

__all__ = ["Store", "StoreError", "ReviewConflict", "SCHEMA_VERSION", "MIGRATIONS", "ACTIONS", "MAX_DATASET_LENGTH", "default_url"]

_ROW_KEYS = {"example_id", "action", "old_label", "new_label", "reviewer", "at", "run", "expected_label"}

#: Rows per statement when writing a run through a generic (non-PostgreSQL) driver.
_BATCH = 20_000
#: Ids per ``IN (…)`` list (SQLite allows 32766 parameters; stay far below).
_IN_CHUNK = 2_000


class StoreError(RuntimeError):
    """The database cannot be opened or used; the message names the URL (password masked) and the likely cause."""


# ---------------------------------------------------------------------------------- schema

def _schema_v1(md: Any) -> dict[str, Any]:
    """The version-1 tables (frozen: migrations must not change when the models do)."""
    from sqlalchemy import JSON, Column, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Table, Text

    meta = Table("meta", md, Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))
    runs = Table(
        "runs",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("dataset", String(255), nullable=False, index=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("model", Text),
        Column("settings", JSON),
        Column("summary", JSON),
        Column("id_type", String(8), nullable=False),
        Column("label_names", JSON, nullable=False),
        Column("method", String(64), nullable=False),
        Column("thresholds", JSON),
        Column("n_examples", Integer, nullable=False),
        Column("n_passes", Integer, nullable=False),
        Column("trajectory_layout", JSON, nullable=False),
    )
    cartography = Table(
        "cartography",
        md,
        Column("run", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        Column("example_id", Text, primary_key=True),
        Column("position", Integer, nullable=False),
        Column("label", Text, nullable=False),
        Column("confidence", Float),
        Column("variability", Float),
        Column("correctness", Float),
        Column("category", String(32)),
        Column("mislabel_score", Float),
        Column("suggested_label", Text),
        Column("n_passes", Integer),
        Column("trajectories", LargeBinary),
    )
    reviews = Table(
        "reviews",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("dataset", String(255), nullable=False),
        Column("example_id", Text, nullable=False),
        Column("action", String(16), nullable=False),
        Column("old_label", Text),
        Column("new_label", Text),
        Column("reviewer", Text),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("run", Integer, ForeignKey("runs.id")),
    )
    return {"meta": meta, "runs": runs, "cartography": cartography, "reviews": reviews}


def _migrate_1(conn: Any) -> None:
    """Create the version-1 layout: meta, runs, cartography, reviews."""
    from sqlalchemy import MetaData

    md = MetaData()
    _schema_v1(md)
    md.create_all(conn)


def _migrate_2(conn: Any) -> None:
    """Add ``datasets`` (one row per dataset: the lock that serializes review writers),
    ``reviews.id_type`` (so review-only ids round-trip) and an index for per-example lookups."""
    from sqlalchemy import Column, Index, MetaData, String, Table, text

    md = MetaData()
    datasets = Table("datasets", md, Column("name", String(255), primary_key=True))
    datasets.create(conn)
    conn.execute(text("ALTER TABLE reviews ADD COLUMN id_type VARCHAR(8)"))
    # Old review rows take the id type of their dataset's runs, else str.
    conn.execute(
        text(
            "UPDATE reviews SET id_type = COALESCE((SELECT MIN(runs.id_type) FROM runs "
            "WHERE runs.dataset = reviews.dataset), 'str')"
        )
    )
    conn.execute(
        text("INSERT INTO datasets (name) SELECT dataset FROM runs UNION SELECT dataset FROM reviews")
    )
    reviews = Table("reviews", MetaData(), Column("dataset", String), Column("example_id", String))
    Index("ix_reviews_dataset_example", reviews.c.dataset, reviews.c.example_id).create(conn)


#: Ordered migrations: ``MIGRATIONS[k]`` takes a store from version ``k`` to ``k + 1``.
MIGRATIONS: list[Callable[[Any], None]] = [_migrate_1, _migrate_2]
#: The schema version this code writes and reads.
SCHEMA_VERSION = len(MIGRATIONS)


def _tables() -> dict[str, Any]:
    """The current tables, as queries see them."""
    from sqlalchemy import Column, MetaData, String, Table

    md = MetaData()
    tables = _schema_v1(md)
    tables["reviews"].append_column(Column("id_type", String(8)))
    tables["datasets"] = Table("datasets", md, Column("name", String(255), primary_key=True))
    return tables


# ---------------------------------------------------------------------------------- URLs

def default_url() -> str:
    """``$DATAMAP_DB`` (a URL or a file path) or ``./datamap.db``."""
    return os.environ.get("DATAMAP_DB") or "datamap.db"


def _userinfo(url: str) -> tuple[str, str, str] | None:
    """``(prefix, userinfo, rest)`` of a URL with credentials, split at the LAST ``@`` of its
    authority (before any query), so a password holding an unencoded ``@`` stays whole."""
    match = re.match(r"^([A-Za-z][\w+.\-]*:/*)([^?]*)", str(url))
    if not match or "@" not in match.group(2):
        return None
    head, body = match.group(1), match.group(2)
    at = body.rindex("@")
    return head, body[:at], str(url)[len(head) + at:]


def _mask(url: str) -> str:
    """The URL with any password replaced by ``***`` (all of it, whatever characters it holds)."""
    parts = _userinfo(url)
    if parts is None or ":" not in parts[1]:
        return str(url)
    head, userinfo, rest = parts
    return f"{head}{userinfo.split(':', 1)[0]}:***{rest}"


def _encode_password_at(raw: str) -> str:
    """``raw`` with ``@`` inside its password percent-encoded, as the user meant it.

    SQLAlchemy splits credentials at the first ``@``, so ``user:p@ss@host`` would connect to
    host ``ss@host`` and show ``ss`` in every message.
    """
    parts = _userinfo(raw)
    # Only a "scheme://user:password@host" URL; never a SQLite path ("sqlite:///...").
    if parts is None or not parts[0].endswith("://") or parts[0].endswith(":///") or ":" not in parts[1] or "@" not in parts[1]:
        return raw
    head, userinfo, rest = parts
    user, password = userinfo.split(":", 1)
    return f"{head}{user}:{password.replace('@', '%40')}{rest}"


def _hide(message: str, password: str | None) -> str:
    """``message`` with the password masked: wherever it stands alone, and anywhere if long."""
    if not password:
        return message
    if len(password) >= 4:
        return message.replace(password, "***")
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(password)}(?![A-Za-z0-9])", "***", message)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (datetime, pd.Timestamp)):
        return value.isoformat()
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default)


# ---------------------------------------------------------------------------------- the store

class Store:
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

    # ------------------------------------------------------------------ engine and errors

    def _make_engine(self, raw: str) -> tuple[Any, str]:
        from sqlalchemy import create_engine, event
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError
        from sqlalchemy.pool import StaticPool

        self._masked = _mask(raw)
        # A plain path means a SQLite file; "scheme:" (longer than a drive letter) means a URL,
        # so a typo such as "postgresql:/host/db" is reported, not created as a file.
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+:", raw):
            raw = "sqlite:///" + str(Path(raw).expanduser())
        raw = _encode_password_at(raw)
        try:
            url = make_url(raw)
        except (ArgumentError, ValueError) as error:
            raise StoreError(
                f"malformed store URL {_mask(raw)!r} ({error}); expected e.g. sqlite:///path/to/datamap.db or "
                "postgresql+psycopg://user:password@host:5432/dbname"
            ) from None
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")  # psycopg 3, not the default psycopg2
        masked = url.render_as_string(hide_password=True)
        self._masked = masked
        self._password = url.password
        backend = url.get_backend_name()
        kwargs: dict[str, Any] = {"json_serializer": _dumps}
        if backend == "sqlite":
            database = url.database or ""
            if database in ("", ":memory:"):
                kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
            else:
                path = database[5:].split("?")[0] if database.startswith("file:") else database
                parent = Path(path).expanduser().resolve().parent
                if not parent.is_dir():
                    raise StoreError(f"cannot open store {masked}: the folder {parent} does not exist")
                # Wait for another writer's lock rather than failing at once.
                kwargs["connect_args"] = {"timeout": 30}
        elif backend == "postgresql":
            require("psycopg", f"the PostgreSQL store {masked}")
            # A server restart must not leave dead pooled connections behind.
            kwargs["pool_pre_ping"] = True
            if "connect_timeout" not in url.query:
                kwargs["connect_args"] = {"connect_timeout": 10}
        try:
            engine = create_engine(url, **kwargs)
        except NoSuchModuleError:
            raise StoreError(
                f"unknown database kind in store URL {masked!r}: {url.drivername!r}; use sqlite:///… or "
                "postgresql+psycopg://…"
            ) from None
        except ImportError as error:
            raise StoreError(
                f"the driver for {masked} is not installed ({error}); for PostgreSQL: pip install 'datamap_widget[postgres]'"
            ) from None
        except (ArgumentError, TypeError, ValueError) as error:
            raise StoreError(f"malformed store URL {masked!r}: {error}") from None
        self._backend = engine.dialect.name
        if self._backend == "sqlite":
            # pysqlite's own transaction handling cannot take the write lock up front; we
            # issue BEGIN ourselves: IMMEDIATE for writers, so check-and-append is atomic.
            @event.listens_for(engine, "connect")
            def _connect(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None
                dbapi_connection.execute("PRAGMA foreign_keys=ON")

            @event.listens_for(engine, "begin")
            def _begin(conn: Any) -> None:
                write = conn.get_execution_options().get("datamap_write", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine, masked

    def _explain(self, error: Exception) -> StoreError:
        """A StoreError naming the URL and the likely cause of a driver error."""
        message = str(getattr(error, "orig", None) or error).strip().splitlines()[0] if str(error).strip() else repr(error)
        message = _hide(message, self._password)
        low = message.lower()
        if "readonly" in low or "read-only" in low or "read only" in low:
            cause = "the database is read-only (file permissions, a read-only mount or mode=ro): make it writable or copy it"
        elif "database is locked" in low:
            cause = "another process held the write lock for too long; try again"
        elif "unable to open database" in low:
            cause = "the file cannot be opened or created (missing folder or no permission)"
        elif "not a database" in low or "malformed" in low:
            cause = "the file is not a SQLite database"
        # The server answered: say what it refused before guessing that it is unreachable
        # (psycopg prefixes every refusal with "connection failed").
        elif "password authentication" in low or "authentication failed" in low:
            cause = "the server refused the user name or password"
        elif re.search(r'role "[^"]*" does not exist', low):
            cause = "the server has no such user (role): check the user name in the URL"
        elif re.search(r'database "[^"]*" does not exist', low):
            cause = "the database does not exist on that server: create it first (createdb)"
        elif "permission denied" in low or "not permitted to log in" in low:
            cause = "the server refused access to that database for this user"
        elif any(s in low for s in ("connection refused", "could not connect", "connection failed", "timeout", "timed out",
                                    "name or service", "no route", "could not translate", "server closed")):
            cause = "the server is unreachable: is it running, and are host and port right?"
        else:
            cause = "the database reported an error"
        return StoreError(f"store {self._masked}: {cause} ({type(getattr(error, 'orig', None) or error).__name__}: {message})")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

        try:
            yield
        except IntegrityError:
            raise
        except (OperationalError, ProgrammingError, DBAPIError) as error:
            raise self._explain(error) from error

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Any]:
        """One transaction; commits on success. ``write`` takes SQLite's write lock up front."""
        if self._engine is None:
            raise StoreError(f"store {self._masked} is closed")
        with self._errors():
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(datamap_write=True)
                with conn.begin():
                    yield conn

    def _migrate(self) -> None:
        """Check the schema version; create or migrate forward when it is older."""
        from sqlalchemy import text

        # Read first, so a current store opens without a write lock (and read-only works).
        with self._tx() as conn:
            version = self._version(conn)
        if version == SCHEMA_VERSION:
            return
        meta = self._t["meta"]
        with self._tx(write=True) as conn:
            if self._backend == "postgresql":
                # Two processes opening a fresh store at once: one migrates, the other waits.
                conn.execute(text("SELECT pg_advisory_xact_lock(727357001)"))
            version = self._version(conn)  # again, under the lock: someone may have migrated
            if version == SCHEMA_VERSION:
                return
            for step in MIGRATIONS[version:]:
                step(conn)
            if version == 0:
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            else:
                conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))

    def _version(self, conn: Any) -> int:
        """The stored schema version (0: an empty database); StoreError for a foreign or newer one."""
        from sqlalchemy import inspect, select

        meta = self._t["meta"]
        names = set(inspect(conn).get_table_names())
        ours = names & {"runs", "cartography", "reviews"}
        if "meta" in names:
            row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
            version = _parse_version(row[0], self._masked) if row else 0
        elif ours:
            raise StoreError(
                f"store {self._masked}: the database has tables {sorted(ours)} but no datamap_widget 'meta' table: "
                "it is not a datamap store (use another database or file)"
            )
        else:
            version = 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self._masked} has schema version {version}, written by a newer datamap_widget; this "
                f"version reads up to {SCHEMA_VERSION}: upgrade datamap_widget (pip install -U datamap_widget)"
            )
        return version

    def check_writable(self, dataset: str) -> None:
        """Raise :class:`StoreError` now if a run of ``dataset`` could not be saved (read-only
        file, no INSERT permission…), so a long job learns it before it starts. Writes nothing."""
        from sqlalchemy.exc import IntegrityError

        dataset = _check_dataset(dataset)

        class _RollBack(Exception):
            pass

        try:
            with self._tx(write=True) as conn:
                self._ensure_dataset(conn, dataset)
                raise _RollBack  # leaves the transaction, undoing the probe
        except (_RollBack, IntegrityError):
            return

    @property
    def schema_version(self) -> int:
        """The schema version of the open store."""
        from sqlalchemy import select

        meta = self._t["meta"]
        with self._tx() as conn:
            value = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar_one()
        return _parse_version(value, self._masked)

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

    # ------------------------------------------------------------------ runs

    def save_run(
        self,
        dmap: DataMap,
        dataset: str,
        model: str | None = None,
        settings: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
    ) -> int:
        """Save a data map as a new run of ``dataset``, in one transaction; returns the run id.

        Writes every example's metrics and trajectories in bulk (COPY on PostgreSQL,
        executemany elsewhere): 100,000 examples take seconds (``benchmarks/store_speed.py``).
        """
        if not isinstance(dmap, DataMap):
            raise TypeError(f"dmap must be a DataMap, got {type(dmap).__name__}")
        dataset = _check_dataset(dataset)
        if model is not None and not isinstance(model, str):
            raise TypeError(f"model must be a str or None, got {type(model).__name__}")
        if model is not None:
            _check_text(model, "model")
        _check_texts(list(dmap.label_names), "dmap.label_names")
        for name, value in (("settings", settings), ("summary", summary)):
            if value is not None and not isinstance(value, Mapping):
                raise TypeError(f"{name} must be a dict or None, got {type(value).__name__}")
        id_type = "str" if dmap.ids.dtype.kind in "USO" else "int"
        if id_type == "int" and dmap.ids.dtype.kind not in "iu":
            raise TypeError(f"dmap.ids must be str or int, got dtype {dmap.ids.dtype}")
        # str ids are Python strings already: numpy's fixed-width str would drop a trailing NUL,
        # turning "a\x00" into a duplicate of "a" instead of the clear NUL error below.
        example_ids = dmap.ids.tolist() if dmap.ids.dtype.kind == "O" else dmap.ids.astype(str).tolist()
        if id_type == "str":  # before dmap.frame, which cannot even hold a lone surrogate
            _check_texts(example_ids, "dmap.ids")
        frame = dmap.frame
        n, passes = len(dmap), dmap.n_passes
        layout = [[name, np.asarray(dmap.trajectories[name]).dtype.newbyteorder("<").str] for name in metrics.TRAJECTORY_FIELDS]
        columns = {
            "example_id": example_ids,
            "position": range(n),
            "label": frame["label"].astype(str).tolist(),
            "confidence": _nullable(frame["confidence"]),
            "variability": _nullable(frame["variability"]),
            "correctness": _nullable(frame["correctness"]),
            "category": _nullable(frame["category"]),
            "mislabel_score": _nullable(frame["mislabel_score"]),
            "suggested_label": _nullable(frame["suggested_label"]),
            "n_passes": frame["n_passes"].to_numpy(dtype=np.int64).tolist(),
            "trajectories": _pack(dmap.trajectories, layout, n, passes),
        }
        runs = self._t["runs"]
        with self._tx(write=True) as conn:
            self._ensure_dataset(conn, dataset)
            run_id = conn.execute(
                runs.insert()
                .values(
                    dataset=dataset,
                    created_at=_now(),
                    model=model,
                    settings=dict(settings) if settings is not None else None,
                    summary=dict(summary) if summary is not None else None,
                    id_type=id_type,
                    label_names=list(dmap.label_names),
                    method=dmap.method,
                    thresholds=dict(dmap.thresholds),
                    n_examples=n,
                    n_passes=passes,
                    trajectory_layout=layout,
                )
                .returning(runs.c.id)
            ).scalar_one()
            self._write_cartography(conn, run_id, columns, n)
        return int(run_id)

    def _write_cartography(self, conn: Any, run_id: int, columns: dict[str, Any], n: int) -> None:
        names = ["run", *columns]
        rows = zip([run_id] * n, *columns.values())
        if self._backend == "postgresql":
            # COPY is the fastest bulk path: one round trip, no per-row statement.
            cursor = conn.connection.driver_connection.cursor()
            with cursor.copy(f"COPY cartography ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        if self._backend == "sqlite":
            # Plain executemany on the driver: SQLAlchemy's per-row parameter processing
            # costs 4x the insert itself (100k rows: 4.5 s -> about 1 s).
            marks = ", ".join("?" * len(names))
            conn.exec_driver_sql(f"INSERT INTO cartography ({', '.join(names)}) VALUES ({marks})", list(rows))
            return
        table = self._t["cartography"]
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(dict(zip(names, row)))
            if len(batch) == _BATCH:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)

    def _run_row(self, conn: Any, run_id: Any, dataset: str | None = None) -> Any:
        from sqlalchemy import select

        if isinstance(run_id, bool) or not isinstance(run_id, (int, np.integer)):
            raise TypeError(f"run must be an int run id, got {type(run_id).__name__} {run_id!r}")
        runs = self._t["runs"]
        row = conn.execute(select(runs).where(runs.c.id == int(run_id))).mappings().first()
        if row is None:
            raise ValueError(f"run {int(run_id)} is not in store {self._masked}")
        if dataset is not None and row["dataset"] != dataset:
            raise ValueError(f"run {int(run_id)} belongs to dataset {row['dataset']!r}, not {dataset!r}")
        return row

    def load_run(self, run_id: int) -> DataMap:
        """The DataMap of a saved run, with the examples reviewed (per the review log) marked."""
        from sqlalchemy import select

        cart = self._t["cartography"]
        with self._tx() as conn:
            run = self._run_row(conn, run_id)
            rows = conn.execute(
                select(cart.c.example_id, cart.c.label, cart.c.trajectories)
                .where(cart.c.run == run["id"])
                .order_by(cart.c.position)
            ).all()
            log = self._log(conn, run["dataset"])
        ids_text, labels_text, blobs = (list(c) for c in zip(*rows)) if rows else ([], [], [])
        ids = _typed_ids(ids_text, run["id_type"])
        names = list(run["label_names"])
        codes = pd.Categorical(labels_text, categories=names).codes.astype(np.int64)
        trajectories = _unpack(blobs, run["trajectory_layout"], len(rows), run["n_passes"])
        method = run["method"]
        if method in metrics.TEXT_METHODS or method in metrics.NEIGHBOUR_METHODS:
            # The store keeps the trajectories, not the text view or the embeddings these scores
            # need: rank by the default, and say so (the run folder's map keeps them).
            warnings.warn(
                f"run {run['id']} was ranked by {method!r}, which needs data a store does not keep; it is ranked by "
                f"{metrics.DEFAULT_METHOD!r} here (DataMap.read_parquet of its run folder ranks as it did)",
                UserWarning, stacklevel=2,
            )
            method = metrics.DEFAULT_METHOD
        dmap = DataMap(ids, codes, names, trajectories, method, run["thresholds"])
        hidden = hidden_by_reviews(review_state(log), np.asarray(ids_text, dtype=object), np.asarray(labels_text, dtype=object),
                         run["id"], run["created_at"])
        if hidden.any():
            dmap.mark_reviewed(ids[hidden])
        return dmap

    def latest_run(self, dataset: str) -> int | None:
        """The id of the newest run of ``dataset``, or None when it has none."""
        dataset = _check_dataset(dataset)
        with self._tx() as conn:
            return self._latest(conn, dataset)

    def _latest(self, conn: Any, dataset: str) -> int | None:
        from sqlalchemy import func, select

        runs = self._t["runs"]
        value = conn.execute(select(func.max(runs.c.id)).where(runs.c.dataset == dataset)).scalar()
        return None if value is None else int(value)

    def runs(self, dataset: str | None = None) -> pd.DataFrame:
        """Saved runs, oldest first: id, dataset, created_at, model, n_examples, n_passes, method, settings, summary."""
        from sqlalchemy import select

        runs = self._t["runs"]
        cols = ["id", "dataset", "created_at", "model", "n_examples", "n_passes", "id_type", "method", "settings", "summary"]
        query = select(*(runs.c[c] for c in cols)).order_by(runs.c.id)
        if dataset is not None:
            query = query.where(runs.c.dataset == _check_dataset(dataset))
        with self._tx() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        return frame

    # ------------------------------------------------------------------ reviews

    def add_reviews(self, dataset: str, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Append review rows to ``dataset``'s log in ONE transaction; returns their ids after commit.

        Each row is a dict: ``example_id`` (str or int), ``action`` (one of :data:`ACTIONS`),
        ``old_label`` (default: the current label), ``new_label`` (required for relabeled
        and undo; a confirmation's defaults to ``old_label``), ``reviewer``, ``at``
        (datetime or ISO string; default now, UTC), ``run`` (a run id of this dataset;
        default: its latest run when the row is written) and
        optionally ``expected_label``: the label the writer believed current. When the store
        knows a current label (the latest run's, updated by the log) and it differs,
        :class:`ReviewConflict` is raised and nothing of the batch is written. Rows without
        ``expected_label`` are appended unchecked: pass it to be told about concurrent edits.

        The returned ids mean the rows are durable: a crash afterwards loses none of them.
        """
        from sqlalchemy import select

        dataset = _check_dataset(dataset)
        if isinstance(rows, (Mapping, str, bytes)) or not isinstance(rows, Iterable):
            raise TypeError(f"rows must be a list of dicts, got {type(rows).__name__} (wrap a single row in a list)")
        clean = [_check_review(i, row) for i, row in enumerate(rows)]
        if not clean:
            return []
        reviews, runs = self._t["reviews"], self._t["runs"]
        with self._tx(write=True) as conn:
            self._lock_dataset(conn, dataset)
            wanted_runs = {r["run"] for r in clean if r["run"] is not None}
            if wanted_runs:
                found = dict(conn.execute(select(runs.c.id, runs.c.dataset).where(runs.c.id.in_(wanted_runs))).all())
                for i, r in enumerate(clean):
                    if r["run"] is not None and found.get(r["run"]) != dataset:
                        where = f"belongs to dataset {found[r['run']]!r}" if r["run"] in found else "is not in the store"
                        raise ValueError(f"rows[{i}]['run'] = {r['run']}: that run {where}, not {dataset!r}")
            if any(r["run"] is None for r in clean):
                # The run the reviewer could see: the newest one at write time (exact, unlike clock seconds).
                newest = self._latest(conn, dataset)
                for r in clean:
                    if r["run"] is None:
                        r["run"] = newest
            keys = list(dict.fromkeys(r["example_id"] for r in clean))
            current = self._current_for(conn, dataset, keys)
            conflicts: dict[str, Any] = {}
            expected: dict[str, Any] = {}
            for r in clean:  # sequential: a batch may touch one example twice
                key = r["example_id"]
                now = current.get(key)
                # A label the store does not know cannot conflict: nothing would be overwritten.
                expect = r["expected_label"]
                if expect is not _MISSING and now is not None and expect != now and key not in conflicts:
                    conflicts[key], expected[key] = now, r["expected_label"]
                    continue
                if r["old_label"] is None:
                    r["old_label"] = now
                if r["action"] == "confirmed" and r["new_label"] is None:
                    r["new_label"] = r["old_label"]
                if r["action"] != "skipped" and r["new_label"] is not None:
                    current[key] = r["new_label"]
            if conflicts:
                typed = {k: _typed_id(k, t) for k, t in ((r["example_id"], r["id_type"]) for r in clean)}
                ids = [typed[k] for k in conflicts]
                raise ReviewConflict(
                    dataset, ids, {typed[k]: v for k, v in conflicts.items()}, {typed[k]: v for k, v in expected.items()}
                )
            values = [
                {
                    "dataset": dataset,
                    "example_id": r["example_id"],
                    "id_type": r["id_type"],
                    "action": r["action"],
                    "old_label": r["old_label"],
                    "new_label": r["new_label"],
                    "reviewer": r["reviewer"],
                    "at": r["at"],
                    "run": r["run"],
                }
                for r in clean
            ]
            result = conn.execute(reviews.insert().returning(reviews.c.id, sort_by_parameter_order=True), values)
            ids = [int(v) for v in result.scalars().all()]
        return ids  # only now: the transaction has committed

    def _ensure_dataset(self, conn: Any, dataset: str) -> None:
        datasets = self._t["datasets"]
        if self._backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif self._backend == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - other databases: insert if missing
            from sqlalchemy import select

            if conn.execute(select(datasets.c.name).where(datasets.c.name == dataset)).first() is None:
                conn.execute(datasets.insert().values(name=dataset))
            return
        conn.execute(insert(datasets).values(name=dataset).on_conflict_do_nothing())

    def _lock_dataset(self, conn: Any, dataset: str) -> None:
        """Serialize review writers of one dataset until the transaction ends."""
        from sqlalchemy import select

        self._ensure_dataset(conn, dataset)
        datasets = self._t["datasets"]
        # PostgreSQL: a row lock; SQLite: a no-op, BEGIN IMMEDIATE already holds the write lock.
        conn.execute(select(datasets.c.name).where(datasets.c.name == dataset).with_for_update()).first()

    def _log(self, conn: Any, dataset: str, keys: Sequence[str] | None = None) -> pd.DataFrame:
        """The review log of ``dataset`` (optionally of some example ids), in write order."""
        from sqlalchemy import select

        reviews = self._t["reviews"]
        cols = ["id", "example_id", "id_type", "action", "old_label", "new_label", "reviewer", "at", "run"]
        query = select(*(reviews.c[c] for c in cols)).where(reviews.c.dataset == dataset).order_by(reviews.c.id)
        if keys is None:
            rows = conn.execute(query).all()
        else:
            rows = []
            for start in range(0, len(keys), _IN_CHUNK):
                rows += conn.execute(query.where(reviews.c.example_id.in_(keys[start : start + _IN_CHUNK]))).all()
            rows.sort(key=lambda r: r[0])
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        frame["run"] = frame["run"].astype("Int64")
        return frame

    def _base_labels(self, conn: Any, dataset: str, keys: Sequence[str] | None = None) -> tuple[pd.Series, Any]:
        """The latest run's labels (text ids -> label) and its id type (None without a run)."""
        from sqlalchemy import select

        latest = self._latest(conn, dataset)
        if latest is None:
            return pd.Series([], dtype=object, index=pd.Index([], dtype=object)), None
        cart = self._t["cartography"]
        query = select(cart.c.example_id, cart.c.label).where(cart.c.run == latest).order_by(cart.c.position)
        if keys is None:
            rows = conn.execute(query).all()
        else:
            rows = []
            for start in range(0, len(keys), _IN_CHUNK):
                rows += conn.execute(query.where(cart.c.example_id.in_(keys[start : start + _IN_CHUNK]))).all()
        id_type = self._run_row(conn, latest)["id_type"]
        return pd.Series([r[1] for r in rows], index=pd.Index([r[0] for r in rows], dtype=object), dtype=object), id_type

    def _current_for(self, conn: Any, dataset: str, keys: list[str]) -> dict[str, Any]:
        base, _ = self._base_labels(conn, dataset, keys)
        state = review_state(self._log(conn, dataset, keys))
        current = base.to_dict()
        labelled = state["label"].dropna()
        current.update(labelled.to_dict())
        return current

    def reviews(self, dataset: str) -> pd.DataFrame:
        """The append-only review log of ``dataset``, oldest first.

        Columns: id, example_id (str or int, as written), action, old_label, new_label,
        reviewer, at (UTC timestamps), run (nullable int).
        """
        dataset = _check_dataset(dataset)
        with self._tx() as conn:
            log = self._log(conn, dataset)
        out = log.drop(columns=["id_type"])
        out["example_id"] = _typed_column(log["example_id"], log["id_type"])
        return out.reset_index(drop=True)

    def current_labels(self, dataset: str, base: Any = None) -> pd.Series:
        """Every example's current label: ``base`` updated by the review log.

        Parameters
        ----------
        base : the original labels, a Series / dict id -> label or a DataMap; default the
            labels of ``dataset``'s latest run (none: only reviewed examples appear).

        Returns a Series named ``label`` indexed by ``id`` (base's ids first, in order, then
        reviewed ids absent from it).
        """
        dataset = _check_dataset(dataset)
        with self._tx() as conn:
            log = self._log(conn, dataset)
            if base is None:
                base_text, id_type = self._base_labels(conn, dataset)
                typed_index = _typed_ids(base_text.index.tolist(), id_type) if id_type else None
            else:
                base_text, typed_index = _base_series(base)
                id_type = None
        state = review_state(log)
        labels = state["label"].dropna()
        current = base_text.copy()
        known = labels.index.intersection(current.index)
        current.loc[known] = labels.loc[known].to_numpy()
        extra = labels.index.difference(current.index, sort=False)
        index = pd.Index(typed_index if typed_index is not None else current.index, name="id")
        if len(extra):
            kinds = log.drop_duplicates("example_id", keep="last").set_index("example_id")["id_type"]
            extra_typed = _typed_column(pd.Series(extra), pd.Series(kinds.loc[extra].to_numpy()))
            index = index.append(pd.Index(extra_typed.to_numpy(), name="id"))
            current = pd.concat([current, labels.loc[extra]])
        return pd.Series(current.to_numpy(dtype=object), index=index, name="label")

    def reviewed_ids(self, dataset: str) -> set:
        """Ids whose latest (not undone) review confirmed or relabeled them."""
        dataset = _check_dataset(dataset)
        with self._tx() as conn:
            log = self._log(conn, dataset)
        state = review_state(log)
        done = state[state["reviewed"]]
        return set(_typed_column(pd.Series(done.index), done["id_type"].reset_index(drop=True)).tolist())

    def suspects(
        self,
        dataset: str,
        frac: float | None = None,
        top: int | None = None,
        include_reviewed: bool = False,
        run: int | None = None,
    ) -> pd.DataFrame:
        """A run's most likely mislabeled examples, highest ``mislabel_score`` first.

        Parameters
        ----------
        dataset : the dataset name.
        frac, top : share of the run's examples, or number of rows (at most one; neither:
            every scored example).
        include_reviewed : keep examples already reviewed (left out by default, per the
            review rule in the module docstring).
        run : which run (default: the dataset's latest).

        Returns the columns of :attr:`DataMap.frame` (labels as str) indexed by ``id``.
        """
        from sqlalchemy import select

        dataset = _check_dataset(dataset)
        check_suspect_size(frac, top)
        cart = self._t["cartography"]
        cols = ["example_id", "label", "confidence", "variability", "correctness", "category", "mislabel_score",
                "suggested_label", "n_passes"]
        with self._tx() as conn:
            if run is None:
                run = self._latest(conn, dataset)
                if run is None:
                    raise ValueError(f"dataset {dataset!r} has no runs in store {self._masked}; save one with save_run")
            row = self._run_row(conn, run, dataset)
            rows = conn.execute(
                select(*(cart.c[c] for c in cols)).where(cart.c.run == row["id"]).order_by(cart.c.position)
            ).all()
            log = self._log(conn, dataset)
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        for name in ("confidence", "variability", "correctness", "mislabel_score"):
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
        frame["reviewed"] = hidden_by_reviews(
            review_state(log), frame["example_id"].to_numpy(dtype=object), frame["label"].to_numpy(dtype=object),
            row["id"], row["created_at"],
        )
        frame.index = pd.Index(_typed_ids(frame.pop("example_id").tolist(), row["id_type"]), name="id")
        return rank_suspects(frame, frac=frac, top=top, include_reviewed=include_reviewed)

    def apply_reviews(self, dmap: DataMap, dataset: str, run: int | None = None) -> set:
        """Mark on ``dmap`` (``dmap.mark_reviewed``) the examples the review log counts as reviewed.

        Same rule as :meth:`suspects`. ``run``: the store run ``dmap`` was loaded from, if
        any (without it, a review's old label also counts as unchanged). Returns the ids marked.
        """
        if not isinstance(dmap, DataMap):
            raise TypeError(f"dmap must be a DataMap, got {type(dmap).__name__}")
        dataset = _check_dataset(dataset)
        with self._tx() as conn:
            log = self._log(conn, dataset)
            row = self._run_row(conn, run, dataset) if run is not None else None
        labels = np.asarray(dmap.label_names, dtype=object)[dmap.labels]
        hidden = hidden_by_reviews(
            review_state(log), dmap.ids.astype(str).astype(object), labels,
            None if row is None else row["id"], None if row is None else row["created_at"],
        )
        if hidden.any():
            dmap.mark_reviewed(dmap.ids[hidden])
        return set(dmap.ids[hidden].tolist())


# ---------------------------------------------------------------------------------- helpers

class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _now() -> datetime:
    return datetime.now(timezone.utc)


#: Longest dataset name, in characters: the ``VARCHAR(255)`` of ``runs``/``reviews``/``datasets``,
#: checked here so SQLite (which ignores the length) and PostgreSQL accept the same names.
MAX_DATASET_LENGTH = 255


def _parse_version(value: Any, masked: str) -> int:
    """The ``schema_version`` row as an int; a StoreError when the row is damaged."""
    try:
        version = int(str(value).strip())
    except ValueError:
        version = -1
    if version < 0:
        raise StoreError(
            f"store {masked}: the schema version in table 'meta' is {str(value)[:40]!r}, not a version number: "
            "the store is damaged; restore it from a backup, or set it to the right version (see MIGRATIONS)"
        )
    return version


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


def _check_review(i: int, row: Any) -> dict[str, Any]:
    """Validate one review row; returns it normalized (text id, id type, UTC time)."""
    where = f"rows[{i}]"
    if not isinstance(row, Mapping):
        raise TypeError(f"{where} must be a dict, got {type(row).__name__}")
    unknown = set(row) - _ROW_KEYS
    if unknown:
        raise TypeError(f"{where} has unknown key(s) {sorted(map(str, unknown))}; expected keys {sorted(_ROW_KEYS)} (check the spelling)")
    if "example_id" not in row or "action" not in row:
        raise ValueError(f"{where} needs 'example_id' and 'action', got keys {sorted(row)}")
    example_id = row["example_id"]
    if isinstance(example_id, np.generic):
        example_id = example_id.item()
    if isinstance(example_id, bool) or not isinstance(example_id, (str, int)):
        raise TypeError(f"{where}['example_id'] must be a str or int, got {type(example_id).__name__} {example_id!r}")
    if isinstance(example_id, str):
        _check_text(example_id, f"{where}['example_id']")
    action = row["action"]
    if action not in ACTIONS:
        raise ValueError(f"{where}['action'] must be one of {list(ACTIONS)}, got {action!r}")
    old = _check_label(row.get("old_label"), f"{where}['old_label']")
    new = _check_label(row.get("new_label"), f"{where}['new_label']")
    if action in ("relabeled", "undo") and new is None:
        raise ValueError(f"{where}['new_label'] is required for action {action!r}, got None")
    reviewer = row.get("reviewer")
    if reviewer is not None and not isinstance(reviewer, str):
        raise TypeError(f"{where}['reviewer'] must be a str or None, got {type(reviewer).__name__}")
    if reviewer is not None:
        _check_text(reviewer, f"{where}['reviewer']")
    at = row.get("at")
    if at is None:
        at = _now()
    elif isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            raise ValueError(f"{where}['at'] must be a datetime or an ISO 8601 string, got {at!r}") from None
    elif isinstance(at, pd.Timestamp):
        at = at.to_pydatetime()
    elif not isinstance(at, datetime):
        raise TypeError(f"{where}['at'] must be a datetime or an ISO 8601 string, got {type(at).__name__}")
    at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
    run = check_run(row.get("run"), f"{where}['run']")
    expected = row["expected_label"] if "expected_label" in row else _MISSING
    if expected is not _MISSING:
        expected = _check_label(expected, f"{where}['expected_label']")
    return {
        "example_id": str(example_id),
        "id_type": "str" if isinstance(example_id, str) else "int",
        "action": action,
        "old_label": old,
        "new_label": new,
        "reviewer": reviewer,
        "at": at,
        "run": run,
        "expected_label": expected,
    }


def _nullable(column: pd.Series) -> list[Any]:
    """Column values as a list with None for missing (SQLite stores NaN as NULL anyway)."""
    values = column.astype(object)
    return values.where(column.notna(), None).tolist()


def _pack(trajectories: Mapping[str, np.ndarray], layout: list[list[str]], n: int, passes: int) -> list[bytes]:
    """One bytes blob per example: its per-pass arrays, field after field, little-endian."""
    struct = np.dtype([(name, dtype, (passes,)) for name, dtype in layout])
    if struct.itemsize == 0:
        return [b""] * n
    packed = np.empty(n, dtype=struct)
    for name, _ in layout:
        packed[name] = trajectories[name]
    return packed.view(np.dtype((np.void, struct.itemsize))).tolist()


def _unpack(blobs: list[bytes], layout: list[list[str]], n: int, passes: int) -> dict[str, np.ndarray]:
    struct = np.dtype([(name, dtype, (passes,)) for name, dtype in layout])
    if struct.itemsize == 0 or n == 0:
        return {name: np.empty((n, passes), dtype=np.dtype(dtype).newbyteorder("=")) for name, dtype in layout}
    packed = np.frombuffer(b"".join(bytes(b) for b in blobs), dtype=struct)
    return {name: packed[name].astype(np.dtype(dtype).newbyteorder("="), copy=True).reshape(n, passes) for name, dtype in layout}


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


def _base_series(base: Any) -> tuple[pd.Series, Any]:
    """``base`` labels as a Series keyed by text ids, plus the typed ids in order."""
    if isinstance(base, DataMap):
        series = pd.Series(np.asarray(base.label_names, dtype=object)[base.labels], index=base.ids)
    elif isinstance(base, pd.Series):
        series = base
    elif isinstance(base, Mapping):
        series = pd.Series(dict(base), dtype=object)
    else:
        raise TypeError(f"base must be a Series or dict id -> label, or a DataMap, got {type(base).__name__}")
    if series.index.has_duplicates:
        raise ValueError("base has repeated ids; each example needs one original label")
    typed = series.index.to_numpy()
    values = series.astype(object).where(series.notna(), None).map(lambda v: None if v is None else str(v))
    return pd.Series(values.to_numpy(dtype=object), index=pd.Index(series.index.astype(str), dtype=object)), typed
