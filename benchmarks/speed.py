"""Speed and scale, side by side with what users would otherwise use: one Markdown table.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/speed.py            # everything (~10 min on 2 cores)
    .venv/bin/python benchmarks/speed.py --no-browser                 # the Python parts only
    .venv/bin/python benchmarks/speed.py --quick --no-browser         # tiny sizes, seconds (the test runs this)

Sections (``pip install -e ".[bench]"`` for jupyter-scatter; the browser part also needs the
``dev`` extra's JupyterLab and Playwright, and Chromium at /usr/bin/chromium):

* **tracker**: real MiniLM training steps (forward, backward, AdamW) on TREC texts, with and
  without ``tracker.record(ids, logits.detach())``, interleaved in pairs on the same batch
  (which one goes first alternates); the median of the paired ratios, and the component
  estimate 1 + median(record) / median(step). Memory per example: the closed passes'
  arrays, and the open pass's accumulators (once, not per pass).
* **user path**: what a user runs, end to end, at 1,000,000 examples x 10 passes with str
  ids: recording (``record`` in 65,536-row batches + ``end_epoch``), ``tracker.datamap()``
  then ``.frame`` beside a bare numpy mean/std/argsort of the same matrix, and
  ``DataMapWidget(dmap, data=df, text_column="text")`` + ``get_state()`` with Arrow-string
  ids and texts; medians of interleaved repeats, each in a fresh process. Peak memory at
  ``datamap().frame`` for 5,000,000 x 10 over the recorded statistics (tracemalloc).
  ``--against DIR`` runs the same steps of an older checkout alternately (before/after).
* **metrics**: ``metrics.summarize`` and ``DataMap(...).frame`` for 1,000,000 x 10 passes,
  best of R; peak memory from ``tracemalloc`` (numpy reports its buffers to it), over the
  inputs, in a separate untimed run.
* **widget python**: build, serialization and bytes per point at 100,000 and 1,000,000;
  jupyter-scatter's widget build and bytes for the same points.
* **browser**: see ``speed_browser.py``: first drawn frame, longest main-thread task,
  lasso -> selection in Python as a DataFrame; ours, jupyter-scatter, Altair JupyterChart.

The table goes to stdout and to ``benchmarks/results/speed.md`` (``--out``). Timed figures
are medians or minima over repeats because the machine may be shared; nothing here asserts
a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from metrics_speed import best_of, synthetic_trajectories  # noqa: E402

TREC = Path("/work/shared/data/trec.jsonl")
SECTIONS = ("tracker", "user-path", "metrics", "widget", "browser")
TARGETS = {
    "tracker_ratio": 1.02,
    "first_frame_100k": 2.0,
    "frozen": 1.0,
    "roundtrip_100k": 0.5,
    "vs_peer": 1.5,
}


# ------------------------------------------------------------------ tracker


def _trec(n: int) -> tuple[list[str], list[str], list[str]]:
    """TREC train texts, or (without the shared file) the bundled 600-question sample."""
    path = TREC
    if not path.exists():
        path = HERE.parent / "datamap_widget" / "sample" / "trec_600.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("split", "train") == "train"][:n]
    return [r["id"] for r in rows], [r["text"] for r in rows], [r["label"] for r in rows]


def _tiny_model(n_classes: int):
    """A bag-of-bytes linear model: the same loop shape as MiniLM, in milliseconds (--quick)."""
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.EmbeddingBag(256, 32)
            self.out = torch.nn.Linear(32, n_classes)

        def forward(self, texts):
            codes = [torch.tensor(list(t.encode()[:64]) or [0]) for t in texts]
            offsets = torch.tensor([0] + [len(c) for c in codes[:-1]]).cumsum(0)
            return self.out(self.emb(torch.cat(codes), offsets))

    return Tiny()


def _minilm(n_classes: int):
    """The embedded all-MiniLM-L6-v2 with a fresh classification head, and its tokenizer."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from datamap_widget.train import default_model_path

    hf_logging.set_verbosity_error()
    path = default_model_path()
    tok = AutoTokenizer.from_pretrained(path)
    net = AutoModelForSequenceClassification.from_pretrained(path, num_labels=n_classes)
    return net, tok


