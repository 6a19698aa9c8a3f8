"""Which nearest-neighbour index a data map should use: exact numpy against hnswlib, faiss and pynndescent.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/neighbour_index.py               # 10,000 / 70,601 / 100,000
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/neighbour_index.py --sizes 10000 --libraries exact hnswlib

Embeddings: the real sentence embeddings of the 70,601 shared texts
(``benchmarks/embed_corpus.py``, cached as ``results/cache/corpus-70601.npy``, float16), the
first N rows for N <= 70,601; **above that, jittered copies**: random rows plus Gaussian noise
(std 0.02 per coordinate of the unit vectors), renormalised, so 100,000 has the corpus's
geometry but is not 100,000 distinct texts.

Per library and size: build time (for exact: normalising the matrix once), the time of one
query (k = 8 neighbours of one document, the detail pane; median of 50 documents), the time
of the all-points search (k = 10 for every example, the neighbour score) and recall@k of both
against the exact search. Every library runs on one thread (``OMP_NUM_THREADS=1``,
``num_threads=1``), the way the package is used on a shared CPU; timings are ratios within
one run on a machine shared with other jobs, not absolute promises.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
from datamap_widget import metrics  # noqa: E402

CORPUS = Path(os.environ.get("DMW_CORPUS", ROOT / "results" / "cache" / "corpus-70601.npy"))
OUT = ROOT / "results" / "neighbour_index.md"
PANE_K, SCORE_K = 8, metrics.KNN_K
QUERIES = 50
LIBRARIES = ("exact", "faiss_flat", "hnswlib", "faiss_hnsw", "pynndescent")


def embeddings(n: int, seed: int = 0) -> np.ndarray:
    base = np.load(CORPUS).astype(np.float32)
    base /= np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-12)
    if n <= len(base):
        return np.ascontiguousarray(base[:n])
    rng = np.random.default_rng(seed)
    extra = base[rng.integers(0, len(base), n - len(base))] + rng.normal(0, 0.02, (n - len(base), base.shape[1])).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return np.ascontiguousarray(np.vstack([base, extra]))


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row's exact neighbours that ``found`` also lists."""
    k = truth.shape[1]
    hits = (found[:, :, None] == truth[:, None, :]).any(axis=2).sum(axis=1)
    return float(np.mean(hits / k))


