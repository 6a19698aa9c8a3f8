"""Schema: the tables, their versions and the ordered migrations that bring a store forward."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from ._engine import StoreError


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


def _now() -> datetime:
    """The time a run or review is stamped with: UTC (the tables' DateTime columns keep the zone)."""
    return datetime.now(timezone.utc)


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


class _Schema:
    """The version check and migration of :class:`~datamap_widget.store.Store`, and its ``schema_version``.

    Needs ``_tx``, ``_t``, ``_backend`` and ``_masked`` (from the store and :class:`._engine._Engine`).
    """

    _t: dict[str, Any]
    _backend: str
    _masked: str
    _tx: Any

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

    @property
    def schema_version(self) -> int:
        """The schema version of the open store."""
        from sqlalchemy import select

        meta = self._t["meta"]
        with self._tx() as conn:
            value = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar_one()
        return _parse_version(value, self._masked)
