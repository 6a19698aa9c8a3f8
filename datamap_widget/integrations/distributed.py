"""Distributed training (DDP, torchrun, Accelerate): every rank records its shard, every pass is merged.

Under ``torch.distributed`` each process sees only its shard of the data, so each rank's
tracker holds a part of every pass. :func:`gather_across_ranks` makes
:meth:`Tracker.end_epoch` merge the ranks' records of the pass it closes, so that after
each epoch **every rank (rank 0 included) holds the whole map** and ``tracker.datamap()``
needs no communication::

    tracker = Tracker(ids, labels)          # the same ids and labels on every rank
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for ids, batch in loader:           # DistributedSampler or accelerator.prepare(loader)
            logits = model(**batch).logits
            tracker.record(ids, logits)     # this rank's shard
            ...
        tracker.end_epoch()                 # collective: call it on every rank
    if rank == 0:
        tracker.datamap().to_parquet("datamap.parquet")

This happens by itself: whenever ``torch.distributed`` is initialized with two or more
processes, ``end_epoch`` merges the ranks (a collective: **call it on every rank, in step**).
``Tracker(ids, labels, gather=False)`` opts out and keeps each rank's shard.
:func:`gather_across_ranks` sets the merge explicitly, e.g. for another process ``group``.

Why merge at ``end_epoch`` and not in ``datamap()``: ``end_epoch`` is where every rank
already is, once per epoch, in step; ``datamap()`` is often called on rank 0 only (to save
or show the map) and a collective there would hang the other ranks. The transformers
callback (:class:`~datamap_widget.integrations.DataMapCallback`) installs this by itself when
the Trainer runs on several processes.

What is merged: each rank's sums and counts of the pass (not means), its last predicted
classes and its summed class probabilities, as :attr:`Tracker.pass_hook` hands them over:
one ``all_gather`` of a ``(7 + C, N)`` float64 array per epoch (``(7, N)`` with
``Tracker(class_probabilities=False)``), whatever the number of batches.

Padded samples count once: ``DistributedSampler`` (and Accelerate) pad the last round
by repeating the first indices of the epoch's order, so that all ranks get as many
samples; an example may then be recorded on two ranks in one pass. The rule is **keep
the record of the lowest rank that saw the example in the pass** (that rank's own
within-pass average when it saw it several times). With ``DistributedSampler`` the
original always sits on a lower rank than its padded copy (the copy of position ``j <
pad`` goes to rank ``W - pad + j > j``), so this keeps the real sample and drops the
padding. (Accelerate's ``even_batches`` completes the last batches with the first
samples in the same way; when that puts a copy on the rank that already holds the
original, the two are averaged like any example seen twice in one pass.) The rule also
makes loops that gather the logits themselves (``accelerator.gather_for_metrics``) and
record the same batch on every rank come out right: identical records are kept once.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ..tracker import Tracker

__all__ = ["gather_across_ranks", "is_distributed", "merge_shards"]

# Rows of the array one rank sends: count, the 4 float sums, the 2 last class indices.
_ROWS = 7


def is_distributed(group: Any = None) -> bool:
    """True when ``torch.distributed`` is initialized with more than one process."""
    import sys

    if "torch.distributed" not in sys.modules:  # never import torch just to find out
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def merge_shards(shards: np.ndarray) -> np.ndarray:
    """Merge the ranks' accumulators of one pass: the lowest rank with a record wins.

    Parameters
    ----------
    shards : float array ``(W, R, N)`` with ``R >= 7``: per rank, row 0 the record count per
        example, rows 1-4 the summed statistics, rows 5-6 the last argmax and other class,
        and any further rows (the summed class probabilities) merged alike.

    Returns
    -------
    ``(R, N)``: per example, the rows of the lowest rank whose count is > 0 (all-zero counts
    give rank 0's rows, i.e. a pass in which the example is missing).
    """
    shards = np.asarray(shards)
    if shards.ndim != 3 or shards.shape[1] < _ROWS:
        raise ValueError(f"shards must have shape (ranks, {_ROWS} or more, examples), got {shards.shape}")
    has = shards[:, 0, :] > 0  # (W, N)
    owner = np.argmax(has, axis=0)  # first True = lowest rank; 0 where no rank has it
    columns = np.arange(shards.shape[2])
    return shards[owner, :, columns].T


def _id_bytes(ids: np.ndarray) -> bytes:
    """The ids as bytes that are equal on every rank (an object array's raw bytes are pointers)."""
    if ids.dtype.kind != "O":
        return np.ascontiguousarray(ids).tobytes()
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    return lengths.tobytes() + "".join(ids.tolist()).encode("utf-8", "surrogatepass")


class _RankMerger:
    """The :attr:`Tracker.pass_hook` that all-gathers a pass's accumulators and merges them."""

    def __init__(self, tracker: Tracker, group: Any = None):
        self.group = group
        self.n_examples = tracker.n_examples
        # A fingerprint of ids and labels: ranks whose trackers differ would merge nonsense.
        # 48 bits of a hash fit a float64 exactly, so it travels in the same tensor as the size.
        digest = hashlib.sha256(_id_bytes(tracker.ids))
        digest.update(np.ascontiguousarray(tracker.labels, dtype=np.int64).tobytes())
        self.fingerprint = float(int.from_bytes(digest.digest()[:6], "little"))

    def __call__(self, accumulators: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not is_distributed(self.group):
            return accumulators
        import torch
        import torch.distributed as dist

        world = dist.get_world_size(self.group)
        # NCCL moves only CUDA tensors; gloo and others take CPU ones.
        backend = dist.get_backend(self.group)
        device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")

        # First a tiny gather that checks every rank tracks the same examples, so that a
        # mismatch raises the same error on every rank instead of hanging the big gather.
        header = torch.tensor([float(self.n_examples), self.fingerprint], dtype=torch.float64, device=device)
        headers = [torch.empty_like(header) for _ in range(world)]
        dist.all_gather(headers, header, group=self.group)
        headers_np = torch.stack(headers).cpu().numpy()
        if not (headers_np == headers_np[0]).all():
            sizes = headers_np[:, 0].astype(int).tolist()
            raise ValueError(
                f"the trackers of the {world} ranks differ (examples per rank: {sizes}, or other ids/labels): "
                "create Tracker(ids, labels) with the same ids and labels, in the same order, on every rank"
            )

        count = accumulators["count"][None].astype(np.float64)
        parts = [count, accumulators["sums"], accumulators["last"].astype(np.float64)]
        if "probs" in accumulators:  # (N, C) -> C more rows, so one gather and one owner rule serve all
            parts.append(accumulators["probs"].T.astype(np.float64))
        packed = np.concatenate(parts)
        local = torch.from_numpy(packed).to(device)
        gathered = [torch.empty_like(local) for _ in range(world)]
        dist.all_gather(gathered, local, group=self.group)
        merged = merge_shards(torch.stack(gathered).cpu().numpy())
        out = {
            "count": merged[0].astype(np.int64),
            "sums": merged[1:5],
            "last": merged[5:7].astype(np.int64),
        }
        if "probs" in accumulators:
            out["probs"] = np.ascontiguousarray(merged[_ROWS:].T, dtype=np.float32)
        return out


def _merger_when_distributed(tracker: Tracker) -> "_RankMerger | None":
    """:attr:`Tracker.automatic_pass_hook`: the all-ranks merge, once torch.distributed runs two or more processes."""
    return _RankMerger(tracker) if is_distributed() else None


# Plugged in on import (``datamap_widget/__init__`` imports this module; it loads no torch):
# every Tracker made with gather=True merges the ranks' passes under torch.distributed.
Tracker.automatic_pass_hook = _merger_when_distributed


def gather_across_ranks(tracker: Tracker, group: Any = None) -> Tracker:
    """Make ``tracker.end_epoch()`` merge all ranks' records of each pass (a collective).

    Parameters
    ----------
    tracker : the :class:`Tracker` of this rank, built with the same ids and labels on
        every rank.
    group : the ``torch.distributed`` process group; default the whole world.

    Returns the tracker, so ``tracker = gather_across_ranks(Tracker(ids, labels))`` reads as
    one line. Without an initialized process group of two or more processes (e.g. a
    single-GPU run of the same script), ``end_epoch`` keeps the local records: the call is
    safe to leave in. Once set, call ``end_epoch`` on every rank, in step (it is a
    collective); ``datamap()`` is local and may be called on rank 0 only.
    """
    if not isinstance(tracker, Tracker):
        raise TypeError(f"tracker must be a datamap_widget.Tracker, got {type(tracker).__name__}")
    tracker.pass_hook = _RankMerger(tracker, group)
    return tracker
