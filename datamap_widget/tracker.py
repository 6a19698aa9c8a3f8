"""Recording training dynamics: the Tracker.

The tracker is fed by a training loop: ``record(batch_ids, logits)`` after each forward
pass, ``end_epoch()`` after each pass over the data. Per example and pass it keeps the
gold-label probability, the largest other-class probability, the logit margin, the share of
correct predictions and the predicted classes, so memory is O(examples x passes).

It takes torch tensors on any device or numpy arrays, and stores numpy. Tensors are spotted
by duck typing, so numpy-only users never import torch. For tensors on an accelerator the
per-batch work stays on that device and is moved to the host once per pass: ``record``
never synchronizes the host with a CUDA stream.

No pandas and no widget here: ``datamap()`` hands the arrays to :class:`DataMap`.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

import numpy as np

from . import metrics

__all__ = ["Tracker"]

_FLOAT_FIELDS = ("gold_prob", "other_prob", "margin", "correct")
_INT_FIELDS = ("argmax", "other_class")


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _to_numpy(value: Any, name: str = "ids") -> np.ndarray:
    if isinstance(value, (list, tuple)):
        # np.asarray(["a", 1]) would silently turn 1 into "1": keep objects, narrow later.
        array = np.empty(len(value), dtype=object)
        array[:] = value
        return _narrow_object_ids(array, name) if len(value) else np.asarray(value)
    if _is_tensor(value):
        value = value.detach()
        if value.device.type != "cpu":
            value = value.cpu()
        if value.dtype.is_floating_point and value.dtype not in (_torch().float32, _torch().float64):
            value = value.float()  # numpy has no bfloat16
        return value.numpy()
    return np.asarray(value)


def _torch():
    import torch

    return torch


def _describe_ids(ids: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(i.item() if hasattr(i, "item") else i) for i in list(ids)[:limit])
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f"[{shown}{more}]"


class _IdIndex:
    """Maps example ids to row positions, vectorized (sorted keys + searchsorted)."""

    def __init__(self, ids: np.ndarray):
        self.ids = ids
        self.is_range = ids.dtype.kind in "iu" and len(ids) > 0 and np.array_equal(ids, np.arange(len(ids)))
        if not self.is_range:
            self.order = np.argsort(ids, kind="stable")
            self.sorted = ids[self.order]

    def lookup(self, batch_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of ``batch_ids`` and a boolean mask of the ids that are known."""
        n = len(self.ids)
        if batch_ids.dtype.kind != self.ids.dtype.kind and not (
            batch_ids.dtype.kind in "iu" and self.ids.dtype.kind in "iu"
        ):
            return np.zeros(len(batch_ids), dtype=np.int64), np.zeros(len(batch_ids), dtype=bool)
        if self.is_range:
            known = (batch_ids >= 0) & (batch_ids < n)
            return np.where(known, batch_ids, 0).astype(np.int64), known
        pos = np.searchsorted(self.sorted, batch_ids)
        pos = np.minimum(pos, n - 1)
        known = self.sorted[pos] == batch_ids
        return self.order[pos].astype(np.int64), known


