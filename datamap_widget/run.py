"""The run folder: what ``datamap train --out DIR`` writes and ``suspects``/``report``/``export`` read.

A run folder holds three files:

- ``datamap.parquet`` (:data:`DATAMAP_FILE`): the map, as :meth:`DataMap.to_parquet` saves it;
- ``run.json`` (:data:`RUN_FILE`): every setting, package versions, timings and a summary;
- ``texts.parquet`` (:data:`TEXTS_FILE`): id and text, so a report shows documents without
  the source file;
- while a run is unfinished, ``checkpoint.pt`` (:data:`CHECKPOINT_FILE`): the end of its last
  complete pass, which ``datamap train --resume`` continues from (see
  :mod:`datamap_widget.checkpoint`); removed once the run is written, unless kept.

:func:`write_run` writes them whole or not at all (see :mod:`datamap_widget.atomic`) and
never replaces another run unless asked; :func:`read_run` opens a folder with its texts::

    from datamap_widget.run import read_run

    run = read_run("runs/mine")        # run.datamap, run.texts (by id), run.record
    run.widget()                       # review it in a notebook, texts shown
"""

from __future__ import annotations

import errno
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

import pandas as pd

from .atomic import atomic_paths
from .checkpoint import CHECKPOINT_FILE
from .datamap import DATAMAP_FILE, DataMap

if TYPE_CHECKING:  # pragma: no cover
    from .train import TrainingRun
    from .widget import DataMapWidget

__all__ = [
    "CHECKPOINT_FILE",
    "DATAMAP_FILE",
    "RUN_FILE",
    "TEXTS_FILE",
    "RUN_FILES",
    "Run",
    "RunFolderError",
    "read_run",
    "write_run",
    "run_files",
    "prepare_folder",
    "prepare_out",
    "ScoredRun",
    "train_and_score",
    "run_record",
    "save_run",
    "finish_checkpoint",
    "versions",
]

RUN_FILE = "run.json"
TEXTS_FILE = "texts.parquet"
#: The files of a run, in the order :func:`write_run` renames them into place (the map last:
#: a folder whose write was cut short between two renames has no new map under an old record).
RUN_FILES = (TEXTS_FILE, RUN_FILE, DATAMAP_FILE)


class RunFolderError(ValueError):
    """A folder that is not a run folder, or one of whose files is damaged; the message names it."""


class Run(NamedTuple):
    """A run folder, read: its map, its texts (a Series of str by id, or None) and its record."""

    datamap: DataMap
    texts: pd.Series | None
    record: dict[str, Any]

    def widget(self, **kwargs: Any) -> "DataMapWidget":
        """A :class:`~datamap_widget.widget.DataMapWidget` of the run, showing its texts.

        Keywords go to the widget (``store``, ``dataset``, ``reviewer``…). Its ``id_column``,
        ``text_column`` and ``label_column`` default to the columns the run was trained from
        (``run.json``'s ``columns``), so ``w.apply(df)`` takes the very file the run read.
        """
        # The user's own frame is the one `datamap train` read: match its rows and write its
        # label column by the names in the record, not by the defaults 'id' and 'label'.
        columns = self.record.get("columns") if isinstance(self.record.get("columns"), dict) else {}
        for key in ("id", "text", "label"):
            if isinstance(columns.get(key), str) and columns[key]:
                kwargs.setdefault(f"{key}_column", columns[key])
        id_column, text_column = kwargs.get("id_column", "id"), kwargs.get("text_column", "text")
        data = None if self.texts is None else pd.DataFrame({id_column: self.texts.index, text_column: self.texts.to_numpy()})
        return self.datamap.widget(data=data, **kwargs)


def run_files(folder: str | os.PathLike) -> list[str]:
    """The names of the run files (:data:`RUN_FILES`, and an unfinished run's
    :data:`CHECKPOINT_FILE`) that ``folder`` holds; empty when it holds no run."""
    path = Path(folder)
    return [name for name in (DATAMAP_FILE, RUN_FILE, TEXTS_FILE, CHECKPOINT_FILE) if os.path.lexists(path / name)]


