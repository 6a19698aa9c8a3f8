"""How fast the Store writes and reads a big run, on SQLite and PostgreSQL; prints a table.

    python benchmarks/store_speed.py                 # 100,000 examples, 5 passes
    python benchmarks/store_speed.py --n 20000 --postgres postgresql+psycopg://user@host/db

Without --postgres, a throwaway PostgreSQL server is started like the tests do
(tests/harness/postgres.py; needs scripts/setup.sh --test). Each figure is the best of --repeat runs,
in seconds unless the column says ms. The map is synthetic (random trajectories): the
store's cost depends on the number of examples and passes, not on the values.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

import _paths  # noqa: F401,E402  (the repository root on sys.path)
from datamap_widget import DataMap, Store  # noqa: E402


def synthetic_map(n: int, passes: int, seed: int = 0) -> DataMap:
    rng = np.random.default_rng(seed)
    gold = rng.uniform(0, 1, (n, passes)).astype(np.float32)
    trajectories = {
        "gold_prob": gold,
        "other_prob": ((1 - gold) * rng.uniform(0.5, 1, (n, passes))).astype(np.float32),
        "margin": rng.normal(size=(n, passes)).astype(np.float32),
        "correct": (gold > 0.5).astype(np.float32),
        "argmax": rng.integers(0, 6, (n, passes)).astype(np.int16),
        "other_class": rng.integers(0, 6, (n, passes)).astype(np.int16),
    }
    ids = np.array([f"example-{i:07d}" for i in range(n)])
    return DataMap(ids, rng.integers(0, 6, n), ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"], trajectories)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(url: str, dmap: DataMap, repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with Store(url) as store:
        runs: list[int] = []
        out["save_run"] = best(lambda: runs.append(store.save_run(dmap, "bench")), repeat)
        run = runs[-1]
        out["load_run"] = best(lambda: store.load_run(run), repeat)
        out["suspects"] = best(lambda: store.suspects("bench", top=100), repeat)
        ids = dmap.ids[:1000].tolist()
        batch = [{"example_id": i, "action": "confirmed", "reviewer": "bench"} for i in ids]
        out["1000 reviews, 1 call"] = best(lambda: store.add_reviews("bench", batch), repeat)
        singles = [[{"example_id": i, "action": "relabeled", "new_label": "HUM"}] for i in ids[:100]]
        out["1 review (ms)"] = 1000 * best(lambda: [store.add_reviews("bench", row) for row in singles], 1) / len(singles)
        out["current_labels"] = best(lambda: store.current_labels("bench"), repeat)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="examples in the run (default 100000)")
    parser.add_argument("--passes", type=int, default=5, help="passes (epochs) per example (default 5)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per figure, best kept (default 2)")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (default: start a throwaway server)")
    args = parser.parse_args()

    dmap = synthetic_map(args.n, args.passes)
    dmap.frame  # computed once, outside the timings
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite (file)"] = measure(f"sqlite:///{folder}/bench.db", dmap, args.repeat)
    if args.postgres:
        results["postgresql"] = measure(args.postgres, dmap, args.repeat)
    else:
        from tests.harness.postgres import postgres_server

        with postgres_server() as server:
            results["postgresql (local)"] = measure(server.url(server.create_database()), dmap, args.repeat)

    columns = list(next(iter(results.values())))
    print(f"Store speed: {args.n:,} examples x {args.passes} passes (best of {args.repeat}; seconds unless ms)")
    header = f"{'backend':<20}" + "".join(f"{c:>22}" for c in columns)
    print(header)
    print("-" * len(header))
    for backend, row in results.items():
        print(f"{backend:<20}" + "".join(f"{row[c]:>22.3f}" for c in columns))
    for backend, row in results.items():
        print(f"{backend}: save_run writes {args.n / row['save_run']:,.0f} examples/s")


if __name__ == "__main__":
    main()
