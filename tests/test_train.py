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


def test_stratified_folds_split_each_class_evenly():
    from datamap_widget.train import _stratified_folds

    codes = np.repeat([0, 1, 2], [10, 7, 3])
    folds = _stratified_folds(codes, 2, seed=0)
    for c in range(3):
        counts = np.bincount(folds[codes == c], minlength=2)
        assert abs(counts[0] - counts[1]) <= 1
    assert not np.array_equal(folds, _stratified_folds(codes, 2, seed=1))  # seeded, not fixed


def test_cross_fit_maps_every_example_from_the_model_that_did_not_train_on_it(small_sample, monkeypatch):
    import datamap_widget.train as train

    texts, labels, ids = small_sample
    seen = []
    real = train.fine_tune

    def spy(t, l, i, **kw):  # noqa: E741
        run = real(t, l, i, **kw)
        seen.append((set(i), kw["held_out_texts"], run))
        return run

    monkeypatch.setattr(train, "fine_tune", spy)
    run = train.cross_fit(texts, labels, ids, folds=2, epochs=2, batch_size=8, progress=False)
    dmap = run.datamap
    assert list(dmap.ids) == list(ids) and run.settings["cross_fit"] == 2
    assert (dmap.frame["n_passes"] == 2).all() and dmap.embeddings.shape == (24, 384)
    assert len(seen) == 2
    for trained_on, held_texts, fold_run in seen:
        held_ids = [i for i in ids if i not in trained_on]  # the other half, in input order
        assert held_texts == [t for i, t in zip(ids, texts) if i not in trained_on]
        assert 0 < len(held_ids) < len(ids) and not trained_on & set(held_ids)
        assert len(fold_run.held_out_logits) == 2 and fold_run.held_out_logits[-1].shape == (len(held_ids), len(dmap.label_names))
        # The map's last-pass gold probability of a held-out example is its fold model's softmax.
        logits = fold_run.held_out_logits[-1]
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        rows = dmap.positions(held_ids)
        gold = dmap.labels[rows]
        np.testing.assert_allclose(dmap.trajectories["gold_prob"][rows, -1], probs[np.arange(len(rows)), gold], rtol=1e-3, atol=1e-3)


def test_cross_fit_refuses_bad_folds_and_its_own_options(small_sample):
    from datamap_widget.train import cross_fit

    texts, labels, ids = small_sample
    for folds in (1, 2.5, True):
        with pytest.raises(ValueError, match="folds must be an int >= 2"):
            cross_fit(texts, labels, ids, folds=folds)
    with pytest.raises(TypeError, match="not options"):
        cross_fit(texts, labels, ids, held_out_texts=texts)
    with pytest.raises(ValueError, match="at least 6 examples"):
        cross_fit(texts[:5], labels[:5], ids[:5], folds=3)


def test_the_default_reads_short_texts_exactly_as_the_tokenizers_truncation_did():
    from transformers import AutoTokenizer

    from datamap_widget.data import load_sample
    from datamap_widget.train import DEFAULTS, default_model_path, read_texts

    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    texts = load_sample()["text"].tolist()
    units, read = read_texts(tokenizer, texts, DEFAULTS["long_text"], DEFAULTS["max_length"], DEFAULTS["stride"], DEFAULTS["max_windows"])
    assert read["texts_longer_than_max_length"] == 0 and units.n_units == len(texts)
    assert units.input_ids == tokenizer(texts, truncation=True, max_length=DEFAULTS["max_length"])["input_ids"]


def test_reading_the_texts_counts_what_each_mode_leaves_unread():
    from transformers import AutoTokenizer

    from datamap_widget.train import default_model_path, read_texts

    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    texts = ["short one"] * 6 + [" ".join(["word"] * 40)] * 2 + [" ".join(["word"] * 200)]
    units, head = read_texts(tokenizer, texts, "head", 16, 4, 32)
    assert head["texts_longer_than_max_length"] == head["texts_not_read_whole"] == 3 and units.n_units == 9
    # Head reads exactly what the tokenizer's own truncation gives.
    assert units.input_ids == tokenizer(texts, truncation=True, max_length=16)["input_ids"]
    units, windows = read_texts(tokenizer, texts, "windows", 16, 4, 32)
    assert windows["texts_not_read_whole"] == 0 and windows["mean_share_read"] == 1.0
    assert units.n_units == 6 + 2 * 4 + 20 and windows["units_per_text"] == pytest.approx(34 / 9, abs=1e-3)
    _, capped = read_texts(tokenizer, texts, "windows", 16, 4, 5)
    assert capped["texts_capped"] == 1 and capped["texts_not_read_whole"] == 1


