"""Tables of ``benchmarks/recipe.py``'s saved runs: every score post hoc, leave-one-dataset-out.

Reads the committed records (``runs/recipe/<key>.json`` + ``.npz``) and writes
``benchmarks/results/recipe.md`` and ``recipe.json``. Nothing here trains a transformer (the
TF-IDF reference is a few seconds of scikit-learn per set, cached beside the runs).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from _data import RESULTS, detection_metrics

from datamap_widget import metrics

#: Which recorded passes a training-dynamics score averages over.
PASSES = ("all", "last_half", "first_half")
DYNAMICS = ("margin", "confidence", "aum", "wrong_confident")
KS = (5, 10, 20, 50)
KNN_K = 10  # the k the combinations use
#: Suggestion support levels: offer a suggestion only when this share of passes predicted it.
SUPPORT = (0.0, 0.5, 0.67, 1.0)


def _passes(traj: dict, which: str) -> dict:
    t = traj["gold_prob"].shape[1]
    half = max(1, t // 2)
    cut = {"all": slice(None), "last_half": slice(t - half, None), "first_half": slice(0, (t + 1) // 2)}[which]
    return {k: v[:, cut] for k, v in traj.items()}


def _rank(values: np.ndarray) -> np.ndarray:
    return pd.Series(values).rank(method="average", na_option="bottom").to_numpy() / len(values)


def load_run(json_path: Path) -> tuple[dict, dict]:
    record = json.loads(json_path.read_text())
    arrays = np.load(json_path.with_suffix(".npz"))
    traj = {}
    for name in metrics.TRAJECTORY_FIELDS:
        values = arrays[f"traj_{name}"]
        traj[name] = values.astype(np.float32) if values.dtype.kind == "f" else values.astype(np.int64)
    data = {"traj": traj, "noisy": arrays["noisy"].astype(np.int64), "true": arrays["true"].astype(np.int64), "neighbours": arrays["neighbours"].astype(np.int64)}
    return record, data


def scores_of(data: dict) -> dict[str, np.ndarray]:
    """Every score of one run, by name (``<score>@<passes>``, ``knn<k>``, combinations)."""
    traj, noisy = data["traj"], data["noisy"]
    out = {}
    for which in PASSES:
        part = _passes(traj, which)
        for method in DYNAMICS:
            out[f"{method}@{which}"] = metrics.mislabel_score(part, method)
    out["loss@last"] = metrics.mislabel_score(traj, "loss")
    # cleanlab's rankings of (out-of-fold) probabilities: self-confidence and normalised margin
    # of the last pass alone.
    last = {k: v[:, -1:] for k, v in traj.items()}
    out["confidence@last"] = metrics.mislabel_score(last, "confidence")
    out["margin@last"] = metrics.mislabel_score(last, "margin")
    for k in KS:
        out[f"knn{k}"] = metrics.knn_disagreement(data["neighbours"], noisy, k)
    knn = out[f"knn{KNN_K}"]
    for method in ("margin", "confidence", "aum"):
        out[f"rank({method}+knn{KNN_K})"] = (_rank(out[f"{method}@all"]) + _rank(knn)) / 2
    # A product of probabilities: the label is right only if the model *and* the neighbours agree.
    gold_conf = 1.0 - out["confidence@all"]
    out[f"product(confidence,knn{KNN_K})"] = 1.0 - gold_conf * (1.0 - knn)
    out["rank(margin+aum)"] = (_rank(out["margin@all"]) + _rank(out["aum@all"])) / 2
    return out


def suggestion_rows(data: dict, n_classes: int, top_frac: float = 0.05, score: str = "confidence") -> list[dict]:
    """How often the suggested label is right, by how many passes supported it."""
    traj, noisy, true = data["traj"], data["noisy"], data["true"]
    suggested = metrics.suggested_label(traj, noisy, n_classes)
    support = (traj["argmax"] == suggested[:, None]).mean(axis=1)
    flipped = noisy != true
    differs = suggested != noisy
    ranked = metrics.mislabel_score(traj, score)
    top = np.zeros(len(noisy), dtype=bool)
    top[np.argsort(-ranked, kind="stable")[: max(1, int(round(top_frac * len(noisy))))]] = True
    rows = []
    for level in SUPPORT:
        offered = differs & (support >= level)
        rows.append({
            "support": level,
            "flipped_fixed": float((offered & flipped & (suggested == true)).sum() / max(1, flipped.sum())),
            "clean_broken": float((offered & ~flipped).sum() / max(1, (~flipped).sum())),
            "offered_top5_right": float((offered & top & (suggested == true)).sum() / max(1, (offered & top).sum())),
            "offered_top5": float((offered & top).sum() / max(1, top.sum())),
        })
    return rows


def tfidf_reference(record: dict, runs: Path) -> dict | None:
    """cleanlab on 5-fold TF-IDF + logistic regression on the same rows and noise (cached)."""
    from recipe import make_data

    key = f"tfidf-{record['dataset']}-{record['size']}-{record['noise']}-s{record['seed']}"
    path = runs / f"{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    from detection import run_tfidf

    data = make_data(record["dataset"], record["size"], record["noise"], record["seed"])
    # cleanlab wants a column per class code: renumber the classes this sample holds
    # (a 500-example TREC-fine sample lacks some of the 50).
    data["noisy"] = np.unique(data["noisy"], return_inverse=True)[1]
    result = run_tfidf(data, record["seed"])
    out = {"seconds": result["seconds"], **detection_metrics(next(iter(result["scores"].values())), data["is_error"])}
    path.write_text(json.dumps(out, indent=1))
    return out


def collect(runs: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows, suggestions, runs_meta = [], [], []
    referenced: set[tuple] = set()
    for path in sorted(runs.glob("*.json")):
        if path.name.startswith("tfidf-") or not path.with_suffix(".npz").exists():
            continue
        record, data = load_run(path)
        cell = {k: record[k] for k in ("recipe", "dataset", "size", "noise", "seed")}
        is_error = data["noisy"] != data["true"]
        for name, values in scores_of(data).items():
            rows.append({**cell, "score": name, **detection_metrics(values, is_error)})
        for row in suggestion_rows(data, record["n_classes"]):
            suggestions.append({**cell, **row})
        timings = record["timings"]
        # A cross-fitted run (train.cross_fit) keeps timings and train accuracy per fold.
        epochs = timings["epoch_s"] if "epoch_s" in timings else [t for fold in timings["folds"] for t in fold["epoch_s"]]
        accuracy = record["train_accuracy"] or [np.nan]
        final_acc = float(np.mean([fold[-1] if fold else np.nan for fold in accuracy])) if isinstance(accuracy[0], list) else accuracy[-1]
        runs_meta.append({**cell, "seconds": record["seconds"], "epoch_s": float(np.mean(epochs)), "final_train_acc": final_acc})
        cell_key = (record["dataset"], record["size"], record["noise"], record["seed"])
        ref = None if cell_key in referenced else tfidf_reference(record, runs)
        referenced.add(cell_key)
        if ref is not None:
            rows.append({**cell, "recipe": "tfidf-cleanlab", "score": "cleanlab 5-fold", **{k: v for k, v in ref.items() if k != "seconds"}})
    return pd.DataFrame(rows), pd.DataFrame(suggestions), pd.DataFrame(runs_meta)


def leave_one_out(frame: pd.DataFrame, metric: str = "ap") -> tuple[list[dict], pd.DataFrame]:
    """For each set, the (recipe, score) with the best mean ``metric`` on the *other* sets."""
    ours = frame[frame.recipe != "tfidf-cleanlab"]
    table = ours.pivot_table(index=["recipe", "score"], columns="dataset", values=metric, aggfunc="mean")
    table = table.dropna()  # only candidates measured on every set compete
    folds = []
    if table.shape[1] < 2 or table.empty:
        return folds, table
    for held in table.columns:
        others = table.drop(columns=held).mean(axis=1)
        pick = others.idxmax()
        folds.append({
            "held_out": held, "pick": " / ".join(pick), "pick_on_held_out": float(table.loc[pick, held]),
            "best_on_held_out": " / ".join(table[held].idxmax()), "best_value": float(table[held].max()),
            "pick_rank_on_held_out": int((table[held] > table.loc[pick, held]).sum()) + 1,
        })
    return folds, table


#: The shipped recipe and score, and cleanlab's protocol with the same model (``recipe.py``).
SHIPPED = ("base_bucket", "confidence@all")  # train.DEFAULTS and metrics.DEFAULT_METHOD
CLEANLAB = ("cleanlab5_high_lr", "confidence@last")


def _overview(ap: pd.DataFrame, r5: pd.DataFrame) -> pd.DataFrame:
    """Per candidate (rows) over the sets (columns): mean / worst AP and R@5%, sets at the 80% target."""
    return pd.DataFrame({
        "sets": ap.shape[1], "mean AP": ap.mean(axis=1), "worst AP": ap.min(axis=1),
        "mean R@5%": r5.mean(axis=1), "worst R@5%": r5.min(axis=1),
        "sets with R@5% >= 0.8": (r5 >= 0.8 - 1e-9).sum(axis=1),
    }).sort_values("mean AP", ascending=False)


def seed_means(frame: pd.DataFrame, size: int, noise: str) -> pd.DataFrame:
    """Per (recipe, score, set): mean and std of AP and R@5% over the seeds, and how many seeds."""
    part = frame[(frame["size"] == size) & (frame["noise"] == noise)]
    return part.groupby(["recipe", "score", "dataset"]).agg(
        ap=("ap", "mean"), ap_std=("ap", "std"), r5=("recall@5%", "mean"), r5_std=("recall@5%", "std"), seeds=("seed", "nunique"),
    ).reset_index()


def seed_mean_section(frame: pd.DataFrame, size: int, noise: str) -> tuple[list[str], dict]:
    """The confirmation view: every candidate measured on every set with every seed, averaged over seeds."""
    means = seed_means(frame, size, noise)
    n_seeds = int(means.seeds.max())
    full = means[means.seeds == n_seeds]
    seeds = sorted(frame[(frame["size"] == size) & (frame["noise"] == noise)].seed.unique())
    parts = [f"## {size} examples · {noise} · mean over seeds {', '.join(map(str, seeds))}", ""]
    ap = full.pivot_table(index=["recipe", "score"], columns="dataset", values="ap").dropna()
    r5 = full.pivot_table(index=["recipe", "score"], columns="dataset", values="r5").reindex(ap.index)
    summary: dict = {}
    if ap.empty:
        return [], summary
    overview = _overview(ap, r5)
    parts += [
        f"Candidates measured on every set with all {n_seeds} seeds; a set's value is the mean over the seeds.", "",
        "### Overview (top 15 by mean AP)", "", _md_table(overview.head(15).reset_index()), "",
    ]
    if SHIPPED in overview.index:
        rank = int((overview["mean AP"] > overview.loc[SHIPPED, "mean AP"]).sum()) + 1
        parts += [f"The shipped `{SHIPPED[0]} · {SHIPPED[1]}` ranks {rank} of {len(overview)} by mean AP here.", ""]
    rows = []
    for dataset, one in means.groupby("dataset"):
        def cell(recipe: str, score: str) -> str:
            hit = one[(one.recipe == recipe) & (one.score == score)]
            if hit.empty:
                return "–"
            h = hit.iloc[0]
            spread = "" if h.seeds < 2 else f" ± {h.ap_std:.3f}"
            return f"{h.ap:.3f}{spread} · {h.r5:.0%} ({h.seeds} seed{'s' if h.seeds != 1 else ''})"
        ours = one[(one.recipe != "tfidf-cleanlab") & (one.seeds == n_seeds)]
        best = ours.loc[ours.ap.idxmax()] if not ours.empty else None
        rows.append({
            "set": dataset, "shipped · confidence (default)": cell(*SHIPPED), "shipped · margin": cell(SHIPPED[0], "margin@all"),
            "shipped · aum": cell(SHIPPED[0], "aum@all"),
            "shipped · rank(aum+knn10)": cell(SHIPPED[0], "rank(aum+knn10)"),
            "best with every seed": "–" if best is None else f"{best.recipe} · {best.score}: {best.ap:.3f} · {best.r5:.0%}",
            "cleanlab 5-fold, MiniLM": cell(*CLEANLAB), "cleanlab, TF-IDF 5-fold": cell("tfidf-cleanlab", "cleanlab 5-fold"),
        })
    parts += ["### Per set (AP ± std over seeds · mean R@5%)", "", _md_table(pd.DataFrame(rows)), ""]
    folds, _ = leave_one_out(full.rename(columns={"r5": "recall@5%"}))
    if folds:
        parts += ["### Leave one data set out (seed-mean AP)", "", _md_table(pd.DataFrame(folds)), ""]
    summary[f"{size}-{noise}-seedmean-overview"] = overview.reset_index().to_dict(orient="records")
    summary[f"{size}-{noise}-seedmean-loo"] = folds
    return parts, summary


def cleanlab_section(frame: pd.DataFrame, meta: pd.DataFrame) -> list[str]:
    """Every cell where cleanlab's 5-fold protocol ran, beside the shipped recipe on the same rows."""
    keys = ["dataset", "size", "noise", "seed"]
    theirs = frame[(frame.recipe == CLEANLAB[0]) & (frame.score == CLEANLAB[1])].set_index(keys)
    ours = frame[(frame.recipe == SHIPPED[0]) & (frame.score == SHIPPED[1])].set_index(keys)
    seconds = meta.set_index(["recipe", *keys]).seconds
    rows = []
    for key in theirs.index.intersection(ours.index):
        t, o = theirs.loc[key], ours.loc[key]
        s_t, s_o = float(seconds.loc[(CLEANLAB[0], *key)]), float(seconds.loc[(SHIPPED[0], *key)])
        rows.append({
            "set": key[0], "size": key[1], "noise": key[2], "seed": key[3],
            "shipped AP · R@5%": f"{o.ap:.3f} · {o['recall@5%']:.0%}", "cleanlab AP · R@5%": f"{t.ap:.3f} · {t['recall@5%']:.0%}",
            "AP difference": f"{o.ap - t.ap:+.3f}", "shipped s": f"{s_o:.0f}", "cleanlab s": f"{s_t:.0f}", "compute ratio": f"{s_t / s_o:.1f}x",
        })
    if not rows:
        return []
    table = pd.DataFrame(rows).sort_values(["size", "noise", "seed", "set"])
    wins = sum(float(r["AP difference"]) >= 0 for r in rows)
    return [
        "## Against cleanlab's protocol with the same model",
        "",
        f"`{CLEANLAB[0]}`: 5 models, each trained on 80% (lr 1e-4, batch 32), out-of-fold probabilities of the last pass ranked "
        f"by self-confidence, as cleanlab's `find_label_issues` does; against the shipped `{SHIPPED[0]} · {SHIPPED[1]}` on the same "
        f"rows and noise. Shipped AP at least cleanlab's in {wins} of {len(rows)} cells. Seconds are wall time on a shared 2-core CPU.",
        "",
        _md_table(table),
        "",
    ]


