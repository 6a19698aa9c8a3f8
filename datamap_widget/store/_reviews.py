"""Reviews: atomic check-and-append of review rows, and the queries the review log answers
(the log itself, current labels, reviewed ids, suspects).
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..datamap import DataMap, check_suspect_size, rank_suspects
from ..labels import label_names_of
from ..review import ACTIONS, ReviewConflict, check_run, hidden_by_reviews, review_state
from ._schema import _now
from ._text import _check_dataset, _check_label, _check_text, _typed_column, _typed_id, _typed_ids

_ROW_KEYS = {"example_id", "action", "old_label", "new_label", "reviewer", "at", "run", "expected_label"}

#: Ids per ``IN (…)`` list (SQLite allows 32766 parameters; stay far below).
_IN_CHUNK = 2_000


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


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


def _base_series(base: Any) -> tuple[pd.Series, Any]:
    """``base`` labels as a Series keyed by text ids, plus the typed ids in order."""
    if isinstance(base, DataMap):
        series = pd.Series(label_names_of(base.labels, base.label_names), index=base.ids)
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


class _Reviews:
    """The review part of :class:`~datamap_widget.store.Store`.

    Needs ``_tx``, ``_t``, ``_backend`` and ``_masked`` (:class:`._engine._Engine`), and from
    :class:`._runs._Runs` ``_latest`` and ``_run_row`` (the run a review or a query is about).
    """

    _t: dict[str, Any]
    _backend: str
    _masked: str
    _tx: Any
    _latest: Any
    _run_row: Any

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

    def reviewed_in(self, dmap: DataMap, dataset: str, run: int | None = None) -> set:
        """The ids of ``dmap`` that the review log of ``dataset`` counts as reviewed; ``dmap`` is unchanged.

        Same rule as :meth:`suspects`. ``run``: the store run ``dmap`` was loaded from, if
        any (without it, a review's old label also counts as unchanged). To leave them out of
        the map's suspects: ``dmap.suspects(review=ReviewSession.for_map(dmap, reviewed=ids))``.
        """
        if not isinstance(dmap, DataMap):
            raise TypeError(f"dmap must be a DataMap, got {type(dmap).__name__}")
        dataset = _check_dataset(dataset)
        with self._tx() as conn:
            log = self._log(conn, dataset)
            row = self._run_row(conn, run, dataset) if run is not None else None
        labels = label_names_of(dmap.labels, dmap.label_names)
        hidden = hidden_by_reviews(
            review_state(log), dmap.ids.astype(str).astype(object), labels,
            None if row is None else row["id"], None if row is None else row["created_at"],
        )
        return set(dmap.ids[hidden].tolist())

    def apply_reviews(self, dmap: DataMap, dataset: str, run: int | None = None) -> set:
        """Deprecated (a review no longer changes a DataMap): use :meth:`reviewed_in`, which returns the same ids.

        Still marks them on ``dmap`` as the deprecated ``DataMap.mark_reviewed`` does, and returns them.
        """
        warnings.warn(
            "Store.apply_reviews is deprecated: a review no longer changes a DataMap. Use store.reviewed_in(dmap, "
            "dataset) for the ids and dmap.suspects(review=ReviewSession.for_map(dmap, reviewed=ids)).",
            DeprecationWarning,
            stacklevel=2,
        )
        ids = self.reviewed_in(dmap, dataset, run=run)
        if ids:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # said once, above
                dmap.mark_reviewed(list(ids))
        return ids
