"""The recipe benchmark's own parts: if these were wrong, its choice of defaults would mislead."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

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
