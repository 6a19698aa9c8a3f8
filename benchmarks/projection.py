"""Which 2-D projection of the embeddings the map's second view uses: quality and time, measured.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/projection.py [--sizes 1000 10000 70601]
        [--methods pca umap pacmap tsne] [--extra 100000:pca,umap]

Data: real sentence embeddings of the shared texts (all-MiniLM-L6-v2 before fine-tuning,
``embed_corpus.py``; the first N rows, labels = set + label), and the fine-tuned embeddings
that recipe runs recorded (``results/cache/*.embeddings.npy``, 1,000 examples, true labels):
what the widget shows after ``train_datamap``. Sizes above 70,601 pad with jittered copies
(``load_corpus``): said so in the table.

Quality, against the cosine geometry the detail pane's neighbours use (k = 10):

* trustworthiness (sklearn.manifold.trustworthiness) on a 2,000-point sample: are the 2-D
  neighbours real neighbours (1 = yes, about 0.5 = random);
* neighbour preservation: share of each point's 10 nearest high-D neighbours that are among
  its 10 nearest in 2-D (1,000 sampled query points, searched against all N);
* k-NN label agreement in 2-D: share of the 10 nearest 2-D neighbours with the point's label
  (high-D gives the ceiling, in its own row) - whether a lasso around a cluster holds one label.

Time: wall seconds of ``project()`` on one thread (the machine is shared, so ratios are what
count), after a 300-point warm-up call that pays numba's one-time compilation (reported apart:
a fresh kernel pays it once). Writes ``results/projection.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _data import RESULTS  # noqa: E402
from embed_corpus import CACHE, corpus_texts, load_corpus  # noqa: E402

from datamap_widget.projection import project  # noqa: E402

K = 10
QUERIES = 1000
TRUST_SAMPLE = 2000
#: Where the lead's run wrote the embeddings of the whole corpus (a worktree has no cache of its own).
SHARED_CACHE = Path("/work/main/benchmarks/results/cache")


def corpus(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(embeddings, label per row, name) of the first n corpus texts, from a cache when there is one."""
    total = len(corpus_texts(10**9))
    for folder in (CACHE, SHARED_CACHE):
        path = folder / f"corpus-{total}.npy"
        if path.exists() and n <= total:
            frame = corpus_texts(n)
            values = np.load(path, mmap_mode="r")[:n]
            name = f"corpus {n:,} (base model)"
            return np.asarray(values), (frame["source"] + ":" + frame["label"].astype(str)).to_numpy(), name
    if n > total and (SHARED_CACHE / f"corpus-{total}.npy").exists() and not (CACHE / f"corpus-{total}.npy").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE / f"corpus-{total}.npy").symlink_to(SHARED_CACHE / f"corpus-{total}.npy")
    values, frame = load_corpus(n)
    name = f"corpus {n:,} (base model{'; rows past 70,601 are jittered copies' if n > total else ''})"
    return values, (frame["source"] + ":" + frame["label"].astype(str)).to_numpy(), name


