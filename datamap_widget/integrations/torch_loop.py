"""Plain PyTorch loops: make the example ids travel with the batches of any DataLoader.

The tracker needs, for every forward pass, the ids of the batch's examples. With
shuffling, samplers, ``DistributedSampler`` or ``accelerator.prepare`` the order of the
examples is not known in advance, so the ids must ride along with the data. Wrap the
dataset in :class:`WithIds` and give the loader a :class:`CollateWithIds`; each batch is
then ``(ids, batch)``, whatever the sampler, the number of workers or the processes::

    from torch.utils.data import DataLoader
    from datamap_widget import Tracker
    from datamap_widget.integrations import WithIds, CollateWithIds

    tracker = Tracker(ids, labels)
    loader = DataLoader(WithIds(dataset, ids), batch_size=32, shuffle=True,
                        collate_fn=CollateWithIds(my_collate))   # my_collate: yours, or None
    for epoch in range(epochs):
        for batch_ids, (inputs, targets) in loader:
            logits = model(inputs)
            loss = F.cross_entropy(logits, targets)
            loss.backward(); optimizer.step(); optimizer.zero_grad()
            tracker.record(batch_ids, logits)   # detached inside; no host sync on a GPU
        tracker.end_epoch()

Record the training-time logits (the forward pass the loss came from), as the Dataset
Cartography paper does: mapping then costs nothing on top of training. With gradient
accumulation record every micro-batch; an example seen twice in one pass is averaged.
For DDP or Accelerate add ``gather_across_ranks(tracker)`` (see
:mod:`datamap_widget.integrations.distributed`); with Accelerate, ``accelerator.prepare``
the loader as usual: the ids are part of each batch, so they are sharded with it.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

__all__ = ["CollateWithIds", "WithIds"]


class WithIds(Dataset):
    """A map-style dataset whose items are ``(id, item)``.

    Parameters
    ----------
    dataset : any map-style dataset (``len`` and integer indexing), e.g. a list of dicts.
    ids : one id per item, in the dataset's order (the same ids given to
        :class:`~datamap_widget.Tracker`); default the positions ``0..len(dataset)-1``.
    """

    def __init__(self, dataset: Any, ids: Sequence[Any] | None = None):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"dataset must be map-style (support len() and dataset[i]), got {type(dataset).__name__}; "
                "for an IterableDataset, yield (id, item) pairs from it yourself"
            )
        n = len(dataset)
        if ids is None:
            ids = np.arange(n)
        elif len(ids) != n:
            raise ValueError(f"ids has {len(ids)} entries but dataset has {n} items")
        self.dataset = dataset
        # A numpy array: cheap to index, cheap to pickle to DataLoader workers.
        self.ids = ids.detach().cpu().numpy() if isinstance(ids, torch.Tensor) else np.asarray(ids)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.ids[index].item(), self.dataset[index]


class CollateWithIds:
    """Collate ``(id, item)`` pairs into ``(ids, batch)``; a class so workers can pickle it.

    Parameters
    ----------
    collate_fn : collates the items without their ids; default
        ``torch.utils.data.default_collate``.

    ``ids`` is an int64 tensor when the ids are ints (it then moves to the GPU with the
    batch and is looked up there), else a list of str.
    """

    def __init__(self, collate_fn: Callable[[list[Any]], Any] | None = None):
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"collate_fn must be callable or None, got {type(collate_fn).__name__}")
        self.collate_fn = collate_fn or default_collate

    def __call__(self, pairs: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        if pairs and not (isinstance(pairs[0], tuple) and len(pairs[0]) == 2):
            raise TypeError(
                f"CollateWithIds expects (id, item) pairs from a WithIds dataset, got {type(pairs[0]).__name__} items"
            )
        ids = [pair[0] for pair in pairs]
        return batch_ids(ids), self.collate_fn([pair[1] for pair in pairs])


def batch_ids(ids: list[Any]) -> Any:
    """A batch's ids as an int64 tensor when they are ints, else as a list of str."""
    if ids and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ids):
        return torch.as_tensor(ids, dtype=torch.int64)
    return list(ids)
