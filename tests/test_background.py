"""Training in the background: the handle, progress, stop, errors, thread safety, relabels during training.

Real fine-tuning runs use a tiny random BERT (one layer, 16 wide) with the embedded MiniLM's
tokenizer: seconds per run on a few dozen rows. Where a test must act *during* training it
pauses the training thread from a progress listener (a deterministic step), acts from the
main thread, then lets training go on.
"""

from __future__ import annotations

import queue
import sys
import threading
import warnings

import numpy as np
import pandas as pd
import pytest

from datamap_widget import DataMap, Store, Tracker, train_datamap
from datamap_widget.background import KernelThreadCall, TrainingHandle, run_pending_calls
from datamap_widget.widget import PROGRESS_INTERVAL_S, DataMapWidget

N_ROWS = 24
BATCH = 4
STEPS = N_ROWS // BATCH


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    """A random one-layer BERT saved with the embedded model's tokenizer (no download)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from datamap_widget.train import default_model_path

    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=128,
    )
    folder = tmp_path_factory.mktemp("tiny_bert")
    BertModel(config).save_pretrained(folder)  # no head: each run adds one with its own classes
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    from datamap_widget.data import load_sample

    return load_sample().head(N_ROWS).reset_index(drop=True)


def options(tiny_bert: str, **extra) -> dict:
    return {"model": tiny_bert, "epochs": 3, "batch_size": BATCH, "max_length": 32, "device": "cpu", **extra}


class PauseAt:
    """A progress listener that holds the training thread at (epoch, step) until ``resume()``."""

    def __init__(self, tracker: Tracker, epoch: int, step: int):
        self.where = (epoch, step)
        self.reached = threading.Event()
        self._go = threading.Event()
        self._unsubscribe = tracker.subscribe_progress(self)

    def __call__(self, progress: dict) -> None:
        if (progress.get("epoch"), progress.get("step")) == self.where and not self.reached.is_set():
            self.reached.set()
            assert self._go.wait(60), "the test never resumed training"

    def wait(self, handle: TrainingHandle) -> None:
        for _ in range(1200):
            if self.reached.wait(0.1):
                return
            if handle.done:
                handle.wait()  # re-raises what training raised
                break
        raise AssertionError(f"training never reached epoch/step {self.where}")

    def resume(self) -> None:
        self._unsubscribe()
        self._go.set()


# ------------------------------------------------------------------ the handle on real training


@pytest.mark.slow
def test_background_training_returns_at_once_and_wait_gives_the_map(tiny_bert, rows):
    tracker = Tracker(rows.id, rows.label)
    pause = PauseAt(tracker, epoch=1, step=1)
    handle = train_datamap(rows.text, rows.label, ids=rows.id, background=True, tracker=tracker, **options(tiny_bert))
    # Returned while the thread is held at its first step: the call did not wait for training.
    assert isinstance(handle, TrainingHandle) and handle.tracker is tracker and not handle.done
    pause.wait(handle)
    assert handle.progress["state"] == "running" and handle.progress["epoch"] == 1
    with pytest.raises(RuntimeError, match="still running"):
        handle.result
    with pytest.raises(TimeoutError, match="did not end within 0.05 s"):
        handle.wait(timeout=0.05)
    pause.resume()
    dmap = handle.wait(timeout=300)
    assert isinstance(dmap, DataMap) and dmap.n_passes == 3
    assert handle.result is dmap and handle.done and handle.error is None
    assert handle.progress == {"state": "done", "epoch": 3, "epochs": 3, "step": STEPS, "steps": STEPS,
                               "loss": pytest.approx(handle.progress["loss"]), "message": ""}
    assert isinstance(handle.progress["loss"], float)
    assert not np.isnan(tracker.trajectories()["gold_prob"]).any(), "every example in every pass"
    assert "done" in repr(handle)


@pytest.mark.slow
def test_progress_counts_every_step_of_every_epoch(tiny_bert, rows):
    tracker = Tracker(rows.id, rows.label)
    seen: list[dict] = []
    tracker.subscribe_progress(seen.append)
    train_datamap(rows.text, rows.label, ids=rows.id, background=True, tracker=tracker, **options(tiny_bert)).wait(300)
    running = [(p["epoch"], p["step"]) for p in seen if p["state"] == "running" and p["epoch"] is not None]
    expected = [(e, s) for e in (1, 2, 3) for s in range(STEPS + 1)]
    assert sorted(set(running)) == expected
    assert running == sorted(running), "progress never goes backwards"
    assert {p["epochs"] for p in seen if p["epoch"] is not None} == {3}
    assert {p["steps"] for p in seen if p["epoch"] is not None} == {STEPS}
    assert seen[0]["state"] == "running" and seen[0]["epoch"] is None  # "starting": the model loads
    assert seen[-1]["state"] == "done"
    # The loss is read from the device on every 10th step only (each read waits for a GPU): steps 1 and 11 of 18.
    assert len({p["loss"] for p in seen if p["loss"] is not None}) == 2


@pytest.mark.slow
def test_stop_ends_training_at_a_step_boundary_and_keeps_the_map_so_far(tiny_bert, rows):
    tracker = Tracker(rows.id, rows.label)
    pause = PauseAt(tracker, epoch=2, step=2)
    handle = train_datamap(rows.text, rows.label, ids=rows.id, background=True, tracker=tracker, **options(tiny_bert))
    pause.wait(handle)
    handle.stop()
    assert handle.stop_requested and handle.progress["message"] == "stopping after the current step"
    pause.resume()
    dmap = handle.wait(300)
    assert handle.progress["state"] == "stopped" and (handle.progress["epoch"], handle.progress["step"]) == (2, 2)
    # Pass 1 complete; pass 2 closed with the two batches it had: 8 examples seen, the rest missing.
    gold = tracker.trajectories()["gold_prob"]
    assert gold.shape == (N_ROWS, 2)
    assert not np.isnan(gold[:, 0]).any()
    assert int((~np.isnan(gold[:, 1])).sum()) == 2 * BATCH
    assert dmap.n_passes == 2 and len(dmap.suspects(top=5)) == 5, "the map so far is usable"
    assert tracker.pending == 0, "no batch left dangling in an unclosed pass"
    handle.stop()  # after the end: nothing happens
    assert handle.progress["state"] == "stopped"


@pytest.mark.slow
def test_an_exception_in_the_training_thread_reaches_the_user(tiny_bert, rows, tmp_path, capsys):
    handle = train_datamap(rows.text, rows.label, ids=rows.id, background=True,
                           **options(str(tmp_path / "no-such-model")))
    w = DataMapWidget(handle, data=rows)
    with pytest.raises(ValueError, match="could not be loaded"):
        handle.wait(300)
    with pytest.raises(ValueError, match="could not be loaded"):
        handle.result  # raised again, wherever the user looks
    assert isinstance(handle.error, ValueError) and handle.done
    assert w.progress["state"] == "failed"
    assert w.progress["message"].startswith("ValueError: model ") and "\n" not in w.progress["message"]
    assert "background training failed: ValueError" in capsys.readouterr().err
    assert "failed" in repr(handle)


def test_an_exception_raised_mid_training_reaches_the_user_and_the_widget():
    tracker = Tracker(["a", "b"], ["x", "y"])

    def train(handle):
        tracker.set_progress("running", epoch=1, epochs=2, step=1, steps=1)
        tracker.record(["a", "b"], np.array([[1.0, 0.0], [0.0, np.inf]]))  # non-finite logits
        return tracker.datamap()

    w = DataMapWidget(tracker)
    handle = TrainingHandle(tracker, train)
    with pytest.raises(ValueError, match="NaN or infinite"):
        handle.wait(30)
    assert w.progress["state"] == "failed" and w.progress["epoch"] == 1
    assert "NaN or infinite" in w.progress["message"]


def test_bad_input_raises_at_once_not_in_the_thread(rows):
    before = threading.active_count()
    with pytest.raises(ValueError, match="labels has 3 entries but texts has 24"):
        train_datamap(rows.text, ["a", "b", "c"], background=True)
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        train_datamap(rows.text, rows.label, background=True, epochs=0)
    with pytest.raises(TypeError, match=r"train_datamap\(\): got an unexpected keyword argument 'epoch'"):
        train_datamap(rows.text, rows.label, ids=rows.id, background=True, epoch=3)
    with pytest.raises(TypeError, match="background must be True or False"):
        train_datamap(rows.text, rows.label, background="yes")
    with pytest.raises(TypeError, match="target must be callable"):
        TrainingHandle(Tracker(["a", "b"], ["x", "y"]), target=None)
    assert threading.active_count() == before, "no thread started for input that cannot train"


def test_wait_checks_its_timeout():
    tracker = Tracker(["a", "b"], ["x", "y"])
    handle = TrainingHandle(tracker, lambda h: 42)
    assert handle.wait(10) == 42
    with pytest.raises(ValueError, match="timeout must be a number of seconds"):
        handle.wait(timeout=-1)


# ------------------------------------------------------------------ the Trainer helper


@pytest.mark.slow
def test_trainer_in_background_reports_progress_and_stops(tiny_bert, rows, tmp_path):
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments)

    from datamap_widget import DataMapCallback
    from datamap_widget.integrations import train_in_background

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    codes = pd.Categorical(rows.label).codes
    enc = tokenizer(list(rows.text), truncation=True, max_length=32)
    examples = [{"id": i, "input_ids": enc["input_ids"][k], "attention_mask": enc["attention_mask"][k], "labels": int(y)}
                for k, (i, y) in enumerate(zip(rows.id, codes))]

    def trainer_for(tracker, epochs):
        model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=tracker.n_classes)
        args = TrainingArguments(output_dir=str(tmp_path / "out"), num_train_epochs=epochs, per_device_train_batch_size=BATCH,
                                 report_to=[], save_strategy="no", logging_steps=1, disable_tqdm=True, use_cpu=True, seed=0)
        return Trainer(model=model, args=args, train_dataset=examples, data_collator=DataCollatorWithPadding(tokenizer),
                       callbacks=[DataMapCallback(tracker)])

    tracker = Tracker(list(rows.id), codes)
    handle = train_in_background(trainer_for(tracker, 2))
    dmap = handle.wait(300)
    assert dmap.n_passes == 2 and not np.isnan(tracker.trajectories()["gold_prob"]).any()
    p = handle.progress
    assert (p["state"], p["epoch"], p["epochs"], p["step"], p["steps"]) == ("done", 2, 2, STEPS, STEPS)
    assert isinstance(p["loss"], float)

    tracker = Tracker(list(rows.id), codes)
    pause = PauseAt(tracker, epoch=1, step=3)
    handle = train_in_background(trainer_for(tracker, 3))
    pause.wait(handle)
    handle.stop()
    pause.resume()
    handle.wait(300)
    assert handle.progress["state"] == "stopped" and (handle.progress["epoch"], handle.progress["step"]) == (1, 3)
    assert tracker.n_passes == 1
    assert int((~np.isnan(tracker.trajectories()["gold_prob"][:, 0])).sum()) == 3 * BATCH

    with pytest.raises(ValueError, match="trainer has no DataMapCallback"):
        trainer = trainer_for(tracker, 1)
        trainer.remove_callback(DataMapCallback)
        train_in_background(trainer)
    with pytest.raises(TypeError, match="must be a transformers.Trainer"):
        train_in_background(object())


# ------------------------------------------------------------------ thread safety of the tracker


def _pass_logits(n: int, t: int) -> np.ndarray:
    """Logits of pass ``t``: gold (class 0) logit t/10 + row/n, so every pass and row has its own value."""
    logits = np.zeros((n, 3), dtype=np.float64)
    logits[:, 0] = t / 10 + np.arange(n) / n
    logits[:, 1] = 0.5
    return logits


def test_recording_while_another_thread_reads_never_tears_a_pass():
    n, passes, batch = 600, 40, 20
    ids = np.arange(n)
    reference = Tracker(ids, np.zeros(n, dtype=int), label_names=["a", "b", "c"])
    for t in range(passes):
        reference.record(ids, _pass_logits(n, t))
        reference.end_epoch()
    expected = reference.trajectories()

    tracker = Tracker(ids, np.zeros(n, dtype=int), label_names=["a", "b", "c"])
    problems: list[str] = []
    finished = threading.Event()

    def read() -> None:
        while not finished.is_set():
            got = tracker.trajectories()
            widths = {name: column.shape[1] for name, column in got.items()}
            if len(set(widths.values())) != 1:
                problems.append(f"fields disagree on the number of passes: {widths}")
                continue
            width = widths["gold_prob"]
            for name, column in got.items():
                if not np.array_equal(column, expected[name][:, :width]):
                    problems.append(f"{name} differs from the sequential run after {width} passes")
            if width:
                dmap = tracker.datamap()  # the map a widget would draw: built from one consistent snapshot
                if dmap.n_passes < width:
                    problems.append(f"the map has {dmap.n_passes} passes after {width} were seen")

    readers = [threading.Thread(target=read) for _ in range(2)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: a race has every chance to show
    try:
        for reader in readers:
            reader.start()
        for t in range(passes):
            logits = _pass_logits(n, t)
            for start in range(0, n, batch):
                tracker.record(ids[start : start + batch], logits[start : start + batch])
            tracker.end_epoch()
    finally:
        finished.set()
        for reader in readers:
            reader.join()
        sys.setswitchinterval(interval)
    assert problems == []
    final = tracker.trajectories()
    for name in expected:
        assert np.array_equal(final[name], expected[name]), f"{name}: a batch was lost or counted twice"


# ------------------------------------------------------------------ the widget's progress trait


def small_tracker() -> Tracker:
    ids = [f"ex{i}" for i in range(6)]
    tracker = Tracker(ids, ["neg", "pos", "neutral"] * 2)
    for _ in range(2):  # two passes: one would warn that variability is 0
        tracker.record(ids, np.eye(3)[[0, 1, 2, 1, 1, 0]])
        tracker.end_epoch()
    return tracker


def test_progress_trait_follows_the_tracker():
    assert DataMapWidget(small_tracker().datamap()).progress == {"state": "idle"}
    tracker = small_tracker()
    w = DataMapWidget(tracker)
    assert w.progress["state"] == "idle"
    tracker.set_progress("running", epoch=2, epochs=5, step=0, steps=10, loss=None)
    assert w.progress == {"state": "running", "epoch": 2, "epochs": 5, "step": 0, "steps": 10, "loss": None, "message": ""}
    tracker.set_progress(step=10, loss=float("nan"))  # the epoch's last step always goes through
    assert w.progress["step"] == 10 and w.progress["loss"] is None  # NaN is not JSON: sent as null
    tracker.set_progress("failed", message="RuntimeError: out of memory")
    assert w.progress["state"] == "failed" and w.progress["message"] == "RuntimeError: out of memory"
    w.close()
    tracker.set_progress("done")
    assert w.progress["state"] == "failed", "a closed widget no longer follows the tracker"


def test_progress_within_an_epoch_is_throttled_but_state_changes_are_not():
    tracker = small_tracker()
    w = DataMapWidget(tracker)
    sent: list[dict] = []
    w.observe(lambda change: sent.append(change["new"]), names="progress")
    tracker.set_progress("running", epoch=1, epochs=1, step=0, steps=1000)
    for step in range(1, 1000):  # far faster than PROGRESS_INTERVAL_S apart
        tracker.set_progress(step=step)
    assert 1 <= len(sent) < 50, f"{len(sent)} progress messages for 1000 steps in well under {PROGRESS_INTERVAL_S} s each"
    tracker.set_progress(step=1000)
    assert w.progress["step"] == 1000
    tracker.set_progress("done")
    assert w.progress["state"] == "done"


def test_set_progress_checks_its_values():
    tracker = small_tracker()
    with pytest.raises(ValueError, match=r"state must be one of \['idle', 'running', 'done', 'stopped', 'failed'\], got 'finished'"):
        tracker.set_progress("finished")
    with pytest.raises(ValueError, match="epoch must be an int >= 0 or None, got -1"):
        tracker.set_progress(epoch=-1)
    with pytest.raises(ValueError, match="steps must be an int >= 0 or None, got 2.5"):
        tracker.set_progress(steps=2.5)
    with pytest.raises(TypeError, match="loss must be a number or None, got str"):
        tracker.set_progress(loss="low")
    with pytest.raises(TypeError, match="message must be a str, got int"):
        tracker.set_progress(message=3)
    with pytest.raises(TypeError, match="listener must be callable"):
        tracker.subscribe_progress(None)
    assert tracker.progress["state"] == "idle", "a refused update changes nothing"


def test_a_widget_accepts_the_handle_for_its_tracker():
    tracker = small_tracker()
    release = threading.Event()
    handle = TrainingHandle(tracker, lambda h: release.wait(30) and tracker.datamap())
    w = DataMapWidget(handle)
    assert w.live and w.progress["state"] == "running"
    release.set()
    handle.wait(30)
    assert w.progress["state"] == "done"
    with pytest.raises(TypeError, match="a DataMap, a Tracker or a TrainingHandle, got int"):
        DataMapWidget(3)


# ------------------------------------------------------------------ redraws on the kernel's thread


class QueueLoop:
    """Stands in for the kernel's IOLoop: add_callback from any thread, run by the main thread."""

    def __init__(self):
        self.callbacks: queue.SimpleQueue = queue.SimpleQueue()

    def add_callback(self, fn):
        self.callbacks.put(fn)

    def run_pending(self) -> int:
        ran = 0
        while not self.callbacks.empty():
            self.callbacks.get()()
            ran += 1
        return ran


