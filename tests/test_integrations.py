"""Integrations: the transformers Trainer callback, plain PyTorch loops, DDP merging, no host sync."""

from __future__ import annotations

import collections
import functools
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from datamap_widget import Tracker
from datamap_widget.integrations import CollateWithIds, WithIds, gather_across_ranks, merge_shards

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(Path(__file__).parent))
import ddp_worker  # noqa: E402  (the worker's data and synthetic logits, shared with the expected map)


def spy_on(tracker: Tracker) -> list[list]:
    """Replace ``tracker.record``/``end_epoch`` by spies; returns the ids recorded, one list per pass."""
    passes: list[list] = [[]]
    record, end_epoch = tracker.record, tracker.end_epoch

    def spy_record(ids, logits):
        passes[-1].extend(ids.tolist() if hasattr(ids, "tolist") else list(ids))
        record(ids, logits)

    def spy_end_epoch():
        end_epoch()
        passes.append([])

    tracker.record, tracker.end_epoch = spy_record, spy_end_epoch
    return passes


# ---------------------------------------------------------------- the transformers Trainer callback


@pytest.fixture(scope="module")
def tiny_model_parts():
    from transformers import AutoTokenizer

    from datamap_widget.data import load_sample
    from datamap_widget.train import default_model_path

    path = default_model_path()
    return path, AutoTokenizer.from_pretrained(path), load_sample()


def make_trainer(tiny_model_parts, examples, tracker, tmp_path, *, callbacks=None, **overrides):
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    path, tokenizer, _ = tiny_model_parts
    hf_logging.set_verbosity_error()
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=tracker.n_classes)
    settings = dict(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=2,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        learning_rate=5e-5,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        use_cpu=True,
        seed=0,
    )
    settings.update(overrides)
    return Trainer(
        model=model,
        args=TrainingArguments(**settings),
        train_dataset=examples,
        eval_dataset=settings.get("eval_strategy") and examples[:8],
        data_collator=DataCollatorWithPadding(tokenizer),
        callbacks=callbacks,
    ), model


def tokenized(tiny_model_parts, frame, ids, labels):
    _, tokenizer, _ = tiny_model_parts
    enc = tokenizer(list(frame.text), truncation=True, max_length=32)
    return [
        {"id": i, "input_ids": enc["input_ids"][k], "attention_mask": enc["attention_mask"][k], "labels": int(y)}
        for k, (i, y) in enumerate(zip(ids, labels))
    ]


@pytest.mark.slow
def test_trainer_callback_records_every_micro_batch_once_per_epoch_and_never_eval(tiny_model_parts, tmp_path):
    from datamap_widget import DataMapCallback

    frame = tiny_model_parts[2].iloc[:30]  # 30 = 7 full micro-batches of 4 and one of 2
    ids = [1000 + 7 * k for k in range(30)]  # int ids that are not positions
    labels = np.random.default_rng(0).integers(0, 3, 30)  # random: misaligned ids would show
    tracker = Tracker(ids, labels)
    passes = spy_on(tracker)
    examples = tokenized(tiny_model_parts, frame, ids, labels)
    trainer, model = make_trainer(
        tiny_model_parts, examples, tracker, tmp_path, callbacks=[DataMapCallback(tracker)],
        eval_strategy="steps", eval_steps=2,  # evaluations between training steps, mid-epoch
    )
    trainer.train()
    trainer.evaluate()

    assert tracker.n_passes == 2
    assert passes[-1] == []  # nothing recorded after the last epoch, eval included
    for recorded in passes[:2]:
        counts = collections.Counter(recorded)
        assert sorted(counts) == sorted(ids), "every example recorded in every pass"
        assert set(counts.values()) == {1}, "exactly once: no eval passes, no micro-batch twice"
    assert not np.isnan(tracker.trajectories()["gold_prob"]).any()
    assert "id" in trainer._signature_columns  # the Trainer kept the column for the model
    dmap = tracker.datamap()
    assert len(dmap.frame) == 30 and dmap.frame.index.tolist() == ids