def read_run(folder: str | os.PathLike) -> Run:
    """Open a run folder written by ``datamap train --out`` (or :func:`write_run`).

    ``run.json`` and ``texts.parquet`` are optional (``record`` is then ``{}``, ``texts``
    None). A folder that is not a run, or any damaged file in it (empty, truncated, a
    folder, not Parquet/JSON, missing columns), raises a :class:`RunFolderError` whose
    one-line message names the file.
    """
    path = Path(folder)
    if not path.is_dir():
        raise RunFolderError(f"{path} is not a run folder: {'it is a file' if path.exists() else 'it does not exist'} (make one with `datamap train --out`)")
    if not (path / DATAMAP_FILE).exists():
        if (path / CHECKPOINT_FILE).exists():
            raise RunFolderError(
                f"{path} holds an unfinished run ({CHECKPOINT_FILE}, no {DATAMAP_FILE} yet): continue it with "
                "`datamap train ... --resume` (the same command and data)"
            )
        raise RunFolderError(f"{path} is not a run folder: {DATAMAP_FILE} is missing (make one with `datamap train`)")
    try:
        dmap = DataMap.read_parquet(str(path / DATAMAP_FILE))
    except _read_errors() as error:
        raise _unreadable(path / DATAMAP_FILE, error, "a data map") from error
    record: dict[str, Any] = {}
    if (path / RUN_FILE).exists():
        try:
            record = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise _unreadable(path / RUN_FILE, error, "a run record (JSON)") from error
        if not isinstance(record, dict):
            raise RunFolderError(f"{path / RUN_FILE} holds a JSON {type(record).__name__}, not the run record (an object)")
    texts = None
    if (path / TEXTS_FILE).exists():
        try:
            frame = pd.read_parquet(path / TEXTS_FILE)
            ids = frame["id"].astype(str) if dmap.ids.dtype.kind in "OUS" else frame["id"]
            texts = pd.Series(frame["text"].to_numpy(), index=pd.Index(ids, name="id"), name="text")
        except _read_errors() as error:
            raise _unreadable(path / TEXTS_FILE, error, "texts (columns id, text)") from error
    return Run(dmap, texts, record)


def write_run(
    folder: str | os.PathLike,
    dmap: DataMap,
    texts: Sequence[str],
    record: dict[str, Any],
    *,
    overwrite: bool = False,
) -> Path:
    """Write a run folder: ``dmap``, its ``texts`` (one per example, in map order) and ``record``.

    The folder is created if missing. It may hold other files; if it already holds a run
    (any of :data:`RUN_FILES` or a checkpoint), FileExistsError unless ``overwrite``, and then the old run
    is replaced only once all three new files are complete: each is written to a temporary
    file beside its target first, then the three are renamed into place (texts, record,
    map). A failed write removes the temporary files and leaves the folder as it was.

    The remaining window: no file system renames three files at once, so a crash (not an
    error: a power cut, a kill) between two of the renames leaves a folder with some files
    of the new run and some of the old one, each of them whole. Returns the folder.
    """
    path = Path(folder)
    if len(texts) != len(dmap):
        raise ValueError(f"texts has {len(texts)} entries but the map has {len(dmap)} examples (one text per example, in map order)")
    path.mkdir(parents=True, exist_ok=True)
    existing = run_files(path)
    if existing and not overwrite:
        raise FileExistsError(
            errno.EEXIST, f"{path} already holds a run ({', '.join(existing)}); pass overwrite=True to replace it", str(path)
        )
    with atomic_paths(*(path / name for name in RUN_FILES)) as (texts_tmp, record_tmp, map_tmp):
        pd.DataFrame({"id": dmap.ids, "text": list(texts)}).to_parquet(texts_tmp, index=False)
        record_tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        dmap.to_parquet(str(map_tmp))
    return path


def prepare_folder(folder: str | os.PathLike) -> bool:
    """Check that ``folder`` can take a run before any work is spent on one; returns whether it was created.

    The folder is created if missing and a probe file is written and removed in it.
    RunFolderError when it is a file; OSError when it cannot be made or written (a folder
    created here is removed again). Whether it already holds a run is :func:`run_files`.
    """
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"{path} is a file; give a folder (it is created if missing)")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".datamap-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        if created:
            remove_if_empty(path)
        raise
    return created


def remove_if_empty(folder: str | os.PathLike) -> None:
    """Remove ``folder`` if it is empty: a folder made for a run that never came; a user's files are never removed."""
    try:
        Path(folder).rmdir()  # only succeeds when empty
    except OSError:
        pass


def _unreadable(path: Path, error: Exception, what: str) -> RunFolderError:
    detail = " ".join(str(error).split())[:200] or type(error).__name__
    return RunFolderError(f"{path} could not be read as {what} ({type(error).__name__}: {detail}); was the run folder damaged?")


