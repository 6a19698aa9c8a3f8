"""One rank of the 2-process Trainer test in test_integrations.py (torchrun-style env, gloo on CPU).

The Trainer (through Accelerate) shards and pads the 11 examples over the 2 ranks; the
callback must record each rank's shard and merge the ranks at every epoch's end. Writes this
rank's local records (ids per pass) and the merged trajectories to argv[1].
"""

from __future__ import annotations

import json
import sys
import tempfile

import numpy as np
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)
from transformers.utils import logging as hf_logging

from datamap_widget import DataMapCallback, Tracker
from datamap_widget.data import load_sample
from datamap_widget.train import default_model_path

N_EXAMPLES = 11  # odd: the last round is padded with a repeated example
EPOCHS = 2


def main(out: str) -> None:
    hf_logging.set_verbosity_error()
    frame = load_sample().iloc[:N_EXAMPLES]
    ids = [int(i.split("-")[-1]) for i in frame.id]  # int ids: they travel as a tensor
    names = sorted(frame.label.unique())
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    enc = tokenizer(list(frame.text), truncation=True, max_length=32)
    examples = [
        {"id": i, "input_ids": a, "attention_mask": m, "labels": names.index(y)}
        for i, a, m, y in zip(ids, enc["input_ids"], enc["attention_mask"], frame.label)
    ]
    tracker = Tracker(ids, frame.label, label_names=names)
    local: list[list[int]] = [[]]
    record, end_epoch = tracker.record, tracker.end_epoch
    tracker.record = lambda b, logits: (local[-1].extend(b.tolist()), record(b, logits))
    tracker.end_epoch = lambda: (end_epoch(), local.append([]))
    model = AutoModelForSequenceClassification.from_pretrained(default_model_path(), num_labels=len(names))
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(), num_train_epochs=EPOCHS, per_device_train_batch_size=2, use_cpu=True,
        report_to=[], save_strategy="no", logging_strategy="no", disable_tqdm=True, seed=0,
    )  # fmt: skip
    trainer = Trainer(
        model=model, args=args, train_dataset=examples, data_collator=DataCollatorWithPadding(tokenizer),
        callbacks=[DataMapCallback(tracker)],
    )  # fmt: skip
    trainer.train()
    assert args.world_size == 2, args.world_size
    np.savez(out, **tracker.trajectories())
    with open(out + ".json", "w") as handle:
        json.dump({"local": local[:EPOCHS], "n_passes": tracker.n_passes, "ids": ids}, handle)


if __name__ == "__main__":
    main(sys.argv[1])