@pytest.mark.slow
def test_trainer_callback_keeps_ids_aligned_with_their_rows_under_shuffling(tiny_model_parts, tmp_path):
    from datamap_widget import DataMapCallback

    frame = tiny_model_parts[2].iloc[:24]
    ids = list(frame.id)  # the sample's str ids: "trec-train-0008"...
    labels = np.random.default_rng(1).integers(0, 4, 24)
    tracker = Tracker(ids, labels)
    examples = tokenized(tiny_model_parts, frame, ids, labels)
    trainer, model = make_trainer(
        tiny_model_parts, examples, tracker, tmp_path, callbacks=[DataMapCallback(tracker)], num_train_epochs=1
    )
    pairs = []  # (ids, labels given to the model) per training forward pass
    record = tracker.record
    current_labels = {}

    original_forward = model.forward

    @functools.wraps(original_forward)  # keeps the signature the Trainer reads, and the callback's state
    def spy_forward(*args, **kwargs):
        current_labels["labels"] = kwargs["labels"].tolist()
        return original_forward(*args, **kwargs)

    def spy_record(batch_ids, logits):
        pairs.append((list(batch_ids), current_labels["labels"]))
        record(batch_ids, logits)

    tracker.record = spy_record
    # Wrap the callback's forward from outside: it pops the ids, so the spy sees the labels
    # of the very batch whose ids are recorded next.
    model.forward = spy_forward
    trainer.train()
    assert tracker.n_passes == 1
    order = [i for batch, _ in pairs for i in batch]
    assert sorted(order) == sorted(ids) and order != ids  # all seen, in a shuffled order
    position = {i: k for k, i in enumerate(ids)}
    for batch, given in pairs:
        assert given == [int(labels[position[i]]) for i in batch]


@pytest.mark.slow
def test_trainer_callback_with_a_datasets_dataset_keeps_the_column_the_trainer_drops(tiny_model_parts, tmp_path):
    """The usual Hugging Face set-up: a datasets.Dataset with text, str ids and remove_unused_columns=True."""
    import datasets

    from datamap_widget import DataMapCallback

    frame = tiny_model_parts[2].iloc[:16]
    tokenizer = tiny_model_parts[1]
    names = sorted(frame.label.unique())
    table = datasets.Dataset.from_pandas(frame[["id", "text", "label"]].rename(columns={"label": "name"}))
    table = table.map(lambda row: {**tokenizer(row["text"], truncation=True, max_length=32),
                                   "labels": names.index(row["name"])})  # fmt: skip
    assert set(table.column_names) >= {"id", "text", "name", "labels"}  # text, name: dropped by the Trainer
    tracker = Tracker(frame.id, frame.label, label_names=names)
    passes = spy_on(tracker)
    trainer, _ = make_trainer(
        tiny_model_parts, table, tracker, tmp_path, callbacks=[DataMapCallback(tracker)], num_train_epochs=1
    )
    trainer.train()
    assert tracker.n_passes == 1 and sorted(passes[0]) == sorted(frame.id)

    # Without the id column the error says so, and names the columns there are.
    tracker = Tracker(frame.id, frame.label, label_names=names)
    trainer, _ = make_trainer(
        tiny_model_parts, table.remove_columns("id"), tracker, tmp_path, callbacks=[DataMapCallback(tracker)]
    )
    with pytest.raises(ValueError, match=r"the training set has no 'id' column \(columns: .*input_ids"):
        trainer.train()


def test_trainer_callback_without_id_column_says_what_is_missing(tiny_model_parts, tmp_path):
    from datamap_widget import DataMapCallback

    frame = tiny_model_parts[2].iloc[:8]
    tracker = Tracker(list(range(8)), [0, 1] * 4)
    examples = tokenized(tiny_model_parts, frame, range(8), [0, 1] * 4)
    for example in examples:
        example["row"] = example.pop("id")
    trainer, _ = make_trainer(tiny_model_parts, examples, tracker, tmp_path, callbacks=[DataMapCallback(tracker)])
    with pytest.raises(ValueError, match=r"id_column='id'.*no 'id' key.*row"):
        trainer.train()
    assert tracker.n_passes == 0 and tracker.pending == 0

    # Naming the column fixes it.
    tracker = Tracker(list(range(8)), [0, 1] * 4)
    trainer, _ = make_trainer(
        tiny_model_parts, examples, tracker, tmp_path,
        callbacks=[DataMapCallback(tracker, id_column="row")], num_train_epochs=1,
    )
    trainer.train()
    assert tracker.n_passes == 1 and not np.isnan(tracker.trajectories()["gold_prob"]).any()


def test_callback_arguments_are_checked():
    from datamap_widget import DataMapCallback

    with pytest.raises(TypeError, match="tracker must be a datamap_widget.Tracker, got list"):
        DataMapCallback([1, 2])
    with pytest.raises(TypeError, match="id_column must be a non-empty str, got 3"):
        DataMapCallback(Tracker([1, 2], [0, 1]), id_column=3)


# ---------------------------------------------------------------- plain PyTorch loops


