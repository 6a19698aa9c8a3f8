"""Files written whole or not at all: a temporary file beside the target, renamed into place.

Every file the package writes for a user (a saved map, a run folder, a report, a figure, an
export) goes through here. A write that fails halfway (a full disk, an interrupt) removes its
temporary file and leaves the earlier file, if any, exactly as it was; a reader never meets
a half-written file under the target's name.

How: the new content goes to a hidden temporary file in the target's folder (same file
system, so the rename cannot copy), is flushed to disk (``fsync``), and ``os.replace`` puts
it in place in one step; the folder is then synced so the rename survives a power cut.

Several files (a run folder's three) are written as a set: all temporary files first, then
the renames, one after another. A crash between two renames leaves some files new and some
old, each of them whole; POSIX has no rename of several files at once.

This module imports only the standard library, so any module may use it.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

__all__ = ["atomic_open", "atomic_paths"]


@contextmanager
def atomic_paths(*targets: str | os.PathLike) -> Iterator[tuple[Path, ...]]:
    """Temporary paths to write ``targets`` through; renamed into place when the block succeeds.

    Yields one empty temporary file per target, in the target's own folder. Write each one
    whole (by path: ``frame.to_parquet(tmp)``, ``tmp.write_text(…)``). When the block ends
    without an exception each is synced to disk and renamed over its target, in the order
    given; when it raises (or a rename fails), every temporary file still there is removed
    and the exception goes on, with the targets not yet renamed untouched.

    A target that is a symbolic link is written through it (the file it points to is
    replaced, the link stays). A target that exists keeps its permission bits.
    """
    paths = [_resolve(Path(target)) for target in targets]
    for path in paths:
        if path.is_dir():  # what open(path, "w") says, not a rename error naming a temporary file
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    modes = [_mode(path) for path in paths]
    temps: list[Path] = []
    try:
        for path in paths:
            temps.append(_create_temp(path))
        yield tuple(temps)
        for temp, mode in zip(temps, modes):
            _fsync_file(temp)
            if mode is not None:
                os.chmod(temp, mode)
        for temp, path in zip(temps, paths):
            os.replace(temp, path)
        for folder in dict.fromkeys(path.parent for path in paths):
            _fsync_dir(folder)
    finally:
        for temp in temps:  # after the renames: none is left; after a failure: each is removed
            try:
                temp.unlink()
            except FileNotFoundError:
                pass


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """``open(path, mode)`` for writing, except that ``path`` changes only when the block succeeds.

    ``mode`` is ``"wb"`` or ``"w"`` (keywords such as ``encoding`` go to :func:`open`). See
    :func:`atomic_paths`.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb' (a whole new file), got {mode!r}")
    with atomic_paths(path) as (temp,):
        with open(temp, mode, **kwargs) as handle:
            yield handle


def _resolve(path: Path) -> Path:
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _mode(path: Path) -> int | None:
    """The permission bits of an existing file, which its replacement keeps; None for a new one."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


def _create_temp(path: Path) -> Path:
    """An empty, new, hidden file beside ``path``, with the permissions a plain ``open`` gives."""
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:  # pragma: no cover - a 32-bit random name taken
            continue
        except OSError as error:  # no such folder, no permission: name the file the caller asked for
            raise type(error)(error.errno, error.strerror, str(path)) from None
        return temp


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)
