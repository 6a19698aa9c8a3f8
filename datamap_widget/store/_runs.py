"""Runs: saving a data map as a run (the ``runs`` row and its ``cartography`` rows) and loading it back."""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import metrics
from ..datamap import DataMap
from ..review import hidden_by_reviews, review_state
from ._schema import _now
from ._text import _check_dataset, _check_text, _check_texts, _typed_ids

#: Rows per statement when writing a run through a generic (non-PostgreSQL) driver.
_BATCH = 20_000


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


class _Runs:
    """The runs part of :class:`~datamap_widget.store.Store`.

    Needs ``_tx``, ``_t``, ``_backend`` and ``_masked`` (:class:`._engine._Engine`), and from
    :class:`._reviews._Reviews` ``_ensure_dataset`` (a run's dataset row) and ``_log`` (a loaded
    run marks what the review log counts as reviewed).
    """

    _t: dict[str, Any]
    _backend: str
    _masked: str
    _tx: Any
    _ensure_dataset: Any
    _log: Any

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
        hidden = hidden_by_reviews(review_state(log), np.asarray(ids_text, dtype=object), np.asarray(labels_text, dtype=object),
                         run["id"], run["created_at"])
        return DataMap(ids, codes, names, trajectories, method, run["thresholds"], reviewed=ids[hidden])

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