@pytest.mark.parametrize("workers", [0, 1])
def test_with_ids_makes_ids_travel_with_shuffled_batches(workers):
    torch.manual_seed(0)
    n = 37
    features = torch.randn(n, 5)
    targets = torch.randint(0, 3, (n,))
    ids = [f"row-{k}" for k in range(n)]
    tracker = Tracker(ids, targets.numpy())
    passes = spy_on(tracker)
    dataset = WithIds(list(zip(features, targets)), ids)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=8, shuffle=True, num_workers=workers, collate_fn=CollateWithIds()
    )
    model = torch.nn.Linear(5, 3)
    for _ in range(2):
        for batch_ids, (x, y) in loader:
            assert [ids.index(i) for i in batch_ids] == [int(torch.nonzero((features == row).all(1))) for row in x]
            tracker.record(batch_ids, model(x))
        tracker.end_epoch()
    assert tracker.n_passes == 2
    for recorded in passes[:2]:
        assert sorted(recorded) == sorted(ids)
    expected = torch.softmax(model(features), 1)[torch.arange(n), targets].detach().numpy()
    np.testing.assert_allclose(tracker.trajectories()["gold_prob"][:, 1], expected, rtol=1e-5)


def test_with_ids_defaults_to_positions_and_int_ids_become_a_tensor():
    loader = torch.utils.data.DataLoader(WithIds([10.0, 20.0, 30.0]), batch_size=3, collate_fn=CollateWithIds())
    batch_ids, batch = next(iter(loader))
    assert batch_ids.dtype == torch.int64 and batch_ids.tolist() == [0, 1, 2]
    assert batch.tolist() == [10.0, 20.0, 30.0]


def test_with_ids_rejects_bad_input():
    with pytest.raises(ValueError, match="ids has 2 entries but dataset has 3 items"):
        WithIds([1, 2, 3], ["a", "b"])
    with pytest.raises(TypeError, match="dataset must be map-style"):
        WithIds(iter([1, 2]))
    with pytest.raises(TypeError, match=r"expects \(id, item\) pairs"):
        CollateWithIds()([1, 2])


# ---------------------------------------------------------------- distributed


def test_merge_shards_keeps_the_lowest_rank_that_saw_an_example():
    # 3 ranks, 4 examples. Rows: count, 4 sums, last argmax, last other class.
    shards = np.zeros((3, 7, 4))
    shards[0, :, 0] = [1, 0.9, 0.1, 2.0, 1, 0, 1]  # example 0: rank 0 only
    shards[1, :, 1] = [2, 1.2, 0.4, 1.0, 2, 1, 0]  # example 1: ranks 1 and 2 (a padded duplicate)
    shards[2, :, 1] = [1, 0.1, 0.8, -3.0, 0, 2, 1]
    shards[2, :, 2] = [1, 0.5, 0.5, 0.0, 0, 1, 0]  # example 2: rank 2 only; example 3: nobody
    merged = merge_shards(shards)
    np.testing.assert_array_equal(merged[:, 0], shards[0, :, 0])
    np.testing.assert_array_equal(merged[:, 1], shards[1, :, 1])  # rank 1's record, not a sum with rank 2's
    np.testing.assert_array_equal(merged[:, 2], shards[2, :, 2])
    assert merged[0, 3] == 0  # still missing in the pass
    with pytest.raises(ValueError, match=r"shards must have shape \(ranks, 7 or more, examples\), got \(7, 4\)"):
        merge_shards(shards[0])


def test_gather_across_ranks_is_a_no_op_in_one_process():
    tracker = gather_across_ranks(Tracker(["a", "b"], [0, 1]))
    tracker.record(["a"], np.array([[2.0, 0.0]]))
    tracker.end_epoch()
    assert tracker.n_passes == 1 and np.isnan(tracker.trajectories()["gold_prob"][1, 0])
    with pytest.raises(TypeError, match="tracker must be a datamap_widget.Tracker, got dict"):
        gather_across_ranks({})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["explicit", "plain"])
