"""What the integrations add to a training step and to an epoch's end: plain figures, one table.

    python benchmarks/integrations_overhead.py [--examples 1000000] [--ranks 2]

- ``record`` per batch (host path: numpy logits; device path forced on CPU tensors, the code
  a GPU runs, here only to compare the Python overhead);
- the collator wrapper of :class:`DataMapCallback` per batch (ids out, user's collator, ids in);
- the per-epoch merge of the ranks' accumulators (:func:`merge_shards`) for N examples.

On a machine whose cores are busy with other work, run it with ``OMP_NUM_THREADS=1``:
otherwise torch's parallel kernels wait for a descheduled thread at their barrier and even
a (32, 6) softmax takes ~10 ms, which measures the machine, not the code.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from datamap_widget import Tracker
from datamap_widget.integrations import merge_shards
from datamap_widget.integrations.hf_trainer import _CollateIdColumn


def per_call(fn, repeat: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1_000_000)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--classes", type=int, default=6)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n, b, c = args.examples, args.batch, args.classes
    ids = [f"ex-{k}" for k in range(n)]
    labels = rng.integers(0, c, n)
    rows = []

    host = Tracker(ids, labels)
    batch_ids = [ids[k] for k in rng.choice(n, b, replace=False)]
    logits = rng.normal(size=(b, c)).astype(np.float32)
    rows.append(("record, host path (str ids)", f"batch {b}", per_call(lambda: host.record(batch_ids, logits), 2000)))
    device = Tracker(ids, labels)
    device._force_device_path = True
    tensor = torch.from_numpy(logits)
    rows.append(("record, device path on CPU", f"batch {b}", per_call(lambda: device.record(batch_ids, tensor), 500)))

    collate = _CollateIdColumn(lambda feats: {"x": torch.tensor([f["x"] for f in feats])}, "id")
    features = [{"id": i, "x": 1.0} for i in batch_ids]
    rows.append(("callback collator wrapper", f"batch {b}", per_call(lambda: collate(features), 2000)))

    shards = np.zeros((args.ranks, 7, n))
    for r in range(args.ranks):
        seen = rng.random(n) < 1.0 / args.ranks + 0.01
        shards[r, 0] = seen
    rows.append(("merge_shards per epoch", f"{n:,} ex x {args.ranks} ranks", per_call(lambda: merge_shards(shards), 5)))

    print(f"{'operation':<32} {'size':<24} {'time':>12}")
    for name, size, seconds in rows:
        shown = f"{seconds * 1e6:,.1f} us" if seconds < 1e-2 else f"{seconds * 1e3:,.1f} ms"
        print(f"{name:<32} {size:<24} {shown:>12}")


if __name__ == "__main__":
    main()