def _encoder(tok, texts: list[str], max_length: int):
    """Tokenize once, pad per batch: what ``train.fine_tune`` does."""
    input_ids = tok(texts, truncation=True, max_length=max_length)["input_ids"]
    return lambda rows: tok.pad({"input_ids": [input_ids[r] for r in rows]}, return_tensors="pt")


def tracker_section(quick: bool, pairs: int, batch: int) -> list[dict]:
    import torch

    from datamap_widget import Tracker

    ids, texts, labels = _trec(256 if quick else 5000)
    tracker = Tracker(ids, labels)
    gold = torch.as_tensor(tracker.labels, dtype=torch.long)
    if quick:
        net = _tiny_model(tracker.n_classes)
        encode = lambda rows: [texts[r] for r in rows]  # noqa: E731
        model_name = "tiny bag-of-bytes model (--quick)"
    else:
        net, tok = _minilm(tracker.n_classes)
        encode = _encoder(tok, texts, 64)
        model_name = "all-MiniLM-L6-v2"
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)

    def step(rows: np.ndarray, record: bool) -> float:
        start = time.perf_counter()
        inputs = encode(rows)
        out = net(**inputs) if hasattr(inputs, "keys") else net(inputs)
        logits = getattr(out, "logits", out)
        loss = torch.nn.functional.cross_entropy(logits, gold[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if record:
            tracker.record([ids[r] for r in rows], logits.detach())
        return time.perf_counter() - start

    batches = [rng.choice(len(ids), batch, replace=False) for _ in range(pairs + 3)]
    for rows in batches[:3]:  # warm-up
        step(rows, True)
    ratios, with_s, without_s = [], [], []
    for k, rows in enumerate(batches[3:]):
        if k % 2 == 0:
            a = step(rows, True)
            b = step(rows, False)
        else:
            b = step(rows, False)
            a = step(rows, True)
        with_s.append(a)
        without_s.append(b)
        ratios.append(a / b)

    # The record call alone, on logits of the same shape (what the training step adds).
    logits = torch.randn(batch, tracker.n_classes)
    batch_ids = [ids[r] for r in batches[0]]
    record_s = []
    for _ in range(200 if not quick else 20):
        t = time.perf_counter()
        tracker.record(batch_ids, logits)
        record_s.append(time.perf_counter() - t)
    tracker.end_epoch()
    tracker.end_epoch()
    n, passes = tracker.n_examples, tracker.n_passes
    closed = sum(a.nbytes for a in tracker.trajectories().values())
    open_pass = sum(a.nbytes for a in tracker._sums.values()) + tracker._count.nbytes + sum(a.nbytes for a in tracker._last.values())
    step_median = statistics.median(without_s)
    rec_median = statistics.median(record_s)
    size = f"batch {batch}, {pairs} pairs, {torch.get_num_threads()} torch thread(s)"
    return [
        {"section": "tracker", "what": f"training step ({model_name}), without recording: median", "size": size,
         "ours": f"{step_median * 1e3:.0f} ms"},
        {"section": "tracker", "what": "step with record / step without, median of paired ratios", "size": size,
         "ours": f"{statistics.median(ratios):.3f}", "target": f"≤ {TARGETS['tracker_ratio']}",
         "met": statistics.median(ratios) <= TARGETS["tracker_ratio"],
         "note": f"ratios spread {np.percentile(ratios, 25):.3f}–{np.percentile(ratios, 75):.3f} (IQR): a shared machine"},
        {"section": "tracker", "what": "1 + median(record) / median(step) (component estimate)", "size": size,
         "ours": f"{1 + rec_median / step_median:.4f}", "target": f"≤ {TARGETS['tracker_ratio']}",
         "met": 1 + rec_median / step_median <= TARGETS["tracker_ratio"]},
        {"section": "tracker", "what": "tracker.record per batch (str ids, CPU tensor logits): median", "size": f"batch {batch}",
         "ours": f"{rec_median * 1e3:.2f} ms"},
        {"section": "tracker", "what": "memory per example per closed pass (trajectory arrays)", "size": f"{n:,} ex × {passes} passes",
         "ours": f"{closed / (n * passes):.0f} B"},
        {"section": "tracker", "what": "memory per example for the open pass (accumulators, once)", "size": f"{n:,} ex",
         "ours": f"{open_pass / n:.0f} B"},
    ]


# ------------------------------------------------------------------ metrics


def _peak_bytes(fn) -> int:
    """Peak memory ``fn`` allocates on top of what exists (tracemalloc; numpy reports to it)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def metrics_section(n: int, t: int, repeats: int) -> list[dict]:
    from datamap_widget import DataMap, metrics

    c = 6
    traj, labels = synthetic_trajectories(n, t, c)
    ids = np.arange(n)
    names = [f"c{i}" for i in range(c)]
    inputs = sum(a.nbytes for a in traj.values())
    size = f"{n:,} ex × {t} passes"
    rows = []
    for what, fn in (
        ("metrics.summarize (all per-example metrics)", lambda: metrics.summarize(traj, labels, c)),
        ("DataMap(...).frame (metrics + pandas frame)", lambda: DataMap(ids, labels, names, traj).frame),
    ):
        seconds = best_of(repeats, fn)
        peak = _peak_bytes(fn)
        rows.append({"section": "metrics", "what": what, "size": size,
                     "ours": f"{seconds:.2f} s, peak +{peak / 2**20:,.0f} MiB",
                     "note": f"best of {repeats}; peak over the {inputs / 2**20:,.0f} MiB of inputs (tracemalloc)"})
    return rows


# ------------------------------------------------------------------ the path users take


def _user_path_tracker(n: int, passes: int, batch: int, classes: int = 6):
    """A Tracker with ``n`` str ids fed ``passes`` shuffled passes of ``batch``-row record calls."""
    from datamap_widget import Tracker

    rng = np.random.default_rng(0)
    ids = np.array([f"doc-{i:07d}" for i in range(n)], dtype=object)
    tracker = Tracker(ids, rng.integers(0, classes, n), label_names=[f"c{i}" for i in range(classes)])
    logits = rng.normal(size=(n, classes)).astype(np.float32)
    start = time.perf_counter()
    for t in range(passes):
        order = rng.permutation(n)
        for lo in range(0, n, batch):
            rows = order[lo : lo + batch]
            tracker.record(ids[rows], logits[rows] + np.float32(0.2 * t))
        tracker.end_epoch()
    return tracker, ids, time.perf_counter() - start


def measure_user_path(n: int, passes: int, batch: int, repeats: int) -> dict:
    """Seconds of each step a user takes, and of a bare numpy reference on the same matrix."""
    import pandas as pd
    from ipywidgets.widgets.widget import _remove_buffers

    from datamap_widget import DataMapWidget

    tracker, ids, record_s = _user_path_tracker(n, passes, batch)
    gold = np.ascontiguousarray(tracker.trajectories()["gold_prob"])
    texts = pd.DataFrame({"id": pd.array(ids, dtype="string[pyarrow]"),
                          "text": pd.array([f"text of document {i}" for i in range(n)], dtype="string[pyarrow]")})
    timed: dict[str, list[float]] = {"datamap_frame": [], "numpy": [], "widget": []}
    for _ in range(repeats):  # interleaved, so load on the machine hits all alike
        t = time.perf_counter()
        gold.mean(axis=1), gold.std(axis=1), np.argsort(gold[:, -1])
        timed["numpy"].append(time.perf_counter() - t)
        t = time.perf_counter()
        dmap = tracker.datamap()
        _ = dmap.frame
        timed["datamap_frame"].append(time.perf_counter() - t)
        t = time.perf_counter()
        widget = DataMapWidget(dmap, data=texts, text_column="text")
        _remove_buffers(widget.get_state())
        timed["widget"].append(time.perf_counter() - t)
        widget.close()
    out = {key: float(np.median(values)) for key, values in timed.items()}
    out.update(record=record_s, n=n, passes=passes, batch=batch, repeats=repeats)
    return out


def measure_user_path_memory(n: int, passes: int) -> dict:
    """Peak memory of ``tracker.datamap().frame`` over what it starts from, against the recorded statistics."""
    from datamap_widget import Tracker

    rng = np.random.default_rng(1)
    tracker = Tracker(np.arange(n), rng.integers(0, 6, n))
    logits = rng.normal(size=(n, 6)).astype(np.float32)
    for t in range(passes):
        tracker.record(np.arange(n), logits + np.float32(0.2 * t))
        tracker.end_epoch()
    del logits
    recorded = sum(a.nbytes for a in tracker.trajectories().values())
    peak = _peak_bytes(lambda: tracker.datamap().frame)
    return {"n": n, "passes": passes, "recorded": recorded, "peak": peak}


def user_path_section(n: int, passes: int, batch: int, repeats: int, memory_n: int, against: Path | None) -> list[dict]:
    """The path users take, end to end; with ``against`` (a checkout), the same steps of that
    code in alternating subprocesses, so "before" and "after" share one run."""
    runs: dict[str, list[dict]] = {"ours": []}
    trees = {"ours": HERE.parent}
    if against is not None:
        trees["before"] = against
        runs["before"] = []
    rounds = 1 if against is None else 2
    for _ in range(rounds):
        for name, tree in trees.items():
            runs[name].append(_user_path_in(tree, n, passes, batch, repeats, memory_n))
    size = f"{n:,} ex × {passes} passes, str ids"
    rows = []

    def fig(name: str, key: str) -> float | None:
        return min(r[key] for r in runs[name]) if name in runs else None

    def cell(name: str, key: str, unit: str = "s") -> str:
        value = fig(name, key)
        return "" if value is None else f"{value:.2f} {unit}"

    ref = fig("ours", "numpy")
    def before_note(key: str) -> str:
        if "before" not in runs:
            return ""
        return f"before (same run): {cell('before', key)}, {fig('before', key) / fig('ours', key):.1f}× ours"

    rows.append({"section": "user path", "what": "record the passes (`record` in batches + `end_epoch`)", "size": f"{size}, batch {batch:,}",
                 "ours": cell("ours", "record"), "note": before_note("record")})
    dm = fig("ours", "datamap_frame")
    rows.append({"section": "user path", "what": "`tracker.datamap()` then `.frame`, after recording", "size": size,
                 "ours": f"{dm:.2f} s", "target": "≤ 1 s", "met": dm <= 1.0,
                 "note": f"{dm / ref:.1f}× a bare numpy mean/std/argsort of the same matrix ({ref:.3f} s); " + before_note("datamap_frame")})
    wd = fig("ours", "widget")
    rows.append({"section": "user path", "what": "`DataMapWidget(dmap, data=df, text_column=...)` + `get_state()`, Arrow-string ids and texts",
                 "size": f"{n:,} points", "ours": f"{wd:.2f} s", "target": "≤ 1 s", "met": wd <= 1.0, "note": before_note("widget")})
    mem = runs["ours"][0]["memory"]
    ratio = (mem["recorded"] + mem["peak"]) / mem["recorded"]
    note = f"peak +{mem['peak'] / 2**20:,.0f} MiB over {mem['recorded'] / 2**20:,.0f} MiB of recorded statistics (tracemalloc)"
    if "before" in runs:
        old = runs["before"][0]["memory"]
        note += f"; before: +{old['peak'] / 2**20:,.0f} MiB"
    rows.append({"section": "user path", "what": "peak memory at `tracker.datamap().frame`, over the recorded statistics",
                 "size": f"{mem['n']:,} ex × {mem['passes']} passes", "ours": f"{ratio:.2f}×", "target": "≤ 2×", "met": ratio <= 2.0,
                 "note": note})
    rows += class_probability_rows(100_000 if n >= 100_000 else n, 77, 5, 4_096, repeats)
    return rows


def measure_class_probabilities(n: int, classes: int, passes: int, batch: int, keep: bool) -> dict:
    """Recording seconds and the tracker's own memory, with or without the mean class probabilities."""
    from datamap_widget import Tracker

    rng = np.random.default_rng(2)
    ids = np.array([f"doc-{i:07d}" for i in range(n)], dtype=object)
    logits = rng.normal(size=(n, classes)).astype(np.float32)
    labels = rng.integers(0, classes, n)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracker = Tracker(ids, labels, label_names=[f"c{i}" for i in range(classes)], class_probabilities=keep)
    start = time.perf_counter()
    for t in range(passes):
        order = rng.permutation(n)
        for lo in range(0, n, batch):
            rows = order[lo : lo + batch]
            tracker.record(ids[rows], logits[rows] + np.float32(0.1 * t))
        tracker.end_epoch()
    seconds = time.perf_counter() - start
    held = tracemalloc.get_traced_memory()[0] - base  # what the tracker keeps (the batches are gone)
    tracemalloc.stop()
    t = time.perf_counter()
    tracker.datamap()
    return {"record": seconds, "held": held, "datamap": time.perf_counter() - t}


def class_probability_rows(n: int, classes: int, passes: int, batch: int, repeats: int) -> list[dict]:
    """What keeping each example's mean class probabilities costs, as ratios within this run
    (alternating with and without, so the machine's load hits both alike)."""
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for i in range(max(2, repeats)):
        for keep in ((True, False) if i % 2 == 0 else (False, True)):
            runs[keep].append(measure_class_probabilities(n, classes, passes, batch, keep))
    on = {k: min(r[k] for r in runs[True]) for k in ("record", "datamap")}
    off = {k: min(r[k] for r in runs[False]) for k in ("record", "datamap")}
    extra = runs[True][0]["held"] - runs[False][0]["held"]
    size = f"{n:,} ex × {classes} classes × {passes} passes, batch {batch:,}"
    return [
        {"section": "user path", "what": "record the passes, with the mean class probabilities / without", "size": size,
         "ours": f"{on['record'] / off['record']:.2f}×", "note": f"{on['record']:.2f} s vs {off['record']:.2f} s"},
        {"section": "user path", "what": "`tracker.datamap()`, with the mean class probabilities / without", "size": size,
         "ours": f"{on['datamap'] / off['datamap']:.2f}×", "note": f"{on['datamap']:.3f} s vs {off['datamap']:.3f} s"},
        {"section": "user path", "what": "tracker memory for the mean class probabilities", "size": size,
         "ours": f"+{extra / 2**20:,.0f} MiB",
         "note": f"{runs[True][0]['held'] / 2**20:,.0f} MiB held with them, {runs[False][0]['held'] / 2**20:,.0f} MiB without (tracemalloc)"},
    ]


def _user_path_in(tree: Path, n: int, passes: int, batch: int, repeats: int, memory_n: int) -> dict:
    """Run the user-path measurements in a fresh process importing datamap_widget from ``tree``."""
    import subprocess

    # datamap_widget is imported from ``tree`` first, so speed.py's own path set-up cannot swap it.
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[7]); import datamap_widget; "
        "sys.path.insert(0, sys.argv[1]); import speed; "
        "r = speed.measure_user_path(*map(int, sys.argv[2:6])); "
        "r['memory'] = speed.measure_user_path_memory(int(sys.argv[6]), int(sys.argv[3])); "
        "r['package'] = datamap_widget.__file__; print(json.dumps(r))"
    )
    env = {**os.environ, "PYTHONPATH": ""}
    proc = subprocess.run([sys.executable, "-c", code, str(HERE), str(n), str(passes), str(batch), str(repeats), str(memory_n), str(tree)],
                          capture_output=True, text=True, env=env, cwd=str(tree))
    if proc.returncode:
        raise RuntimeError(f"user-path run in {tree} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if not Path(result["package"]).resolve().is_relative_to(Path(tree).resolve()):
        raise RuntimeError(f"the user-path run meant for {tree} imported {result['package']}")
    return result


# ------------------------------------------------------------------ widget, python side


def _jscatter_state(dmap) -> tuple[float, int] | None:
    """jupyter-scatter: seconds to build its widget for the map's points (x, y, category) and
    split its state into buffers, and the bytes of those buffers."""
    try:
        import jscatter
    except ImportError:
        return None
    import pandas as pd
    from ipywidgets.widgets.widget import _remove_buffers

    f = dmap.frame
    pts = pd.DataFrame({"x": f["variability"].to_numpy(np.float32), "y": f["confidence"].to_numpy(np.float32),
                        "category": pd.Categorical(f["category"])})
    t = time.perf_counter()
    scatter = jscatter.Scatter(data=pts, x="x", y="y", color_by="category")
    widget = scatter.widget
    _, _, buffers = _remove_buffers(widget.get_state())
    seconds = time.perf_counter() - t
    size = sum(memoryview(b).nbytes for b in buffers)
    widget.close()
    return seconds, size


def widget_section(sizes: list[int], repeats: int, peers: bool = True) -> list[dict]:
    """Best of ``repeats`` for each step, ours and the peer's alternating."""
    from widget_serialization import FROM_MAP, measure

    from datamap_widget.widget import BYTES_PER_POINT

    rows = []
    for n in sizes:
        timed: dict[str, float] = {}
        peer_runs = []
        for _ in range(repeats):
            steps, point_bytes, dmap = measure(n, passes=4)
            for name, seconds in steps:
                timed[name] = min(seconds, timed.get(name, seconds))
            if peers:
                peer_runs.append(_jscatter_state(dmap))
        peer = min(peer_runs) if peer_runs and peer_runs[0] else None
        ratio = timed[FROM_MAP] / peer[0] if peer else None
        rows.append({"section": "widget python", "what": "build the widget from computed points + ipywidgets get_state", "size": f"{n:,} points",
                     "ours": f"{timed[FROM_MAP]:.2f} s", "peer": f"{peer[0]:.2f} s" if peer else "",
                     "target": "≤ 1.5× peer", "met": None if ratio is None else ratio <= TARGETS["vs_peer"],
                     "note": (f"ours/peer {ratio:.2f}; " if ratio else "") + "DataMapWidget(dmap, data) vs Scatter(data=df, x, y, color_by).widget"})
        rows.append({"section": "widget python", "what": "DataMapWidget(tracker, data): metrics + frame + serialize", "size": f"{n:,} points",
                     "ours": f"{timed['DataMapWidget(tracker, data) total']:.2f} s",
                     "note": f"what a live widget does at each epoch; the DataMap alone {timed['DataMap build (core)']:.2f} s"})
        rows.append({"section": "widget python", "what": "serialize points (a live update) + ipywidgets get_state", "size": f"{n:,} points",
                     "ours": f"{timed['serialize points (live update, excl. DataMap)'] + timed['get_state + split buffers (ipywidgets)']:.3f} s"})
        rows.append({"section": "widget python", "what": "bytes per point on the wire", "size": f"{n:,} points",
                     "ours": f"{point_bytes / n:.1f} B (declared {BYTES_PER_POINT})",
                     "peer": f"{peer[1] / n:.1f} B" if peer else "",
                     "target": "≤ 1.5× peer", "met": None if not peer else point_bytes <= TARGETS["vs_peer"] * peer[1],
                     "note": "ours also carries correctness, suspect order, suggested label, label, reviewed; "
                             "the peer x, y, colour and opacity values (4 float32)"})
    return rows


# ------------------------------------------------------------------ browser


def _fmt(x, unit="s", digits=2):
    return "—" if x is None else f"{x:.{digits}f} {unit}"


def browser_section(sizes: list[int], repeats: int) -> tuple[list[dict], list[dict]]:
    import speed_browser

    raw = speed_browser.run(sizes, repeats=repeats)
    summary = {(r["peer"], r["n"]): r for r in speed_browser.summarize(raw)}
    small = lambda n: n <= 100_000  # noqa: E731  (the absolute targets are set at 100,000 points)
    # (key, what, absolute target in s or None, "timed": also within 1.5x of the peer | "frozen": below FROZEN)
    specs = [
        ("first_frame", "run cell (build + display) → first drawn frame", lambda n: TARGETS["first_frame_100k"] if small(n) else None, "timed"),
        ("long_load", "longest main-thread task, run → 1 s after first frame", lambda n: TARGETS["frozen"], "frozen"),
        ("lasso_to_df", "lasso around all points → selection in Python as a DataFrame", lambda n: TARGETS["roundtrip_100k"] if small(n) else None, "timed"),
        ("long_lasso", "longest main-thread task during the lasso", lambda n: TARGETS["frozen"], "frozen"),
    ]
    notes = {
        "first_frame": lambda o, p: f"kernel build ours {_fmt(o.get('build'))}, peer {_fmt(p.get('build'))}",
        "lasso_to_df": lambda o, p: f"rows selected ours {o.get('selected_rows') or 0:,.0f}, peer {p.get('selected_rows') or 0:,.0f}",
    }
    rows = []
    for n in sizes:
        ours, peer = summary.get(("ours", n), {}), summary.get(("jupyter-scatter", n), {})
        for key, what, target_of, kind in specs:
            a, b, target = ours.get(key), peer.get(key), target_of(n)
            met, goals = None, []
            if target is not None:
                goals.append(f"< {target:g} s (not frozen)" if kind == "frozen" else f"≤ {target:g} s")
                met = None if a is None else (a < target if kind == "frozen" else a <= target)
            if kind == "timed":
                goals.append(f"≤ {TARGETS['vs_peer']}× peer")
                if a is not None and b is not None:
                    met = (met is not False) and a <= TARGETS["vs_peer"] * b
            note = [f"ours/peer {a / b:.2f}"] if a is not None and b else []
            note += [notes[key](ours, peer)] if key in notes else []
            rows.append({"section": "browser", "what": what, "size": f"{n:,} points", "ours": _fmt(a), "peer": _fmt(b),
                         "target": " and ".join(goals), "met": met, "note": "; ".join(note)})
    n = sizes[0]
    ours, peer = summary.get(("ours", n), {}), summary.get(("jupyter-scatter", n), {})
    a, b = ours.get("first_frame_cold"), peer.get("first_frame_cold")
    rows.append({"section": "browser", "what": "first display in a fresh page (its JS module loads too) → first drawn frame",
                 "size": f"{n:,} points", "ours": _fmt(a), "peer": _fmt(b), "note": "one cold run each; the rows above are warm medians"})
    alt = summary.get(("altair", speed_browser.ALTAIR_ROWS))
    if alt:
        rows.append({"section": "browser", "what": "Altair JupyterChart (canvas renderer): run cell → first drawn frame", "size": f"{speed_browser.ALTAIR_ROWS:,} points",
                     "peer": _fmt(alt["first_frame"]), "note": f"cold (Vega bundle loading) {_fmt(alt['first_frame_cold'])}; longest task {_fmt(alt['long_load'])}"})
        rows.append({"section": "browser", "what": "Altair: interval brush → filtered DataFrame in Python (no lasso in Vega-Lite)",
                     "size": f"{speed_browser.ALTAIR_ROWS:,} points", "peer": _fmt(alt["lasso_to_df"]),
                     "note": f"{alt['selected_rows'] or 0:,.0f} rows brushed; from the last mouse move"})
    for n in sizes:
        err = summary.get(("altair", n), {}).get("error")
        if err:
            rows.append({"section": "browser", "what": "Altair JupyterChart above its row limit", "size": f"{n:,} points",
                         "peer": f"n/a: {err}", "note": "default 5,000-row limit; its message points to the VegaFusion transformer"})
    return rows, raw


# ------------------------------------------------------------------ table


def table(rows: list[dict]) -> str:
    lines = ["| section | what | size | ours | peer (jupyter-scatter unless named) | target | met | note |",
             "|---|---|---|---:|---:|---|:---:|---|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r.get("met")]
        lines.append(" | ".join(["", r["section"], r["what"], r.get("size", ""), r.get("ours", ""), r.get("peer", ""),
                                  r.get("target", ""), met, r.get("note", "")]).strip() + " |")
    return "\n".join(lines)


def header(args, load_before: tuple[float, ...]) -> str:
    load_after = os.getloadavg()
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    return (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"OMP_NUM_THREADS={threads}. **Loaded/shared machine**: 1-min load average {load_before[0]:.1f} at the start, "
        f"{load_after[0]:.1f} at the end (other work ran at the same time), so figures are medians/minima of "
        f"interleaved repeats and the comparisons are ratios within this run.\n\n"
        f"Command: `{' '.join(([f'OMP_NUM_THREADS={threads}'] if threads != 'unset' else []) + ['python', 'benchmarks/speed.py', *sys.argv[1:]])}`"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and a tiny model: checks the script, not the speed")
    parser.add_argument("--no-browser", action="store_true", help="skip JupyterLab + Chromium")
    parser.add_argument("--pairs", type=int, default=40, help="with/without step pairs for the tracker overhead")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: no barrier waits on a busy machine)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the metrics and browser measurements")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="widget point counts")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "speed.md")
    parser.add_argument("--against", type=Path, default=None,
                        help="a checkout of an earlier version: its user path runs alternately with ours (before/after)")
    parser.add_argument("--memory-examples", type=int, default=5_000_000, help="examples for the peak-memory check")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="which sections to run (default all)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    if args.quick:
        args.pairs, args.batch, args.repeats, args.sizes = 4, 8, 1, [2_000]
    rows: list[dict] = []
    if "tracker" in args.sections:
        rows += tracker_section(args.quick, args.pairs, args.batch)
        print(table(rows), flush=True)
    n_metrics = 20_000 if args.quick else 1_000_000
    if "user-path" in args.sections:
        rows += user_path_section(n_metrics, 10, 4_096 if args.quick else 65_536, args.repeats,
                                  20_000 if args.quick else args.memory_examples, args.against)
        print(table(rows), flush=True)
    if "metrics" in args.sections:
        rows += metrics_section(n_metrics, 10, args.repeats)
    if "widget" in args.sections:
        rows += widget_section(args.sizes, max(1, args.repeats - 1), peers=True)
    raw: list[dict] = []
    if not args.no_browser and not args.quick and "browser" in args.sections:
        browser_rows, raw = browser_section(args.sizes, args.repeats)
        rows += browser_rows
    text = f"# Speed and scale\n\n{header(args, load_before)}\n\n{table(rows)}\n"
    if raw:
        text += "\n<details><summary>raw browser measurements (seconds)</summary>\n\n```\n"
        text += "\n".join(json.dumps(r) for r in raw) + "\n```\n</details>\n"
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