def test_calls_from_the_training_thread_run_on_the_main_thread_folded_together():
    loop = QueueLoop()
    threads_seen: list[str] = []
    call = KernelThreadCall(lambda: threads_seen.append(threading.current_thread().name), loop=lambda: loop)

    worker = threading.Thread(target=lambda: [call() for _ in range(5)], name="trainer")
    worker.start()
    worker.join()
    assert threads_seen == [], "nothing runs in the training thread"
    assert loop.run_pending() == 1, "five requests before the loop ran fold into one call"
    assert threads_seen == ["MainThread"]

    worker = threading.Thread(target=call, name="trainer")
    worker.start()
    worker.join()
    assert loop.run_pending() == 1 and threads_seen == ["MainThread"] * 2, "a request after a run schedules again"
    call()  # on the main thread itself: at once
    assert threads_seen == ["MainThread"] * 3 and loop.run_pending() == 0


def test_waiting_on_the_main_thread_runs_the_redraws_still_queued_for_the_kernel_loop():
    loop = QueueLoop()
    calls: list[str] = []
    call = KernelThreadCall(lambda: calls.append(threading.current_thread().name), loop=lambda: loop)
    tracker = Tracker(["a", "b"], ["x", "y"])
    handle = TrainingHandle(tracker, lambda h: call())  # the last redraw, asked for by the training thread
    handle.wait(30)
    assert calls == ["MainThread"], "wait() ran the queued redraw, so `handle.wait(); w.datamap` is the final map"
    assert loop.run_pending() == 1 and calls == ["MainThread"], "and the kernel loop does not run it twice"
    assert run_pending_calls() == 0


