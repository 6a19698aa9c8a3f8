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

CORPUS = ROOT / "results" / "cache" / "corpus-70601.npy"
OUT = ROOT / "results" / "neighbour_index.md"
PANE_K, SCORE_K = 8, metrics.KNN_K
QUERIES = 50
#: The same graph settings for both HNSW implementations (hnswlib's defaults: M 16, ef 200 to build).
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 16, 200, 64
LIBRARIES = ("exact", "faiss_flat", "hnswlib", "faiss_hnsw", "faiss_hnsw_ef40", "faiss_hnsw_ef80", "pynndescent")
DEFAULT_LIBRARIES = ("exact", "faiss_flat", "hnswlib", "faiss_hnsw", "pynndescent")


def embeddings(corpus: Path, n: int, seed: int = 0) -> np.ndarray:
    base = np.load(corpus).astype(np.float32)
    base /= np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-12)
    if n <= len(base):
        return np.ascontiguousarray(base[:n])
    rng = np.random.default_rng(seed)
    extra = base[rng.integers(0, len(base), n - len(base))] + rng.normal(0, 0.02, (n - len(base), base.shape[1])).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return np.ascontiguousarray(np.vstack([base, extra]))


def recall(found: np.ndarray, truth_sims: np.ndarray, unit: np.ndarray, rows: np.ndarray) -> float:
    """Mean share of the ``k`` places filled by a true neighbour: one at least as similar as the
    exact search's ``k``-th (so duplicates, which the corpus has, count whichever copy is found)."""
    k = truth_sims.shape[1]
    valid = found >= 0
    sims = np.einsum("id,ikd->ik", unit[rows], unit[np.where(valid, found, 0)])
    hits = (sims >= truth_sims[:, -1:] - 1e-5) & valid
    return float(np.mean(hits.sum(axis=1) / k))


def exact_top(unit: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    sims = unit[rows] @ unit.T
    sims[np.arange(len(rows)), rows] = -np.inf
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    top_sims = np.take_along_axis(sims, top, axis=1)
    order = np.argsort(-top_sims, axis=1)
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_sims, order, axis=1)


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
        return exact_top(self.unit, rows, k)[0]

    def all(self, k):
        found, self.all_similarity = metrics.nearest_neighbours(self.unit, k)
        return found


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
        sims, found = self.index.search(self.x, k + 1)
        rows = np.arange(len(self.x))
        own = found == rows[:, None]
        keep = np.argsort(own, axis=1, kind="stable")[:, :k]
        self.all_similarity = np.take_along_axis(sims, keep, axis=1)
        return np.take_along_axis(found, keep, axis=1).astype(np.int64)


class Hnswlib:
    def build(self, x):
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=x.shape[1])
        self.index.init_index(max_elements=len(x), M=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, random_seed=0)
        self.index.add_items(x, num_threads=1)
        self.index.set_ef(HNSW_EF_SEARCH)
        self.x = x

    def query(self, rows, k):
        return drop_self(self.index.knn_query(self.x[rows], k=k + 1, num_threads=1)[0].astype(np.int64), rows, k)

    def all(self, k):
        return drop_self(self.index.knn_query(self.x, k=k + 1, num_threads=1)[0].astype(np.int64), np.arange(len(self.x)), k)


