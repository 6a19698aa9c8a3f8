"""Training throughput: ``datamap train``'s ``fine_tune`` against a plain ``transformers.Trainer``.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/throughput.py [--n 1000] [--epochs 1]

Same model (the embedded all-MiniLM-L6-v2), same texts (the first ``--n`` SST-2 training
sentences: short texts), same epochs, batch size, max length, learning rate and schedule, in
one process, one after another, in the order A B C D B A (so drift on a shared machine
weighs on both ends alike; A and B are each the mean of their two runs):

- A ``fine_tune``: what ``datamap train`` runs (length buckets, fused AdamW, the tracker recording
  every batch and the last pass's embeddings);
- B ``Trainer``: the transformers Trainer with dynamic padding (``DataCollatorWithPadding``),
  no evaluation, no saving, no logging;
- C ``fine_tune`` with a tracker that records nothing: A - C is the tracker's overhead;
- D ``fine_tune(precision="bf16")``: bf16 autocast on this CPU against A's fp32.

Seconds per pass are measured at ``--n`` texts; 10k and 100k are *extrapolated* linearly
(per-text time x N: a pass is a sum of batches; the tracker's per-pass work is O(N) numpy,
negligible at this scale) and marked so. Writes ``benchmarks/results/throughput.md``. GPU
and multi-process throughput are not measured here (no GPU on the machine that made the file).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SHARED_SST2 = Path("/work/shared/data/sst2.jsonl")
COMMITTED_SST2 = ROOT / "tests" / "data" / "sst2.jsonl"
SETTINGS = dict(batch_size=16, max_length=64, lr=1e-4, weight_decay=0.01, warmup=0.06, seed=0)


def load_texts(n: int) -> tuple[list[str], list[str], list[str], str]:
    path = SHARED_SST2 if SHARED_SST2.exists() else COMMITTED_SST2
    frame = pd.read_json(path, lines=True)
    if "split" in frame.columns:
        frame = frame[frame["split"] == "train"]
    frame = frame.head(n)
    if len(frame) < n:
        raise SystemExit(f"{path} has only {len(frame)} training texts, asked for {n}")
    return frame["text"].tolist(), frame["label"].astype(str).tolist(), frame["id"].astype(str).tolist(), str(path)


def not_recording_tracker(ids: list[str], labels: list[str]):
    """A Tracker whose record/end_epoch do nothing: fine_tune's loop without the mapping."""
    from datamap_widget import Tracker

    class NotRecording(Tracker):
        def record(self, batch_ids, logits, *, embeddings=None):  # noqa: D401 - a stand-in
            return None

        def end_epoch(self):
            return None

        def datamap(self, *args, **kwargs):
            return None

    return NotRecording(ids, labels)


def run_fine_tune(texts, labels, ids, epochs: int, **extra) -> float:
    from datamap_widget.train import fine_tune

    run = fine_tune(texts, labels, ids, epochs=epochs, progress=False, device="cpu", **SETTINGS, **extra)
    return float(np.mean(run.timings["epoch_s"]))


def run_trainer(texts, labels, epochs: int) -> float:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    from datamap_widget.train import default_model_path

    hf_logging.set_verbosity_error()
    names = sorted(set(labels))
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    model = AutoModelForSequenceClassification.from_pretrained(default_model_path(), num_labels=len(names))
    encoded = tokenizer(texts, truncation=True, max_length=SETTINGS["max_length"])
    data = [
        {"input_ids": ids, "attention_mask": mask, "labels": names.index(label)}
        for ids, mask, label in zip(encoded["input_ids"], encoded["attention_mask"], labels)
    ]
    steps = -(-len(texts) // SETTINGS["batch_size"]) * epochs
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=SETTINGS["batch_size"], num_train_epochs=epochs,
            learning_rate=SETTINGS["lr"], weight_decay=SETTINGS["weight_decay"], warmup_steps=int(SETTINGS["warmup"] * steps),
            lr_scheduler_type="linear", save_strategy="no", report_to="none", logging_strategy="no", disable_tqdm=True,
            use_cpu=True, seed=SETTINGS["seed"], dataloader_num_workers=0,
        )  # fmt: skip
        trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tokenizer))
        metrics = trainer.train().metrics
    return float(metrics["train_runtime"]) / epochs


