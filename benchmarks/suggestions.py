"""Which suggested label to show a reviewer: measured on the saved recipe runs (no training).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/suggestions.py [--long-runs DIR]

Reads ``results/runs/recipe/base_bucket-<set>-2000-<noise>-s<seed>.npz`` (the shipped recipe's
trajectories, noisy and true labels, 50 nearest neighbours), the text view's out-of-fold
probabilities of the same rows and the BBC long-document runs (``--long-runs``, default
``results/runs/long``), and writes ``results/suggestions.md``. Two numbers per set (seed means):

- **a**: among the true label errors in the top 5% (by the default score, confidence), the share
  whose *shown* suggestion is the true label (what a reviewer pressing ``a`` gets);
- **b**: the share of all correct labels shown a different suggestion (what a bulk accept breaks).

Candidates share one form: class evidence ``wm * early-pass model probabilities + wk * share of
the 10 nearest neighbours' labels + wx * text view``; the alternative is its best class other
than the label; it is shown when it beats the label by ``tau`` and the example lies in the top
``zone`` suspects, ``zone = est x #(examples whose evidence prefers another class by > et)``.
The rule is chosen by leave-one-set-out on uniform 3% (best mean a with b <= 2% on every
training set); the last line prints the shipped default.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from datamap_widget import metrics

RESULTS = Path(__file__).resolve().parent / "results"
RUNS = RESULTS / "runs" / "recipe"
SETS = ("trec", "trec_fine", "sst2", "mr", "subj", "cr", "mpqa", "emotion")
TOP = 0.05
BUDGET = 0.02
WEIGHTS = {"model": (1.0, 0.0, 0.0), "model+knn": (0.8, 0.2, 0.0), "model+text": (0.8, 0.0, 0.2), "model+knn+text": (0.6, 0.2, 0.2)}
EST, ET, TAU = (0.5, 0.75, 1.0, 1.25), (0.1, 0.2, 0.3), (0.0, 0.1, 0.2, 0.3)


def load(path: Path, long_runs: Path) -> dict:
    a = np.load(path)
    traj = {k[5:]: (a[k].astype(np.float32) if a[k].dtype.kind == "f" else a[k].astype(np.int64)) for k in a.files if k.startswith("traj_")}
    record = json.loads(path.with_suffix(".json").read_text())
    text = long_runs / f"text_view-{path.stem}.npz"
    data = {"traj": traj, "noisy": a["noisy"].astype(np.int64), "true": a["true"].astype(np.int64), "C": record["n_classes"]}
    data["text"] = a["text_probabilities"].astype(np.float32) if "text_probabilities" in a.files else (np.load(text)["text_probabilities"].astype(np.float32) if text.exists() else None)
    data["neighbours"] = a["neighbours"].astype(np.int64) if "neighbours" in a.files else None
    return data


def evidence(d: dict, wm: float, wk: float, wx: float) -> tuple[np.ndarray, np.ndarray]:
    """(alternative, its evidence minus the label's) from the (N, C) mixture of the three views."""
    traj, noisy, c = d["traj"], d["noisy"], d["C"]
    n, t = traj["gold_prob"].shape
    early = int(np.ceil(metrics.SUGGESTION_EARLY_SHARE * t))
    rows = np.arange(n)
    model = np.zeros((n, c), np.float32)
    model[rows, noisy] = traj["gold_prob"][:, :early].mean(axis=1)
    for s in range(early):
        np.add.at(model, (rows, traj["other_class"][:, s]), traj["other_prob"][:, s] / early)
    total = wm * model
    if wk:
        knn = np.zeros((n, c), np.float32)
        for j in range(10):
            np.add.at(knn, (rows, noisy[d["neighbours"][:, j]]), 0.1)
        total = total + wk * knn
    if wx:
        total = total + wx * d["text"]
    label = total[rows, noisy].copy()
    total[rows, noisy] = -np.inf
    alternative = total.argmax(axis=1)
    return alternative, total[rows, alternative] - label


def judge(d: dict, suggested: np.ndarray, shown: np.ndarray) -> tuple[float, float]:
    score = metrics.mislabel_score(d["traj"], metrics.DEFAULT_METHOD)
    top = np.zeros(len(score), bool)
    top[np.argsort(-score, kind="stable")[: int(round(TOP * len(score)))]] = True
    error = d["noisy"] != d["true"]
    a = (shown & (suggested == d["true"]) & error & top).sum() / max(1, (error & top).sum())
    return float(a), float((shown & ~error).sum() / (~error).sum())


def before(d: dict) -> tuple[np.ndarray, np.ndarray]:
    vote = metrics.suggested_label(d["traj"], d["noisy"], d["C"])
    return vote, (vote != d["noisy"]) & (metrics.suggestion_support(d["traj"], vote) >= metrics.SUGGESTION_MIN_SUPPORT)


def after(d: dict) -> tuple[np.ndarray, np.ndarray]:
    out = metrics.suggest_labels(d["traj"], d["noisy"], metrics.mislabel_score(d["traj"], metrics.DEFAULT_METHOD))
    return out["suggested_label"], out["suggestion_confident"]


def grid(runs: dict) -> pd.DataFrame:
    rows = []
    for (ds, seed), d in runs.items():
        score = metrics.mislabel_score(d["traj"], metrics.DEFAULT_METHOD)
        order = np.argsort(-score, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        for name, w in WEIGHTS.items():
            alternative, margin = evidence(d, *w)
            for est, et, tau in itertools.product(EST, ET, TAU):
                shown = (margin > tau) & (rank < int(np.floor(est * (margin > et).sum() + 0.5)))
                rows.append((ds, seed, name, est, et, tau, *judge(d, alternative, shown)))
    return pd.DataFrame(rows, columns=["set", "seed", "evidence", "est", "et", "tau", "a", "b"])


def leave_one_set_out(frame: pd.DataFrame) -> tuple[pd.DataFrame, tuple]:
    cfg = ["evidence", "est", "et", "tau"]
    per = frame.groupby(cfg + ["set"])[["a", "b"]].mean().reset_index()

    def pick(train):
        t = per[per.set.isin(train)].groupby(cfg).agg(a=("a", "mean"), bmax=("b", "max")).reset_index()
        return tuple(t[t.bmax <= BUDGET].sort_values("a", ascending=False, kind="stable").iloc[0][cfg])

    out = []
    for held in SETS:
        choice = pick([s for s in SETS if s != held])
        row = per[(per.set == held) & np.logical_and.reduce([per[c] == v for c, v in zip(cfg, choice)])].iloc[0]
        out.append({"held out": held, "picked": " ".join(map(str, choice)), "a": row.a, "b": row.b})
    return pd.DataFrame(out), pick(list(SETS))


def table(rows: list[dict]) -> str:
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()] for row in rows]
    head = list(rows[0])
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(c) + " |" for c in cells])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long-runs", type=Path, default=RESULTS / "runs" / "long")
    args = parser.parse_args(argv)
    uniform = {(ds, s): load(RUNS / f"base_bucket-{ds}-2000-uniform-3-s{s}.npz", args.long_runs) for ds in SETS for s in range(3)}
    found = grid(uniform)
    loso, best = leave_one_set_out(found)
    loso_model, _ = leave_one_set_out(found[found.evidence == "model"])
    lines = ["# Suggested labels", "", __doc__.split("\n\n", 1)[1].split("The rule is chosen")[0].strip(), ""]
    lines += ["## Leave one set out (uniform 3%, seeds 0-2)", "", "`picked` = evidence est et tau chosen on the other seven sets.", "", table(loso.to_dict("records")),
              "", f"Mean a {loso.a.mean():.3f}, mean b {loso.b.mean():.4f}. Chosen on all eight: {' '.join(map(str, best))}.", "",
              "The same, model evidence alone (needs no neighbours or text view; shipped: the higher held-out mean, one pick on every fold):", "",
              table(loso_model.to_dict("records")), "", f"Mean a {loso_model.a.mean():.3f}, mean b {loso_model.b.mean():.4f}.", ""]
    per = found.groupby(["evidence", "est", "et", "tau"])[["a", "b"]].mean()
    lines += ["## Evidence compared (its best est/et/tau on all eight, b <= 2% on every set)", ""]
    by_set = found.groupby(["evidence", "est", "et", "tau", "set"])[["a", "b"]].mean().reset_index()
    best_rows = []
    for name in WEIGHTS:
        sub = by_set[by_set.evidence == name].groupby(["est", "et", "tau"]).agg(a=("a", "mean"), b=("b", "mean"), bmax=("b", "max")).reset_index()
        top = sub[sub.bmax <= BUDGET].sort_values("a", ascending=False, kind="stable").iloc[0]
        best_rows.append({"evidence": name, "est": top.est, "et": top.et, "tau": top.tau, "a": top.a, "b": top.b, "b max": top.bmax})
    lines += [table(best_rows), ""]
    del per
    sections = [("uniform 3%, seeds 0-2", uniform)]
    for noise in ("uniform-10", "confusable-10"):
        sections.append((f"{noise.replace('-', ' ')}%, seed 0", {(ds, 0): load(RUNS / f"base_bucket-{ds}-2000-{noise}-s0.npz", args.long_runs) for ds in SETS}))
    bbc = {(p.stem, 0): load(p, args.long_runs) for p in sorted(args.long_runs.glob("*-bbc-*.npz"))}
    if bbc:
        sections.append(("BBC News long documents (400 articles, 3%), by reading mode", bbc))
    lines += ["## Before and after, per set", "", "before = the vote over all passes, shown at support >= 0.67; after = `metrics.suggest_labels` (shipped).", ""]
    for title, runs in sections:
        rows = []
        for ds in dict.fromkeys(k[0] for k in runs):
            ab = [(judge(d, *before(d)), judge(d, *after(d))) for (name, _), d in runs.items() if name == ds]
            m = np.mean([[x[0][0], x[0][1], x[1][0], x[1][1]] for x in ab], axis=0)
            rows.append({"set": ds, "a before": m[0], "a after": m[2], "b before": m[1], "b after": m[3]})
        mean = pd.DataFrame(rows).drop(columns="set").mean()
        rows.append({"set": "mean", **mean.to_dict()})
        lines += [f"### {title}", "", table(rows), ""]
        print(f"{title}\n{table(rows)}\n")
    default = "model early passes, shown if margin > {} in the top {} x #(margin > {}) suspects".format(
        metrics.SUGGESTION_MIN_MARGIN, metrics.SUGGESTION_ZONE_SHARE, metrics.SUGGESTION_ERROR_MARGIN)
    lines += [f"default: {default}", ""]
    (RESULTS / "suggestions.md").write_text("\n".join(lines))
    print(table(loso.to_dict("records")))
    print(f"chosen on all eight: {best}; held-out mean a {loso.a.mean():.3f} (any evidence), {loso_model.a.mean():.3f} (model alone)")
    print(f"default: {default}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