class Tracker:
    """Records per-example training dynamics across passes (epochs).

    Parameters
    ----------
    ids : sequence of unique str or int ids, one per training example.
    labels : sequence of gold labels, one per id: str names or int codes.
    label_names : optional list of class names. With str ``labels`` it fixes the class
        order (every label must be in it); with int ``labels`` it names codes
        ``0..C-1``. By default: the sorted distinct str labels, or ``"0".."C-1"``.

    Examples
    --------
    >>> tracker = Tracker(["a", "b"], ["pos", "neg"])
    >>> tracker.record(["a", "b"], np.array([[0.1, 2.0], [1.5, -1.0]]))
    >>> tracker.end_epoch()
    """

    def __init__(self, ids: Sequence[Any], labels: Sequence[Any], label_names: Sequence[str] | None = None):
        ids_array = _to_numpy(ids)
        if ids_array.ndim != 1:
            raise ValueError(f"ids must be one-dimensional, got shape {ids_array.shape}")
        if len(ids_array) == 0:
            raise ValueError("ids is empty: a data map needs at least one training example")
        if ids_array.dtype.kind == "O":
            ids_array = _narrow_object_ids(ids_array)
        if ids_array.dtype.kind not in "iuU":
            raise TypeError(f"ids must be str or int, got dtype {ids_array.dtype}")
        if ids_array.dtype.kind == "u":
            ids_array = ids_array.astype(np.int64)
        unique, counts = np.unique(ids_array, return_counts=True)
        if len(unique) != len(ids_array):
            dupes = unique[counts > 1]
            raise ValueError(f"ids must be unique; {len(dupes)} id(s) repeat: {_describe_ids(dupes)}")

        labels_array = _to_numpy(labels, "labels")
        if labels_array.shape != ids_array.shape:
            raise ValueError(f"labels has {len(labels_array)} entries but ids has {len(ids_array)}")
        self.label_names, self.labels = _encode_labels(labels_array, label_names)
        self.ids = ids_array
        self.n_classes = len(self.label_names)
        self._index = _IdIndex(ids_array)
        self._passes: dict[str, list[np.ndarray]] = {name: [] for name in metrics.TRAJECTORY_FIELDS}
        self._listeners: list[Callable[[Tracker], None]] = []
        self._lock = threading.Lock()
        self._device_pass: _DevicePass | None = None
        self._reset_pass()

    # ---------------------------------------------------------------- properties

    @property
    def n_examples(self) -> int:
        """Number of training examples."""
        return len(self.ids)

    @property
    def n_passes(self) -> int:
        """Number of closed passes (calls to :meth:`end_epoch`)."""
        return len(self._passes["gold_prob"])

    @property
    def pending(self) -> int:
        """Number of records in the current, not yet closed pass."""
        count = int(self._count.sum())
        if self._device_pass is not None:
            count += self._device_pass.records
        return count

    # ---------------------------------------------------------------- recording

    def index_of(self, ids: Sequence[Any], argument: str = "ids") -> np.ndarray:
        """Row positions of ``ids``; ValueError naming the unknown ones."""
        batch = _to_numpy(ids, argument)
        if batch.ndim == 0:
            batch = batch.reshape(1)
        if batch.ndim != 1:
            raise ValueError(f"{argument} must be one-dimensional, got shape {batch.shape}")
        if batch.dtype.kind == "O":
            batch = _narrow_object_ids(batch, argument)
        pos, known = self._index.lookup(batch)
        if not known.all():
            unknown = batch[~known]
            raise ValueError(
                f"{argument} has {len(unknown)} id(s) the tracker does not know: {_describe_ids(unknown)}; "
                f"ids must be among the {self.n_examples} given to Tracker()"
            )
        return pos

    def record(self, batch_ids: Sequence[Any], logits: Any, *, embeddings: Any = None) -> None:
        """Record one forward pass over a batch.

        Parameters
        ----------
        batch_ids : the ids of the batch's examples, shape ``(B,)`` (list, numpy or tensor).
        logits : the model's outputs for them, shape ``(B, C)`` with ``C`` classes
            (torch tensor on any device, or numpy). Use the training-time forward pass.
        embeddings : optional ``(B, D)`` sentence embeddings from the same forward pass
            (torch or numpy). The latest one per example is kept, as float16, for the
            neighbour-based scores (``metrics.knn_disagreement``); give them on the last
            pass(es) only, so the memory is ``N x D x 2`` bytes once.

        An example seen twice in one pass is averaged within the pass. Non-finite logits
        raise a ValueError naming the affected ids and nothing from that batch is kept
        (for tensors on an accelerator the check runs at :meth:`end_epoch` instead, so that
        recording never waits for the device).
        """
        if embeddings is not None:
            self._record_embeddings(batch_ids, embeddings, len(logits))
        if _is_tensor(logits) and (logits.device.type != "cpu" or getattr(self, "_force_device_path", False)):
            positions = self._positions_for_device(batch_ids, logits)
            with self._lock:
                if self._device_pass is None:
                    self._device_pass = _DevicePass(self, logits.device)
                self._device_pass.add(positions, logits)
            return

        values = _to_numpy(logits)
        positions = self.index_of(batch_ids, "batch_ids")
        self._check_logits_shape(values, len(positions))
        finite = np.isfinite(values).all(axis=1)
        if not finite.all():
            bad = self.ids[positions[~finite]]
            raise ValueError(
                f"logits has NaN or infinite values for {len(bad)} example(s): {_describe_ids(bad)}; "
                "this batch was not recorded, earlier records are kept"
            )
        stats = metrics.batch_statistics(values, self.labels[positions])
        with self._lock:
            for name in _FLOAT_FIELDS:
                np.add.at(self._sums[name], positions, stats[name])
            np.add.at(self._count, positions, 1)
            # Class indices cannot be averaged: keep the last forward pass of the pass.
            self._last["argmax"][positions] = stats["argmax"]
            self._last["other_class"][positions] = stats["other_class"]

    #: ``(N, D)`` float16 sentence embeddings given to :meth:`record` (the latest per
    #: example; NaN rows for examples never given one), or None when none were given.
    embeddings: np.ndarray | None = None

    def _record_embeddings(self, batch_ids: Any, embeddings: Any, n_logits: int) -> None:
        values = _to_numpy(embeddings, "embeddings")
        if values.ndim != 2 or values.shape[0] != n_logits:
            raise ValueError(f"embeddings must have shape ({n_logits}, D) like logits' rows, got shape {values.shape}")
        if not np.issubdtype(values.dtype, np.number):
            raise TypeError(f"embeddings must be numeric, got dtype {values.dtype}")
        positions = self.index_of(batch_ids, "batch_ids")
        with self._lock:
            if self.embeddings is None:
                self.embeddings = np.full((self.n_examples, values.shape[1]), np.nan, dtype=np.float16)
            elif self.embeddings.shape[1] != values.shape[1]:
                raise ValueError(
                    f"embeddings has {values.shape[1]} columns but earlier batches had {self.embeddings.shape[1]}"
                )
            self.embeddings[positions] = values.astype(np.float16)

    def _check_logits_shape(self, values: Any, batch_size: int) -> None:
        shape = tuple(values.shape)
        if len(shape) != 2:
            raise ValueError(f"logits must have shape (batch, classes), got shape {shape}")
        if shape[0] != batch_size:
            raise ValueError(f"logits has {shape[0]} rows but batch_ids has {batch_size}")
        if shape[1] != self.n_classes:
            raise ValueError(
                f"logits has {shape[1]} columns but the tracker has {self.n_classes} classes {self.label_names}"
            )

    def _positions_for_device(self, batch_ids: Any, logits: Any) -> Any:
        torch = _torch()
        if _is_tensor(batch_ids) and batch_ids.device.type != "cpu":
            # Ids already on the device: look them up there, check unknown ones per pass.
            if self.ids.dtype.kind not in "iu":
                raise TypeError("batch_ids on an accelerator must be int ids; these tracker ids are str")
            self._check_logits_shape(logits, batch_ids.shape[0])
            if self._index.is_range:
                return batch_ids.long()
            return _DeviceIds(torch, self._index, batch_ids)
        positions = self.index_of(batch_ids, "batch_ids")
        self._check_logits_shape(logits, len(positions))
        host = torch.from_numpy(positions)
        if logits.device.type == "cuda":
            host = host.pin_memory()  # a copy from pageable memory would block on the stream
        return host.to(logits.device, non_blocking=True)

    #: Optional hook that :meth:`end_epoch` applies to the pass being closed, before averaging:
    #: ``hook(accumulators) -> accumulators``, a dict of numpy arrays ``"sums"`` (float64,
    #: ``(4, N)``: summed gold_prob, other_prob, margin, correct), ``"count"`` (int64, ``(N,)``:
    #: records per example) and ``"last"`` (int64, ``(2, N)``: last argmax and other class,
    #: -1 = none). Sums and counts, not means, so that shards can be merged. Distributed
    #: training sets it to merge the ranks' shards (datamap_widget.integrations.distributed);
    #: None (the default) keeps this process's records as they are.
    pass_hook: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None

    def end_epoch(self) -> None:
        """Close the current pass: examples not seen in it have the pass missing.

        Calls the listeners given to :meth:`subscribe` (the live widget uses this).
        """
        with self._lock:
            bad_ids = None
            if self._device_pass is not None:
                bad_ids = self._device_pass.flush_into(self)
                self._device_pass = None
            if self.pass_hook is not None:
                self._apply_pass_hook()
            count = self._count
            seen = count > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                for name in _FLOAT_FIELDS:
                    column = np.where(seen, self._sums[name] / np.maximum(count, 1), np.nan)
                    self._passes[name].append(column.astype(np.float32))
            for name in _INT_FIELDS:
                self._passes[name].append(np.where(seen, self._last[name], -1).astype(self._int_dtype))
            self._reset_pass()
        for listener in list(self._listeners):
            listener(self)
        if bad_ids is not None and len(bad_ids):
            raise ValueError(
                f"logits had NaN or infinite values for {len(bad_ids)} example(s): {_describe_ids(self.ids[bad_ids])}; "
                "the pass was closed without those records, all others are kept"
            )

    def _apply_pass_hook(self) -> None:
        merged = self.pass_hook(
            {
                "sums": np.stack([self._sums[name] for name in _FLOAT_FIELDS]),
                "count": self._count.copy(),
                "last": np.stack([self._last[name] for name in _INT_FIELDS]),
            }
        )
        n = self.n_examples
        expected = {"sums": (len(_FLOAT_FIELDS), n), "count": (n,), "last": (len(_INT_FIELDS), n)}
        for key, shape in expected.items():
            if key not in merged or np.shape(merged[key]) != shape:
                raise ValueError(f"pass_hook must return {key!r} of shape {shape}, got {np.shape(merged.get(key))}")
        for i, name in enumerate(_FLOAT_FIELDS):
            self._sums[name] = np.asarray(merged["sums"][i], dtype=np.float64)
        self._count = np.asarray(merged["count"], dtype=np.int64)
        for i, name in enumerate(_INT_FIELDS):
            self._last[name] = np.asarray(merged["last"][i], dtype=np.int64)

    @property
    def _int_dtype(self) -> type:
        return np.int16 if self.n_classes < 2**15 else np.int32

    def _reset_pass(self) -> None:
        n = self.n_examples
        self._sums = {name: np.zeros(n, dtype=np.float64) for name in _FLOAT_FIELDS}
        self._count = np.zeros(n, dtype=np.int64)
        self._last = {name: np.full(n, -1, dtype=np.int64) for name in _INT_FIELDS}

    # ---------------------------------------------------------------- results

    def trajectories(self) -> dict[str, np.ndarray]:
        """The closed passes as ``(N, T)`` arrays (see :data:`metrics.Trajectories`)."""
        with self._lock:
            out = {}
            for name in metrics.TRAJECTORY_FIELDS:
                columns = self._passes[name]
                dtype = np.float32 if name in _FLOAT_FIELDS else self._int_dtype
                out[name] = np.stack(columns, axis=1) if columns else np.empty((self.n_examples, 0), dtype=dtype)
            return out

    def datamap(self, method: str | None = None, thresholds: dict[str, float] | None = None):
        """A :class:`~datamap_widget.DataMap` of the passes closed so far (mid-training too)."""
        from .datamap import DataMap  # datamap imports pandas; keep the tracker light

        return DataMap(
            ids=self.ids,
            labels=self.labels,
            label_names=self.label_names,
            trajectories=self.trajectories(),
            method=method,
            thresholds=thresholds,
            embeddings=None if self.embeddings is None else self.embeddings.copy(),
        )

    def subscribe(self, listener: Callable[["Tracker"], None]) -> Callable[[], None]:
        """Call ``listener(tracker)`` after every :meth:`end_epoch`; returns an unsubscribe function."""
        if not callable(listener):
            raise TypeError(f"listener must be callable, got {type(listener).__name__}")
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def __repr__(self) -> str:
        return f"Tracker({self.n_examples} examples, {self.n_classes} classes, {self.n_passes} passes)"