def exact_top(unit: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    sims = unit[rows] @ unit.T
    sims[np.arange(len(rows)), rows] = -np.inf
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def drop_self(found: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Results of a k+1 search with each query's own row taken out (approximate indexes list it)."""
    out = np.full((len(rows), k), -1, dtype=np.int64)
    for i, (hit, row) in enumerate(zip(found, rows)):  # benchmark bookkeeping only, not a library path
        others = hit[hit != row][:k]
        out[i, : len(others)] = others
    return out


class Exact:
    def build(self, x):
        self.unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    def query(self, rows, k):
        return exact_top(self.unit, rows, k)

    def all(self, k):
        return metrics.nearest_neighbours(self.unit, k)[0]


class FaissFlat:
    def build(self, x):
        import faiss

        faiss.omp_set_num_threads(1)
        self.index = faiss.IndexFlatIP(x.shape[1])
        self.index.add(x)
        self.x = x

    def query(self, rows, k):
        return drop_self(self.index.search(self.x[rows], k + 1)[1], rows, k)

    def all(self, k):
        return drop_self(self.index.search(self.x, k + 1)[1], np.arange(len(self.x)), k)


class Hnswlib:
    def build(self, x):
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=x.shape[1])
        self.index.init_index(max_elements=len(x), M=16, ef_construction=200, random_seed=0)
        self.index.add_items(x, num_threads=1)
        self.index.set_ef(64)
        self.x = x

    def query(self, rows, k):
        return drop_self(self.index.knn_query(self.x[rows], k=k + 1, num_threads=1)[0].astype(np.int64), rows, k)

    def all(self, k):
        return drop_self(self.index.knn_query(self.x, k=k + 1, num_threads=1)[0].astype(np.int64), np.arange(len(self.x)), k)


class FaissHnsw:
    def build(self, x):
        import faiss

        faiss.omp_set_num_threads(1)
        self.index = faiss.IndexHNSWFlat(x.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = 100
        self.index.add(x)
        self.index.hnsw.efSearch = 64
        self.x = x

    def query(self, rows, k):
        return drop_self(self.index.search(self.x[rows], k + 1)[1], rows, k)

    def all(self, k):
        return drop_self(self.index.search(self.x, k + 1)[1], np.arange(len(self.x)), k)


class PyNNDescent:
    def build(self, x):
        from pynndescent import NNDescent

        self.index = NNDescent(x, metric="cosine", n_neighbors=30, random_state=0, n_jobs=1, low_memory=True)
        self.x = x

    def query(self, rows, k):
        if not hasattr(self, "_prepared"):
            self.index.prepare()
            self._prepared = True
        return drop_self(self.index.query(self.x[rows], k=k + 1)[0].astype(np.int64), rows, k)

    def all(self, k):
        # The graph NNDescent builds is the all-points answer (30 neighbours, self first).
        graph = self.index.neighbor_graph[0]
        return drop_self(graph[:, : k + 1].astype(np.int64), np.arange(len(self.x)), k)


MAKERS = {"exact": Exact, "faiss_flat": FaissFlat, "hnswlib": Hnswlib, "faiss_hnsw": FaissHnsw, "pynndescent": PyNNDescent}


def measure(name: str, x: np.ndarray, rows: np.ndarray, truth_q: np.ndarray, truth_all: np.ndarray | None) -> dict:
    index = MAKERS[name]()
    started = time.perf_counter()
    index.build(x)
    build = time.perf_counter() - started
    index.query(rows[:1], PANE_K)  # warm-up (pynndescent compiles and prepares its search here)
    times, found = [], []
    for row in rows:
        started = time.perf_counter()
        found.append(index.query(np.array([row]), PANE_K)[0])
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    every = index.all(SCORE_K)
    all_s = time.perf_counter() - started
    return {
        "library": name, "n": len(x), "build_s": build, "query_ms": 1000 * float(np.median(times)),
        "all_s": all_s, "recall_query": recall(np.array(found), truth_q),
        "recall_all": recall(every, truth_all) if truth_all is not None else float("nan"), "every": every,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 70_601, 100_000])
    parser.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(LIBRARIES))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    compile_note = ""
    if "pynndescent" in args.libraries:  # numba compiles on first use: timed once, apart from the builds
        started = time.perf_counter()
        warm = PyNNDescent()
        warm.build(embeddings(2000))
        warm.query(np.arange(2), PANE_K)
        compile_note = f"pynndescent's first use in a process compiles (numba): {time.perf_counter() - started:.0f} s, not in the table."
    lines = [
        "# Neighbour index: build, query and recall against the exact search",
        "",
        f"`OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')} .venv/bin/python benchmarks/neighbour_index.py "
        f"{' '.join(argv if argv is not None else sys.argv[1:])}` — real all-MiniLM-L6-v2 embeddings of the shared texts "
        f"({CORPUS.name}), jittered copies above 70,601 (see the module docstring); one thread per library; "
        f"query = k {PANE_K} for one document (median of {QUERIES}), all = k {SCORE_K} for every example.",
        "",
        "| n | library | build s | query ms (k 8) | recall@8 | all-points s (k 10) | recall@10 all | build + all s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in args.sizes:
        x = embeddings(n)
        rows = np.random.default_rng(1).choice(n, QUERIES, replace=False)
        unit = x  # already unit length
        truth_q = exact_top(unit, rows, PANE_K)
        truth_all = None
        results = []
        for name in ["exact"] + [lib for lib in args.libraries if lib != "exact"]:
            if name not in args.libraries and name != "exact":
                continue
            r = measure(name, x, rows, truth_q, truth_all)
            if name == "exact":
                truth_all = r["every"]
                r["recall_all"] = 1.0
            results.append(r)
            line = (f"| {n:,} | {name} | {r['build_s']:.2f} | {r['query_ms']:.2f} | {r['recall_query']:.3f} | "
                    f"{r['all_s']:.1f} | {r['recall_all']:.3f} | {r['build_s'] + r['all_s']:.1f} |")
            lines.append(line)
            print(line, flush=True)
    lines += ["", compile_note] if compile_note else []
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
