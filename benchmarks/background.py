"""Training in a background thread: what it costs, as ratios within one run; one table.

    OMP_NUM_THREADS=1 python benchmarks/background.py [--rows 160] [--rounds 3] [--quick]

- ``record`` per batch with the tracker's lock and with it replaced by a no-op (the lock that
  makes recording safe while the widget reads), numpy logits and CPU tensors;
- fine-tuning one epoch in the foreground (``fine_tune``) against the same in the background
  (``train_datamap(..., background=True).wait()``), alone and with a live widget on the
  tracker, rounds interleaved so that the machine's load hits every mode alike;
- how long the widget takes to answer a page of texts while the model trains in the
  background (what a reviewer waits for after a click), against the same with no training.

The default model is the embedded all-MiniLM-L6-v2; ``--quick`` uses a random one-layer BERT
and tiny sizes (checks that the script runs, not the speed). Figures are medians.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import threading
import time
import warnings

import numpy as np

from datamap_widget import Tracker, train_datamap
from datamap_widget.data import load_sample
from datamap_widget.train import default_model_path, fine_tune


def per_call(fn, repeat: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def record_cost(examples: int, batch: int, classes: int, rounds: int, repeat: int) -> list[tuple[str, float, float]]:
    """Seconds per record() call with and without the lock, interleaved rounds, medians."""
    import torch

    rng = np.random.default_rng(0)
    ids = np.arange(examples)
    labels = rng.integers(0, classes, examples)
    locked, unlocked = Tracker(ids, labels), Tracker(ids, labels)
    unlocked._lock = contextlib.nullcontext()  # the benchmark's own copy: what record costs without it
    batch_ids = rng.choice(examples, batch, replace=False)
    logits = rng.normal(size=(batch, classes)).astype(np.float32)
    tensor = torch.from_numpy(logits)
    rows = []
    for name, value in (("numpy logits", logits), ("CPU tensor logits", tensor)):
        times: dict[str, list[float]] = {"lock": [], "none": []}
        for _ in range(rounds):
            times["lock"].append(per_call(lambda: locked.record(batch_ids, value), repeat))
            times["none"].append(per_call(lambda: unlocked.record(batch_ids, value), repeat))
        rows.append((f"record, {name}, batch {batch}", statistics.median(times["lock"]), statistics.median(times["none"])))
    lock, empty = threading.Lock(), contextlib.nullcontext()

    def with_lock() -> None:
        with lock:
            pass

    def with_nothing() -> None:
        with empty:
            pass

    rows.append(("a `with` block alone: Lock vs nullcontext", per_call(with_lock, 100_000), per_call(with_nothing, 100_000)))
    return rows


def tiny_bert(folder: str) -> str:
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def training_modes(frame, model: str, rounds: int) -> dict[str, list[float]]:
    """Seconds to train one epoch per mode (model loading included in every mode alike)."""
    from datamap_widget import DataMapWidget

    settings = {"model": model, "epochs": 1, "batch_size": 16, "max_length": 64, "device": "cpu", "progress": False}
    texts, labels, ids = list(frame.text), list(frame.label), list(frame.id)

    def foreground() -> None:
        fine_tune(texts, labels, ids, **settings)

    def background() -> None:
        train_datamap(texts, labels, ids, background=True, **settings).wait()

    def background_widget() -> None:
        tracker = Tracker(ids, labels)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            w = DataMapWidget(tracker, data=frame)
        train_datamap(texts, labels, ids, background=True, tracker=tracker, **settings).wait()
        w.close()

    modes = {"foreground": foreground, "background": background, "background + live widget": background_widget}
    times: dict[str, list[float]] = {name: [] for name in modes}
    foreground()  # warm-up: imports, first model load from disk
    for _ in range(rounds):
        for name, run in modes.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def page_latency(frame, model: str, requests: int) -> tuple[list[float], list[float]]:
    """Seconds for the widget to answer a table page of 50 texts (what scrolling asks for): idle, then during background training."""
    from datamap_widget import DataMapWidget

    rows = np.arange(min(50, len(frame)), dtype="<u4").tobytes()
    tracker = Tracker(list(frame.id), list(frame.label))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        w = DataMapWidget(tracker, data=frame)

    def ask() -> float:
        start = time.perf_counter()
        w.handle_request("page", {"full": False}, [rows])  # full-text pages hold at most MAX_FULL_ROWS
        return time.perf_counter() - start

    idle = []
    for _ in range(requests):
        idle.append(ask())
        time.sleep(0.05)
    handle = train_datamap(list(frame.text), list(frame.label), list(frame.id), background=True, tracker=tracker,
                           model=model, epochs=50, batch_size=16, max_length=64, device="cpu")
    while tracker.progress["epoch"] is None and not handle.done:  # wait until the model trains
        time.sleep(0.05)
    busy = []
    for _ in range(requests):
        busy.append(ask())
        time.sleep(0.05)
    handle.stop()
    handle.wait()
    w.close()
    return idle, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=160, help="training rows for the epoch timings")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per mode")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and a random tiny model")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds

    print("| what | with lock | without | ratio |")
    print("|---|---:|---:|---:|")
    for name, with_lock, without in record_cost(10_000 if args.quick else 1_000_000, 32, 6, rounds,
                                                200 if args.quick else 3000):
        print(f"| {name} | {with_lock * 1e6:.1f} µs | {without * 1e6:.1f} µs | {with_lock / without:.3f} |")

    frame = load_sample().head(32 if args.quick else args.rows).reset_index(drop=True)
    with tempfile.TemporaryDirectory() as folder:
        model = tiny_bert(folder) if args.quick else default_model_path()
        name = "random 1-layer BERT (--quick)" if args.quick else "all-MiniLM-L6-v2"
        times = training_modes(frame, model, rounds)
        base = statistics.median(times["foreground"])
        print(f"\n| one epoch, {len(frame)} rows, {name} | median s | ratio to foreground | runs |")
        print("|---|---:|---:|---:|")
        for mode, values in times.items():
            median = statistics.median(values)
            print(f"| {mode} | {median:.2f} | {median / base:.3f} | {len(values)} |")

        idle, busy = page_latency(frame, model, 5 if args.quick else 20)
        print("\n| page of 50 texts answered by the widget | median ms | max ms |")
        print("|---|---:|---:|")
        print(f"| kernel idle | {statistics.median(idle) * 1e3:.1f} | {max(idle) * 1e3:.1f} |")
        print(f"| during background training | {statistics.median(busy) * 1e3:.1f} | {max(busy) * 1e3:.1f} |")
    left = [t.name for t in threading.enumerate() if t.name.startswith("datamap")]
    print(f"\ntraining threads left running: {left or 'none'}")


if __name__ == "__main__":
    main()