def test_two_gloo_ranks_give_the_single_process_map(tmp_path, mode):
    """2 processes, DistributedSampler over 11 examples (so it pads), 3 epochs, gloo on CPU.

    "plain": a plain loop with no call to gather_across_ranks; the tracker merges by itself.
    """
    launch_ranks("ddp_worker.py", tmp_path, args=[mode])

    single = Tracker(ddp_worker.IDS, ddp_worker.LABELS)
    for epoch in range(ddp_worker.EPOCHS):
        order = np.random.default_rng(epoch).permutation(ddp_worker.N_EXAMPLES)
        for start in range(0, len(order), 3):
            batch = [ddp_worker.IDS[k] for k in order[start : start + 3]]
            single.record(batch, ddp_worker.synthetic_logits(batch, epoch))
        single.end_epoch()
    expected = single.datamap().frame

    for rank in range(2):
        got = np.load(tmp_path / f"rank{rank}.npz")
        assert int(got["padded"]) == ddp_worker.EPOCHS  # one padded duplicate per epoch was recorded
        # gather=False keeps this rank's shard only: about half of each pass (6 of 11 samples)
        assert int(got["local_seen"]) == 6 * ddp_worker.EPOCHS
        trajectories = {name: got[name] for name in single.trajectories()}
        for name, values in single.trajectories().items():
            np.testing.assert_allclose(trajectories[name], values, rtol=1e-6, err_msg=name)
        # The mean class probabilities are merged like the rest: the padded duplicates' logits are left out.
        np.testing.assert_allclose(got["class_probabilities"], single.datamap().class_probabilities, rtol=1e-6)
        from datamap_widget import DataMap

        frame = DataMap(
            ids=single.ids, labels=single.labels, label_names=single.label_names, trajectories=trajectories
        ).frame
        np.testing.assert_allclose(
            frame[["confidence", "variability", "correctness", "mislabel_score"]].to_numpy(dtype=float),
            expected[["confidence", "variability", "correctness", "mislabel_score"]].to_numpy(dtype=float),
            rtol=1e-6,
        )


def launch_ranks(script: str, out: Path, ranks: int = 2, args: list[str] | None = None) -> None:
    """Run ``script`` as ``ranks`` processes with torchrun's environment; each writes ``out/rank<r>.npz``."""
    port = free_port()
    procs = []
    for rank in range(ranks):
        env = dict(
            os.environ,
            RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(ranks),
            MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
            PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
        )  # fmt: skip
        procs.append(
            subprocess.Popen(
                [sys.executable, str(Path(__file__).parent / script), str(out / f"rank{rank}.npz"), *(args or [])],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
        )
    for proc in procs:
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, output


@pytest.mark.slow
def test_trainer_on_two_gloo_processes_merges_the_shards_every_epoch(tmp_path):
    """The Trainer under torchrun-style launch (Accelerate, gloo on CPU): the callback merges by itself."""
    import json

    launch_ranks("ddp_trainer_worker.py", tmp_path)
    runs = [json.loads((tmp_path / f"rank{r}.npz.json").read_text()) for r in range(2)]
    merged = [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(2)]
    ids = runs[0]["ids"]
    for epoch in range(2):
        shards = [run["local"][epoch] for run in runs]
        assert shards[0] and shards[1], "each rank recorded its own shard"
        assert sorted(set(shards[0]) | set(shards[1])) == sorted(ids)
        assert len(shards[0]) + len(shards[1]) == 12  # 11 examples + 1 padded repeat
    for run, trajectories in zip(runs, merged):
        assert run["n_passes"] == 2
        assert not np.isnan(trajectories["gold_prob"]).any(), "every example in every pass, on every rank"
    for name in merged[0]:
        np.testing.assert_array_equal(merged[0][name], merged[1][name], err_msg=name)


# ---------------------------------------------------------------- no host sync on the device path


class SyncCounter:
    """Counts calls of every operation that makes the host wait for an accelerator."""

    def __init__(self, monkeypatch):
        self.calls: collections.Counter = collections.Counter()
        self.armed = False
        for name in ("item", "cpu", "tolist", "numpy", "nonzero", "__bool__", "__int__", "__float__", "__index__",
                     "__array__", "masked_select", "unique"):  # fmt: skip
            self._wrap(monkeypatch, torch.Tensor, name)
        for name in ("nonzero", "masked_select", "unique", "argwhere"):
            self._wrap(monkeypatch, torch, name)
        self._wrap(monkeypatch, torch.cuda, "synchronize")
        for name in ("__getitem__", "__setitem__"):
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._mask_index_spy(name, original))

    def _wrap(self, monkeypatch, owner, name):
        original = getattr(owner, name)

        def counted(*args, **kwargs):
            if self.armed:
                self.calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)

    def _mask_index_spy(self, name, original):
        def spy(tensor, index, *rest):
            parts = index if isinstance(index, tuple) else (index,)
            # A boolean-mask index needs nonzero(): the host waits for the mask's values.
            if self.armed and any(isinstance(p, torch.Tensor) and p.dtype == torch.bool for p in parts):
                self.calls[f"{name}[bool mask]"] += 1
            return original(tensor, index, *rest)

        return spy


