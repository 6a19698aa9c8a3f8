"""How many injected label errors each method puts in the top of its ranking.

    .venv/bin/python benchmarks/detection.py --fast        # ~10 min on 2 CPU cores
    .venv/bin/python benchmarks/detection.py --full        # the whole grid (hours on CPU)
    .venv/bin/python benchmarks/detection.py --datasets trec --sizes 2000 --noise uniform-3 \
        --seeds 0 1 2 --families ours cleanlab_cv      # any part of the grid
    .venv/bin/python benchmarks/detection.py --report      # rebuild the tables from the saved runs

Data: the train splits of ``../shared/data/trec.jsonl`` (6 classes) and ``sst2.jsonl`` (2),
class-stratified subsamples of 500 and 2,000 examples, with seeded synthetic noise: uniform
(a random other class) at 3% and 10%, and class-conditional flips at 10%: each flipped example
goes to its class's most confusable class, and classes are flipped in proportion to how often
they are confused (both measured, not chosen: from a TF-IDF + logistic regression model's
cross-validated confusions on train examples outside the subsample), so on two-class SST-2 the
noise is asymmetric rather than a copy of the uniform setting.
A seed fixes the subsample, the noise and the training.

Method families, all on the embedded all-MiniLM-L6-v2 with the same epochs and settings as
``datamap train``:

``ours``         one fine-tuning run on the noisy labels; every score of
                 ``datamap_widget.metrics.SCORE_METHODS`` from its training dynamics (these
                 include the baselines final-epoch ``loss`` and ``aum``, the area under the
                 logit margin of Pleiss et al. 2020; AUM's threshold examples only pick a
                 cut-off, they do not change the ranking measured here), plus a rank average.
``cleanlab_cv``  cleanlab 2.x's standard protocol: out-of-fold predicted probabilities from
                 5-fold cross-validation (5 fine-tuning runs on 80%: 4x our compute), ranked
                 by ``cleanlab.rank.get_label_quality_scores``; ``find_label_issues`` is scored
                 as the set it flags.
``tfidf``        the cheap baseline: cleanlab on 5-fold TF-IDF + logistic regression.

Metrics: recall at 1%, 5% and 10% of the data inspected (top of the ranking), precision at
k = number of errors, average precision, AUROC, and compute (wall seconds, training runs).
Each finished run is saved as a small JSON record under ``benchmarks/results/runs/`` and
committed: the records are the evidence behind the tables (an uncommitted cache was once lost
with a machine, leaving only the aggregate tables), and a grid can be built up over several
invocations; the tables show mean ± std over the seeds that are there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(Path(__file__).resolve().parent) not in sys.path:  # imported by a test, not run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
# The data, noise and metric parts the other benchmarks share live in _data.py; re-exported here.
from _data import (  # noqa: E402,F401
    DATA,
    INSPECT,
    NOISES,
    RESULTS,
    confusable_classes,
    detection_metrics,
    inject_noise,
    rank_mean,
    set_metrics,
    stratified_sample,
)

RUNS = RESULTS / "runs"

DATASETS = ("trec", "sst2")
SIZES = (500, 2000)
FAMILIES = ("ours", "cleanlab_cv", "tfidf")
FOLDS = 5
FAST = {"datasets": DATASETS, "sizes": (500,), "noises": ("uniform-3", "uniform-10"), "seeds": (0,), "families": ("ours", "tfidf")}
FULL = {"datasets": DATASETS, "sizes": SIZES, "noises": tuple(NOISES), "seeds": (0, 1, 2), "families": FAMILIES}


# --------------------------------------------------------------------------------------
# Data and noise
# --------------------------------------------------------------------------------------


def load_train(name: str) -> pd.DataFrame:
    path = DATA / f"{name}.jsonl"
    if not path.exists():
        raise SystemExit(f"detection: {path} not found (the shared datasets live beside the repository)")
    frame = pd.read_json(path, lines=True)
    return frame[frame["split"] == "train"].reset_index(drop=True)


# --------------------------------------------------------------------------------------
# The methods
# --------------------------------------------------------------------------------------


@dataclass
class Cell:
    dataset: str
    size: int
    noise: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.dataset}-{self.size}-{self.noise}-s{self.seed}"


def make_cell_data(cell: Cell) -> dict:
    frame = load_train(cell.dataset)
    names = sorted(frame["label"].unique())
    sample = stratified_sample(frame, cell.size, cell.seed)
    codes = sample["label"].map({name: i for i, name in enumerate(names)}).to_numpy()
    kind, rate = NOISES[cell.noise]
    confusable = weights = None
    if kind == "confusable":
        pool = frame[~frame["id"].isin(sample["id"])]
        confusable, weights = confusable_classes(pool, names, cell.seed)
    noisy, is_error = inject_noise(codes, len(names), kind, rate, cell.seed, confusable, weights)
    return {"texts": sample["text"].tolist(), "ids": sample["id"].tolist(), "names": names, "noisy": noisy, "is_error": is_error}


def run_ours(data: dict, seed: int) -> dict:
    from datamap_widget import metrics
    from datamap_widget.train import fine_tune

    names = data["names"]
    started = time.perf_counter()
    run = fine_tune(data["texts"], [names[c] for c in data["noisy"]], data["ids"], label_names=names, seed=seed, progress=False)
    seconds = time.perf_counter() - started
    traj = run.datamap.trajectories
    scores = {method: metrics.mislabel_score(traj, method) for method in metrics.SCORE_METHODS}
    scores["rank_mean(margin,aum)"] = rank_mean(scores["margin"], scores["aum"])
    return {"scores": scores, "seconds": seconds, "runs": 1}


def _predict_proba(model, tokenizer, texts: list[str], max_length: int, batch_size: int = 64) -> np.ndarray:
    import torch

    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start : start + batch_size], truncation=True, max_length=max_length, padding=True, return_tensors="pt")
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out)


def _cleanlab_scores(noisy: np.ndarray, pred_probs: np.ndarray, prefix: str) -> tuple[dict, np.ndarray]:
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    quality = get_label_quality_scores(noisy, pred_probs)  # self_confidence, cleanlab's default
    flagged = find_label_issues(noisy, pred_probs)
    return {prefix: 1.0 - quality}, flagged


def run_cleanlab_cv(data: dict, seed: int) -> dict:
    from sklearn.model_selection import StratifiedKFold

    from datamap_widget.train import DEFAULTS, fine_tune

    names, noisy, texts = data["names"], data["noisy"], data["texts"]
    pred_probs = np.zeros((len(texts), len(names)))
    started = time.perf_counter()
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    for fold, (train, held_out) in enumerate(folds.split(texts, noisy)):
        run = fine_tune(
            [texts[i] for i in train], [names[noisy[i]] for i in train], [data["ids"][i] for i in train],
            label_names=names, seed=seed + fold, progress=False, keep_model=True,
        )
        pred_probs[held_out] = _predict_proba(run.model, run.tokenizer, [texts[i] for i in held_out], DEFAULTS["max_length"])
    seconds = time.perf_counter() - started
    scores, flagged = _cleanlab_scores(noisy, pred_probs, "cleanlab (MiniLM 5-fold)")
    return {"scores": scores, "flagged": flagged, "seconds": seconds, "runs": FOLDS}


def run_tfidf(data: dict, seed: int) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    started = time.perf_counter()
    features = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(data["texts"])
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    pred_probs = cross_val_predict(LogisticRegression(max_iter=2000), features, data["noisy"], cv=folds, method="predict_proba")
    seconds = time.perf_counter() - started
    scores, flagged = _cleanlab_scores(data["noisy"], pred_probs, "cleanlab (TF-IDF 5-fold)")
    return {"scores": scores, "flagged": flagged, "seconds": seconds, "runs": FOLDS}


RUNNERS = {"ours": run_ours, "cleanlab_cv": run_cleanlab_cv, "tfidf": run_tfidf}


# --------------------------------------------------------------------------------------
# Grid, saved runs and tables
# --------------------------------------------------------------------------------------


def run_path(cell: Cell, family: str) -> Path:
    return RUNS / f"{cell.key}-{family}.json"


def evaluate(cell: Cell, family: str, data: dict) -> dict:
    """Run one family on one cell (or read its saved record) and score its rankings."""
    path = run_path(cell, family)
    if path.exists():
        return json.loads(path.read_text())
    result = RUNNERS[family](data, cell.seed)
    record = {
        "cell": cell.__dict__,
        "family": family,
        "seconds": result["seconds"],
        "runs": result["runs"],
        "n_errors": int(data["is_error"].sum()),
        "methods": {name: detection_metrics(s, data["is_error"]) for name, s in result["scores"].items()},
    }
    if "flagged" in result:
        record["find_label_issues"] = set_metrics(result["flagged"], data["is_error"])
    RUNS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1))
    return record


def run_grid(datasets, sizes, noises, seeds, families) -> None:
    cells = [Cell(d, s, n, seed) for d in datasets for s in sizes for n in noises for seed in seeds]
    for i, cell in enumerate(cells, 1):
        data = None
        for family in families:
            if run_path(cell, family).exists():
                continue
            data = data or make_cell_data(cell)
            started = time.perf_counter()
            record = evaluate(cell, family, data)
            best = max(record["methods"].items(), key=lambda kv: kv[1]["ap"])
            print(f"[{i}/{len(cells)}] {cell.key} {family}: {time.perf_counter() - started:.0f} s, best AP {best[0]} {best[1]['ap']:.3f}", flush=True)


def load_records() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(RUNS.glob("*.json"))]


def _fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


COLUMNS = ("recall@1%", "recall@5%", "recall@10%", "precision@k", "ap", "auroc")


def tables(records: list[dict], only: dict | None = None) -> tuple[str, dict]:
    """Markdown tables (one per data/size/noise setting) and a JSON-able summary."""
    if only:
        records = [r for r in records if r["cell"]["dataset"] in only["datasets"] and r["cell"]["size"] in only["sizes"] and r["cell"]["noise"] in only["noises"] and r["cell"]["seed"] in only["seeds"] and r["family"] in only["families"]]
    rows = []
    for r in records:
        for method, values in r["methods"].items():
            rows.append({**r["cell"], "family": r["family"], "method": method, "seconds": r["seconds"], "runs": r["runs"], "n_errors": r["n_errors"], **values})
    if not rows:
        return "No results yet: run the benchmark first.\n", {}
    frame = pd.DataFrame(rows)
    lines, summary = [], {"settings": []}
    def grid_order(key: tuple) -> tuple:
        dataset, size, noise = key
        return (DATASETS.index(dataset), size, list(NOISES).index(noise))

    groups = frame.groupby(["dataset", "size", "noise"])
    for dataset, size, noise in sorted(groups.groups, key=grid_order):
        part = groups.get_group((dataset, size, noise))
        lines += [f"### {dataset} · {size} examples · {noise.replace('-', ' ')}% noise ({int(part.n_errors.iloc[0])} errors)", ""]
        lines += ["| method | seeds | " + " | ".join(COLUMNS) + " | training runs | wall s |", "|---|---|" + "---|" * (len(COLUMNS) + 2)]
        setting = {"dataset": dataset, "size": int(size), "noise": noise, "methods": {}}
        by_method = part.groupby(["family", "method"], sort=False)
        order = sorted(by_method.groups, key=lambda key: -by_method.get_group(key)["ap"].mean())
        for family, method in order:
            group = by_method.get_group((family, method))
            cells = [_fmt(group[c].tolist()) for c in COLUMNS]
            lines.append(f"| {method} | {len(group)} | " + " | ".join(cells) + f" | {int(group.runs.iloc[0])} | {group.seconds.mean():.0f} |")
            setting["methods"][method] = {"family": family, "seeds": sorted(group.seed.tolist()), **{c: float(group[c].mean()) for c in COLUMNS}, "seconds": float(group.seconds.mean()), "runs": int(group.runs.iloc[0])}
        flagged = [r for r in records if r["cell"]["dataset"] == dataset and r["cell"]["size"] == size and r["cell"]["noise"] == noise and "find_label_issues" in r]
        for family in sorted({r["family"] for r in flagged}):
            sets = [r["find_label_issues"] for r in flagged if r["family"] == family]
            lines.append(f"\n`find_label_issues` ({family}): flags {np.mean([s['flagged'] for s in sets]):.0f} examples, precision {_fmt([s['precision'] for s in sets])}, recall {_fmt([s['recall'] for s in sets])}.")
        lines.append("")
        summary["settings"].append(setting)
    mean_ap = frame.groupby("method")["ap"].mean().sort_values(ascending=False)
    wins = frame.loc[frame[frame.family == "ours"].groupby(["dataset", "size", "noise", "seed"])["ap"].idxmax(), "method"].value_counts()
    lines += ["### Our scores over every run above", "", "| score | mean AP | mean recall@5% | best AP in runs |", "|---|---|---|---|"]
    ours = frame[frame.family == "ours"]
    for method, ap in ours.groupby("method")["ap"].mean().sort_values(ascending=False).items():
        lines.append(f"| {method} | {ap:.3f} | {ours[ours.method == method]['recall@5%'].mean():.3f} | {int(wins.get(method, 0))} |")
    summary["mean_ap"] = {k: float(v) for k, v in mean_ap.items()}
    return "\n".join(lines) + "\n", summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fast", action="store_true", help="500 examples, uniform 3%% and 10%%, seed 0, ours + TF-IDF (~10 min)")
    mode.add_argument("--full", action="store_true", help="the whole grid, three seeds, every family")
    mode.add_argument("--report", action="store_true", help="only rebuild the tables from the saved runs")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=None)
    parser.add_argument("--sizes", nargs="+", type=int, choices=SIZES, default=None)
    parser.add_argument("--noise", nargs="+", choices=tuple(NOISES), default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=None)
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=None)
    args = parser.parse_args(argv)
    base = FAST if args.fast else FULL
    grid = {
        "datasets": tuple(args.datasets or base["datasets"]),
        "sizes": tuple(args.sizes or base["sizes"]),
        "noises": tuple(args.noise or base["noises"]),
        "seeds": tuple(args.seeds if args.seeds is not None else base["seeds"]),
        "families": tuple(args.families or base["families"]),
    }
    if not args.report:
        run_grid(grid["datasets"], grid["sizes"], grid["noises"], grid["seeds"], grid["families"])
    text, summary = tables(load_records(), only=grid if args.fast else None)
    name = "detection_fast" if args.fast else "detection"
    header = (
        f"# Detection benchmark ({'fast mode' if args.fast else 'every saved run'})\n\n"
        "Made by `benchmarks/detection.py`; higher is better everywhere. Rows are sorted by average "
        "precision. `seeds` is how many seeds the row averages (mean ± std when more than one).\n\n"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(header + text)
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=1))
    print(header + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
