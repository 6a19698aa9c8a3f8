"""Does re-ranking the suspects from the reviews find more errors? A simulated reviewer says.

    .venv/bin/python benchmarks/rerank.py                       # the committed runs
    .venv/bin/python benchmarks/rerank.py --runs DIR --out results/rerank.md

Data: the saved recipe runs (``benchmarks/results/runs/recipe/*.npz``, see ``recipe.py``):
noisy and true labels (3% uniform noise injected), each example's 50 nearest neighbours in
the embedding space of its run and the per-pass trajectories. No training here.

The reviewer goes down the current ranking: looks at the top remaining suspect, relabels it
to its true label if it was flipped (confirms it otherwise), the ranking updates
(:class:`datamap_widget.ranking.ReviewRanking`: the neighbour share of the examples that list
the reviewed one among their ``KNN_K`` neighbours), repeat until 5% of the data is reviewed.
A column counts the injected errors found in those reviews. Rankings:

- ``confidence``: the default score, static (it has no neighbour part), and ``margin``, the
  default until the recipe benchmark's 2,000-example runs;
- ``margin+Δ``: margin plus the change the reviews made to margin_knn's neighbour part
  (so the order is margin's until the first review): the candidate for "learning" on a margin map;
- ``margin_knn``: static rank average of margin and the neighbour share;
- ``margin_knn ↻ w``: re-ranked after each review, a reviewed neighbour weighing ``w``
  (``↻ 3`` is what the library does, :data:`datamap_widget.ranking.REVIEWED_WEIGHT`);
- ``aum_knn`` and ``confidence_knn`` (the product of the two probabilities) static and ``↻ 3``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
from datamap_widget import metrics  # noqa: E402
from datamap_widget.ranking import REVIEWED_WEIGHT, ReviewRanking  # noqa: E402

RUNS = ROOT / "results" / "runs" / "recipe"
OUT = ROOT / "results" / "rerank.md"
BUDGET = 0.05
BASELINE = "confidence"  # the default score (metrics.DEFAULT_METHOD)
WITHOUT = "margin_knn"  # the same score, not re-ranked: the "without" of the headline
WITH = f"margin_knn ↻{REVIEWED_WEIGHT:g}"

#: column -> (method, re-ranked?, reviewed weight, add only the change to margin?)
RANKINGS: dict[str, tuple[str, bool, float, bool]] = {
    "confidence": ("confidence", False, 1.0, False),
    "margin": ("margin", False, 1.0, False),
    "margin+Δ": ("margin_knn", True, REVIEWED_WEIGHT, True),
    "margin_knn": ("margin_knn", False, 1.0, False),
    "margin_knn ↻1": ("margin_knn", True, 1.0, False),
    "margin_knn ↻2": ("margin_knn", True, 2.0, False),
    WITH: ("margin_knn", True, REVIEWED_WEIGHT, False),
    "margin_knn ↻5": ("margin_knn", True, 5.0, False),
    "aum_knn": ("aum_knn", False, 1.0, False),
    "aum_knn ↻3": ("aum_knn", True, 3.0, False),
    "confidence_knn": ("confidence_knn", False, 1.0, False),
    "confidence_knn ↻3": ("confidence_knn", True, 3.0, False),
}


def load_run(path: Path) -> dict:
    z = np.load(path)
    traj = {f: z[f"traj_{f}"].astype(np.int64 if f in ("argmax", "other_class") else np.float32) for f in metrics.TRAJECTORY_FIELDS}
    n = len(z["noisy"])
    k = min(metrics.KNN_K, n - 1)
    return {"traj": traj, "noisy": z["noisy"].astype(np.int64), "true": z["true"].astype(np.int64),
            "neighbours": z["neighbours"][:, :k].astype(np.int64)}


def simulate(run: dict, method: str, rerank: bool, weight: float, delta: bool, budget: int) -> tuple[int, list[float]]:
    """Errors found in ``budget`` reviews down the (re-)ranking, and the seconds each update took."""
    noisy, true = run["noisy"], run["true"]
    if method in metrics.NEIGHBOUR_METHODS:
        ranking = ReviewRanking(run["traj"], noisy, method, run["neighbours"], reviewed_weight=weight)
        score = ranking.score
    else:
        ranking, score = None, metrics.mislabel_score(run["traj"], method)
    margin_rank = metrics.average_rank(metrics.mislabel_score(run["traj"], "margin")) if delta else None
    reviewed = np.zeros(len(noisy), dtype=bool)
    found, update_s = 0, []
    for _ in range(budget):
        if delta:
            current = margin_rank + (ranking.score - ranking.initial_score)
        else:
            current = ranking.score if ranking is not None else score
        row = int(np.argmax(np.where(reviewed | np.isnan(current), -np.inf, current)))
        reviewed[row] = True
        found += int(noisy[row] != true[row])
        if rerank:
            started = time.perf_counter()
            ranking.update(np.array([row]), true[row])
            update_s.append(time.perf_counter() - started)
    return found, update_s


def update_speed(n: int = 100_000, k: int = metrics.KNN_K, reviews: int = 200, seed: int = 0) -> dict[str, float]:
    """Build and per-review update time of a ranking of ``n`` examples (random neighbours, 6 classes)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 6, n)
    neighbours = rng.integers(0, n, (n, k))
    gold = rng.random((n, 6)).astype(np.float32)
    traj = {"gold_prob": gold, "other_prob": 1 - gold, "margin": gold - 0.5, "correct": (gold > 0.5).astype(np.float32),
            "argmax": np.zeros((n, 6), np.int64), "other_class": np.ones((n, 6), np.int64)}
    started = time.perf_counter()
    ranking = ReviewRanking(traj, labels, "margin_knn", neighbours)
    build = time.perf_counter() - started
    times = []
    for row in rng.choice(n, reviews, replace=False):
        started = time.perf_counter()
        ranking.update(np.array([row]), (labels[row] + 1) % 6)
        times.append(time.perf_counter() - started)
    return {"n": n, "build_s": build, "update_ms_median": 1000 * float(np.median(times)), "update_ms_max": 1000 * float(np.max(times))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=RUNS, help="folder of recipe runs (*.npz)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--budget", type=float, default=BUDGET, help="share of the data the reviewer reviews")
    args = parser.parse_args(argv)
    paths = sorted(args.runs.glob("*-uniform-3-*.npz"))  # the 3% runs: at 10% the 5% budget cannot hold the errors
    if not paths:
        raise SystemExit(f"no runs (*.npz) in {args.runs}")
    names = list(RANKINGS)
    rows, recall, updates = [], {name: [] for name in names}, []
    for path in paths:
        run = load_run(path)
        n, errors = len(run["noisy"]), int((run["noisy"] != run["true"]).sum())
        budget = int(np.ceil(args.budget * n))
        counts = []
        for name in names:
            found, took = simulate(run, *RANKINGS[name], budget)
            counts.append(found)
            recall[name].append(found / max(errors, 1))
            updates.extend(took)
        rows.append((path.stem, n, errors, budget, counts))
    header = ["run", "n", "errors", "reviews"] + names
    lines = [
        f"# Re-ranking from the review: errors found in the first {args.budget:.0%} of reviews",
        "",
        f"`{' '.join(['.venv/bin/python', 'benchmarks/rerank.py'] + (argv if argv is not None else sys.argv[1:]))}` — "
        f"{len(paths)} runs from `{args.runs.name}/` (3% uniform noise). A simulated reviewer takes the top remaining "
        "suspect, fixes it if flipped, the ranking updates; counts are injected errors found. See the module docstring for the columns.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for stem, n, errors, budget, counts in rows:
        lines.append(f"| {stem} | {n} | {errors} | {budget} | " + " | ".join(str(c) for c in counts) + " |")
    total = [sum(r[4][i] for r in rows) for i in range(len(names))]
    lines.append("| **total found** | | " + str(sum(r[2] for r in rows)) + " | " + str(sum(r[3] for r in rows)) + " | "
                 + " | ".join(f"**{t}**" for t in total) + " |")
    lines.append("| mean recall | | | | " + " | ".join(f"{np.mean(recall[nm]):.3f}" for nm in names) + " |")
    for ref in (BASELINE, WITHOUT):
        diffs = {nm: np.array([r[4][i] for r in rows]) - np.array([r[4][names.index(ref)] for r in rows]) for i, nm in enumerate(names)}
        lines.append(f"| wins / losses vs {ref} | | | | " + " | ".join(f"{int((d > 0).sum())} / {int((d < 0).sum())}" for d in diffs.values()) + " |")
        lines.append(f"| worst set vs {ref} | | | | " + " | ".join(f"{int(d.min()):+d}" for d in diffs.values()) + " |")
    by_size: dict[int, list] = {}
    for r in rows:
        by_size.setdefault(r[1], []).append(r)
    lines += ["", "Per size (errors found, summed over runs):", ""]
    for size, group in sorted(by_size.items()):
        t = {nm: sum(g[4][i] for g in group) for i, nm in enumerate(names)}
        lines.append(f"- n = {size} ({len(group)} runs, {sum(g[2] for g in group)} errors, {sum(g[3] for g in group)} reviews): "
                     f"{BASELINE} {t[BASELINE]}, margin {t['margin']}, {WITHOUT} static {t[WITHOUT]}, {WITH} {t[WITH]}, margin+Δ {t['margin+Δ']}")
    speed = update_speed()
    lines += [
        "",
        f"Update cost: median {1000 * np.median(updates):.2f} ms per review on these runs; at {speed['n']:,} examples "
        f"(random neighbours, k = {metrics.KNN_K}) building the ranking took {speed['build_s']:.2f} s and one review's "
        f"update {speed['update_ms_median']:.2f} ms median, {speed['update_ms_max']:.2f} ms max.",
    ]
    lines += [
        "",
        f"default: REVIEWED_WEIGHT = {REVIEWED_WEIGHT} (2, 3 and 5 all beat 1 above; 3 the most)",
        f"default: scores re-ranked by reviews = {list(metrics.NEIGHBOUR_METHODS)} (those with a neighbour part; the others do not gain)",
    ]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