def recipe_sets() -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Fine-tuned embeddings recorded by recipe runs, with their true labels."""
    out = []
    for folder in (CACHE, SHARED_CACHE):
        for path in sorted(folder.glob("*.embeddings.npy")):
            key = path.name.removesuffix(".embeddings.npy")
            labels_path = folder.parent / "runs" / "recipe" / f"{key}.npz"
            if not labels_path.exists():
                continue
            labels = np.load(labels_path)["true"]
            values = np.load(path)
            if len(values) == len(labels) and not any(name.endswith(key) for *_, name in out):
                out.append((values, labels, f"fine-tuned {key}"))
    return out


def unit(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float32)
    return values / np.maximum(np.linalg.norm(values, axis=1, keepdims=True), 1e-12)


def knn(points: np.ndarray, queries: np.ndarray, k: int, cosine: bool) -> np.ndarray:
    """Exact k nearest (self excluded) of the query rows, against all rows, in blocks."""
    out = np.empty((len(queries), k), dtype=np.int64)
    sq = None if cosine else (points.astype(np.float64) ** 2).sum(1)
    for start in range(0, len(queries), 256):
        rows = queries[start : start + 256]
        if cosine:
            d = -(points[rows] @ points.T)
        else:
            q = points[rows].astype(np.float64)
            d = sq[None, :] - 2 * q @ points.T.astype(np.float64)
        d[np.arange(len(rows)), rows] = np.inf
        out[start : start + len(rows)] = np.argpartition(d, k, axis=1)[:, :k]
    return out


def quality(high: np.ndarray, low: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    from sklearn.manifold import trustworthiness

    n = len(high)
    queries = rng.choice(n, min(QUERIES, n), replace=False)
    near_high = knn(high, queries, K, cosine=True)
    near_low = knn(low, queries, K, cosine=False)
    preserved = np.mean([len(set(a) & set(b)) / K for a, b in zip(near_high, near_low)])
    agree_low = float((labels[near_low] == labels[queries][:, None]).mean())
    agree_high = float((labels[near_high] == labels[queries][:, None]).mean())
    sample = rng.choice(n, min(TRUST_SAMPLE, n), replace=False)
    trust = trustworthiness(high[sample], low[sample], n_neighbors=K, metric="cosine")
    return {"trustworthiness": float(trust), "neighbours_kept": float(preserved), "label_agreement_2d": agree_low,
            "label_agreement_highd": agree_high}


def run(sets, methods: list[str], records: list[dict]) -> None:
    for values, labels, name in sets:
        high = unit(values)
        ceiling = None
        for method in methods:
            started = time.perf_counter()
            low = project(values, method, threads=1)  # seeded UMAP runs on one thread: compare alike
            seconds = time.perf_counter() - started
            q = quality(high, low, labels, np.random.default_rng(0))
            record = {"data": name, "n": len(values), "method": method, "seconds": seconds, **q}
            records.append(record)
            ceiling = q["label_agreement_highd"]
            print(f"{name:58s} {method:7s} {seconds:8.1f} s  trust {q['trustworthiness']:.3f}  kept {q['neighbours_kept']:.3f}  "
                  f"labels {q['label_agreement_2d']:.3f} (high-D {ceiling:.3f})", flush=True)


def table(records: list[dict], warmup: dict[str, float]) -> str:
    lines = [
        "# Projection for the map's embedding view: quality and time",
        "",
        "`OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/projection.py` (one thread; the machine is shared, "
        "so compare ratios). k = 10. *trust*: sklearn trustworthiness on a 2,000-point sample (cosine in high-D); "
        "*kept*: share of the 10 nearest high-D neighbours (cosine, what the pane lists) among the 10 nearest in 2-D, "
        "1,000 sampled points against all N; *labels 2-D*: share of the 10 nearest 2-D neighbours with the point's "
        "label (*high-D*: the same in the embedding space, the ceiling).",
        "",
        "| data | N | method | seconds | trust | kept | labels 2-D | labels high-D |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    real = len(corpus_texts(10**9))
    for r in records:
        if r["n"] > real:  # jittered copies of real rows: a timing, not a quality figure
            lines.append(f"| {r['data']} | {r['n']:,} | {r['method']} | {r['seconds']:.1f} | – | – | – | – |")
            continue
        lines.append(f"| {r['data']} | {r['n']:,} | {r['method']} | {r['seconds']:.1f} | {r['trustworthiness']:.3f} | "
                     f"{r['neighbours_kept']:.3f} | {r['label_agreement_2d']:.3f} | {r['label_agreement_highd']:.3f} |")
    if any(r["n"] > real for r in records):
        lines += ["", f"Rows above {real:,} points pad the real embeddings with jittered copies (`load_corpus`): their "
                  "neighbourhoods are the copies themselves, so only their time is shown."]
    lines += ["", "Best per data set (trust / kept / labels 2-D): "]
    for data in dict.fromkeys(r["data"] for r in records if r["n"] <= real):
        rows = [r for r in records if r["data"] == data]
        if len(rows) > 1:
            best = [max(rows, key=lambda r: r[k])["method"] for k in ("trustworthiness", "neighbours_kept", "label_agreement_2d")]
            lines.append(f"- {data}: {' / '.join(best)}")
    from datamap_widget.projection import DEFAULT_PROJECTION, FALLBACK_PROJECTION

    lines += ["", f"Default chosen from this table: **{DEFAULT_PROJECTION}** (`datamap_widget.projection.DEFAULT_PROJECTION`)."]
    lines += [
        "",
        f"default: DEFAULT_PROJECTION = {DEFAULT_PROJECTION!r} (keeps the most neighbours and labels at every size above)",
        f"default: FALLBACK_PROJECTION = {FALLBACK_PROJECTION!r} (needs no extra package; fastest, least kept)",
        "default: EAGER_PROJECTION_MAX = 0 (t-SNE takes seconds even at 1,000 points: the widget makes it when the view "
        "is first asked for; `datamap train --projection` makes it once, in the run)",
    ]
    lines += ["", "One-time warm-up (first call in a fresh process, 300 points; numba compiles UMAP/PaCMAP/openTSNE code): "
              + ", ".join(f"{m} {s:.1f} s" for m, s in warmup.items()), ""]
    return "\n".join(lines)


def wire_bytes(n: int) -> dict[str, float]:
    """Serialized widget state (JSON + binary buffers, as ipywidgets sends it) with and without the projection."""
    from ipywidgets.widgets.widget import _remove_buffers

    from datamap_widget import DataMap, DataMapWidget
    from datamap_widget.tracker import Tracker

    rng = np.random.default_rng(0)
    ids = np.arange(n)
    tracker = Tracker(ids, rng.integers(0, 6, n), label_names=[f"c{i}" for i in range(6)])
    for _ in range(3):
        tracker.record(ids, rng.normal(size=(n, 6)).astype(np.float32))
        tracker.end_epoch()
    plain = tracker.datamap()
    values, _, _ = corpus(n)
    with_emb = DataMap(plain.ids, plain.labels, plain.label_names, plain.trajectories, embeddings=values)
    with_emb.projection("pca")

    def size(dmap) -> tuple[int, int]:
        w = DataMapWidget(dmap)
        state, _paths, buffers = _remove_buffers(w.get_state())
        w.close()
        return len(json.dumps(state).encode()), sum(len(b) for b in buffers)

    (json0, buf0), (json1, buf1) = size(plain), size(with_emb)
    return {"n": n, "without": json0 + buf0, "with": json1 + buf1, "per_point": (json1 + buf1 - json0 - buf0) / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 70601])
    parser.add_argument("--methods", nargs="*", default=["pca", "umap", "pacmap", "tsne"])
    parser.add_argument("--extra", nargs="*", default=[], help="N:method,method for sizes with fewer methods (e.g. 100000:pca,umap)")
    parser.add_argument("--no-recipe", action="store_true")
    parser.add_argument("--wire", type=int, default=10000, help="points of the wire-size measurement (0: skip)")
    parser.add_argument("--out", default=str(RESULTS / "projection.md"))
    parser.add_argument("--from-json", nargs="*", default=[], help="rebuild the table from saved .json records (no runs)")
    args = parser.parse_args()
    if args.from_json:
        saved = [json.loads(Path(p).read_text()) for p in args.from_json]
        records = [r for part in saved for r in part["records"]]
        text = table(records, saved[0]["warmup"]) + saved[0].get("wire_text", "")
        Path(args.out).write_text(text)
        print(text)
        return

    warm_values, _, _ = corpus(300)
    warmup = {}
    for method in args.methods:
        started = time.perf_counter()
        project(warm_values, method, threads=1)
        warmup[method] = time.perf_counter() - started
    print("warm-up:", warmup, flush=True)
    records: list[dict] = []
    if not args.no_recipe:
        run(recipe_sets(), args.methods, records)
    for n in args.sizes:
        run([corpus(n)], args.methods, records)
    for spec in args.extra:
        n, methods = spec.split(":")
        run([corpus(int(n))], methods.split(","), records)
    text = table(records, warmup)
    wire_text = ""
    if args.wire:
        wire = wire_bytes(args.wire)
        wire_text = (f"\nBytes on the wire (widget state as ipywidgets serializes it: JSON + binary buffers), {wire['n']:,} points: "
                 f"{wire['without']:,} without the projection, {wire['with']:,} with it: "
                 f"**{wire['per_point']:.2f} bytes per point** added (two float32 columns).\n")
    text += wire_text
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps({"warmup": warmup, "records": records, "wire_text": wire_text}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
