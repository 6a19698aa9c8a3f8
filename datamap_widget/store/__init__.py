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
left out of :meth:`Store.suspects` and listed by :meth:`Store.reviewed_in` as long as its
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

The package splits along those lines; this module is its only face (import from here, never
from the private modules, which may move):

- ``_store``: :class:`Store` itself, composed of the parts below;
- ``_engine``: URLs (parsing, masking), the engine, transactions, :class:`StoreError` and the
  diagnosis of driver errors;
- ``_schema``: the tables, :data:`SCHEMA_VERSION`, :data:`MIGRATIONS` and the version check;
- ``_runs``: saving and loading runs;
- ``_reviews``: atomic review writes and the review queries;
- ``_text``: what text every backend stores (:func:`unstorable_text`), ids back from text.

The parts import one another downwards (``_text`` and ``_engine`` at the bottom), never this face.
"""

from __future__ import annotations

from ..review import ACTIONS, REVIEW_ACTIONS, ReviewConflict
from ._engine import StoreError, _mask, default_url
from ._schema import MIGRATIONS, SCHEMA_VERSION, _schema_v1
from ._store import Store
from ._text import MAX_DATASET_LENGTH, unstorable_text

__all__ = ["Store", "StoreError", "ReviewConflict", "SCHEMA_VERSION", "MIGRATIONS", "ACTIONS", "MAX_DATASET_LENGTH", "default_url"]

# Also importable from here, as before the split: unstorable_text (the widget checks a label
# with it), REVIEW_ACTIONS, and the private _schema_v1 and _mask that tests/test_store.py reaches
# for (a version-1 store, the masked URL).

# The classes keep the module they always had, so tracebacks and reprs read as before
# (datamap_widget.store.StoreError, not datamap_widget.store._engine.StoreError).
for _cls in (Store, StoreError):
    _cls.__module__ = __name__
del _cls
