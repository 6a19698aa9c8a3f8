"""What the label-error benchmarks share: where the data and results live, the noise settings,
class-stratified subsamples, seeded synthetic label noise and the metrics of one ranking.

``detection.py``, ``recipe.py``, ``long_documents.py``, ``recipe_report.py``, ``embed_corpus.py``,
``projection.py`` and ``train_speed.py`` import these from here (``detection`` re-exports them
under the same names). Same seeds, same sampling: moving them here changed no result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the repository; a worktree under ../wt/ finds it one level further up.
DATA = next((p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()), ROOT.parent / "shared" / "data")
RESULTS = ROOT / "benchmarks" / "results"

#: name -> (kind, rate)
NOISES = {"uniform-3": ("uniform", 0.03), "uniform-10": ("uniform", 0.10), "confusable-10": ("confusable", 0.10)}
INSPECT = (0.01, 0.05, 0.10)


# --------------------------------------------------------------------------------------
# Data and noise
# --------------------------------------------------------------------------------------


def stratified_sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` rows with the class proportions of ``frame`` (largest remainders), shuffled."""
    rng = np.random.default_rng(seed)
    counts = frame["label"].value_counts().sort_index()
    exact = counts / counts.sum() * n
    take = np.floor(exact).astype(int)
    short = n - int(take.sum())
    take[(exact - take).sort_values(ascending=False).index[:short]] += 1
    parts = [frame.index[frame["label"] == label].to_numpy() for label in counts.index]
    rows = np.concatenate([rng.choice(part, size=int(k), replace=False) for part, k in zip(parts, take)])
    return frame.loc[rng.permutation(rows)].reset_index(drop=True)


def confusable_classes(pool: pd.DataFrame, names: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """For each class, the other class a TF-IDF + logistic regression most often predicts for
    it, and the share of the class's examples it predicts there (its confusion rate)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    pool = pool.sample(n=min(len(pool), 3000), random_state=seed)
    codes = pool["label"].map({name: i for i, name in enumerate(names)}).to_numpy()
    features = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True).fit_transform(pool["text"])
    predicted = cross_val_predict(LogisticRegression(max_iter=2000), features, codes, cv=5)
    confusion = np.zeros((len(names), len(names)))
    np.add.at(confusion, (codes, predicted), 1)
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    np.fill_diagonal(rates, -1)  # never "confuse" a class with itself
    target = rates.argmax(axis=1)
    return target, rates[np.arange(len(names)), target]


def inject_noise(
    codes: np.ndarray,
    n_classes: int,
    kind: str,
    rate: float,
    seed: int,
    confusable: np.ndarray | None = None,
    class_weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Flip exactly ``round(rate * N)`` labels; returns ``(noisy codes, is_error mask)``.

    ``uniform`` picks the examples uniformly and flips each to a uniformly drawn *other*
    class. ``confusable`` picks them with probability proportional to
    ``class_weights[class]`` (default equal) and flips each to ``confusable[class]``.
    """
    if kind not in ("uniform", "confusable"):
        raise ValueError(f"kind must be 'uniform' or 'confusable', got {kind!r}")
    if kind == "confusable" and confusable is None:
        raise ValueError("kind='confusable' needs the confusable class of every class")
    rng = np.random.default_rng(seed + 10_000)
    n = len(codes)
    weights = None
    if kind == "confusable" and class_weights is not None:
        # A floor keeps every class flippable, so a class TF-IDF never confuses still gets some.
        per_example = np.maximum(np.asarray(class_weights, dtype=float), 0.01)[codes]
        weights = per_example / per_example.sum()
    chosen = rng.choice(n, size=int(round(rate * n)), replace=False, p=weights)
    noisy = codes.copy()
    if kind == "uniform":
        shift = rng.integers(1, n_classes, size=len(chosen))  # never 0: always another class
        noisy[chosen] = (codes[chosen] + shift) % n_classes
    else:
        noisy[chosen] = confusable[codes[chosen]]
    is_error = noisy != codes
    return noisy, is_error


# --------------------------------------------------------------------------------------
# Metrics of one ranking
# --------------------------------------------------------------------------------------


def detection_metrics(scores: np.ndarray, is_error: np.ndarray) -> dict[str, float]:
    """Recall at the top 1/5/10%, precision at k = #errors, average precision, AUROC.

    Higher score = more suspect. Ties are broken by position (the data is shuffled) and a
    NaN score ranks last.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores = np.where(np.isnan(scores), -np.inf, np.asarray(scores, dtype=np.float64))
    is_error = np.asarray(is_error, dtype=bool)
    n, k = len(scores), int(is_error.sum())
    if k == 0 or k == n:
        raise ValueError(f"need both errors and clean examples to score a ranking, got {k} errors of {n}")
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(is_error[order])
    out = {f"recall@{int(frac * 100)}%": hits[max(1, int(round(frac * n))) - 1] / k for frac in INSPECT}
    out["precision@k"] = hits[k - 1] / k
    finite = np.nan_to_num(scores, neginf=np.nanmin(scores[np.isfinite(scores)]) - 1)
    out["ap"] = float(average_precision_score(is_error, finite))
    out["auroc"] = float(roc_auc_score(is_error, finite))
    return {name: float(value) for name, value in out.items()}


def set_metrics(flagged: np.ndarray, is_error: np.ndarray) -> dict[str, float]:
    """Precision and recall of a flagged set (cleanlab's ``find_label_issues``)."""
    flagged = np.asarray(flagged, dtype=bool)
    true_pos = int((flagged & is_error).sum())
    return {
        "flagged": int(flagged.sum()),
        "precision": true_pos / flagged.sum() if flagged.any() else float("nan"),
        "recall": true_pos / is_error.sum(),
    }


def rank_mean(*scores: np.ndarray) -> np.ndarray:
    """Average of the scores' ranks (0 = least suspect), NaN-safe."""
    ranks = [pd.Series(s).rank(method="average", na_option="bottom").to_numpy() for s in scores]
    return np.mean(ranks, axis=0)


def noisy_sample(frame: pd.DataFrame, size: int, kind: str, rate: float, seed: int) -> dict:
    """A class-stratified sample of ``size`` rows of ``frame`` (``id``, ``text``, ``label``) with
    seeded flips (``kind`` uniform or confusable, ``rate`` of the rows): what every benchmark
    trains on. Returns texts, ids, the sorted class names, true and noisy codes, and is_error."""
    names = sorted(frame["label"].unique())
    sample = stratified_sample(frame, size, seed)
    codes = sample["label"].map({n: i for i, n in enumerate(names)}).to_numpy()
    confusable = weights = None
    if kind == "confusable":
        confusable, weights = confusable_classes(frame[~frame["id"].isin(sample["id"])], names, seed)
    noisy, is_error = inject_noise(codes, len(names), kind, rate, seed, confusable, weights)
    return {"texts": sample["text"].tolist(), "ids": sample["id"].tolist(), "names": names, "true": codes, "noisy": noisy, "is_error": is_error}
