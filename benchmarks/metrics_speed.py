"""How long the cartography metrics take at scale: 1,000,000 examples x 10 passes.

    .venv/bin/python benchmarks/metrics_speed.py [--examples N] [--passes T] [--repeats R]

Prints a Markdown table: the best of R runs of each step (the machine is shared and noisy,
so the minimum is the fair figure), plus peak memory of the whole process.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from datamap_widget import DataMap, metrics


def synthetic_trajectories(n: int, t: int, c: int, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=n)
    gold = rng.random((n, t), dtype=np.float32)
    other = (1 - gold) * rng.random((n, t), dtype=np.float32)
    traj = {
        "gold_prob": gold,
        "other_prob": other,
        "margin": rng.normal(size=(n, t)).astype(np.float32),
        "correct": (gold > other).astype(np.float32),
        "argmax": np.where(gold > other, labels[:, None], (labels[:, None] + 1) % c).astype(np.int16),
        "other_class": ((labels[:, None] + 1) % c * np.ones((1, t))).astype(np.int16),
    }
    return traj, labels


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1_000_000)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, t, c = args.examples, args.passes, args.classes
    traj, labels = synthetic_trajectories(n, t, c)
    ids = np.arange(n)
    names = [f"c{i}" for i in range(c)]
    rows = [
        ("metrics.summarize (all per-example metrics)", best_of(args.repeats, lambda: metrics.summarize(traj, labels, c))),
        ("metrics.mislabel_score (default method)", best_of(args.repeats, lambda: metrics.mislabel_score(traj))),
        ("DataMap(...).frame (metrics + pandas frame)", best_of(args.repeats, lambda: DataMap(ids, labels, names, traj).frame)),
        ("DataMap.suspects(frac=0.05)", best_of(args.repeats, DataMap(ids, labels, names, traj).suspects)),
    ]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| step ({n:,} examples x {t} passes, {c} classes) | best of {args.repeats} (s) |")
    print("|---|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} |")
    print(f"| peak resident memory of the process | {peak_mb:,.0f} MB |")


if __name__ == "__main__":
    main()
