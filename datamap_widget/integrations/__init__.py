"""Feeding a :class:`~datamap_widget.Tracker` from a training loop.

- :class:`DataMapCallback` (``hf_trainer``): one line for ``transformers.Trainer``, and
  :func:`train_in_background` to run ``trainer.train()`` in a thread with a handle;
- :class:`WithIds`, :class:`CollateWithIds` (``torch_loop``): ids travel with the
  batches of any PyTorch DataLoader;
- :func:`gather_across_ranks` (``distributed``): DDP, torchrun and Accelerate, every rank
  records its shard and each pass is merged.

Names load lazily: importing this package imports neither transformers nor torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["CollateWithIds", "DataMapCallback", "WithIds", "gather_across_ranks", "merge_shards", "train_in_background"]

_HOMES = {
    "DataMapCallback": "hf_trainer",
    "train_in_background": "hf_trainer",
    "WithIds": "torch_loop",
    "CollateWithIds": "torch_loop",
    "gather_across_ranks": "distributed",
    "merge_shards": "distributed",
}


#: What each home module imports at its top, so a missing one names the extra to install.
_NEEDS = {"hf_trainer": ("torch", "transformers"), "torch_loop": ("torch",), "distributed": ()}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        from ..dependencies import require

        for module in _NEEDS[_HOMES[name]]:
            require(module, f"datamap_widget.integrations.{name}")
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
