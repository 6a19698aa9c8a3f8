"""URLs and the engine: parsing and masking store URLs, creating the engine, one transaction,
and turning driver errors into a :class:`StoreError` that names the URL and the likely cause.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from ..dependencies import require


class StoreError(RuntimeError):
    """The database cannot be opened or used; the message names the URL (password masked) and the likely cause."""


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


class _Engine:
    """The connection part of :class:`~datamap_widget.store.Store`: the engine, its errors, transactions.

    Sets ``_masked``, ``_password`` and ``_backend`` (``engine.dialect.name``); the store keeps
    the engine in ``_engine`` (None once closed).
    """

    _engine: Any
    _masked: str
    _password: str | None
    _backend: str

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
