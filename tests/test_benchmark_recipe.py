"""The recipe benchmark's own parts: if these were wrong, its choice of defaults would mislead."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import recipe_report  # noqa: E402


def test_leave_one_out_picks_on_the_other_sets_only():
    rows = []
    # Recipe "a" is best on every set but "x"; "b" wins "x" by a lot (enough to lead the mean).
    for dataset, a, b in (("x", 0.1, 0.99), ("y", 0.8, 0.6), ("z", 0.8, 0.6), ("w", 0.8, 0.7)):
        rows += [{"recipe": "a", "score": "s", "dataset": dataset, "ap": a}, {"recipe": "b", "score": "s", "dataset": dataset, "ap": b}]
    folds, table = recipe_report.leave_one_out(pd.DataFrame(rows))
    by_set = {f["held_out"]: f for f in folds}
    assert by_set["x"]["pick"] == "a / s"  # chosen without x, where it then ranks 2nd
    assert by_set["x"]["pick_rank_on_held_out"] == 2 and by_set["x"]["pick_on_held_out"] == 0.1
    assert by_set["y"]["pick"] == "b / s"  # with x in, b's mean leads
    assert table.shape == (2, 4)


def test_a_candidate_missing_a_set_does_not_compete():
    rows = [{"recipe": "a", "score": "s", "dataset": d, "ap": 0.5} for d in "xyz"]
    rows += [{"recipe": "b", "score": "s", "dataset": d, "ap": 0.9} for d in "xy"]
    folds, table = recipe_report.leave_one_out(pd.DataFrame(rows))
    assert list(table.index) == [("a", "s")] and all(f["pick"] == "a / s" for f in folds)


def test_suggestion_rows_count_fixes_and_breakages():
    n, t = 10, 4
    true = np.zeros(n, dtype=np.int64)
    noisy = true.copy()
    noisy[[0, 1]] = 1  # two flips
    argmax = np.zeros((n, t), dtype=np.int64)
    argmax[1] = [0, 0, 1, 1]  # flip 1: half the passes back the true label
    argmax[2] = [1, 1, 1, 0]  # a clean example the model calls 1 in 3 of 4 passes
    gold = np.where(argmax == noisy[:, None], 0.8, 0.2).astype(np.float32)
    traj = {"gold_prob": gold, "other_prob": (1 - gold).astype(np.float32), "margin": np.zeros((n, t), np.float32),
            "correct": (argmax == noisy[:, None]).astype(np.float32), "argmax": argmax, "other_class": 1 - noisy[:, None] + 0 * argmax}
    rows = {r["support"]: r for r in recipe_report.suggestion_rows({"traj": traj, "noisy": noisy, "true": true}, 2)}
    assert rows[0.0]["flipped_fixed"] == 1.0  # both flips get the true label suggested
    assert rows[0.0]["clean_broken"] == 1 / 8  # example 2
    assert rows[1.0]["flipped_fixed"] == 0.5  # only flip 0 (all four passes) at full support
    assert rows[1.0]["clean_broken"] == 0.0


def _cells(recipe, score, values, size=2000, noise="uniform-3"):
    """Rows of the collected frame: values[dataset] = [(ap, recall@5%) per seed]."""
    return [
        {"recipe": recipe, "score": score, "dataset": d, "size": size, "noise": noise, "seed": seed, "ap": ap, "recall@5%": r5}
        for d, per_seed in values.items() for seed, (ap, r5) in enumerate(per_seed)
    ]


def test_the_seed_mean_view_averages_seeds_and_leaves_out_candidates_missing_one():
    shipped = _cells("base_bucket", "confidence@all", {"x": [(0.9, 0.9), (0.7, 0.7), (0.8, 0.8)], "y": [(0.3, 0.4), (0.5, 0.6), (0.4, 0.5)]})
    one_seed = _cells("cleanlab5_high_lr", "confidence@last", {"x": [(1.0, 1.0)], "y": [(1.0, 1.0)]})  # seed 0 only: would lead if it competed
    parts, summary = recipe_report.seed_mean_section(pd.DataFrame(shipped + one_seed), 2000, "uniform-3")
    overview = summary["2000-uniform-3-seedmean-overview"]
    assert [(row["recipe"], row["score"]) for row in overview] == [("base_bucket", "confidence@all")]
    assert overview[0]["mean AP"] == pytest.approx(0.6) and overview[0]["worst AP"] == pytest.approx(0.4) and overview[0]["sets with R@5% >= 0.8"] == 1
    text = "\n".join(parts)
    assert "0.800 ± 0.100 · 80% (3 seeds)" in text  # set x: mean ± std over the seeds
    assert "| 1.000 · 100% (1 seed) |" in text  # cleanlab's one seed is shown beside it, marked


def test_the_cleanlab_comparison_pairs_the_same_rows_and_counts_losses():
    frame = pd.DataFrame(
        _cells("base_bucket", "confidence@all", {"x": [(0.8, 0.9)], "y": [(0.3, 0.5)], "z": [(0.5, 0.5)]})
        + _cells("cleanlab5_high_lr", "confidence@last", {"x": [(0.6, 0.8)], "y": [(0.4, 0.5)]})
    )
    meta = pd.DataFrame([
        {"recipe": r, "dataset": d, "size": 2000, "noise": "uniform-3", "seed": 0, "seconds": s}
        for r, d, s in (("base_bucket", "x", 100), ("base_bucket", "y", 50), ("base_bucket", "z", 10), ("cleanlab5_high_lr", "x", 400), ("cleanlab5_high_lr", "y", 200))
    ])
    text = "\n".join(recipe_report.cleanlab_section(frame, meta))
    assert "at least cleanlab's in 1 of 2 cells" in text  # z has no cleanlab run: not a cell
    assert "| x | 2000 | uniform-3 | 0 | 0.800 · 90% | 0.600 · 80% | +0.200 | 100 | 400 | 4.0x |" in text
    assert "-0.100" in text