@pytest.mark.filterwarnings("ignore:only one pass is recorded")
def test_device_path_records_without_syncing_the_host(monkeypatch):
    rng = np.random.default_rng(0)
    n, classes, batches = 50, 4, 12
    ids = [f"id{k}" for k in range(n)]
    labels = rng.integers(0, classes, n)
    batches_data = []
    for _ in range(batches):
        rows = rng.choice(n, 9, replace=False)
        batches_data.append(([ids[k] for k in rows], rng.normal(0, 3, (9, classes)).astype(np.float32)))
    batches_data.append((batches_data[0][0], np.full((9, classes), np.nan, dtype=np.float32)))  # bad logits

    host = Tracker(ids, labels)
    device = Tracker(ids, labels)
    device._force_device_path = True  # the CUDA code path, on CPU tensors
    tensors = [(batch_ids, torch.from_numpy(logits)) for batch_ids, logits in batches_data]

    counter = SyncCounter(monkeypatch)
    counter.armed = True
    for batch_ids, logits in tensors:
        device.record(batch_ids, logits)
    counter.armed = False
    assert dict(counter.calls) == {}, f"record synchronized the host: {dict(counter.calls)}"
    assert device.pending == 9 * (batches + 1)

    for batch_ids, logits in batches_data[:-1]:
        host.record(batch_ids, logits)
    with pytest.raises(ValueError, match="NaN or infinite"):  # the bad batch is reported at end_epoch
        device.end_epoch()
    host.end_epoch()
    for name, values in host.trajectories().items():
        np.testing.assert_allclose(device.trajectories()[name], values, rtol=1e-5, atol=1e-6, err_msg=name)
    host_frame, device_frame = host.datamap().frame, device.datamap().frame
    np.testing.assert_allclose(
        device_frame[["confidence", "variability", "correctness"]].to_numpy(dtype=float),
        host_frame[["confidence", "variability", "correctness"]].to_numpy(dtype=float),
        rtol=1e-5,
    )


def test_the_sync_counter_catches_syncs(monkeypatch):
    """The spy above is only worth something if it sees the syncs it claims to see."""
    counter = SyncCounter(monkeypatch)
    t = torch.arange(4.0)
    counter.armed = True
    t.sum().item()
    t.cpu()
    _ = t[t > 1]
    bool(t[0] > 0)
    counter.armed = False
    assert counter.calls["item"] == 1 and counter.calls["cpu"] == 1
    assert counter.calls["__getitem__[bool mask]"] == 1 and counter.calls["__bool__"] == 1


def softmax_row(logits):
    e = np.exp(np.asarray(logits) - max(logits))
    return e / e.sum()


def test_pass_hook_sees_sums_and_counts_and_its_result_closes_the_pass():
    tracker = Tracker(["a", "b", "c"], [0, 1, 0])
    tracker.record(["a", "a", "b"], np.array([[2.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
    seen = {}

    def hook(accumulators):
        seen.update({k: v.copy() for k, v in accumulators.items()})
        merged = dict(accumulators)
        merged["count"] = accumulators["count"].copy()
        merged["count"][0] = 1  # e.g. another rank's view: "a" once, with these sums
        return merged

    tracker.pass_hook = hook
    tracker.end_epoch()
    assert seen["count"].tolist() == [2, 1, 0] and seen["sums"].shape == (4, 3) and seen["last"].shape == (2, 3)
    np.testing.assert_allclose(seen["probs"][0], softmax_row([2.0, 0.0]) + 0.5, rtol=1e-6)  # summed, like sums
    np.testing.assert_allclose(tracker.datamap().class_probabilities[0], softmax_row([2.0, 0.0]) + 0.5, rtol=1e-6)
    gold_a = 1 / (1 + np.exp(-2.0)) + 0.5  # summed over the two records of "a"
    np.testing.assert_allclose(seen["sums"][0, 0], gold_a, rtol=1e-6)
    np.testing.assert_allclose(tracker.trajectories()["gold_prob"][0, 0], gold_a, rtol=1e-6)  # sum / 1

    tracker.pass_hook = lambda accumulators: {"count": np.zeros(2)}
    with pytest.raises(ValueError, match=r"pass_hook must return 'sums' of shape \(4, 3\), got \(\)"):
        tracker.end_epoch()
    tracker.pass_hook = lambda accumulators: {k: v for k, v in accumulators.items() if k != "probs"}
    with pytest.raises(ValueError, match=r"pass_hook must return 'probs' of shape \(3, 2\), got \(\)"):
        tracker.end_epoch()
