"""A ``transformers.Trainer`` callback that feeds a :class:`~datamap_widget.Tracker`.

One line, no other change to the training code (the request of
huggingface/transformers#31647, "Data Map Trainer Callback")::

    tracker = Tracker(train_df.id, train_df.label)
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, data_collator=collator,
                      callbacks=[DataMapCallback(tracker)])
    trainer.train()
    tracker.datamap().suspects()

The training set's examples must carry their id in a column (``id_column``, default
``"id"``): a ``datasets.Dataset`` column or a key of each example dict.

How it works, and why this way. Trainer callbacks see neither the batches nor the
model outputs, so the callback attaches itself to the model:

1. **Ids travel inside the batch.** The Trainer drops every column that
   ``model.forward`` does not name (``remove_unused_columns=True``, the default; see
   ``Trainer._remove_unused_columns`` and ``RemoveColumnsCollator``). At ``on_init_end``
   the callback replaces ``model.forward`` by a thin wrapper whose signature also names
   the id column, so the Trainer keeps it, in both code paths (``datasets.Dataset`` and
   dict datasets). At ``on_train_begin`` it wraps the training loader's ``collate_fn``:
   the ids are taken out of the examples before the user's collator runs (a padding
   collator could not batch str ids) and put back into the batch as an int64 tensor (int
   ids) or a list (str ids). Ids inside the batch survive everything between the dataset
   and the model: shuffling, samplers, DataLoader workers, prefetching of gradient
   accumulation micro-batches, Accelerate's device placement and DDP sharding. This is
   why we prefer it to stashing ids on the side (a queue filled by the collator lives in
   the worker process, not the trainer's) or to guessing them from sampler indices.
2. **Logits are taken where they are made.** The wrapper pops the ids, calls the real
   ``forward`` and, only while ``model.training`` is true and ``trainer.train`` runs,
   records ``outputs.logits`` with the ids: every forward pass of every micro-batch is
   recorded once; ``Trainer.evaluate``/``predict`` run the model in eval mode and are
   not recorded (their ids, if the eval set has the column, are dropped before the model).
3. **One pass per epoch**: ``on_epoch_end`` calls ``tracker.end_epoch()``.
4. **Several processes** (torchrun, Accelerate): each rank records its shard and
   ``end_epoch`` merges the ranks (see :mod:`datamap_widget.integrations.distributed`);
   every rank, rank 0 included, then holds the whole map.

5. **In the background**: ``handle = train_in_background(trainer)`` runs ``trainer.train()``
   in a thread and returns at once with a :class:`~datamap_widget.train.TrainingHandle`
   (progress, ``stop()`` at a step boundary, ``wait()`` returning the DataMap), so a widget on
   the tracker stays usable while the model trains.

Limits: pass the callback to ``Trainer(callbacks=[...])`` (with ``add_callback`` or
``model_init`` the Trainer may have decided the columns already: a ``datasets.Dataset``
then needs ``remove_unused_columns=False``); ``nn.DataParallel`` (several GPUs in one
process) is refused, launch with torchrun instead; with str ids, an *evaluation* set that
keeps the id column goes to the user's collator with it, which a padding collator cannot
batch: drop the column from the eval set (``eval_ds.remove_columns("id")``) or use int ids.
"""

from __future__ import annotations

import functools
import inspect
import math
import types
from collections.abc import Mapping
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ..background import TrainingHandle
from ..tracker import Tracker
from .distributed import gather_across_ranks
from .torch_loop import batch_ids

__all__ = ["DataMapCallback", "train_in_background"]