# ------------------------------------------------------------------ relabels during training


@pytest.mark.slow
def test_a_relabel_during_background_training_survives_to_the_end(tiny_bert, rows, tmp_path):
    tracker = Tracker(rows.id, rows.label)
    pause = PauseAt(tracker, epoch=2, step=3)
    with Store(f"sqlite:///{tmp_path / 'reviews.db'}") as store:
        handle = train_datamap(rows.text, rows.label, ids=rows.id, background=True, tracker=tracker, **options(tiny_bert))
        w = DataMapWidget(handle, data=rows, store=store, dataset="trec")
        pause.wait(handle)  # mid-training: one pass drawn, the second under way
        assert w.n_passes == 1
        target, confirmed = rows.id[3], rows.id[7]
        new_label = next(name for name in w.label_names if name != rows.label[3])
        w.relabel([target], new_label)
        w.mark_reviewed([confirmed])
        # Recorded at once: in changes and in the store while training still runs.
        assert not handle.done and len(w.changes) == 2
        assert store.current_labels("trec")[target] == new_label
        pause.resume()
        handle.wait(300)
        assert w.n_passes == 3, "the later passes were drawn"
        changes = w.changes.set_index("id")
        assert len(w.changes) == 2
        assert changes.loc[target, ["old_label", "new_label", "action"]].tolist() == [rows.label[3], new_label, "relabeled"]
        assert changes.loc[confirmed, "action"] == "confirmed"
        assert w.frame.loc[target, "label"] == new_label
        assert bool(w.frame.loc[confirmed, "reviewed"]) and bool(w.frame.loc[target, "reviewed"])
        assert not {target, confirmed} & set(w.datamap.suspects().index), "reviewed ones stay out of the final map's suspects"
        assert w.apply(rows).set_index("id").loc[target, "label"] == new_label
        reviews = store.reviews("trec")
        assert sorted(reviews["example_id"].tolist()) == sorted([target, confirmed]), "each written once"
        assert w.save_status == "saved"


