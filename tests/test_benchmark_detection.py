"""The detection benchmark's own parts: if these were wrong, its tables would mislead."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("detection", ROOT / "benchmarks" / "detection.py")
detection = importlib.util.module_from_spec(spec)
sys.modules["detection"] = detection
spec.loader.exec_module(detection)
# The benchmark reads the full shared sets beside the repository; its tests read the cuts
# committed in tests/data (same format, see tests/data/README.md), so a clone alone runs them.
detection.DATA = ROOT / "tests" / "data"


def test_metrics_match_a_ranking_worked_by_hand():
    # 20 examples, errors ranked 1st and 4th by the score.
    scores = np.linspace(1.0, 0.0, 20)
    is_error = np.zeros(20, dtype=bool)
    is_error[[0, 3]] = True
    got = detection.detection_metrics(scores, is_error)
    assert got["recall@1%"] == 0.5  # top max(1, 0.2) = 1 example
    assert got["recall@5%"] == 0.5  # top 1
    assert got["recall@10%"] == 0.5  # top 2
    assert got["precision@k"] == 0.5  # k = 2: one of the top two
    assert got["ap"] == pytest.approx((1 / 1 + 2 / 4) / 2)
    assert got["auroc"] == pytest.approx((18 + 16) / 36)


def test_a_nan_score_ranks_last_not_first():
    scores = np.array([np.nan, 0.9, 0.1, 0.2])
    is_error = np.array([True, False, False, False])
    got = detection.detection_metrics(scores, is_error)
    assert got["precision@k"] == 0.0
    assert got["auroc"] == 0.0


def test_metrics_refuse_a_ranking_without_errors():
    with pytest.raises(ValueError, match="both errors and clean"):
        detection.detection_metrics(np.ones(5), np.zeros(5, dtype=bool))


def test_uniform_noise_flips_exactly_the_rate_always_to_another_class():
    codes = np.repeat(np.arange(6), 100)
    noisy, is_error = detection.inject_noise(codes, 6, "uniform", 0.03, seed=1)
    assert is_error.sum() == 18
    assert (noisy[is_error] != codes[is_error]).all()
    assert (noisy[~is_error] == codes[~is_error]).all()
    assert len(set(noisy[is_error] - codes[is_error])) > 1  # not one fixed shift
    again, _ = detection.inject_noise(codes, 6, "uniform", 0.03, seed=1)
    assert (again == noisy).all()  # seeded


def test_confusable_noise_flips_to_each_class_s_confusable_class():
    codes = np.repeat(np.arange(3), 100)
    confusable = np.array([2, 0, 1])
    noisy, is_error = detection.inject_noise(codes, 3, "confusable", 0.10, seed=0, confusable=confusable)
    assert is_error.sum() == 30
    assert (noisy[is_error] == confusable[codes[is_error]]).all()


def test_stratified_sample_keeps_class_shares_of_the_real_train_split():
    frame = detection.load_train("trec")
    sample = detection.stratified_sample(frame, 500, seed=0)
    assert len(sample) == 500 and sample["id"].is_unique
    expected = frame["label"].value_counts(normalize=True) * 500
    got = sample["label"].value_counts().reindex(expected.index)
    assert (abs(got - expected) < 1).all()


def test_rank_mean_orders_by_both_scores():
    a = np.array([0.1, 0.9, 0.5])
    b = np.array([1.0, 30.0, 20.0])
    assert np.argsort(detection.rank_mean(a, b)).tolist() == [0, 2, 1]


def test_a_real_cell_end_to_end_with_the_cheap_baseline(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(detection, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(detection, "RESULTS", tmp_path)
    args = ["--datasets", "trec", "--sizes", "500", "--noise", "uniform-10", "--seeds", "0", "--families", "tfidf"]
    assert detection.main(args) == 0
    table = (tmp_path / "detection.md").read_text()
    assert "trec · 500 examples · uniform 10% noise (50 errors)" in table
    summary = json.loads((tmp_path / "detection.json").read_text())
    ap = summary["settings"][0]["methods"]["cleanlab (TF-IDF 5-fold)"]["ap"]
    # 10% of labels are wrong, so a random ranking scores AP ~0.1; a working baseline on TREC
    # does far better. A misaligned noise mask would fall to chance.
    assert ap > 0.3
    # A second run reads the saved record instead of training again.
    cached = next((tmp_path / "runs").glob("*.json"))
    before = cached.stat().st_mtime_ns
    monkeypatch.setitem(detection.RUNNERS, "tfidf", lambda data, seed: pytest.fail("ran again"))
    assert detection.main(args) == 0
    assert cached.stat().st_mtime_ns == before


def test_confusable_noise_flips_the_more_confused_class_more_often():
    # Two classes: symmetric targets, so only the rates can make the noise class-conditional
    # (before they did, the two-class "confusable" setting was a copy of the uniform one).
    codes = np.repeat(np.arange(2), 500)
    noisy, is_error = detection.inject_noise(codes, 2, "confusable", 0.10, seed=0, confusable=np.array([1, 0]), class_weights=np.array([0.3, 0.05]))
    flipped_from = np.bincount(codes[is_error], minlength=2)
    assert is_error.sum() == 100
    assert flipped_from[0] > 3 * flipped_from[1]
    uniform, _ = detection.inject_noise(codes, 2, "uniform", 0.10, seed=0)
    assert (uniform != noisy).any()


def test_confusable_classes_of_real_sst2_are_each_other_with_measured_rates():
    frame = detection.load_train("sst2")
    target, rates = detection.confusable_classes(frame.iloc[:1500], ["negative", "positive"], seed=0)
    assert target.tolist() == [1, 0]
    assert ((rates > 0) & (rates < 0.5)).all()