class DataMapCallback(TrainerCallback):
    """Record the training-time logits of every example into ``tracker``; one pass per epoch.

    Parameters
    ----------
    tracker : the :class:`~datamap_widget.Tracker` to feed (a live widget may show it).
    id_column : the training set's column (or example key) holding the ids given to the
        tracker. Default ``"id"``.
    gather : under several processes, merge the ranks' records at each epoch's end
        (default True). Set False only if you merge them yourself.
    """

    def __init__(self, tracker: Tracker, id_column: str = "id", gather: bool = True):
        if not isinstance(tracker, Tracker):
            raise TypeError(f"tracker must be a datamap_widget.Tracker, got {type(tracker).__name__}")
        if not isinstance(id_column, str) or not id_column:
            raise TypeError(f"id_column must be a non-empty str, got {id_column!r}")
        self.tracker = tracker
        self.id_column = id_column
        self.gather = bool(gather)
        if not self.gather:
            tracker.gather = False  # the tracker would otherwise merge the ranks by itself
        self._active = False

    # ------------------------------------------------------------------ events

    def on_init_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        # Before any DataLoader exists, so the Trainer keeps the id column (see the module doc).
        if kwargs.get("model") is not None:
            self._attach(kwargs["model"])

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        model = kwargs.get("model")
        loader = kwargs.get("train_dataloader")
        if args.n_gpu > 1 and args.world_size <= 1:
            raise ValueError(
                f"DataMapCallback: the Trainer sees {args.n_gpu} GPUs in one process (nn.DataParallel), which "
                "it does not support; launch one process per GPU (torchrun --nproc-per-node "
                f"{args.n_gpu} train.py, or accelerate launch) or expose one GPU (CUDA_VISIBLE_DEVICES=0)"
            )
        if model is None or loader is None:
            raise ValueError("DataMapCallback: the Trainer passed no model or train_dataloader to on_train_begin")
        self._attach(model)
        self._check_dataset(loader.dataset)
        # Accelerate's DataLoaderShard is an adapter around the DataLoader that really
        # collates (``base_dataloader``); setting collate_fn on the adapter would not reach it.
        inner = loader
        while "base_dataloader" in vars(inner):
            inner = vars(inner)["base_dataloader"]
        if not isinstance(inner.collate_fn, _CollateIdColumn):
            inner.collate_fn = _CollateIdColumn(inner.collate_fn, self.id_column)
        if self.gather and args.world_size > 1 and self.tracker.pass_hook is None:
            gather_across_ranks(self.tracker)
        self._active = True

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        if self._active:
            self.tracker.end_epoch()

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self._active = False

    # ------------------------------------------------------------------ plumbing

    def _attach(self, model: Any) -> None:
        """Give ``model`` a forward that accepts the id column and reports to this callback."""
        current = model.__dict__.get("forward")
        state = getattr(current, "_datamap_state", None)
        if state is not None:  # already wrapped (a second Trainer on the same model): re-target it
            if state["id_column"] != self.id_column:
                raise ValueError(
                    f"this model already carries ids in column {state['id_column']!r} for another "
                    f"DataMapCallback; use the same id_column, got {self.id_column!r}"
                )
            state["callback"] = self
            return
        original = model.forward
        state = {"callback": self, "id_column": self.id_column}
        # Bound to the model (MethodType), not closed over it: copy.deepcopy(model) then gives a
        # copy whose forward runs the copy (deepcopy rebinds methods), as Accelerate's wrappers do.
        own = getattr(original, "__self__", None) is model
        inner = original.__func__ if own else original

        @functools.wraps(inner)
        def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
            ids = kwargs.pop(state["id_column"], None)
            outputs = inner(self, *args, **kwargs) if own else inner(*args, **kwargs)
            state["callback"]._observe(self, ids, kwargs, outputs)
            return outputs

        # What the Trainer inspects to decide which columns to keep (self, then forward's own).
        bound = _signature_with(original, self.id_column)
        self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        forward.__signature__ = bound.replace(parameters=[self_param, *bound.parameters.values()])
        forward._datamap_state = state
        model.forward = types.MethodType(forward, model)

    def _observe(self, model: Any, ids: Any, inputs: dict[str, Any], outputs: Any) -> None:
        if not (self._active and model.training):
            return  # evaluation, prediction, or use of the model outside trainer.train()
        if ids is None:
            raise ValueError(
                f"DataMapCallback: a training batch reached {type(model).__name__}.forward without its "
                f"{self.id_column!r} column, so its logits cannot be recorded; does a custom compute_loss "
                "call the model without **inputs?"
            )
        self.tracker.record(ids, _logits_of(outputs, "labels" in inputs))

    def _check_dataset(self, dataset: Any) -> None:
        """Fail at the start of training, not after the first batch, when there is no id column."""
        column = self.id_column
        names = getattr(dataset, "column_names", None)  # datasets.Dataset, after the Trainer's column removal
        if isinstance(names, list):
            if column not in names:
                raise ValueError(
                    f"DataMapCallback(id_column={column!r}): the training set has no {column!r} column "
                    f"(columns: {names}). Add one holding the tracker's ids, or name yours with id_column=. "
                    "If the dataset has it, the Trainer dropped it as unused: pass the callback in "
                    "Trainer(callbacks=[...]) rather than add_callback(), or set remove_unused_columns=False"
                )
            return
        if hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__") and len(dataset) > 0:
            first = dataset[0]
            if isinstance(first, Mapping) and column not in first:
                raise ValueError(
                    f"DataMapCallback(id_column={column!r}): the training examples have no {column!r} key "
                    f"(keys: {sorted(first)}). Add the tracker's ids to every example, or name the key with id_column="
                )