def _md_table(frame: pd.DataFrame, float_format: str = "{:.3f}") -> str:
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(float_format.format(v) if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def write_report(runs: Path) -> str:
    frame, suggestions, meta = collect(runs)
    if frame.empty:
        return "No recipe runs yet: run `benchmarks/recipe.py --sweep` first.\n"
    parts = [
        "# Recipe benchmark (`benchmarks/recipe.py`)",
        "",
        "Every number is from the runs saved under `benchmarks/results/runs/recipe/` (one fine-tuning run each, "
        "on a class-stratified sample with seeded noise). Higher is better. AP = average precision of the ranking; "
        "R@5% = share of the flipped labels in the top 5% of the ranking.",
        "",
        "## What was run",
        "",
        _md_table(meta.groupby(["recipe", "size", "noise", "seed"]).agg(sets=("dataset", "count"), mean_run_s=("seconds", "mean"), mean_epoch_s=("epoch_s", "mean")).reset_index(), "{:.0f}"),
        "",
    ]
    summary = {}
    for (size, noise, seed), part in frame.groupby(["size", "noise", "seed"]):
        parts += [f"## {size} examples · {noise} · seed {seed}", ""]
        ap = part.pivot_table(index=["recipe", "score"], columns="dataset", values="ap", aggfunc="mean")
        r5 = part.pivot_table(index=["recipe", "score"], columns="dataset", values="recall@5%", aggfunc="mean")
        ap, r5 = ap.dropna(), r5.reindex(ap.index)
        if not ap.empty:
            overview = _overview(ap, r5)
            parts += ["### Overview: candidates measured on every set, by mean AP (top 15)", "", _md_table(overview.head(15).reset_index()), ""]
        for metric, label in (("ap", "AP"), ("recall@5%", "R@5%")):
            table = part.pivot_table(index=["recipe", "score"], columns="dataset", values=metric, aggfunc="mean")
            complete = table.dropna()
            if complete.empty:
                complete = table
            complete = complete.assign(mean=complete.mean(axis=1), worst=complete.min(axis=1)).sort_values("mean", ascending=False)
            parts += [f"### {label} by recipe and score (top 25 by mean; sets with every candidate)", "", _md_table(complete.head(25).reset_index()), ""]
            summary[f"{size}-{noise}-s{seed}-{metric}"] = complete.reset_index().to_dict(orient="records")
        parts += ["### Per set: each recipe's `margin` (the shipped score), its best score, and the TF-IDF cleanlab reference (AP · R@5%)", ""]
        rows_per_set = []
        recipes = sorted(r for r in part.recipe.unique() if r != "tfidf-cleanlab")
        for dataset, one in part.groupby("dataset"):
            def pick(recipe: str, score: str) -> str:
                hit = one[(one.recipe == recipe) & (one.score == score)]
                return "–" if hit.empty else f"{hit.ap.iloc[0]:.3f} · {hit['recall@5%'].iloc[0]:.0%}"
            ours = one[one.recipe != "tfidf-cleanlab"]
            best = ours.loc[ours.ap.idxmax()]
            row = {"set": dataset}
            row.update({f"{recipe} · margin": pick(recipe, "margin@all") for recipe in recipes})
            row["best of any run on this set"] = f"{best.recipe} · {best.score}: {best.ap:.3f} · {best['recall@5%']:.0%}"
            row["cleanlab, TF-IDF 5-fold"] = pick("tfidf-cleanlab", "cleanlab 5-fold")
            rows_per_set.append(row)
        parts += [_md_table(pd.DataFrame(rows_per_set)), ""]
        folds, _ = leave_one_out(part)
        if folds:
            parts += ["### Leave one data set out (AP)", "", "Pick = the recipe/score with the best mean AP on the other sets; then its AP and rank on the held-out set.", "", _md_table(pd.DataFrame(folds)), ""]
            summary[f"{size}-{noise}-s{seed}-loo"] = folds
    for (size, noise), group in frame.groupby(["size", "noise"]):
        if group.seed.nunique() > 1:
            extra, more = seed_mean_section(frame, size, noise)
            parts += extra
            summary.update(more)
    parts += cleanlab_section(frame, meta)
    if not suggestions.empty:
        table = suggestions.groupby(["size", "recipe", "support"])[["flipped_fixed", "clean_broken", "offered_top5", "offered_top5_right"]].mean().reset_index()
        parts += [
            "## Suggested labels",
            "",
            "`support` = least share of passes that predicted the suggestion for it to be offered. flipped_fixed = share of flipped "
            "labels whose offered suggestion is the true label; clean_broken = share of correct labels given a different suggestion "
            "(what a bulk accept would break); offered_top5 = share of the top 5% (by the default score, confidence) that get a suggestion, "
            "offered_top5_right = how often those are the true label. Mean over the sets.",
            "",
            _md_table(table),
            "",
        ]
        summary["suggestions"] = table.to_dict(orient="records")
    from datamap_widget.train import DEFAULTS

    parts += [
        "The defaults these tables chose (issue 26: each tuned constant printed beside its evidence):",
        "",
        *(f"default: DEFAULTS[{name!r}] = {DEFAULTS[name]!r} (the recipe base_bucket: best mean AP over the eight sets)"
          for name in ("epochs", "batch_size", "max_length", "lr", "weight_decay", "warmup")),
        f"default: DEFAULT_METHOD = {metrics.DEFAULT_METHOD!r} (best leave-one-set-out score in the table above)",
        f"default: SUGGESTION_MIN_SUPPORT = {metrics.SUGGESTION_MIN_SUPPORT!r} (the former suggestion rule, kept for comparison)",
        "",
    ]
    text = "\n".join(parts)
    (RESULTS / "recipe.md").write_text(text)
    (RESULTS / "recipe.json").write_text(json.dumps(summary, indent=1, default=float))
    return text
