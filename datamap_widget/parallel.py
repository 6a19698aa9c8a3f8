"""One model across processes: how :func:`~datamap_widget.train.fine_tune` trains under ``torchrun``.

Launched by ``torchrun`` (or ``accelerate launch``, which starts its processes the same way),
each process finds ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous address in its
environment; :func:`join_ranks` opens the process group from them (NCCL on GPUs, gloo on
CPUs) and the model is wrapped in ``DistributedDataParallel``. Nothing here chooses hosts or
ports: torchrun's own rendezvous does.

How a pass is shared (:func:`shard_steps`): every rank draws the same batch plan from the
same seeded generator, and step ``s`` gives rank ``r`` the plan's batch ``s * W + r``. So
every example is trained, and recorded, exactly once per pass, on one rank; nothing is padded
or repeated. When the batches do not divide evenly, the ranks left without one in the last
step run a one-row forward whose loss is multiplied by zero (DDP needs every rank in every
gradient all-reduce) and record nothing. Each rank's loss is weighted by its share of the
step's rows, so DDP's average of the ranks' gradients is the gradient of the mean loss over
the whole step: ``--batch-size`` is per process, a step trains ``W`` batches.

The tracker merges the ranks' records at each ``end_epoch`` (see
:mod:`datamap_widget.integrations.distributed`); the few things it does not hold (a window
pool, the last pass's embeddings, the training accuracy) are summed here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["Ranks", "join_ranks", "launched_ranks", "shard_steps"]


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes (``world_size`` 1: a plain run)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """Whether this process announces, prints and writes (rank 0)."""
        return self.rank == 0


def launched_ranks() -> Ranks:
    """The ranks torchrun / accelerate describe in the environment (no process group opened)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        return Ranks()
    return Ranks(rank, world, local) if world > 1 else Ranks()


def join_ranks() -> Ranks:
    """Open the process group that torchrun's environment describes, once; the ranks.

    An already initialized ``torch.distributed`` (a user's own script) is used as it is.
    Outside torchrun: a plain single-process :class:`Ranks`.
    """
    import sys

    launched = launched_ranks()
    if not launched.distributed and "torch.distributed" not in sys.modules:
        return Ranks()
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        return Ranks()
    if not dist.is_initialized():
        if not launched.distributed:
            return Ranks()
        backend = "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(launched.local_rank)
        dist.init_process_group(backend)
    world = dist.get_world_size()
    if world < 2:
        return Ranks()
    return Ranks(dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", dist.get_rank())))


def leave_ranks() -> None:
    """Close the process group :func:`join_ranks` opened (the command's last act)."""
    import sys

    if "torch.distributed" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def rank_device(device: str | None, ranks: Ranks, pick: Callable[[str | None], str]) -> str:
    """The device of this rank: under DDP on GPUs its own (``cuda:LOCAL_RANK``)."""
    chosen = pick(device)
    if ranks.distributed and chosen == "cuda":
        return f"cuda:{ranks.local_rank}"
    return chosen


def shard_steps(batches: Sequence[np.ndarray], ranks: Ranks) -> list[tuple[np.ndarray | None, int]]:
    """This rank's share of a pass: per step, its batch (None when it has none) and the rows
    the whole step trains (all ranks together), for weighting its loss."""
    w = ranks.world_size
    steps = []
    for start in range(0, len(batches), w):
        group = batches[start : start + w]
        mine = group[ranks.rank] if ranks.rank < len(group) else None
        steps.append((mine, int(sum(len(b) for b in group))))
    return steps


def steps_per_pass(n_batches: int, ranks: Ranks) -> int:
    return -(-n_batches // ranks.world_size)


def _comm_device(torch: Any) -> Any:
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def sum_across(arrays: Sequence[np.ndarray], ranks: Ranks) -> None:
    """Sum numeric numpy arrays over the ranks, in place (a collective; a no-op in one process)."""
    if not ranks.distributed:
        return
    import torch
    import torch.distributed as dist

    device = _comm_device(torch)
    for array in arrays:
        tensor = torch.from_numpy(np.ascontiguousarray(array)).to(device)
        dist.all_reduce(tensor)
        array[...] = tensor.cpu().numpy()


def wait_for_all(ranks: Ranks) -> None:
    """A barrier: no rank goes on before every rank got here (a no-op in one process)."""
    if ranks.distributed:
        import torch.distributed as dist

        dist.barrier()


def any_rank(flag: bool, ranks: Ranks) -> bool:
    """Whether any rank says True (so that all stop at the same step)."""
    if not ranks.distributed:
        return bool(flag)
    value = np.array([1 if flag else 0], dtype=np.int64)
    sum_across([value], ranks)
    return bool(value[0])


def merge_embeddings(tracker: Any, ranks: Ranks, dim: int) -> None:
    """Give every rank's tracker the embeddings all ranks recorded (each example was on one
    rank in the pass that took them); the tracker's own merge carries statistics only."""
    if not ranks.distributed:
        return
    n = tracker.n_examples
    local = tracker.embeddings
    values = np.zeros((n, dim), dtype=np.float32)
    seen = np.zeros(n, dtype=np.float32)
    if local is not None:
        have = np.isfinite(local).all(axis=1)
        values[have] = local[have]
        seen[have] = 1
    sum_across([values, seen], ranks)
    merged = np.full((n, dim), np.nan, dtype=np.float16)
    have = seen > 0
    merged[have] = (values[have] / seen[have, None]).astype(np.float16)
    tracker.embeddings = merged if have.any() else None


def from_main(value: Any, ranks: Ranks) -> Any:
    """Rank 0's ``value`` on every rank (a collective; pickled, for small or rare objects)."""
    if not ranks.distributed:
        return value
    import torch.distributed as dist

    box = [value if ranks.main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def on_main(work: Callable[[], Any], ranks: Ranks, errors: tuple[type[BaseException], ...]) -> Any:
    """Run ``work`` on rank 0 only and hand its result to every rank; one of ``errors`` it
    raises is raised on every rank alike (so no rank waits forever for one that gave up)."""
    outcome: Any = None
    if ranks.main:
        try:
            outcome = ("ok", work())
        except errors as error:
            if not ranks.distributed:
                raise
            outcome = ("error", error)
    outcome = from_main(outcome, ranks)
    if outcome[0] == "error":
        raise outcome[1]
    return outcome[1]