def train_in_background(trainer: Any, **train_kwargs: Any) -> TrainingHandle:
    """Run ``trainer.train(**train_kwargs)`` in a thread; returns a handle at once.

    ``trainer`` must carry a :class:`DataMapCallback` (``Trainer(callbacks=[DataMapCallback(tracker)])``).
    The handle reports progress through the tracker (epoch, step within the epoch, the last
    logged loss), ``handle.stop()`` ends training after the current step (the Trainer's
    ``should_training_stop``; the pass in progress is closed with what it recorded), and
    ``handle.wait()`` returns ``tracker.datamap()`` or re-raises what ``train()`` raised.
    """
    callbacks = getattr(getattr(trainer, "callback_handler", None), "callbacks", None)
    if callbacks is None or not callable(getattr(trainer, "train", None)):
        raise TypeError(f"trainer must be a transformers.Trainer, got {type(trainer).__name__}")
    mapping = [c for c in callbacks if isinstance(c, DataMapCallback)]
    if not mapping:
        raise ValueError(
            "trainer has no DataMapCallback, so nothing would be mapped; create it with "
            "Trainer(..., callbacks=[DataMapCallback(tracker)])"
        )
    tracker = mapping[0].tracker

    def train(handle: TrainingHandle) -> Any:
        progress = _ReportProgress(handle)
        trainer.add_callback(progress)
        try:
            trainer.train(**train_kwargs)
        finally:
            trainer.remove_callback(progress)
        return tracker.datamap()

    return TrainingHandle(tracker, train, name="datamap-trainer")


class _ReportProgress(TrainerCallback):
    """Feeds a background handle's progress from the Trainer's events and stops it when asked."""

    def __init__(self, handle: TrainingHandle):
        self.handle = handle
        self.epoch = 0
        self.epoch_start = 0
        self.loss: float | None = None

    def on_epoch_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self.epoch += 1
        self.epoch_start = state.global_step
        epochs = int(math.ceil(state.num_train_epochs)) if state.num_train_epochs else None
        steps = math.ceil(state.max_steps / epochs) if epochs and state.max_steps > 0 else None
        self.handle.tracker.set_progress(
            "running", epoch=self.epoch, epochs=epochs, step=0, steps=steps, loss=self.loss, message=""
        )

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs: Any):
        if logs and isinstance(logs.get("loss"), (int, float)):
            self.loss = float(logs["loss"])
            self.handle.tracker.set_progress(loss=self.loss)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self.handle.tracker.set_progress(step=state.global_step - self.epoch_start)
        if self.handle.stop_requested:
            control.should_training_stop = True


class _CollateIdColumn:
    """Takes the ids out of the examples, runs the user's collator, puts them back in the batch."""

    def __init__(self, collate_fn: Any, id_column: str):
        self.collate_fn = collate_fn
        self.id_column = id_column

    def __call__(self, features: list[Any]) -> Any:
        column = self.id_column
        if not features or not isinstance(features[0], Mapping):
            raise TypeError(
                f"DataMapCallback needs examples that are dicts with an {column!r} key, got "
                f"{type(features[0]).__name__ if features else 'an empty batch'}"
            )
        missing = [i for i, feature in enumerate(features) if column not in feature]
        if missing:
            raise ValueError(
                f"DataMapCallback(id_column={column!r}): {len(missing)} training example(s) in a batch have no "
                f"{column!r} key (keys: {sorted(features[missing[0]])})"
            )
        ids = [_plain(feature[column]) for feature in features]
        batch = self.collate_fn([{k: v for k, v in feature.items() if k != column} for feature in features])
        batch[column] = batch_ids(ids)
        return batch


def _plain(value: Any) -> Any:
    """A 0-d tensor or numpy scalar id as a Python int/str."""
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value


def _signature_with(function: Any, name: str) -> inspect.Signature:
    """``function``'s signature plus a keyword-only parameter ``name`` (before any ``**kwargs``)."""
    signature = inspect.signature(function)
    params = list(signature.parameters.values())
    if name in signature.parameters:
        return signature
    extra = inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None)
    if params and params[-1].kind is inspect.Parameter.VAR_KEYWORD:
        params.insert(len(params) - 1, extra)
    else:
        params.append(extra)
    return signature.replace(parameters=params)


def _logits_of(outputs: Any, labels_given: bool) -> Any:
    """The logits in a model's outputs: ``.logits``, or the tensor after the loss in a tuple."""
    if isinstance(outputs, Mapping) and "logits" in outputs:
        return outputs["logits"]
    logits = getattr(outputs, "logits", None)
    if logits is not None:
        return logits
    if isinstance(outputs, (tuple, list)) and outputs:
        return outputs[1] if labels_given and len(outputs) > 1 else outputs[0]
    if hasattr(outputs, "shape"):
        return outputs
    raise TypeError(f"DataMapCallback: cannot find logits in the model's outputs of type {type(outputs).__name__}")
