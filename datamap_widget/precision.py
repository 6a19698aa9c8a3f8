"""Numeric precision of training: ``fp32``, ``bf16`` or ``fp16`` autocast, and what ``auto`` picks.

``auto`` is bf16 on a GPU that has bf16 (same range as fp32, no loss scaling needed) and fp32
elsewhere. On CPUs it stays fp32 although bf16 autocast made a pass 1.5x faster on a CPU with
AVX512-BF16 (``benchmarks/results/throughput.md``): that gain depends on the CPU's bf16
instructions, and whether bf16 keeps the ranking's quality is not yet measured
(``benchmarks/detection.py``); pass ``bf16`` to use it. ``fp16`` needs a
GPU and a gradient scaler (its range is small: tiny gradients would round to zero), which
:func:`grad_scaler` provides. Weights, optimizer states and the logits the tracker records
stay fp32 in every mode: autocast only runs the matrix products in the lower precision.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

__all__ = ["PRECISIONS", "check_precision", "resolve_precision"]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def check_precision(precision: Any) -> str:
    """``precision`` itself when it is one of :data:`PRECISIONS`; ValueError naming them otherwise."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def resolve_precision(precision: str, device: str) -> str:
    """What ``precision`` means on ``device``: ``auto`` made concrete, an impossible pair refused."""
    import torch

    check_precision(precision)
    kind = device.split(":")[0]
    if precision == "auto":
        if kind == "cuda" and torch.cuda.is_bf16_supported():
            return "bf16"
        return "fp32"
    if precision == "fp16" and kind != "cuda":
        raise ValueError(f"precision='fp16' needs a CUDA GPU (it trains with a gradient scaler there); on {device} use 'bf16' or 'fp32'")
    if precision == "bf16" and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"precision='bf16': this GPU ({torch.cuda.get_device_name()}) has no bf16; use 'fp16' or 'fp32'")
    return precision


def autocast(torch: Any, device: str, precision: str) -> Any:
    """The forward pass's context: autocast to the lower precision, or nothing for fp32."""
    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def grad_scaler(torch: Any, device: str, precision: str) -> Any:
    """A CUDA ``GradScaler`` for fp16; None otherwise (bf16 and fp32 need none)."""
    if precision != "fp16":
        return None
    return torch.amp.GradScaler(device.split(":")[0])
