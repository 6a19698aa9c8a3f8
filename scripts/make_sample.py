"""Build the sample data set shipped in the package: 600 TREC questions with 3% label flips.

Run from the repository root (it reads ../shared/data/trec.jsonl, the public TREC data set,
Li & Roth 2002):

    python scripts/make_sample.py

It draws a class-stratified sample of 600 questions from the train split (seed 0), then
flips the label of 18 of them (3%, seed 0) to another class chosen uniformly at random.
Each row keeps its original TREC id, the (possibly flipped) ``label`` and the original
``true_label``, so the main job can say how many flips the ranking finds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "trec.jsonl"
TARGET = Path(__file__).resolve().parents[1] / "datamap_widget" / "sample" / "trec_600.jsonl"
SIZE, FLIP_RATE, SEED = 600, 0.03, 0


def main() -> None:
    rows = [json.loads(line) for line in SOURCE.open(encoding="utf-8")]
    train = [r for r in rows if r["split"] == "train"]
    rng = np.random.default_rng(SEED)
    labels = np.array([r["label"] for r in train])
    names = sorted(set(labels))
    chosen = []
    for name in names:  # proportional allocation, at least 5 per class
        members = np.flatnonzero(labels == name)
        k = max(5, round(SIZE * len(members) / len(train)))
        chosen.extend(rng.choice(members, size=k, replace=False).tolist())
    chosen = sorted(rng.choice(chosen, size=SIZE, replace=False).tolist())
    flips = set(rng.choice(len(chosen), size=round(FLIP_RATE * SIZE), replace=False).tolist())
    with TARGET.open("w", encoding="utf-8") as out:
        for i, row_index in enumerate(chosen):
            row = train[row_index]
            label = row["label"]
            if i in flips:
                label = str(rng.choice([n for n in names if n != row["label"]]))
            record = {"id": row["id"], "text": row["text"], "label": label, "true_label": row["label"]}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {SIZE} rows with {len(flips)} flipped labels to {TARGET}")


if __name__ == "__main__":
    main()
