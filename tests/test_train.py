"""train.py: the batch plan (shuffled or length-bucketed) and the embeddings it records."""

from __future__ import annotations

import numpy as np
import pytest

from datamap_widget.data import load_sample
from datamap_widget.train import BUCKET_CHUNK_BATCHES, _epoch_batches, fine_tune


@pytest.mark.parametrize("buckets", [False, True])
def test_every_example_is_in_exactly_one_batch_per_epoch(buckets):
    lengths = np.random.default_rng(0).integers(3, 60, size=1003)
    batches = _epoch_batches(np.random.default_rng(1), lengths, 16, buckets)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(1003))
    assert max(len(b) for b in batches) == 16


def test_length_buckets_pad_less_yet_still_shuffle():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 60, size=4000)
    plain = _epoch_batches(np.random.default_rng(1), lengths, 16, False)
    bucketed = _epoch_batches(np.random.default_rng(1), lengths, 16, True)

    def padded(batches):  # tokens computed when each batch is padded to its longest text
        return sum(len(b) * lengths[b].max() for b in batches)

    assert padded(bucketed) < 0.75 * padded(plain)
    # Batches are not in length order across the epoch, and epochs differ.
    firsts = [lengths[b].min() for b in bucketed]
    assert not (np.all(np.diff(firsts) >= 0) or np.all(np.diff(firsts) <= 0))
    again = _epoch_batches(np.random.default_rng(2), lengths, 16, True)
    assert [b.tolist() for b in again] != [b.tolist() for b in bucketed]
    assert BUCKET_CHUNK_BATCHES * 16 < 4000  # the chunks, not the whole set, are sorted


@pytest.fixture(scope="module")
def small_sample():
    frame = load_sample().head(24)
    return frame["text"].tolist(), frame["label"].tolist(), frame["id"].tolist()


def test_fine_tune_records_the_last_pass_embeddings_without_an_extra_pass(small_sample):
    texts, labels, ids = small_sample
    run = fine_tune(texts, labels, ids, epochs=2, batch_size=8, progress=False, length_buckets=True)
    emb = run.datamap.embeddings
    assert emb.shape == (24, 384) and emb.dtype == np.float16 and np.isfinite(emb).all()
    assert run.settings["length_buckets"] and run.settings["embeddings"]
    assert (run.datamap.frame["n_passes"] == 2).all()
    # The neighbour scores work on a real run's map.
    assert run.datamap.rescore("knn").frame["mislabel_score"].between(0, 1).all()
    off = fine_tune(texts[:8], labels[:8], ids[:8], epochs=1, batch_size=8, progress=False, embeddings=False)
    assert off.datamap.embeddings is None


def test_the_fused_adamw_makes_the_same_update_as_the_per_tensor_loop():
    torch = pytest.importorskip("torch")
    from datamap_widget.train import _adamw

    torch.manual_seed(0)
    weights = [torch.randn(50, 8, requires_grad=True), torch.randn(8, requires_grad=True)]
    copies = [w.detach().clone().requires_grad_(True) for w in weights]
    fused = _adamw(torch, weights, lr=1e-3, weight_decay=0.01)
    loop = torch.optim.AdamW(copies, lr=1e-3, weight_decay=0.01)
    assert fused.defaults["fused"] is True  # this torch has the CPU kernel
    for _ in range(3):
        for params, opt in ((weights, fused), (copies, loop)):
            opt.zero_grad()
            (params[0].sum(dim=1) ** 2 + params[1].sum()).sum().backward()
            opt.step()
    for a, b in zip(weights, copies):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