def _read_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged or foreign file raises: I/O, parse and missing-column errors."""
    import pyarrow

    return (OSError, ValueError, KeyError, TypeError, IndexError, pyarrow.ArrowException)


# ------------------------------------------------------------------------------ a training run, start to folder
#
# What ``datamap train`` does around the training itself, in the order it happens:
# prepare_out (before any work), train_and_score, run_record, save_run, finish_checkpoint.
# The command only parses, calls these and prints.


def prepare_out(folder: str | os.PathLike, *, overwrite: bool, resume: bool = False) -> bool:
    """Make sure ``folder`` can take a new run before training; returns whether it was created here.

    A folder that holds a run already (or an unfinished run's checkpoint) is refused without
    ``overwrite`` or ``resume``: a second ``train`` into it would otherwise replace the first
    run silently. ``resume`` needs the checkpoint. Other files (a user's notes, a report) are
    no run and do not count. Every refusal is a :class:`RunFolderError` whose one line says
    what to do (in the command's words: ``--out``, ``--overwrite``, ``--resume``).
    """
    out = Path(folder)
    existing = run_files(out) if out.is_dir() else []
    if resume and CHECKPOINT_FILE not in existing:
        finished = " (it holds a finished run; its checkpoint was removed when it completed)" if DATAMAP_FILE in existing else ""
        raise RunFolderError(f"--resume: {out} holds no checkpoint ({CHECKPOINT_FILE}) to continue{finished}; nothing was trained")
    if existing and not overwrite and not resume:
        unfinished = "pass --resume to continue it, " if CHECKPOINT_FILE in existing else ""
        raise RunFolderError(
            f"--out {out} already holds a run ({', '.join(existing)}); {unfinished}pass --overwrite to replace it "
            "(the old run stays until the new one is written whole) or give another folder; nothing was trained"
        )
    try:
        return prepare_folder(out)
    except RunFolderError as error:
        raise RunFolderError(f"--out {error}") from None
    except OSError as error:
        raise RunFolderError(f"--out {out} cannot be written ({error.strerror or error}); nothing was trained") from None


@dataclass
class ScoredRun:
    """What :func:`train_and_score` returns: the training and what the run record says of it."""

    training: "TrainingRun"
    #: Counts per region and label, the last pass's accuracy and, with true labels, the label errors found.
    summary: dict[str, Any]
    #: With true labels that differ from the given ones: (found in the top 5%, label errors, size of the top 5%).
    label_errors_found: tuple[int, int, int] | None = None
    #: Seconds the 2-D projection of the embeddings took (None: none was made), or why none was made.
    projection_s: float | None = None
    projection_skipped: str | None = None

    @property
    def datamap(self) -> DataMap:
        return self.training.datamap


def train_and_score(
    texts: Sequence[str],
    labels: Sequence[Any],
    ids: Sequence[Any],
    *,
    true_labels: Sequence[Any] | None = None,
    projection: str | None = None,
    score: bool = True,
    **training: Any,
) -> ScoredRun:
    """Fine-tune (:func:`datamap_widget.train.fine_tune` with the ``training`` keywords) and
    summarise the map the run record keeps.

    ``true_labels`` (audited labels, one per example) add how many of the label errors the
    top 5% of the ranking holds. ``score=False`` (the other ranks of a distributed run, which
    write nothing) skips the summary and the projection.

    ``projection``: when the map has embeddings, its 2-D projection (the widget's embedding
    view, :meth:`DataMap.projection`) is made here, once, and saved with the map, so that a
    widget opened on the run shows that view at once instead of computing it (24 s for 600
    points on a loaded machine). A method of
    :data:`~datamap_widget.projection.PROJECTION_METHODS`, None for the measured default
    (t-SNE when openTSNE is installed, else PCA), or ``"none"`` to skip it.
    """
    from . import train  # looked up at call time: tests stand a fake in for fine_tune

    run = train.fine_tune(texts, labels, ids, **training)
    if not score:
        return ScoredRun(run, {})
    dmap = run.datamap
    frame = dmap.frame
    summary: dict[str, Any] = {
        "categories": frame["category"].value_counts().to_dict(),
        "labels": frame["label"].value_counts().to_dict(),
        "final_train_accuracy": run.train_accuracy[-1] if run.train_accuracy else None,
    }
    projection_s, skipped = _project(dmap, projection, training.get("seed", 0))
    found_errors = None
    if true_labels is not None:
        errors = {i for i, t, g in zip(ids, map(str, true_labels), map(str, labels)) if t != g}
        top = dmap.suspects(frac=0.05, include_reviewed=True)
        found = len(errors & set(top.index.tolist()))
        summary["label_errors"] = len(errors)
        summary["label_errors_in_top_5pct"] = found
        if errors:
            found_errors = (found, len(errors), len(top))
    return ScoredRun(run, summary, found_errors, projection_s, skipped)


def _project(dmap: DataMap, method: str | None, seed: int) -> tuple[float | None, str | None]:
    """Make ``dmap``'s projection (kept on the map, saved with it); (seconds, None) or (None, why not)."""
    if method == "none":
        return None, "not asked for (--projection none)"
    if dmap.embeddings is None:
        return None, "the run kept no embeddings"
    started = time.perf_counter()
    try:
        dmap.projection(method, seed=seed)
    except ValueError as error:  # too few examples with an embedding: the map is no worse without it
        return None, str(error)
    return round(time.perf_counter() - started, 3), None


def versions() -> dict[str, str]:
    """The versions of Python and of the packages a run depends on, for its record."""
    out = {"python": platform.python_version()}
    for name in ("datamap_widget", "torch", "transformers", "numpy", "pandas", "pyarrow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


def run_record(
    scored: ScoredRun,
    *,
    data: str,
    columns: dict[str, Any],
    world_size: int = 1,
    keep_checkpoint: bool = False,
    started: float | None = None,
) -> dict[str, Any]:
    """The run record (``run.json``): every setting, versions, timings and the summary.

    ``started``: the ``time.perf_counter()`` at which the work after training began; its time
    is the record's ``write_s``.
    """
    run, dmap = scored.training, scored.datamap
    after = 0.0 if started is None else time.perf_counter() - started
    return {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "datamap train",
        "data": data,
        "columns": columns,
        "settings": {**run.settings, "method": dmap.method, "thresholds": dmap.thresholds, "projection": dmap.projection_method},
        "device": run.device,
        "versions": versions(),
        "timings": {
            **run.timings,
            **({"projection_s": scored.projection_s} if scored.projection_s is not None else {}),
            "write_s": round(after, 3),
        },
        "summary": scored.summary,
        "world_size": world_size,
        "checkpoint": {
            "bytes": run.settings.get("checkpoint_bytes"),
            "kept": bool(keep_checkpoint),
            "resumed_after_pass": run.settings.get("resumed_after_pass"),
        },
    }


class SavedRun(NamedTuple):
    """Where :func:`save_run` wrote a run, and why not where asked (None when it was)."""

    folder: Path
    failure: str | None


def save_run(
    folder: str | os.PathLike,
    dmap: DataMap,
    texts: Sequence[str],
    record: dict[str, Any],
    *,
    overwrite: bool = False,
    created: bool = False,
) -> SavedRun:
    """Write a finished run to ``folder``, or, when that fails, to a new temporary folder.

    A finished run is never thrown away: on an OSError (a full disk, a folder gone) the files
    it had begun in ``folder`` are gone (see :func:`write_run`), and so is the folder when it
    was ``created`` for this run; the run goes to a fresh temporary folder, and ``failure``
    says where. The run's own checkpoint (or, resuming, the run it continues) is no other run
    to protect: a folder holding only a checkpoint is written over without ``overwrite``.
    """
    out = Path(folder)
    replace = overwrite or set(run_files(out)) <= {CHECKPOINT_FILE}
    try:
        write_run(out, dmap, texts, record, overwrite=replace)
    except OSError as error:
        if created:
            remove_if_empty(out)
        fallback = Path(tempfile.mkdtemp(prefix="datamap-run-"))
        write_run(fallback, dmap, texts, record)
        return SavedRun(fallback, f"could not write the run to {out} ({error.strerror or error}); it was written to {fallback} instead")
    return SavedRun(out, None)


def finish_checkpoint(folder: str | os.PathLike, size: int | None, keep: bool) -> str:
    """Remove a completed run's checkpoint unless ``keep``; one line saying what became of it, and its size."""
    from .checkpoint import remove_checkpoint

    if size is None:
        return "no checkpoint was written"
    if not keep:
        remove_checkpoint(Path(folder))
        return f"checkpoint ({size / 2**20:.1f} MiB, rewritten after every pass) removed: the run is complete"
    return f"kept {Path(folder) / CHECKPOINT_FILE} ({size / 2**20:.1f} MiB)"
