"""One rank of the 2-process gloo test in test_integrations.py (run as a script, torchrun-style env).

Each rank builds the same Tracker, iterates its DistributedSampler shard, records fixed
synthetic logits per (id, epoch) and, for the samples the sampler padded in (duplicates),
logits that are deliberately different: if the merge counted a padded duplicate, the map
would differ from the single-process one. Writes the trajectories and class probabilities it ends with to argv[1].
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from datamap_widget import Tracker
from datamap_widget.integrations import CollateWithIds, WithIds, gather_across_ranks

N_EXAMPLES = 11  # odd, so DistributedSampler pads one duplicate per epoch over 2 ranks
N_CLASSES = 3
EPOCHS = 3
IDS = [f"ex-{i:02d}" for i in range(N_EXAMPLES)]
LABELS = [i % N_CLASSES for i in range(N_EXAMPLES)]


def synthetic_logits(ids: list[str], epoch: int) -> np.ndarray:
    """Logits fixed per (id, epoch), the same in any process and any batch order."""
    rows = [np.random.default_rng(int(i.split("-")[1]) * 100 + epoch).normal(0.0, 2.0, N_CLASSES) for i in ids]
    return np.stack(rows).astype(np.float32)


def main(out: str, mode: str = "explicit") -> None:
    """``mode``: "explicit" calls gather_across_ranks; "plain" is a plain loop that relies on the
    tracker's own merge, beside an opted-out tracker (gather=False) fed the same batches."""
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    tracker = Tracker(IDS, LABELS) if mode == "plain" else gather_across_ranks(Tracker(IDS, LABELS))
    local_only = Tracker(IDS, LABELS, gather=False)
    dataset = WithIds(list(range(N_EXAMPLES)), IDS)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler, collate_fn=CollateWithIds())
    padded_seen = 0
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        local = 0
        for batch_ids, _ in loader:
            logits = synthetic_logits(batch_ids, epoch)
            for row in range(len(batch_ids)):
                # Global position of this sample in the sampler's padded list: >= N means padding.
                if rank + (local + row) * world >= N_EXAMPLES:
                    logits[row] = np.array([9.0, -9.0, 9.0])[: N_CLASSES] * (1 + rank)
                    padded_seen += 1
            local += len(batch_ids)
            tracker.record(batch_ids, torch.from_numpy(logits))
            local_only.record(batch_ids, torch.from_numpy(logits))
        tracker.end_epoch()
        local_only.end_epoch()
    padded = torch.tensor([padded_seen])
    dist.all_reduce(padded)
    local_seen = (~np.isnan(local_only.trajectories()["gold_prob"])).sum()
    np.savez(out, padded=padded.item(), local_seen=local_seen, class_probabilities=tracker.datamap().class_probabilities,
             **tracker.trajectories())
    dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main(*sys.argv[1:])
