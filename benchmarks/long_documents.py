"""Long documents: what the model should read of a long text, and the bag-of-words second view.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/long_documents.py --sweep --modes head head_tail windows \
        --noise uniform-3 --seeds 0 1 2              # BBC News runs (minutes to half an hour each on CPU)
    .venv/bin/python benchmarks/long_documents.py --short   # the text view on the recipe benchmark's saved runs
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/long_documents.py --timing --size 100   # seconds per pass, modes alternated
    .venv/bin/python benchmarks/long_documents.py --report  # tables from every saved run -> results/long_documents.md

Long set: BBC News (``../shared/data/bbc_news.part*``, 2,225 whole articles, 5 topics, median 389
MiniLM tokens, every one longer than 128), a class-stratified sample with seeded noise (uniform
or confusable flips, 3% or 10%: the sampling and noise of ``detection.py``). Each run fine-tunes
the shipped recipe (``train.DEFAULTS``) with one ``long_text`` mode and keeps, besides the
per-pass trajectories, every window's logits of every pass, so the windows' pooling (mean of the
class probabilities, what ships, against mean of the logits) is compared on the same training.

Second view: out-of-fold TF-IDF + logistic regression class probabilities
(``datamap_widget.text_view``), computed for every BBC run and, with ``--short``, for every
saved run of the recipe benchmark (eight short sets, 2,000 examples, seeds 0-2: their texts and
noisy labels are rebuilt from the same seeds), so combinations are scored on the very rankings
that chose the default score, with no new fine-tuning.

Records: ``benchmarks/results/runs/long/<key>.json`` + ``.npz`` (committed; a sweep resumes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import DATA, NOISES, RESULTS, detection_metrics, noisy_sample  # noqa: E402

RUNS = RESULTS / "runs" / "long"
RECIPE_RUNS = RESULTS / "runs" / "recipe"
NOISE_KINDS = {**NOISES, "confusable-3": ("confusable", 0.03)}
MODES = ("head", "head_tail", "windows")
#: Variants measured beside the modes: head_tail with a given share of the budget from the start
#: (``long_text.HEAD_SHARE``, set for the run's process). The first head_tail runs used a quarter
#: (Sun et al. 2019); half measured better and ships.
VARIANTS = {"head_tail_half": ("head_tail", 0.5), "head_tail_quarter": ("head_tail", 0.25)}


def load_bbc() -> pd.DataFrame:
    frame = pd.concat([pd.read_json(DATA / f"bbc_news.part{i}of2.jsonl", lines=True) for i in (1, 2)], ignore_index=True)
    return frame[["id", "text", "label"]]


def make_bbc(size: int, noise: str, seed: int) -> dict:
    return noisy_sample(load_bbc(), size, *NOISE_KINDS[noise], seed)


def key_of(mode: str, size: int, noise: str, seed: int) -> str:
    return f"{mode}-bbc-{size}-{noise}-s{seed}"


def text_view_for(data: dict, seed: int) -> tuple[np.ndarray, float]:
    from datamap_widget.text_view import out_of_fold_probabilities

    started = time.perf_counter()
    probs = out_of_fold_probabilities(data["texts"], data["noisy"], len(data["names"]), seed=seed)
    return probs, time.perf_counter() - started


def run_one(mode: str, size: int, noise: str, seed: int) -> Path:
    from datamap_widget.train import fine_tune

    import datamap_widget.long_text as long_text

    key = key_of(mode, size, noise, seed)
    data = make_bbc(size, noise, seed)
    names = data["names"]
    started = time.perf_counter()
    library_mode, head_share = VARIANTS.get(mode, (mode, long_text.HEAD_SHARE))
    shipped, long_text.HEAD_SHARE = long_text.HEAD_SHARE, head_share
    try:
        run = fine_tune(
            data["texts"], [names[c] for c in data["noisy"]], data["ids"], label_names=names, seed=seed,
            progress=False, long_text=library_mode, keep_unit_logits=True, embeddings=False, text_view=False,
        )
    finally:
        long_text.HEAD_SHARE = shipped
    seconds = time.perf_counter() - started
    dmap = run.datamap
    probs, text_seconds = text_view_for(data, seed)
    arrays = {f"traj_{k}": (v.astype(np.float16) if v.dtype.kind == "f" else v.astype(np.int16)) for k, v in dmap.trajectories.items()}
    RUNS.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        RUNS / f"{key}.npz", noisy=data["noisy"].astype(np.int16), true=data["true"].astype(np.int16),
        class_probabilities=dmap.class_probabilities.astype(np.float16), text_probabilities=probs.astype(np.float16),
        unit_logits=np.stack(run.unit_logits).astype(np.float16), unit_doc=run.unit_doc.astype(np.int32), **arrays,
    )
    record = {
        "mode": mode, "head_share": head_share if library_mode == "head_tail" else None, "dataset": "bbc", "size": size, "noise": noise, "seed": seed, "n_classes": len(names),
        "n_errors": int(data["is_error"].sum()), "seconds": round(seconds, 1), "text_view_seconds": round(text_seconds, 2),
        "timings": run.timings, "train_accuracy": run.train_accuracy, "read": run.settings["read"],
        "fine_tune_settings": {k: v for k, v in run.settings.items() if k not in ("label_names", "read")},
    }
    (RUNS / f"{key}.json").write_text(json.dumps(record, indent=1))  # written last: marks the run complete
    return RUNS / f"{key}.json"


def sweep(modes, size, noises, seeds) -> None:
    todo = [(m, size, n, s) for s in seeds for n in noises for m in modes]
    for i, args in enumerate(todo, 1):
        if (RUNS / f"{key_of(*args)}.json").exists():
            continue
        started = time.perf_counter()
        run_one(*args)
        print(f"[{i}/{len(todo)}] {key_of(*args)}: {time.perf_counter() - started:.0f} s", flush=True)


def timing(size: int, rounds: int) -> dict:
    """Seconds per pass of each mode, alternated in one process (ratios stay fair on a busy
    machine), on ``size`` BBC articles: one pass per mode per round."""
    from datamap_widget.train import fine_tune

    data = make_bbc(size, "uniform-3", 0)
    names = data["names"]
    seconds: dict[str, list[float]] = {m: [] for m in MODES}
    for _ in range(rounds):
        for mode in MODES:
            run = fine_tune(data["texts"], [names[c] for c in data["noisy"]], data["ids"], label_names=names, epochs=1,
                            progress=False, long_text=mode, embeddings=False, text_view=False)
            seconds[mode].append(run.timings["epoch_s"][0])
    _, text_seconds = text_view_for(data, 0)
    out = {"size": size, "rounds": rounds, "epoch_s": seconds, "text_view_s": round(text_seconds, 2),
           "ratio_to_head": {m: round(float(np.mean(v) / np.mean(seconds["head"])), 2) for m, v in seconds.items()}}
    RUNS.mkdir(parents=True, exist_ok=True)
    (RUNS / f"timing-bbc-{size}.json").write_text(json.dumps(out, indent=1))
    return out


# ------------------------------------------------------------------------------ the short sets


def short_text_views() -> None:
    """Out-of-fold TF-IDF probabilities for every saved 2,000-example run of the recipe benchmark."""
    from recipe import make_data

    for path in sorted(RECIPE_RUNS.glob("base_bucket-*-2000-*.json")):
        out = RUNS / f"text_view-{path.stem}.npz"
        if out.exists():
            continue
        record = json.loads(path.read_text())
        data = make_data(record["dataset"], record["size"], record["noise"], record["seed"])
        saved = np.load(path.with_suffix(".npz"))
        assert np.array_equal(saved["noisy"], data["noisy"]), f"{path.name}: rebuilt noisy labels differ from the saved ones"
        probs, seconds = text_view_for(data, record["seed"])
        RUNS.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out, text_probabilities=probs.astype(np.float16), seconds=np.float32(seconds))
        print(f"{out.name}: {seconds:.1f} s", flush=True)


# ------------------------------------------------------------------------------ scores


def _rank(values: np.ndarray) -> np.ndarray:
    from datamap_widget.metrics import average_rank

    return average_rank(values)


def combinations(map_score: np.ndarray, text_gold: np.ndarray, map_conf: np.ndarray) -> dict[str, np.ndarray]:
    """The candidate ways to combine the map's score with the text view's."""
    text_score = 1.0 - text_gold
    return {
        "map": map_score,
        "text": text_score,
        "rank_mean": (_rank(map_score) + _rank(text_score)) / 2,
        "rank_0.75map": 0.75 * _rank(map_score) + 0.25 * _rank(text_score),
        "rank_0.25map": 0.25 * _rank(map_score) + 0.75 * _rank(text_score),
        "prob_mean": 1.0 - (map_conf + text_gold) / 2,
        "prob_product": 1.0 - map_conf * text_gold,
    }


def _confidence(gold: np.ndarray) -> np.ndarray:
    return np.nanmean(gold.astype(np.float64), axis=1)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def pooled_gold(npz: dict, how: str) -> np.ndarray:
    """Per-pass gold probability ``(N, T)`` of each text from its windows' logits, pooled by
    ``how``: ``probs`` (mean of the class probabilities, what ships), ``logits`` (mean of the
    logits) or ``certainty`` (the probabilities weighted by each window's certainty, so the
    windows that decide the label outweigh those that say nothing)."""
    from datamap_widget.train import window_weights

    logits = npz["unit_logits"].astype(np.float64)  # (T, U, C)
    doc = npz["unit_doc"]
    n, (t_passes, _, c) = len(npz["noisy"]), logits.shape
    out = np.empty((n, t_passes))
    for t in range(t_passes):
        if how == "logits":
            sums = np.zeros((n, c))
            np.add.at(sums, doc, logits[t])
            pooled = _softmax(sums / np.bincount(doc, minlength=n)[:, None])
        else:
            probs = _softmax(logits[t])
            weights = window_weights(probs) if how == "certainty" else np.ones(len(doc))
            sums = np.zeros((n, c))
            np.add.at(sums, doc, probs * weights[:, None])
            pooled = sums / np.bincount(doc, weights=weights, minlength=n)[:, None]
        out[:, t] = pooled[np.arange(n), npz["noisy"]]
    return out


def bbc_rows() -> list[dict]:
    rows = []
    for path in sorted(p for p in RUNS.glob("*-bbc-*.json") if not p.name.startswith("timing-")):
        record = json.loads(path.read_text())
        npz = dict(np.load(path.with_suffix(".npz")))
        is_error = npz["noisy"] != npz["true"]
        gold = npz["traj_gold_prob"]
        conf = _confidence(gold)
        text_gold = npz["text_probabilities"].astype(np.float64)[np.arange(len(is_error)), npz["noisy"]]
        base = {k: record[k] for k in ("mode", "size", "noise", "seed")}
        if record["mode"].startswith("head_tail"):
            # Records made before the variant existed ran the quarter that shipped then.
            share = record.get("head_share") or 0.25
            base["mode"] = f"head_tail (start {share:.0%})"
        epoch_s = record["timings"]["epoch_s"]
        cost = {"s_per_pass": float(np.mean(epoch_s)), "units_per_text": record["read"]["units_per_text"]}
        for name, score in combinations(1.0 - conf, text_gold, conf).items():
            if record["mode"] == "windows":
                break  # windows rows come from the pooling comparison below, every pooling from the same logits
            if name == "text" and record["mode"] != "head":
                continue  # the same text view in every mode's record: count it once
            m = detection_metrics(score, is_error)
            label = "text view alone" if name == "text" else name
            rows.append({**base, "dataset": "bbc", "score": label, "ap": m["ap"], "r5": m["recall@5%"], **cost})
        if record["mode"] == "windows":
            for how in ("probs", "logits", "certainty"):
                lc = _confidence(pooled_gold(npz, how))
                for name, score in combinations(1.0 - lc, text_gold, lc).items():
                    if name in ("map", "prob_mean"):
                        m = detection_metrics(score, is_error)
                        rows.append({**base, "mode": f"windows (pool {how})", "dataset": "bbc", "score": name, "ap": m["ap"], "r5": m["recall@5%"], **cost})
    return rows


def short_rows() -> list[dict]:
    rows = []
    for path in sorted(RUNS.glob("text_view-*.npz")):
        recipe_key = path.stem.removeprefix("text_view-")
        record = json.loads((RECIPE_RUNS / f"{recipe_key}.json").read_text())
        npz = np.load(RECIPE_RUNS / f"{recipe_key}.npz")
        is_error = npz["noisy"] != npz["true"]
        conf = _confidence(npz["traj_gold_prob"])
        text = np.load(path)["text_probabilities"].astype(np.float64)
        text_gold = text[np.arange(len(is_error)), npz["noisy"]]
        base = {"mode": "head", "size": record["size"], "noise": record["noise"], "seed": record["seed"], "dataset": record["dataset"]}
        for name, score in combinations(1.0 - conf, text_gold, conf).items():
            m = detection_metrics(score, is_error)
            rows.append({**base, "score": "text view alone" if name == "text" else name, "ap": m["ap"], "r5": m["recall@5%"]})
    return rows


def leave_one_set_out(frame: pd.DataFrame) -> list[dict]:
    """For each held-out set: the score with the best mean AP on the others, and how it does there."""
    means = frame.groupby(["dataset", "score"])["ap"].mean().unstack()
    out = []
    for held in means.index:
        pick = means.drop(index=held).mean().idxmax()
        out.append({"held_out": held, "pick": pick, "ap_of_pick": means.loc[held, pick], "best_there": means.loc[held].idxmax(), "best_ap": means.loc[held].max()})
    return out


def _md(frame: pd.DataFrame, fmt: str = "{:.3f}") -> str:
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype.kind == "f":
            frame[column] = frame[column].map(lambda v: "" if pd.isna(v) else fmt.format(v))
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    return "\n".join([head, rule] + ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)])


def write_report() -> str:
    lines = ["# Long documents and the text view", "", "Made by `benchmarks/long_documents.py --report` from the records under",
             "`benchmarks/results/runs/long/` (every number below is recomputed from them).", ""]
    bbc = pd.DataFrame(bbc_rows())
    short = pd.DataFrame(short_rows())
    if len(bbc):
        lines += ["## BBC News: mode x score (mean over the seeds present)", ""]
        for noise, part in bbc.groupby("noise", sort=False):
            table = part.groupby(["mode", "score"]).agg(ap=("ap", "mean"), r5=("r5", "mean"), seeds=("seed", "nunique"),
                                                        s_per_pass=("s_per_pass", "mean"), units_per_text=("units_per_text", "mean")).reset_index()
            lines += [f"### {noise}", "", _md(table), ""]
        for path in sorted(RUNS.glob("timing-bbc-*.json")):
            t = json.loads(path.read_text())
            lines += [f"Seconds per pass, the modes alternated in one process ({t['size']} articles, {t['rounds']} rounds; "
                      "`--timing`): " + ", ".join(f"{m} {np.mean(v):.1f} s ({t['ratio_to_head'][m]:.2f}x head)" for m, v in t["epoch_s"].items())
                      + f"; the text view {t['text_view_s']:.1f} s once per run.", ""]
    if len(short):
        lines += ["## Eight short sets (2,000 examples; the recipe benchmark's saved runs): score, mean over seeds", ""]
        for noise, part in short.groupby("noise", sort=False):
            ap = part.groupby(["dataset", "score"])["ap"].mean().unstack()
            r5 = part.groupby(["dataset", "score"])["r5"].mean().unstack()
            ap.loc["mean"] = ap.mean()
            r5.loc["mean"] = r5.mean()
            lines += [f"### {noise}: AP", "", _md(ap.reset_index()), "", f"### {noise}: recall at 5%", "", _md(r5.reset_index()), ""]
    both = []
    if len(short):
        both.append(short[short["noise"] == "uniform-3"][["dataset", "score", "ap"]])
    if len(bbc):
        pick_mode = bbc[(bbc["noise"] == "uniform-3") & (bbc["mode"] == "head_tail (start 50%)")]
        if len(pick_mode):
            both.append(pick_mode[["dataset", "score", "ap"]])
    if both:
        frame = pd.concat(both)
        frame = frame[frame["score"] != "text view alone"]
        lines += ["## Leave one set out (uniform 3%; BBC with head_tail): which combination", "", _md(pd.DataFrame(leave_one_set_out(frame))), ""]
    from datamap_widget.train import DEFAULTS, WINDOW_POOL

    lines += [f"default: long_text={DEFAULTS['long_text']}, text_view={DEFAULTS['text_view']}, window pool={WINDOW_POOL}", ""]
    text = "\n".join(lines) + "\n"
    (RESULTS / "long_documents.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--short", action="store_true", help="text views for the recipe benchmark's saved runs")
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--timing", action="store_true", help="seconds per pass of each mode, alternated in one process")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modes", nargs="+", choices=MODES + tuple(VARIANTS), default=list(MODES))
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--noise", nargs="+", choices=tuple(NOISE_KINDS), default=["uniform-3"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args(argv)
    if args.sweep:
        sweep(args.modes, args.size, args.noise, args.seeds)
    if args.short:
        short_text_views()
    if args.timing:
        print(json.dumps(timing(args.size, args.rounds), indent=1))
    if args.report or not (args.sweep or args.short or args.timing):
        print(write_report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
