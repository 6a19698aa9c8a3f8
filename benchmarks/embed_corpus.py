"""Real sentence embeddings of the shared texts, for index and projection timings at scale.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/embed_corpus.py 100000

Encodes the first N texts (every split) of the seven shared sets (TREC, SST-2, MR, Subj, CR, MPQA,
Emotion, in that order) with the embedded all-MiniLM-L6-v2 before any
fine-tuning, as the mean of the last hidden layer over real tokens: the same pooling the
training run records (``train.fine_tune(embeddings=True)``), without a fine-tuned head, so
the figures are for embeddings of real text, not random vectors. Saved as float16 to
``results/cache/corpus-<N>.npy`` (not committed) with the labels beside it; a second call
with the same N reads the cache.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DATA, RESULTS  # noqa: E402

CACHE = RESULTS / "cache"
FILES = ("trec.jsonl", "sst2.jsonl", "mr.jsonl", "subj.jsonl", "cr.jsonl", "mpqa.jsonl",
         "emotion.part1of2.jsonl", "emotion.part2of2.jsonl")


def corpus_texts(n: int) -> pd.DataFrame:
    frames = []
    for name in FILES:
        frame = pd.read_json(DATA / name, lines=True)
        frames.append(frame.assign(source=name.split(".")[0])[["id", "text", "label", "source"]])
    corpus = pd.concat(frames, ignore_index=True)
    return corpus.iloc[:n].reset_index(drop=True)


def embed(texts: list[str], batch_size: int = 256, max_length: int = 64) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from datamap_widget.train import default_model_path

    path = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    order = np.argsort([len(t) for t in texts])  # similar lengths per batch: less padding
    out = np.empty((len(texts), model.config.hidden_size), dtype=np.float16)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            enc = tokenizer([texts[r] for r in rows], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out[rows] = ((hidden * mask).sum(1) / mask.sum(1)).numpy().astype(np.float16)
    return out


def load_corpus(n: int) -> tuple[np.ndarray, pd.DataFrame]:
    """``(embeddings (n, 384) float16, frame with id/text/label/source)``, from the cache when there.

    The shared sets hold 70,601 texts. Beyond that (the 100,000-point timings) the real
    embeddings are repeated with 2% Gaussian jitter of each vector's norm and the frame is
    repeated: synthetic, said so in every table that uses it (``real`` = rows that are real).
    """
    total = len(corpus_texts(10**9))
    if n > total:
        values, frame = load_corpus(total)
        rng = np.random.default_rng(0)
        picks = rng.integers(0, total, n - total)
        extra = values[picks].astype(np.float32)
        extra += rng.normal(0, 0.02, extra.shape).astype(np.float32) * np.linalg.norm(extra, axis=1, keepdims=True) / np.sqrt(extra.shape[1])
        # Each copy keeps the row (text, label, source) it was copied from, so label measures stay true.
        more = frame.iloc[picks]
        return np.vstack([values, extra.astype(np.float16)]), pd.concat([frame, more], ignore_index=True)
    path = CACHE / f"corpus-{n}.npy"
    frame = corpus_texts(n)
    if path.exists():
        return np.load(path), frame
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    values = embed(frame["text"].astype(str).tolist())
    print(f"embedded {n} texts in {time.perf_counter() - started:.0f} s", flush=True)
    np.save(path.with_suffix(".tmp.npy"), values)
    path.with_suffix(".tmp.npy").rename(path)  # appears whole or not at all
    return values, frame


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else len(corpus_texts(10**9))
    values, _ = load_corpus(count)
    print(values.shape, values.dtype)