# ------------------------------------------------------------------ the end of live training (issue 29.11)


def test_the_live_badge_goes_when_training_ends_fails_or_is_stopped():
    """Issue 29.11: the widget said "live" after training had ended."""
    for how in ("done", "failed", "stopped"):
        tracker = small_tracker()
        release = threading.Event()

        def train(handle, how=how):
            release.wait(30)
            if how == "failed":
                raise RuntimeError("out of memory")
            return tracker.datamap()

        handle = TrainingHandle(tracker, train)
        w = DataMapWidget(handle)
        assert w.live
        if how == "stopped":
            handle.stop()
        release.set()
        if how == "failed":
            with pytest.raises(RuntimeError):
                handle.wait(30)
        else:
            handle.wait(30)
        assert w.progress["state"] == how and not w.live, how
        w.close()


def test_wait_warns_that_its_map_lacks_the_relabels_made_during_training_and_points_to_them():
    """Issue 29.11: `dmap = handle.wait()` silently lacked the relabels made in the widget."""
    tracker = small_tracker()
    release = threading.Event()
    handle = TrainingHandle(tracker, lambda h: release.wait(30) and tracker.datamap())
    w = DataMapWidget(handle)
    w.relabel(["ex0"], "pos")
    w.mark_reviewed(["ex1"])
    release.set()
    with pytest.warns(UserWarning, match=r"1 relabel made in a widget during training is not in it.*w\.apply\(df\)"):
        dmap = handle.wait(30)
    assert dmap.frame.loc["ex0", "label"] == "neg"  # the model's label, as documented
    assert w.current_labels["ex0"] == "pos" and w.current_labels.index.tolist() == dmap.frame.index.tolist()
    df = pd.DataFrame({"id": [f"ex{i}" for i in range(6)], "label": ["neg", "pos", "neutral"] * 2})
    assert w.apply(df)["label"].tolist()[:2] == ["pos", "pos"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        handle.wait(30)  # said once; nothing new to say


def test_wait_says_nothing_without_relabels_or_for_a_closed_widget():
    tracker = small_tracker()
    handle = TrainingHandle(tracker, lambda h: tracker.datamap())
    w = DataMapWidget(handle)
    w.mark_reviewed(["ex1"])  # a confirmation changes no label
    other = DataMapWidget(small_tracker())
    other.relabel(["ex0"], "pos")  # follows another tracker
    closed = DataMapWidget(handle)
    closed.relabel(["ex0"], "pos")
    closed.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        handle.wait(30)
