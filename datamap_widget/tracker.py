"""Recording training dynamics: the Tracker.

The tracker is fed by a training loop: ``record(batch_ids, logits)`` after each forward
pass, ``end_epoch()`` after each pass over the data. Per example and pass it keeps the
gold-label probability, the largest other-class probability, the logit margin, the share of
correct predictions and the predicted classes, so memory is O(examples x passes); and per
example the mean over passes of the whole class-probability vector, as running sums, so
that memory is O(examples x classes) whatever the number of passes.

It takes torch tensors on any device or numpy arrays, and stores numpy. Tensors are spotted
by duck typing, so numpy-only users never import torch. For tensors on an accelerator the
per-batch work stays on that device and is moved to the host once per pass: ``record``
never synchronizes the host with a CUDA stream.

No pandas and no widget here: ``datamap()`` hands the arrays to :class:`DataMap`.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from . import metrics
from .ids import IdIndex, as_ids, describe_ids, is_torch_tensor, unknown_ids_error

__all__ = ["PROGRESS_STATES", "Tracker"]

#: What :attr:`Tracker.progress` ``"state"`` can say about the training that feeds the tracker.
PROGRESS_STATES = ("idle", "running", "done", "stopped", "failed")
_PROGRESS_COUNTS = ("epoch", "epochs", "step", "steps")
_KEEP: Any = object()  # set_progress: "leave this field as it is"

_FLOAT_FIELDS = ("gold_prob", "other_prob", "margin", "correct")
_INT_FIELDS = ("argmax", "other_class")


def _to_numpy(value: Any, name: str = "labels") -> np.ndarray:
    """Labels or logits as numpy (ids go through :func:`datamap_widget.ids.as_ids`)."""
    if isinstance(value, (list, tuple)):
        # np.asarray(["a", 1]) would silently turn 1 into "1": keep objects, narrow later.
        array = np.empty(len(value), dtype=object)
        array[:] = value
        return _narrow_object_labels(array, name) if len(value) else np.asarray(value)
    if is_torch_tensor(value):
        value = value.detach()
        if value.device.type != "cpu":
            value = value.cpu()
        if value.dtype.is_floating_point and value.dtype not in (_torch().float32, _torch().float64):
            value = value.float()  # numpy has no bfloat16
        return value.numpy()
    return np.asarray(value)


def _numbers_to_numpy(values: Any, name: str = "logits") -> np.ndarray:
    """Logits (or embeddings) as a real numeric numpy array: a list of lists is read as numbers
    (never as labels), and object, complex or bool values are refused (complex would lose its
    imaginary part silently; bools are not scores)."""
    if isinstance(values, (list, tuple)):
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be numbers of shape (batch, n); this list could not be read as numbers ({error})") from None
    else:
        array = _to_numpy(values, name)
    if array.dtype.kind not in "fiu":
        what = {"c": "complex", "b": "bool", "O": "object (Python objects)", "U": "str", "S": "bytes"}.get(
            array.dtype.kind, str(array.dtype)
        )
        raise TypeError(f"{name} must be real numbers, got {what} values (dtype {array.dtype})")
    return array


def _torch():
    import torch

    return torch


#: Passes the trajectory buffers grow by at least (then by half their size): few copies,
#: little slack (at 10 passes the buffers hold 12).
_MIN_GROWTH = 4
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class Tracker:
    """Records per-example training dynamics across passes (epochs).

    Parameters
    ----------
    ids : sequence of unique str or int ids, one per training example (list, numpy,
        pandas or tensor). Str ids are kept exactly (a trailing NUL included); int ids up to
        2**64 - 1; bools are refused.
    labels : sequence of gold labels, one per id: str names, int codes, or a pandas
        categorical (its category order is the class order, unused categories included).
    label_names : optional list of class names. With str ``labels`` it fixes the class
        order (every label must be in it); with int ``labels`` it names codes
        ``0..C-1``. By default: the categorical's categories, the sorted distinct str
        labels, or ``"0".."C-1"``. A data map needs at least two classes.
    gather : under ``torch.distributed`` with two or more processes, merge every rank's
        records of each pass at :meth:`end_epoch` (default True), so that every rank holds
        the whole map; ``end_epoch`` is then a collective: call it on every rank, in step.
        False keeps this process's records only (use it when only one rank records, e.g.
        after gathering the logits yourself, or that rank's ``end_epoch`` would wait forever).
    class_probabilities : keep each example's mean over passes of the softmax over all
        classes (default True), for :attr:`DataMap.class_probabilities` and the widget's
        "top three classes". It costs ``8 x N x C`` bytes (two float32 ``(N, C)`` sums: the
        open pass's and the closed passes'), e.g. 59 MiB for 100,000 examples x 77 classes;
        False saves it (the widget then shows the gold label and the best other class).

    Examples
    --------
    >>> tracker = Tracker(["a", "b"], ["pos", "neg"])
    >>> tracker.record(["a", "b"], np.array([[0.1, 2.0], [1.5, -1.0]]))
    >>> tracker.end_epoch()
    """

    def __init__(
        self,
        ids: Sequence[Any],
        labels: Sequence[Any],
        label_names: Sequence[str] | None = None,
        *,
        gather: bool = True,
        class_probabilities: bool = True,
    ):
        ids_array = as_ids(ids, "ids")
        if len(ids_array) == 0:
            raise ValueError("ids is empty: a data map needs at least one training example")
        index = IdIndex(ids_array, "ids")  # checks uniqueness once; reused by every map

        self.label_names, self.labels = _encode_any_labels(labels, label_names, len(ids_array))
        if len(self.label_names) < 2:
            raise ValueError(
                f"a data map needs at least two classes, got only {self.label_names}: every gold probability "
                "would be 1; pass label_names= with all the classes the model predicts"
            )
        self.ids = ids_array
        self.n_classes = len(self.label_names)
        self.gather = bool(gather)
        self._plugged_hook: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None
        self._index = index
        # Closed passes, pass-major: row t of each buffer is pass t, so closing a pass writes
        # one contiguous row and trajectories() hands out (N, T) views with no copy.
        self._buffers: dict[str, np.ndarray] = {
            name: np.empty((0, len(ids_array)), dtype=np.float32 if name in _FLOAT_FIELDS else self._int_dtype)
            for name in metrics.TRAJECTORY_FIELDS
        }
        self._n_closed = 0
        self._listeners: list[Callable[[Tracker], None]] = []
        # One lock around the pass accumulators: the training thread records and closes passes
        # while the widget (kernel main thread) reads them. Uncontended it costs well under 1%
        # of record() (benchmarks/background.py measures it).
        self._lock = threading.Lock()
        self._progress: dict[str, Any] = {"state": "idle", "epoch": None, "epochs": None, "step": None,
                                          "steps": None, "loss": None, "message": ""}
        self._progress_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._device_pass: _DevicePass | None = None
        self._scratch: np.ndarray | None = None
        # Class probabilities as running sums, never per pass: the open pass's sum of softmax
        # rows (written by record), the closed passes' sum of per-pass means, and how many
        # passes each example was seen in. float32: a sum of at most a few hundred values in [0, 1].
        self._prob_pass: np.ndarray | None = None
        self._prob_total: np.ndarray | None = None
        self._prob_passes: np.ndarray | None = None
        if class_probabilities:
            shape = (len(ids_array), self.n_classes)
            self._prob_pass = np.zeros(shape, dtype=np.float32)
            self._prob_total = np.zeros(shape, dtype=np.float32)
            self._prob_passes = np.zeros(len(ids_array), dtype=np.int32)
        self._reset_pass()

    # ---------------------------------------------------------------- properties

    @property
    def n_examples(self) -> int:
        """Number of training examples."""
        return len(self.ids)

    @property
    def n_passes(self) -> int:
        """Number of closed passes (calls to :meth:`end_epoch`)."""
        return self._n_closed

    @property
    def pending(self) -> int:
        """Number of records in the current, not yet closed pass."""
        with self._lock:
            count = int(self._count.sum())
            if self._device_pass is not None:
                count += self._device_pass.records
            return count

    # ---------------------------------------------------------------- recording

    def index_of(self, ids: Sequence[Any], argument: str = "ids") -> np.ndarray:
        """Row positions of ``ids``; ValueError naming the unknown ones."""
        batch = self._index.coerce(ids, argument)
        pos, known = self._index.lookup(batch)
        if not known.all():
            raise unknown_ids_error(
                argument, batch[~known], "the tracker does not know", f"ids must be among the {self.n_examples} given to Tracker()"
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
        if is_torch_tensor(logits) and logits.device.type == "meta":
            raise TypeError(
                "logits are on the 'meta' device, which holds shapes but no values; record the real "
                "forward pass's logits (on the CPU or an accelerator)"
            )
        if is_torch_tensor(logits) and (logits.dtype.is_complex or logits.dtype == _torch().bool):
            raise TypeError(f"logits must be real numbers (the model's raw outputs), got a {logits.dtype} tensor")
        if embeddings is not None:
            self._record_embeddings(batch_ids, embeddings, len(logits))
        if is_torch_tensor(logits) and (logits.device.type != "cpu" or getattr(self, "_force_device_path", False)):
            if is_torch_tensor(batch_ids) and batch_ids.device.type == "meta":
                raise TypeError("batch_ids are on the 'meta' device, which holds no values; pass the real ids")
            positions = self._positions_for_device(batch_ids, logits)
            with self._lock:
                if self._device_pass is None:
                    self._device_pass = _DevicePass(self, logits.device)
                self._device_pass.add(positions, logits)
            return

        values = _numbers_to_numpy(logits, "logits")
        positions = self.index_of(batch_ids, "batch_ids")
        self._check_logits_shape(values, len(positions))
        finite = np.isfinite(values).all(axis=1)
        if not finite.all():
            bad = self.ids[positions[~finite]]
            raise ValueError(
                f"logits has NaN or infinite values for {len(bad)} example(s): {describe_ids(bad)}; "
                "this batch was not recorded, earlier records are kept"
            )
        keep_probs = self._prob_pass is not None
        stats = metrics.batch_statistics(values, self.labels[positions], probabilities=keep_probs)
        with self._lock:
            if self._has_repeats(positions):  # an id twice in one batch: add each record
                for name in _FLOAT_FIELDS:
                    np.add.at(self._sums[name], positions, stats[name])
                np.add.at(self._count, positions, 1)
                if keep_probs:
                    np.add.at(self._prob_pass, positions, stats["probs"])
            else:  # the usual batch: plain fancy indexing, several times faster than add.at
                for name in _FLOAT_FIELDS:
                    self._sums[name][positions] += stats[name]
                self._count[positions] += 1
                if keep_probs:
                    # np.take + a fancy store: about 2.5x faster than ``a[pos] += v`` on (B, C) rows.
                    rows = np.take(self._prob_pass, positions, axis=0)
                    rows += stats["probs"]
                    self._prob_pass[positions] = rows
            # Class indices cannot be averaged: keep the last forward pass of the pass.
            self._last["argmax"][positions] = stats["argmax"]
            self._last["other_class"][positions] = stats["other_class"]

    def _has_repeats(self, positions: np.ndarray) -> bool:
        """Whether a batch names one example twice (a scratch array instead of a sort)."""
        if self._scratch is None:
            self._scratch = np.full(self.n_examples, -1, dtype=np.int64)
        order = np.arange(len(positions))
        self._scratch[positions] = order
        return bool((self._scratch[positions] != order).any())

    #: ``(N, D)`` float16 sentence embeddings given to :meth:`record` (the latest per
    #: example; NaN rows for examples never given one), or None when none were given.
    embeddings: np.ndarray | None = None

    def _record_embeddings(self, batch_ids: Any, embeddings: Any, n_logits: int) -> None:
        values = _numbers_to_numpy(embeddings, "embeddings")
        if values.ndim != 2 or values.shape[0] != n_logits:
            raise ValueError(f"embeddings must have shape ({n_logits}, D) like logits' rows, got shape {values.shape}")
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
        if is_torch_tensor(batch_ids) and (batch_ids.device.type != "cpu" or batch_ids.device == logits.device):
            # Ids already on the device: look them up there, check unknown ones per pass.
            if self.ids.dtype.kind not in "iu":
                raise TypeError("batch_ids on an accelerator must be int ids; these tracker ids are str")
            if self.ids.dtype == np.uint64:
                raise TypeError(
                    "int ids of 2**63 or more cannot be looked up on an accelerator; pass batch_ids on the CPU "
                    "(a list or a CPU tensor)"
                )
            if batch_ids.dtype.is_floating_point or batch_ids.dtype == torch.bool:
                raise TypeError(f"batch_ids must be int ids, got a {batch_ids.dtype} tensor")
            self._check_logits_shape(logits, batch_ids.shape[0])
            return _DeviceIds(torch, self._index, batch_ids.to(logits.device))
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
    #: -1 = none), and, unless the tracker was made with ``class_probabilities=False``,
    #: ``"probs"`` (float32, ``(N, C)``: summed softmax rows), which the hook must return too.
    #: Sums and counts, not means, so that shards can be merged. Distributed
    #: training sets it to merge the ranks' shards (datamap_widget.integrations.distributed);
    #: None (the default) keeps this process's records as they are.
    pass_hook: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None

    #: Where a plug-in offers a pass hook for trackers that set none (and ``gather=True``):
    #: ``make(tracker) -> hook or None``, asked at each :meth:`end_epoch` until it gives a hook,
    #: which this tracker then keeps. :mod:`datamap_widget.integrations.distributed` plugs its
    #: all-ranks merge in here when it is imported (the package's ``__init__`` does), so the
    #: tracker needs to know nothing of torch.distributed.
    automatic_pass_hook: ClassVar[Callable[["Tracker"], Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None] | None] = None

    def end_epoch(self) -> None:
        """Close the current pass: examples not seen in it have the pass missing.

        Under ``torch.distributed`` with two or more processes (and ``gather=True``, the
        default) this is a **collective**: every rank must call it, once per pass, and each
        rank then holds every rank's records of the pass (see
        :mod:`datamap_widget.integrations.distributed`). Calls the listeners given to
        :meth:`subscribe` (the live widget uses this).

        If the device path cannot hand the pass over (the device failed), the pass is
        discarded, not closed, and the error says how many records were lost; later passes
        record as usual.
        """
        with self._lock:
            problems: list[str] = []
            device_pass, self._device_pass = self._device_pass, None
            if device_pass is not None:
                try:
                    bad_rows, unknown = device_pass.flush_into(self)
                except Exception as exc:
                    lost = device_pass.records + int(self._count.sum())
                    self._reset_pass()
                    raise RuntimeError(
                        f"end_epoch could not read the pass's records back from the {device_pass.device} device "
                        f"({type(exc).__name__}: {exc}); that pass was discarded with its {lost} record(s), "
                        f"the {self._n_closed} closed pass(es) are kept, and the next pass records as usual"
                    ) from exc
                if len(bad_rows):
                    problems.append(
                        f"logits had NaN or infinite values for {len(bad_rows)} example(s): "
                        f"{describe_ids(self.ids[bad_rows])}"
                    )
                if unknown:
                    problems.append(f"batch_ids on the device had {unknown} id(s) the tracker does not know")
            hook = self.pass_hook if self.pass_hook is not None else self._automatic_hook()
            if hook is not None:
                self._apply_pass_hook(hook)
            if not self._count.any() and not problems:
                # Warn, not raise: an epoch boundary is no place to end a training run, and the pass
                # still counts so that pass t stays epoch t (and ranks under DDP stay in step).
                warnings.warn(
                    f"end_epoch closed pass {self._n_closed + 1} with nothing recorded in it: every example "
                    "is missing from that pass; call tracker.record(batch_ids, logits) for each batch before end_epoch",
                    UserWarning,
                    stacklevel=2,
                )
            self._close_pass()
            self._reset_pass()
        for listener in list(self._listeners):
            listener(self)
        if problems:
            raise ValueError(
                "; ".join(problems) + ": those records were dropped and the pass was closed with all the others"
            )

    def _automatic_hook(self) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None:
        """The plug-in's pass hook (:attr:`automatic_pass_hook`), made once it applies, then kept."""
        make = Tracker.automatic_pass_hook
        if not self.gather or make is None:
            return None
        if self._plugged_hook is None:
            self._plugged_hook = make(self)
        return self._plugged_hook

    def _close_pass(self) -> None:
        """Average the open pass's sums and write them as the next row of the buffers."""
        t = self._n_closed
        if t == self._buffers["gold_prob"].shape[0]:
            self._grow(t + max(_MIN_GROWTH, t // 2))
        count = self._count
        seen = count > 0
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            for name in _FLOAT_FIELDS:
                row = self._buffers[name][t]
                np.divide(self._sums[name], count, out=row, where=seen, casting="same_kind")
                row[~seen] = np.nan
        if self._prob_pass is not None:
            # The pass's mean softmax row joins the closed passes' sum; unseen rows add their zeros.
            np.divide(self._prob_pass, np.maximum(count, 1)[:, None].astype(np.float32), out=self._prob_pass)
            self._prob_total += self._prob_pass
            self._prob_passes += seen
        # A float64 logit margin beyond float32's range is kept at float32's largest value, not inf.
        margin = self._buffers["margin"][t]
        np.clip(margin, -_FLOAT32_MAX, _FLOAT32_MAX, out=margin)
        for name in _INT_FIELDS:
            row = self._buffers[name][t]
            row[:] = self._last[name]
            row[~seen] = -1
        self._n_closed = t + 1

    def _grow(self, capacity: int) -> None:
        # Maps handed out earlier keep viewing the old buffers, which nothing writes again.
        for name, old in self._buffers.items():
            new = np.empty((capacity, old.shape[1]), dtype=old.dtype)
            new[: self._n_closed] = old[: self._n_closed]
            self._buffers[name] = new

    def _apply_pass_hook(self, hook: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]) -> None:
        accumulators = {
            "sums": np.stack([self._sums[name] for name in _FLOAT_FIELDS]),
            "count": self._count.copy(),
            "last": np.stack([self._last[name] for name in _INT_FIELDS]),
        }
        if self._prob_pass is not None:
            accumulators["probs"] = self._prob_pass.copy()
        merged = hook(accumulators)
        n = self.n_examples
        expected = {"sums": (len(_FLOAT_FIELDS), n), "count": (n,), "last": (len(_INT_FIELDS), n)}
        if self._prob_pass is not None:
            expected["probs"] = (n, self.n_classes)
        for key, shape in expected.items():
            if key not in merged or np.shape(merged[key]) != shape:
                raise ValueError(f"pass_hook must return {key!r} of shape {shape}, got {np.shape(merged.get(key))}")
        for i, name in enumerate(_FLOAT_FIELDS):
            self._sums[name] = np.asarray(merged["sums"][i], dtype=np.float64)
        self._count = np.asarray(merged["count"], dtype=np.int64)
        for i, name in enumerate(_INT_FIELDS):
            self._last[name] = np.asarray(merged["last"][i], dtype=np.int64)
        if self._prob_pass is not None:
            self._prob_pass[:] = merged["probs"]

    @property
    def _int_dtype(self) -> type:
        return np.int16 if self.n_classes < 2**15 else np.int32

    def _reset_pass(self) -> None:
        n = self.n_examples
        self._sums = {name: np.zeros(n, dtype=np.float64) for name in _FLOAT_FIELDS}
        self._count = np.zeros(n, dtype=np.int64)
        self._last = {name: np.full(n, -1, dtype=np.int64) for name in _INT_FIELDS}
        if self._prob_pass is not None:
            self._prob_pass.fill(0)

    # ---------------------------------------------------------------- checkpoints

    def state_dict(self) -> dict[str, np.ndarray]:
        """The closed passes as plain arrays (copies), for a checkpoint: what
        :meth:`load_state_dict` needs to continue recording where this tracker stands.

        Keys: each trajectory field (``(T, N)``, pass-major), ``"class_prob_total"`` /
        ``"class_prob_passes"`` when the tracker keeps class probabilities, and
        ``"embeddings"`` when it holds some. The open pass is not included: take it between
        passes, after :meth:`end_epoch`.
        """
        with self._lock:
            state = {name: buffer[: self._n_closed].copy() for name, buffer in self._buffers.items()}
            if self._prob_total is not None:
                state["class_prob_total"] = self._prob_total.copy()
                state["class_prob_passes"] = self._prob_passes.copy()
            if self.embeddings is not None:
                state["embeddings"] = self.embeddings.copy()
            return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the closed passes with those of :meth:`state_dict` (from a tracker of the
        same ids, labels and classes); the open pass starts empty. Listeners are called, so a
        live widget shows the restored passes."""
        n = self.n_examples
        rows = None
        for name in self._buffers:
            if name not in state:
                raise ValueError(f"state has no {name!r}: it is not a Tracker.state_dict()")
            values = np.asarray(state[name])
            if values.ndim != 2 or values.shape[1] != n or (rows is not None and values.shape[0] != rows):
                raise ValueError(f"state[{name!r}] has shape {values.shape}, expected (passes, {n})")
            rows = values.shape[0]
        with self._lock:
            for name, buffer in self._buffers.items():
                self._buffers[name] = np.ascontiguousarray(state[name], dtype=buffer.dtype).copy()
            self._n_closed = int(rows or 0)
            if self._prob_total is not None and "class_prob_total" in state:
                self._prob_total[:] = state["class_prob_total"]
                self._prob_passes[:] = state["class_prob_passes"]
            emb = state.get("embeddings")
            self.embeddings = None if emb is None else np.asarray(emb, dtype=np.float16).copy()
            self._reset_pass()
        for listener in list(self._listeners):
            listener(self)

    # ---------------------------------------------------------------- results

    def trajectories(self) -> dict[str, np.ndarray]:
        """The closed passes as ``(N, T)`` arrays (see :data:`metrics.Trajectories`).

        Read-only views of the tracker's buffers, no copy: later passes never change them.
        """
        with self._lock:
            return self._trajectory_views()

    def _trajectory_views(self) -> dict[str, np.ndarray]:
        out = {}
        for name, buffer in self._buffers.items():
            view = buffer[: self._n_closed].T
            view.flags.writeable = False
            out[name] = view
        return out

    def datamap(self, method: str | None = None, thresholds: dict[str, float] | None = None):
        """A :class:`~datamap_widget.DataMap` of the passes closed so far (mid-training too).

        Before the first :meth:`end_epoch` every metric is missing, and a UserWarning says so.
        """
        from .datamap import DataMap  # datamap imports pandas; keep the tracker light

        with self._lock:
            trajectories = self._trajectory_views()
            pending = int(self._count.sum()) + (self._device_pass.records if self._device_pass else 0)
            class_probabilities = self._class_probability_means()
        if not self._n_closed:
            warnings.warn(
                "the data map has no closed pass yet, so every metric is missing"
                + (f" ({pending} record(s) wait in the open pass)" if pending else "")
                + ": call tracker.end_epoch() after each pass over the data",
                UserWarning,
                stacklevel=2,
            )
        return DataMap(
            ids=self.ids,
            labels=self.labels,
            label_names=self.label_names,
            trajectories=trajectories,
            method=method,
            thresholds=thresholds,
            id_index=self._index,
            embeddings=None if self.embeddings is None else self.embeddings.copy(),
            class_probabilities=class_probabilities,
        )

    def _class_probability_means(self) -> np.ndarray | None:
        """``(N, C)`` float32 mean over the closed passes of each example's softmax (NaN rows
        for examples never seen), a new array; None with ``class_probabilities=False``."""
        if self._prob_total is None:
            return None
        # One (N, C) array, divided in place: no temporary the size of the result.
        out = np.full(self._prob_total.shape, np.nan, dtype=np.float32)
        passes = self._prob_passes[:, None]
        np.divide(self._prob_total, passes, out=out, where=passes > 0, casting="same_kind")
        return out

    def subscribe(self, listener: Callable[["Tracker"], None]) -> Callable[[], None]:
        """Call ``listener(tracker)`` after every :meth:`end_epoch`; returns an unsubscribe function."""
        if not callable(listener):
            raise TypeError(f"listener must be callable, got {type(listener).__name__}")
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # ---------------------------------------------------------------- progress

    @property
    def progress(self) -> dict[str, Any]:
        """Where the training that feeds this tracker stands (a copy).

        Keys: ``state`` (one of :data:`PROGRESS_STATES`), ``epoch`` (1-based current pass) and
        ``epochs`` (total), ``step`` and ``steps`` (within the current pass), ``loss``, and
        ``message`` (the error's one-line text when failed). Unknown values are None.
        """
        with self._lock:
            return dict(self._progress)

    def set_progress(
        self,
        state: str = _KEEP,
        *,
        epoch: int | None = _KEEP,
        epochs: int | None = _KEEP,
        step: int | None = _KEEP,
        steps: int | None = _KEEP,
        loss: float | None = _KEEP,
        message: str = _KEEP,
    ) -> None:
        """Report training progress; fields not given keep their value. Listeners of
        :meth:`subscribe_progress` (the live widget) are called in the calling thread.

        ``train_datamap`` and :func:`~datamap_widget.integrations.hf_trainer.train_in_background`
        call it for you; a hand-written loop may call it once per step::

            tracker.set_progress("running", epoch=epoch + 1, epochs=3, step=i + 1, steps=len(loader))
        """
        update: dict[str, Any] = {}
        if state is not _KEEP:
            if state not in PROGRESS_STATES:
                raise ValueError(f"state must be one of {list(PROGRESS_STATES)}, got {state!r}")
            update["state"] = state
        for name, value in zip(_PROGRESS_COUNTS, (epoch, epochs, step, steps)):
            if value is _KEEP:
                continue
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
                raise ValueError(f"{name} must be an int >= 0 or None, got {value!r}")
            update[name] = None if value is None else int(value)
        if loss is not _KEEP:
            if loss is not None:
                try:
                    loss = float(loss)
                except (TypeError, ValueError):
                    raise TypeError(f"loss must be a number or None, got {type(loss).__name__}") from None
            update["loss"] = loss
        if message is not _KEEP:
            if not isinstance(message, str):
                raise TypeError(f"message must be a str, got {type(message).__name__}")
            update["message"] = message
        with self._lock:
            self._progress.update(update)
            snapshot = dict(self._progress)
        for listener in list(self._progress_listeners):
            listener(snapshot)

    def subscribe_progress(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``listener(progress)`` after every :meth:`set_progress`; returns an unsubscribe function."""
        if not callable(listener):
            raise TypeError(f"listener must be callable, got {type(listener).__name__}")
        self._progress_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._progress_listeners:
                self._progress_listeners.remove(listener)

        return unsubscribe

    def __repr__(self) -> str:
        return f"Tracker({self.n_examples} examples, {self.n_classes} classes, {self.n_passes} passes)"


def _refuse_bools(kinds: set, name: str) -> None:
    if any(issubclass(k, (bool, np.bool_)) for k in kinds):
        raise TypeError(
            f"{name} holds True/False, which would silently become the classes 1 and 0 (or 'True'/'False'); "
            "give str names (e.g. 'yes'/'no') or int codes"
        )


def _narrow_object_labels(batch: np.ndarray, name: str = "labels") -> np.ndarray:
    """An object array of labels as str or int64; a mix is ambiguous, so it raises."""
    kinds = {type(i) for i in batch}
    _refuse_bools(kinds, name)
    if all(issubclass(k, str) for k in kinds):
        return batch.astype(str)
    if all(issubclass(k, (int, np.integer)) for k in kinds):
        return batch.astype(np.int64)
    raise TypeError(f"{name} must be all str or all int, got {sorted(k.__name__ for k in kinds)}")


def _encode_any_labels(labels: Any, label_names: Sequence[str] | None, n: int) -> tuple[list[str], np.ndarray]:
    """Labels of any accepted form -> (label_names, int64 codes); checks the length against ``n`` ids."""
    categorical = _categorical_parts(labels)
    if categorical is not None:
        codes, categories = categorical
        if codes.shape != (n,):
            raise ValueError(f"labels has {len(codes)} entries but ids has {n}")
        if (codes < 0).any():
            raise ValueError(f"labels has {int((codes < 0).sum())} missing value(s); every example needs a gold label")
        if label_names is None:
            # The categorical's own order, unused categories included: the user's class list.
            return _encode_labels(codes.astype(np.int64), [str(c) for c in categories])
        labels_array = np.asarray([str(c) for c in categories], dtype=object)[codes]
    else:
        labels_array = _to_numpy(labels, "labels")
        if labels_array.shape != (n,):
            raise ValueError(f"labels has {len(labels_array)} entries but ids has {n}")
    return _encode_labels(labels_array, label_names)


def _categorical_parts(labels: Any) -> tuple[np.ndarray, list[Any]] | None:
    """(codes, categories) of a pandas Categorical or categorical Series, spotted by duck typing."""
    if getattr(getattr(labels, "dtype", None), "name", None) != "category":
        return None
    cat = labels.cat if hasattr(labels, "cat") else labels
    return np.asarray(cat.codes), list(cat.categories)


def _encode_labels(labels: np.ndarray, label_names: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
    """Turn str names or int codes into (label_names, int64 codes), validating both."""
    if label_names is not None:
        label_names = [str(name) for name in label_names]
        if len(set(label_names)) != len(label_names):
            raise ValueError(f"label_names must be unique, got {label_names}")
        if not label_names:
            raise ValueError("label_names is empty")
    if labels.dtype.kind == "b":
        _refuse_bools({bool}, "labels")
    if labels.dtype.kind == "O":
        kinds = {type(v) for v in labels}
        _refuse_bools(kinds, "labels")
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

    def __init__(self, torch: Any, index: IdIndex, batch_ids: Any):
        ids = batch_ids.long()
        if index.is_range:  # ids 0..N-1 are their own positions; others are unknown, never out of bounds
            self.known = (ids >= 0) & (ids < index.n)
            self.positions = torch.where(self.known, ids, torch.zeros_like(ids))
            return
        device = batch_ids.device
        sorted_ids, order = index.on_device(
            device, lambda keys, order: (torch.as_tensor(keys, device=device), torch.as_tensor(order, device=device))
        )
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
        self.probs = (
            None if tracker._prob_pass is None
            else torch.zeros((n, tracker.n_classes), dtype=torch.float32, device=device)
        )
        self.records = 0
        self.device = device

    def add(self, positions: Any, logits: Any) -> None:
        torch = self.torch
        with torch.no_grad():
            known = None
            if isinstance(positions, _DeviceIds):
                known = positions.known
                positions = positions.positions
            logits = logits.detach()
            if logits.dtype != torch.float64:  # float64 stays float64: 1e39 is finite there
                logits = logits.float()
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
            if self.probs is not None:
                self.probs.index_add_(0, positions, probs.float() * valid.float()[:, None])
            # Last prediction wins, as on the numpy path; invalid rows keep the old value.
            # torch.where, not boolean indexing: a boolean index would wait for the device.
            self.last[0, positions] = torch.where(valid, argmax, self.last[0, positions])
            self.last[1, positions] = torch.where(valid, other_class, self.last[1, positions])
            self.records += int(positions.shape[0])

    def flush_into(self, tracker: Tracker) -> tuple[np.ndarray, int]:
        """Move the pass's sums to the host (one sync per pass).

        Returns the rows that had bad logits and the number of records with unknown ids
        (both left out of the sums).
        """
        unknown = int(self.unknown.item())
        sums = self.sums.cpu().numpy()
        for i, name in enumerate(_FLOAT_FIELDS):
            tracker._sums[name] += sums[i]
        tracker._count += self.count.cpu().numpy()
        if self.probs is not None:
            tracker._prob_pass += self.probs.cpu().numpy()
        last = self.last.cpu().numpy()
        for i, name in enumerate(_INT_FIELDS):
            has = last[i] >= 0
            tracker._last[name][has] = last[i][has]
        return np.flatnonzero(self.bad.cpu().numpy() > 0), unknown