def _narrow_object_ids(batch: np.ndarray, name: str = "ids") -> np.ndarray:
    """An object array of ids as str or int64; a mix cannot match, so it raises."""
    kinds = {type(i) for i in batch}
    if all(issubclass(k, str) for k in kinds):
        return batch.astype(str)
    if all(issubclass(k, (int, np.integer)) for k in kinds):
        return batch.astype(np.int64)
    raise TypeError(f"{name} must be all str or all int, got {sorted(k.__name__ for k in kinds)}")


def _encode_labels(labels: np.ndarray, label_names: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
    """Turn str names or int codes into (label_names, int64 codes), validating both."""
    if label_names is not None:
        label_names = [str(name) for name in label_names]
        if len(set(label_names)) != len(label_names):
            raise ValueError(f"label_names must be unique, got {label_names}")
        if not label_names:
            raise ValueError("label_names is empty")
    if labels.dtype.kind == "O":
        kinds = {type(v) for v in labels}
        if all(issubclass(k, str) for k in kinds):
            labels = labels.astype(str)
        elif all(issubclass(k, (int, np.integer)) for k in kinds):
            labels = labels.astype(np.int64)
        else:
            raise TypeError(f"labels must be all str or all int, got a mix of {sorted(k.__name__ for k in kinds)}")
    if labels.dtype.kind in "US":
        labels = labels.astype(str)
        names = label_names if label_names is not None else sorted(np.unique(labels).tolist())
        lookup = np.asarray(names)
        order = np.argsort(lookup)
        pos = np.minimum(np.searchsorted(lookup[order], labels), len(names) - 1)
        codes = order[pos]
        unknown = lookup[codes] != labels
        if unknown.any():
            bad = sorted(set(labels[unknown].tolist()))
            raise ValueError(f"labels has values not in label_names {names}: {bad[:10]}")
        return list(names), codes.astype(np.int64)
    if labels.dtype.kind in "iu":
        codes = labels.astype(np.int64)
        n = len(label_names) if label_names is not None else int(codes.max()) + 1
        if codes.min() < 0 or codes.max() >= n:
            bad = sorted(set(codes[(codes < 0) | (codes >= n)].tolist()))
            raise ValueError(
                f"labels has codes outside 0..{n - 1} "
                f"({'label_names has ' + str(n) + ' names' if label_names is not None else 'inferred'}): {bad[:10]}"
            )
        names = label_names if label_names is not None else [str(i) for i in range(n)]
        return list(names), codes
    raise TypeError(f"labels must be str names or int codes, got dtype {labels.dtype}")


class _DeviceIds:
    """Lookup of int ids that already live on an accelerator, without a host round trip."""

    def __init__(self, torch: Any, index: _IdIndex, batch_ids: Any):
        device = batch_ids.device
        cache = getattr(index, "_device_cache", {})
        if device not in cache:
            cache[device] = (
                torch.as_tensor(index.sorted, device=device),
                torch.as_tensor(index.order, device=device),
            )
            index._device_cache = cache
        sorted_ids, order = cache[device]
        ids = batch_ids.long()
        pos = torch.searchsorted(sorted_ids, ids).clamp_(max=len(sorted_ids) - 1)
        self.known = sorted_ids[pos] == ids
        self.positions = order[pos]


class _DevicePass:
    """Accumulators for one pass, kept on the device of the logits (no per-batch sync)."""

    def __init__(self, tracker: Tracker, device: Any):
        torch = _torch()
        n = tracker.n_examples
        self.torch = torch
        self.sums = torch.zeros((len(_FLOAT_FIELDS), n), dtype=torch.float64, device=device)
        self.count = torch.zeros(n, dtype=torch.int64, device=device)
        self.bad = torch.zeros(n, dtype=torch.int64, device=device)
        self.unknown = torch.zeros((), dtype=torch.int64, device=device)
        self.last = torch.full((len(_INT_FIELDS), n), -1, dtype=torch.int64, device=device)
        self.labels = torch.as_tensor(tracker.labels, device=device)
        self.records = 0

    def add(self, positions: Any, logits: Any) -> None:
        torch = self.torch
        with torch.no_grad():
            known = None
            if isinstance(positions, _DeviceIds):
                known = positions.known
                positions = positions.positions
            logits = logits.detach().float()
            finite = torch.isfinite(logits).all(dim=1)
            valid = finite if known is None else finite & known
            if known is not None:
                self.unknown += (~known).sum()
            self.bad.index_add_(0, positions, (~finite).long() * (known.long() if known is not None else 1))
            safe = torch.where(valid[:, None], logits, torch.zeros_like(logits))
            gold = self.labels[positions]
            probs = torch.softmax(safe, dim=1)
            gold_prob = probs.gather(1, gold[:, None]).squeeze(1)
            masked = safe.scatter(1, gold[:, None], float("-inf"))
            other_logit, other_class = masked.max(dim=1)
            if safe.shape[1] == 1:
                other_prob = torch.zeros_like(gold_prob)
                margin = torch.zeros_like(gold_prob)
                other_class = torch.full_like(gold, -1)
            else:
                other_prob = probs.gather(1, other_class[:, None]).squeeze(1)
                margin = safe.gather(1, gold[:, None]).squeeze(1) - other_logit
            argmax = safe.argmax(dim=1)
            correct = (argmax == gold).float()
            weight = valid.double()
            stacked = torch.stack([gold_prob, other_prob, margin, correct]).double() * weight
            self.sums.index_add_(1, positions, stacked)
            self.count.index_add_(0, positions, valid.long())
            # Last prediction wins, as on the numpy path; invalid rows keep the old value.
            # torch.where, not boolean indexing: a boolean index would wait for the device.
            self.last[0, positions] = torch.where(valid, argmax, self.last[0, positions])
            self.last[1, positions] = torch.where(valid, other_class, self.last[1, positions])
            self.records += int(positions.shape[0])

    def flush_into(self, tracker: Tracker) -> np.ndarray:
        """Move the pass's sums to the host (one sync per pass); returns rows with bad logits."""
        if int(self.unknown.item()):
            raise ValueError(
                f"batch_ids on the device had {int(self.unknown.item())} id(s) the tracker does not know; "
                "those records were ignored"
            )
        sums = self.sums.cpu().numpy()
        for i, name in enumerate(_FLOAT_FIELDS):
            tracker._sums[name] += sums[i]
        tracker._count += self.count.cpu().numpy()
        last = self.last.cpu().numpy()
        for i, name in enumerate(_INT_FIELDS):
            has = last[i] >= 0
            tracker._last[name][has] = last[i][has]
        return np.flatnonzero(self.bad.cpu().numpy() > 0)