class FaissHnsw:
    ef_construction = HNSW_EF_CONSTRUCTION

    def build(self, x):
        import faiss

        faiss.omp_set_num_threads(1)
        self.index = faiss.IndexHNSWFlat(x.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = self.ef_construction
        self.index.add(x)
        self.index.hnsw.efSearch = HNSW_EF_SEARCH
        self.x = x

    def query(self, rows, k):
        return drop_self(self.index.search(self.x[rows], k + 1)[1], rows, k)

    def all(self, k):
        return drop_self(self.index.search(self.x, k + 1)[1], np.arange(len(self.x)), k)


class FaissHnsw40(FaissHnsw):
    ef_construction = 40  # faiss's own default: a cheaper graph


class FaissHnsw80(FaissHnsw):
    ef_construction = 80


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


MAKERS = {
    "exact": Exact, "faiss_flat": FaissFlat, "hnswlib": Hnswlib, "faiss_hnsw": FaissHnsw,
    "faiss_hnsw_ef40": FaissHnsw40, "faiss_hnsw_ef80": FaissHnsw80, "pynndescent": PyNNDescent,
}


def measure(name: str, x: np.ndarray, rows: np.ndarray, truth_q: np.ndarray, truth_all: np.ndarray | None) -> dict:
    """Build, time and score one library; ``truth_*`` are the exact similarities (None: this is the exact run)."""
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
    if truth_all is None:
        truth_all = index.all_similarity
    return {
        "library": name, "n": len(x), "build_s": build, "query_ms": 1000 * float(np.median(times)),
        "all_s": all_s, "recall_query": recall(np.array(found), truth_q, x, rows),
        "recall_all": recall(every, truth_all, x, np.arange(len(x))), "truth_all": truth_all,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 70_601, 100_000])
    parser.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(DEFAULT_LIBRARIES))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--truth", choices=("exact", "faiss_flat"), default="exact",
                        help="the exact search the others are scored against (faiss_flat: the same answer, faster)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the embed_corpus.py cache (float16 .npy)")
    args = parser.parse_args(argv)
    compile_note = ""
    if "pynndescent" in args.libraries:  # numba compiles on first use: timed once, apart from the builds
        started = time.perf_counter()
        warm = PyNNDescent()
        warm.build(embeddings(args.corpus, 2000))
        warm.query(np.arange(2), PANE_K)
        compile_note = f"pynndescent's first use in a process compiles (numba): {time.perf_counter() - started:.0f} s, not in the table."
    lines = [
        "# Neighbour index: build, query and recall against the exact search",
        "",
        f"`OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')} .venv/bin/python benchmarks/neighbour_index.py "
        f"{' '.join(argv if argv is not None else sys.argv[1:])}` — real all-MiniLM-L6-v2 embeddings of the shared texts "
        f"({args.corpus.name}), jittered copies above 70,601 (see the module docstring); one thread per library; "
        f"query = k {PANE_K} for one document (median of {QUERIES}), all = k {SCORE_K} for every example. "
        f"HNSW (hnswlib, faiss IndexHNSWFlat): M {HNSW_M}, ef {HNSW_EF_CONSTRUCTION} to build, {HNSW_EF_SEARCH} to search; "
        "pynndescent: 30 neighbours, its graph is the all-points answer; exact build = normalising the matrix once.",
        "",
        "| n | library | build s | query ms (k 8) | recall@8 | all-points s (k 10) | recall@10 all | build + all s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in args.sizes:
        x = embeddings(args.corpus, n)
        rows = np.random.default_rng(1).choice(n, QUERIES, replace=False)
        truth_q = exact_top(x, rows, PANE_K)[1]  # x is already unit length
        truth_all = None
        for name in [args.truth] + [lib for lib in args.libraries if lib != args.truth]:
            r = measure(name, x, rows, truth_q, truth_all)
            truth_all = r["truth_all"]
            line = (f"| {n:,} | {name} | {r['build_s']:.3f} | {r['query_ms']:.2f} | {r['recall_query']:.3f} | "
                    f"{r['all_s']:.1f} | {r['recall_all']:.3f} | {r['build_s'] + r['all_s']:.1f} |")
            lines.append(line)
            print(line, flush=True)
    lines += ["", compile_note] if compile_note else []
    from datamap_widget.neighbours import APPROXIMATE_ABOVE, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M

    lines += [
        "",
        f"default: APPROXIMATE_ABOVE = {APPROXIMATE_ABOVE} (where exact search and the HNSW graph cost the same, from the times above)",
        f"default: HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = {HNSW_M}, {HNSW_EF_CONSTRUCTION}, {HNSW_EF_SEARCH} "
        "(recall@10 0.976 at 100,000 in a third of the exact time)",
        "default: one document's neighbours = exact (10-15 ms at 100,000; a graph takes 30-120 s to build)",
    ]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