def test_fine_tune_warns_when_many_texts_are_cut_naming_the_modes_that_read_them_and_refuses_bad_settings(small_sample):
    texts, labels, ids = small_sample
    with pytest.warns(UserWarning, match=r"of 8 texts .* longer than max_length=8 tokens and were cut.*long_text='head_tail'.*long_text='windows'"):
        run = fine_tune(texts[:8], labels[:8], ids[:8], epochs=1, batch_size=8, max_length=8, progress=False, embeddings=False, long_text="head")
    assert run.settings["truncated_texts"] > 0 and run.settings["read"]["mode"] == "head"
    with pytest.raises(ValueError, match=r"max_length=4096 is more than this model reads \(512 tokens"):
        fine_tune(texts[:8], labels[:8], ids[:8], epochs=1, max_length=4096, progress=False)
    with pytest.raises(ValueError, match=r"stride=10 is not smaller than a window's 6 text tokens"):
        fine_tune(texts[:8], labels[:8], ids[:8], epochs=1, max_length=8, long_text="windows", stride=10, progress=False)
    with pytest.raises(ValueError, match=r"long_text must be one of"):
        fine_tune(texts[:8], labels[:8], ids[:8], long_text="everything", progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["head_tail", "windows"])
def test_a_mode_that_reads_the_end_learns_labels_that_only_the_end_carries(mode, verdict_last):
    texts, labels, ids = verdict_last(24)
    options = dict(epochs=6, batch_size=4, max_length=64, stride=16, lr=2e-4, progress=False, embeddings=False)
    with pytest.warns(UserWarning, match="were cut"):
        head = fine_tune(texts, labels, ids, long_text="head", **options)
    read_end = fine_tune(texts, labels, ids, long_text=mode, **options)
    # Over the passes (a head reader ends up memorising the filler; it never learns the rule).
    learned = lambda run: run.datamap.trajectories["correct"].mean()  # noqa: E731
    assert learned(read_end) >= 0.8 and learned(head) <= 0.7
    assert read_end.datamap.frame["confidence"].mean() > head.datamap.frame["confidence"].mean() + 0.05
    assert len(read_end.datamap) == 24 and (read_end.datamap.frame["n_passes"] == 6).all()
    assert read_end.settings["read"]["mode"] == mode and read_end.settings["read"]["texts_longer_than_max_length"] == 24
    if mode == "windows":
        assert read_end.settings["read"]["mean_share_read"] == 1.0 and read_end.settings["read"]["units_per_text"] >= 3


@pytest.mark.slow
def test_the_text_view_joins_on_long_texts_with_auto_never_on_short_ones_and_is_off_by_default(small_sample, verdict_last):
    texts, labels, ids = verdict_last(40)
    options = dict(epochs=1, batch_size=8, max_length=64, progress=False, embeddings=False)
    with pytest.warns(UserWarning, match="were cut"):
        plain = fine_tune(texts, labels, ids, **options)
    assert plain.datamap.method == "confidence" and plain.datamap.text_probabilities is None and not plain.settings["text_view"]
    options["text_view"] = "auto"
    with pytest.warns(UserWarning, match="were cut"):
        long_run = fine_tune(texts, labels, ids, long_text="head", **options)
    dmap = long_run.datamap
    assert dmap.method == "confidence_text" and long_run.settings["text_view"]
    assert dmap.text_probabilities.shape == (40, 2) and np.allclose(dmap.text_probabilities.sum(axis=1), 1)
    # The bag of words reads the verdicts the head never sees: out of fold it gets them right.
    assert (dmap.text_probabilities.argmax(axis=1) == dmap.labels).mean() >= 0.9
    assert dmap.reading["mode"] == "head" and dmap.reading["texts_longer_than_max_length"] == 40
    short = fine_tune(*small_sample, **options)
    assert short.datamap.method == "confidence" and short.datamap.text_probabilities is None and not short.settings["text_view"]
    forced = fine_tune(*small_sample, **{**options, "text_view": True})
    assert forced.datamap.method == "confidence_text" and "text_view_s" in forced.timings
    with pytest.raises(ValueError, match="text_view must be True, False or 'auto'"):
        fine_tune(*small_sample, **{**options, "text_view": "yes"})


def test_an_unknown_hub_model_without_network_is_one_error_at_once_not_a_minute_of_retries(small_sample, monkeypatch):
    import socket
    import time

    def unreachable(*args, **kwargs):
        raise OSError(-2, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    started = time.perf_counter()
    with pytest.raises(ValueError, match=r"'someone/not-a-model' is not a local folder nor in the Hugging Face cache, and huggingface.co cannot be reached"):
        fine_tune(*small_sample, model="someone/not-a-model", epochs=1, progress=False)
    assert time.perf_counter() - started < 20  # it used to retry for about 50 s first
