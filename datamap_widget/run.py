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
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

import pandas as pd

from .atomic import atomic_paths
from .checkpoint import CHECKPOINT_FILE
from .datamap import DATAMAP_FILE, DataMap

if TYPE_CHECKING:  # pragma: no cover
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

        Keywords go to the widget (``store``, ``dataset``, ``reviewer``…).
        """
        data = None if self.texts is None else pd.DataFrame({"id": self.texts.index, "text": self.texts.to_numpy()})
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