def cpu_bf16() -> str:
    """Whether this CPU has bf16 instructions (what bf16 autocast's speed depends on), in words."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "whose bf16 instructions were not read"
    found = [name for flag, name in (("avx512_bf16", "AVX512-BF16"), ("amx_bf16", "AMX-BF16")) if flag in flags]
    return f"with {' and '.join(found)}" if found else "without bf16 instructions"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="texts to train on (default 1000)")
    parser.add_argument("--epochs", type=int, default=1, help="passes per run (default 1)")
    parser.add_argument("--no-write", action="store_true", help="print only (a trial run)")
    args = parser.parse_args(argv)
    import torch

    texts, labels, ids, source = load_texts(args.n)
    order = ["A", "B", "C", "D", "B", "A"]
    runs = {
        "A": lambda: run_fine_tune(texts, labels, ids, args.epochs),
        "B": lambda: run_trainer(texts, labels, args.epochs),
        "C": lambda: run_fine_tune(texts, labels, ids, args.epochs, tracker=not_recording_tracker(ids, labels)),
        "D": lambda: run_fine_tune(texts, labels, ids, args.epochs, precision="bf16"),
    }
    seconds: dict[str, list[float]] = {key: [] for key in runs}
    run_fine_tune(texts[:32], labels[:32], ids[:32], 1)  # warm-up (first-call costs), not counted
    started = time.perf_counter()
    for key in order:
        seconds[key].append(runs[key]())
        print(f"{key}: {seconds[key][-1]:.2f} s per pass", file=sys.stderr)
    per_pass = {key: float(np.mean(values)) for key, values in seconds.items()}
    names = {
        "A": "`fine_tune` (what `datamap train` runs: tracker recording, fp32)",
        "B": "`transformers.Trainer` (dynamic padding)",
        "C": "`fine_tune`, tracker recording nothing",
        "D": "`fine_tune`, `precision=\"bf16\"` (autocast on this CPU)",
    }
    n = args.n
    lines = [
        "# Training throughput (`benchmarks/throughput.py`)",
        "",
        f"Command: `OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')} PYTHONPATH=. python benchmarks/throughput.py "
        f"--n {n} --epochs {args.epochs}`; {n} SST-2 training sentences ({source.split('/')[-1]}), all-MiniLM-L6-v2, "
        f"batch {SETTINGS['batch_size']}, max length {SETTINGS['max_length']}, {args.epochs} pass(es) per run, CPU "
        f"({platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}, a machine shared with "
        f"other work), runs in the order {' '.join(order)} in one process; total {time.perf_counter() - started:.0f} s. "
        "**GPU not measured** (no GPU on this machine); neither is DDP throughput.",
        "",
        f"| run | s per pass at {n // 1000 if n >= 1000 else n}{'k' if n >= 1000 else ''} (measured) | texts / s | "
        "10k (extrapolated) | 100k (extrapolated) | runs |",
        "|---|---|---|---|---|---|",
    ]
    for key in runs:
        s = per_pass[key]
        lines.append(
            f"| {key}: {names[key]} | {s:.1f} | {n / s:.0f} | {s * 10_000 / n:.0f} s (extrapolated) | "
            f"{s * 100_000 / n / 60:.0f} min (extrapolated) | {', '.join(f'{v:.1f}' for v in seconds[key])} |"
        )
    lines += [
        "",
        f"- `fine_tune` / `Trainer` time per pass: **{per_pass['A'] / per_pass['B']:.2f}x** "
        "(below 1: `datamap train` is faster; this Trainer's AdamW is fused too (its default), but it batches texts in random order, padding each batch to its longest, where `fine_tune` batches similar lengths; the Trainer records no map).",
        f"- Tracker overhead inside `fine_tune` (A vs C): **{(per_pass['A'] - per_pass['C']) / per_pass['C']:+.1%}** of a pass.",
        f"- bf16 autocast vs fp32 on this CPU (D vs A): **{per_pass['D'] / per_pass['A']:.2f}x** the time per pass "
        f"({'slower' if per_pass['D'] > per_pass['A'] else 'faster'}, on a CPU {cpu_bf16()}; `--precision auto` stays "
        "fp32 on CPUs: the gain depends on the CPU's bf16 instructions, and bf16's effect on the ranking's quality is "
        "not measured yet).",
        "- 10k and 100k are per-text time x N from the measured passes, not runs.",
    ]
    from datamap_widget.train import DEFAULTS

    lines += ["", f"default: DEFAULTS['precision'] = {DEFAULTS['precision']!r} (bf16 on a GPU that has it, fp32 on CPUs: "
              "bf16's effect on the ranking is not measured)"]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "throughput.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
