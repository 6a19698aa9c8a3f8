"""A training run's checkpoint: what ``datamap train --resume`` continues a killed run from.

At the end of every pass :func:`~datamap_widget.train.fine_tune` (given ``checkpoint_dir``)
keeps one file, :data:`CHECKPOINT_FILE`, in the run folder: the model's weights, the
optimizer and scheduler states, every random generator's state (Python, numpy's global one,
the generator that orders the batches, torch's, CUDA's), the tracker's closed passes, and a
fingerprint of the data and settings. It is written whole or not at all
(:mod:`datamap_widget.atomic`), so a kill at any moment leaves the previous complete pass's
checkpoint, never half of one. Continuing from it trains the remaining passes exactly as an
uninterrupted run would have (same batches, same dropout masks, same updates).

Loading is ``torch.load(weights_only=True)``: a checkpoint holds tensors and plain values
only, so a foreign file cannot run code when it is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Sequence

from .atomic import atomic_paths

__all__ = ["CHECKPOINT_FILE", "CheckpointError", "data_fingerprint", "load_checkpoint", "remove_checkpoint", "save_checkpoint"]

CHECKPOINT_FILE = "checkpoint.pt"

#: Bumped when the checkpoint's layout changes; an older layout is refused by name.
FORMAT = 1


class CheckpointError(ValueError):
    """No checkpoint to resume, a damaged one, or one of another run; the message says which."""


def checkpoint_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / CHECKPOINT_FILE


def data_fingerprint(texts: Sequence[str], labels: Sequence[Any], ids: Sequence[Any], extra: Sequence[str] = ()) -> str:
    """A sha256 of the examples (texts, labels and ids, in order) and any ``extra`` texts:
    a checkpoint made on other data is refused, not continued on this one."""
    digest = hashlib.sha256()
    for part in (texts, list(map(repr, labels)), list(map(repr, ids)), list(extra)):
        digest.update(str(len(part)).encode())
        digest.update("\x1f".join(part).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def save_checkpoint(folder: str | os.PathLike, state: dict[str, Any]) -> int:
    """Write ``state`` as the folder's checkpoint, whole or not at all; returns its size in bytes."""
    import torch

    target = checkpoint_path(folder)
    with atomic_paths(target) as (temporary,):
        torch.save({"format": FORMAT, **state}, temporary)
    return target.stat().st_size


def load_checkpoint(folder: str | os.PathLike, fingerprint: str, settings: dict[str, Any], world_size: int) -> dict[str, Any]:
    """The folder's checkpoint, checked against the run that wants to continue it.

    CheckpointError (one line, naming the file) when there is none, when it cannot be read,
    or when it was made on other data, with other settings, or on another number of processes.
    """
    import torch

    path = checkpoint_path(folder)
    if not path.is_file():
        raise CheckpointError(f"{Path(folder)} holds no checkpoint ({CHECKPOINT_FILE}) to resume: start the run without --resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        detail = " ".join(str(error).split())[:160] or type(error).__name__
        raise CheckpointError(f"{path} could not be read as a checkpoint ({type(error).__name__}: {detail}); it is damaged: start the run again without --resume") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a checkpoint this version of datamap_widget wrote (format {state.get('format') if isinstance(state, dict) else '?'}, expected {FORMAT})")
    if state.get("data_fingerprint") != fingerprint:
        raise CheckpointError(f"{path} was made on other data (texts, labels or ids differ): resume with the data the run started on, or start a new run")
    saved = json.loads(state.get("settings", "{}"))
    settings = json.loads(settings_json(settings))  # compared as stored: tuples as lists, floats as JSON reads them
    changed = {key: (saved.get(key), value) for key, value in settings.items() if saved.get(key) != value}
    if changed:
        said = ", ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in sorted(changed.items()))
        raise CheckpointError(f"{path} was made with other settings ({said}): resume with the run's own settings, or start a new run")
    if state.get("world_size") != world_size:
        raise CheckpointError(
            f"{path} was made by {state.get('world_size')} process(es), this run has {world_size}: "
            f"resume with {state.get('world_size')} (e.g. torchrun --nproc-per-node {state.get('world_size')})"
        )
    return state


def remove_checkpoint(folder: str | os.PathLike) -> None:
    """Remove the folder's checkpoint, if any (a finished run no longer needs it)."""
    try:
        checkpoint_path(folder).unlink()
    except FileNotFoundError:
        pass


def settings_json(settings: dict[str, Any]) -> str:
    """Settings as the JSON a checkpoint stores (a str: ``weights_only`` loading takes it as is)."""
    return json.dumps(settings, sort_keys=True, default=str)
