"""Fine-tuning speed on CPU: length-bucketed batches and fused AdamW against the old loop.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_speed.py

One epoch of ``fine_tune``'s training step (forward, backward, AdamW step) per mode, on 300
questions of the shipped sample and 300 examples of Emotion (tweets: longer texts, a wide
spread of lengths); the old loop is "dynamic padding" with the per-tensor AdamW. The modes run *interleaved*, batch by batch (A1 B1 C1 A2 B2
…), so a machine shared with other work slows them alike and the ratios stay fair. Also
counted exactly: the tokens each mode computes, padding included. Writes
``benchmarks/results/train_speed.md``. Ranking quality of bucketing is measured by
``benchmarks/recipe.py`` (recipes ``plain`` and ``plain_bucket``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import RESULTS, stratified_sample  # noqa: E402
from recipe import load_set  # noqa: E402

MODES = ("dynamic padding", "length buckets", "fused AdamW", "length buckets + fused AdamW")


def measure(name: str, texts: list[str], labels: list[str], batch_size: int = 32, max_length: int = 64, seed: int = 0) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from datamap_widget.train import _epoch_batches, default_model_path

    names = sorted(set(labels))
    gold = torch.as_tensor([names.index(lab) for lab in labels])
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    input_ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    lengths = np.array([len(row) for row in input_ids])
    nets, optims, plans = [], [], []
    for mode in MODES:
        torch.manual_seed(seed)
        net = AutoModelForSequenceClassification.from_pretrained(default_model_path(), num_labels=len(names))
        net.train()
        nets.append(net)
        optims.append(torch.optim.AdamW(net.parameters(), lr=5e-5, fused="fused" in mode))
        plans.append(_epoch_batches(np.random.default_rng(seed), lengths, batch_size, buckets="buckets" in mode))
    seconds = [0.0] * len(MODES)
    tokens = [0] * len(MODES)
    for step in range(max(len(p) for p in plans)):
        for m, mode in enumerate(MODES):
            if step >= len(plans[m]):
                continue
            rows = plans[m][step]
            batch = tokenizer.pad({"input_ids": [input_ids[r] for r in rows]}, return_tensors="pt")
            tokens[m] += int(batch["input_ids"].numel())
            started = time.perf_counter()
            logits = nets[m](**batch).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), gold[rows])
            optims[m].zero_grad(set_to_none=True)
            loss.backward()
            optims[m].step()
            seconds[m] += time.perf_counter() - started
    return {
        "set": name, "n": len(texts), "mean_tokens": float(lengths.mean()), "p95_tokens": float(np.percentile(lengths, 95)),
        **{f"{mode} s": s for mode, s in zip(MODES, seconds)},
        **{f"{mode} tokens": t for mode, t in zip(MODES, tokens)},
    }


def main() -> int:
    from datamap_widget.data import load_sample

    sample = load_sample()
    sample = sample.head(300)
    sets = [("shipped sample (TREC), first 300", sample["text"].tolist(), sample["label"].astype(str).tolist())]
    for name in ("emotion",):
        frame = stratified_sample(load_set(name), 300, 0)
        sets.append((f"{name} 300", frame["text"].tolist(), frame["label"].tolist()))
    rows = [measure(*s) for s in sets]
    lines = [
        "# Fine-tuning speed on CPU (`benchmarks/train_speed.py`)",
        "",
        "One epoch per mode, batch 32, max length 64, all-MiniLM-L6-v2, one thread, modes interleaved batch by batch on one "
        "machine in one run (so the ratios hold even on a shared machine; the seconds do not). "
        "Ratio = dynamic padding's time / the mode's time (above 1 = faster).",
        "",
        "| set | examples | mean / p95 tokens | " + " | ".join(f"{m}: s (ratio)" for m in MODES) + " | tokens computed, buckets / padding |",
        "|---|---|---|" + "---|" * len(MODES) + "---|",
    ]
    for r in rows:
        base = r[f"{MODES[0]} s"]
        cells = [f"{r[f'{m} s']:.1f} ({base / r[f'{m} s']:.2f}x)" for m in MODES]
        lines.append(
            f"| {r['set']} | {r['n']} | {r['mean_tokens']:.1f} / {r['p95_tokens']:.0f} | " + " | ".join(cells)
            + f" | {r['length buckets tokens'] / r['dynamic padding tokens']:.2f} |"
        )
    from datamap_widget.train import BUCKET_CHUNK_BATCHES, DEFAULTS

    lines += [
        "",
        f"default: DEFAULTS['length_buckets'] = {DEFAULTS['length_buckets']!r} (fastest per epoch above; quality in recipe.md)",
        f"default: BUCKET_CHUNK_BATCHES = {BUCKET_CHUNK_BATCHES} (not tuned: fairseq's and HF group_by_length's bucketing; measured with it)",
    ]
    text = "\n".join(lines) + "\n"
    (RESULTS / "train_speed.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
