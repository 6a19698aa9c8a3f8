"""Training-dynamics metrics: pure numpy, arrays in, arrays out.

Every function here works on *trajectories*: arrays of shape ``(N, T)`` with one row per
example and one column per recorded pass (epoch). A pass in which an example was not seen
is ``NaN`` (float arrays) or ``-1`` (class-index arrays), never a silent zero, and every
statistic skips it.

The definitions follow Swayamdipta et al. (2020), "Dataset Cartography", and the reference
code ``allenai/cartography`` (``compute_train_dy_metrics``), except that correctness is a
fraction of passes rather than a count so that all three numbers live in ``[0, 1]``.

``mislabel_score`` runs **higher = more likely mislabeled**, the opposite direction from
cleanlab's label-quality scores.

Public functions validate their inputs once and call private ``_compute`` helpers that trust
them (cleanlab's habit), so the hot paths stay vectorized and free of checks.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np

__all__ = [
    "CATEGORIES",
    "DEFAULT_THRESHOLDS",
    "DEFAULT_METHOD",
    "SCORE_METHODS",
    "Trajectories",
    "batch_statistics",
    "confidence",
    "variability",
    "correctness",
    "categorize",
    "mislabel_score",
    "suggested_label",
    "suggestion_support",
    "SUGGESTION_MIN_SUPPORT",
    "suggest_labels",
    "SUGGESTION_EARLY_SHARE",
    "SUGGESTION_MIN_MARGIN",
    "SUGGESTION_ERROR_MARGIN",
    "SUGGESTION_ZONE_SHARE",
    "summarize",
    "unlearned_classes",
    "unlearned_message",
    "UNLEARNED_MAX_CORRECTNESS",
    "UNLEARNED_MAX_CONFIDENCE",
    "UNLEARNED_MAX_SHARE",
    "UNLEARNED_MIN_OTHERS_CORRECTNESS",
    "REGION_QUANTILES",
    "REGION_BOUNDS",
    "NEIGHBOUR_METHODS",
    "TEXT_METHODS",
    "average_rank",
    "knn_disagreement",
    "nearest_neighbours",
    "quantile_thresholds",
    "resolve_thresholds",
]

#: The three regions of a data map, in the order used for category codes (0, 1, 2).
CATEGORIES: tuple[str, str, str] = ("easy-to-learn", "ambiguous", "hard-to-learn")

#: Region rules (see :func:`categorize`): an example whose variability is at least
#: ``variability`` is *ambiguous*; otherwise it is *easy-to-learn* when its confidence is at
#: least ``confidence`` and *hard-to-learn* below. Both are also drawn as guides on the map.
DEFAULT_THRESHOLDS: dict[str, float] = {"confidence": 0.5, "variability": 0.2}

#: The default region rule, from the data's own distribution (the paper selects regions by
#: quantiles): the top third by variability is *ambiguous*, and of the rest, examples below
#: the lowest third of confidence are *hard-to-learn*. Fixed thresholds put 95% of the
#: shipped sample in one region; quantiles keep every region meaningful on any data.
#: The quantile cuts are kept within :data:`REGION_BOUNDS`, so that the regions keep their
#: meaning on maps where the quantiles tie or sit at an extreme (see :func:`quantile_thresholds`).
REGION_QUANTILES: dict[str, float] = {"confidence": 1 / 3, "variability": 2 / 3}

#: Where the quantile cuts may lie, so that a region's name stays true on any map:
#:
#: - an example whose gold probability stayed **below 0.1** in every pass (never learned) has
#:   confidence below 0.1 and variability below 0.05: it is *hard-to-learn*, since the
#:   confidence cut is at least 0.1 and the variability cut at least 0.05;
#: - one whose gold probability stayed **above 0.9** in every pass (learned) has confidence above
#:   0.9 and variability below 0.05: it is *easy-to-learn*, since the confidence cut is at most 0.9.
#:
#: Without the bounds, a map where most examples are learned perfectly has a variability cut of
#: 0.0 (every example "ambiguous") and a confidence cut near 1.0 (a learned 0.98 "hard").
#: On ordinary maps the quantiles lie inside the bounds and nothing moves.
REGION_BOUNDS: dict[str, tuple[float, float]] = {"confidence": (0.1, 0.9), "variability": (0.05, 1.0)}

#: A map on which at least this share of the examples was never seen in any recorded pass
#: warns (those examples have no region, score or suggestion).
NEVER_SEEN_WARN_SHARE = 0.1

#: Names a ``thresholds`` argument may take instead of a mapping of values.
THRESHOLD_RULES = ("quantile", "fixed")

#: Names of the available mislabel scores and what each measures (higher = more suspect).
SCORE_METHODS: dict[str, str] = {
    "margin": "mean over passes of (largest other-class probability - gold probability), "
    "mapped to [0, 1]: the area under the probability margin",
    "confidence": "1 - confidence: how little probability the model gave the gold label",
    "aum": "minus the area under the logit margin (Pleiss et al. 2020), unbounded",
    "wrong_confident": "mean over passes of the other-class probability in passes the "
    "model predicted another class: consistent, confident disagreement",
    "early_margin": "the probability margin over the first half of the passes only, "
    "before the model memorizes the noisy labels",
    "early_confidence": "1 - confidence over the first half of the passes only",
    "loss": "cross-entropy of the gold label at the last pass (a common baseline)",
    "knn": "share of the example's nearest neighbours (cosine, the last pass's sentence "
    "embeddings) with another label: disagreement of the data, not of the model (needs embeddings)",
    "margin_knn": "rank average of margin and knn (needs embeddings)",
    "aum_knn": "rank average of aum and knn (needs embeddings)",
    "confidence_knn": "1 - confidence x share of neighbours agreeing: a product of the model's and "
    "the neighbourhood's probability of the label (needs embeddings)",
    "text": "1 - the text view's probability of the label: a TF-IDF + logistic regression model that "
    "reads every word and never saw the example (out of fold; needs text probabilities)",
    "confidence_text": "1 - the mean of confidence and the text view's probability of the label: the "
    "fine-tuned model and the bag of words that reads every word (needs text probabilities)",
}

#: The scores that need the embeddings recorded in training (see ``Tracker.record``).
NEIGHBOUR_METHODS = ("knn", "margin_knn", "aum_knn", "confidence_knn")

#: The scores that need the text view's out-of-fold probabilities (``datamap_widget.text_view``).
TEXT_METHODS = ("text", "confidence_text")

#: Neighbours the ``knn`` scores count (fewer on a set of at most this many examples).
KNN_K = 10

#: The default ``mislabel_score``: how little probability the model gave the label, over all
#: passes (cleanlab's self-confidence, averaged over training). Chosen by
#: ``benchmarks/recipe.py`` on eight sets (``results/recipe.md``, 2,000 examples, 3% flips,
#: seeds 0-2, the shipped recipe): best mean AP of every score, picked on every
#: leave-one-set-out fold. On two-class data it ranks exactly as ``margin`` does (there the
#: other-class probability is 1 - gold); with more classes the largest *other* probability is
#: split among the confusable classes, so margin understates how little the model believes
#: the label: on TREC fine (50 classes) AP 0.71 against margin's 0.50, and never more than
#: 0.01 behind margin on the multi-class sets at 500, 1,000 or 2,000 examples with uniform
#: noise. Where the flips go to each class's most confused class (10%), margin is ahead by
#: about 0.03 AP on the multi-class sets: ``rescore("margin")`` for such data. (Until then the
#: default was ``margin``, chosen on TREC and SST-2 alone, where the two are within noise.)
DEFAULT_METHOD = "confidence"

_FLOAT32_MAX = float(np.finfo(np.float32).max)

#: Names of the per-pass arrays a trajectory holds.
TRAJECTORY_FIELDS = ("gold_prob", "other_prob", "margin", "correct", "argmax", "other_class")

Trajectories = Mapping[str, np.ndarray]
"""Per-example, per-pass arrays, each of shape ``(N, T)``:

``gold_prob``  float32, softmax probability of the gold label (NaN when not seen);
``other_prob`` float32, largest probability among the other classes;
``margin``     float32, logit of the gold label minus the largest other logit;
``correct``    float32, share of the pass's forward passes whose argmax was the gold label;
``argmax``     int, predicted class (-1 when not seen);
``other_class`` int, the most probable class other than the gold label (-1 when not seen).
"""


# --------------------------------------------------------------------------------------
# Per-batch statistics (used by the tracker on numpy input)
# --------------------------------------------------------------------------------------


def batch_statistics(logits: np.ndarray, gold: np.ndarray, *, probabilities: bool = False) -> dict[str, np.ndarray]:
    """Per-row statistics of one batch of logits.

    Parameters
    ----------
    logits : (B, C) float array, finite.
    gold : (B,) int array of gold class codes in ``[0, C)``.
    probabilities : also return ``probs``, the ``(B, C)`` float32 softmax (the tracker
        averages it into each example's class-probability vector).

    Returns
    -------
    dict with ``gold_prob``, ``other_prob``, ``margin``, ``correct`` (float32) and
    ``argmax``, ``other_class`` (int64), each of shape ``(B,)``; with ``probabilities``, ``probs``.
    """
    logits = np.asarray(logits)
    # float64 logits stay float64: a finite 1e39 would overflow float32 into inf and NaN
    # probabilities. The softmax is shifted by the row max, so it is stable in either type.
    logits = logits.astype(np.float64 if logits.dtype == np.float64 else np.float32, copy=False)
    rows = np.arange(logits.shape[0])
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    gold_prob = probs[rows, gold]
    gold_logit = logits[rows, gold]
    # The best *other* class: hide the gold entry of each row, then take the max.
    others = logits.copy()
    others[rows, gold] = -np.inf
    other_class = others.argmax(axis=1)
    other_logit = others[rows, other_class]
    if logits.shape[1] == 1:  # a one-class problem has no "other" class
        other_class = np.full_like(gold, -1)
        other_prob = np.zeros_like(gold_prob)
        margin = np.zeros_like(gold_prob)
    else:
        other_prob = probs[rows, other_class]
        margin = gold_logit - other_logit
    argmax = logits.argmax(axis=1)
    out = {
        "gold_prob": gold_prob.astype(np.float32),
        "other_prob": other_prob.astype(np.float32),
        "margin": np.clip(margin, -_FLOAT32_MAX, _FLOAT32_MAX).astype(np.float32),
        "correct": (argmax == gold).astype(np.float32),
        "argmax": argmax.astype(np.int64),
        "other_class": other_class.astype(np.int64),
    }
    if probabilities:
        out["probs"] = probs.astype(np.float32, copy=False)
    return out


# --------------------------------------------------------------------------------------
# The three cartography numbers
# --------------------------------------------------------------------------------------


def _check_2d(name: str, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"{name} must have shape (N, T) (examples x passes), got shape {values.shape}")
    return values


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Row means that skip NaN; NaN for rows with no value, without numpy's warning."""
    if values.shape[1] == 0:
        return np.full(values.shape[0], np.nan)
    missing = np.isnan(values)
    if not missing.any():
        return values.mean(axis=1, dtype=np.float64)
    counts = (~missing).sum(axis=1)
    sums = np.where(missing, 0.0, values).sum(axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _nanstd_rows(values: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """Population standard deviation per row, skipping NaN (``mean``: the rows' means, if known)."""
    if values.shape[1] == 0:
        return np.full(values.shape[0], np.nan)
    missing = np.isnan(values)
    if mean is None:
        mean = _nanmean_rows(values)
    if not missing.any() and values.dtype == np.float32:
        # Deviations in float32 (values lie in [0, 1]), summed in float64: one (N, T) float32
        # temporary instead of numpy's float64 one, at about the same precision.
        deviation = values - mean.astype(np.float32)[:, None]
        np.multiply(deviation, deviation, out=deviation)
        return np.sqrt(deviation.mean(axis=1, dtype=np.float64))
    if not missing.any():
        return values.std(axis=1, dtype=np.float64)
    counts = (~missing).sum(axis=1)
    squares = np.where(missing, 0.0, (values - mean[:, None]) ** 2).sum(axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.sqrt(squares / np.maximum(counts, 1)), np.nan)


def confidence(gold_prob: np.ndarray) -> np.ndarray:
    """Mean gold-label probability over the passes in which each example was seen.

    ``gold_prob`` has shape ``(N, T)``; returns ``(N,)`` float64 in ``[0, 1]`` (NaN for an
    example never seen).
    """
    return _nanmean_rows(_check_2d("gold_prob", gold_prob))


def variability(gold_prob: np.ndarray) -> np.ndarray:
    """Population standard deviation of the gold-label probability across passes.

    Returns ``(N,)`` float64 in ``[0, 0.5]``; 0 for an example seen in a single pass.
    """
    return _nanstd_rows(_check_2d("gold_prob", gold_prob))


def correctness(correct: np.ndarray) -> np.ndarray:
    """Share of passes in which the model's prediction was the gold label, in ``[0, 1]``.

    ``correct`` holds per-pass correctness (1.0 / 0.0, or a fraction for an example seen
    several times in one pass), NaN where the example was not seen.
    """
    return _nanmean_rows(_check_2d("correct", correct))


def categorize(
    confidence: np.ndarray,
    variability: np.ndarray,
    thresholds: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Region of each example as an int8 code into :data:`CATEGORIES` (-1 if never seen).

    Rules, with ``thresholds`` defaulting to :data:`DEFAULT_THRESHOLDS` (a map's default,
    ``"quantile"``, takes them from :func:`quantile_thresholds`, within :data:`REGION_BOUNDS`):

    - *ambiguous*: ``variability >= thresholds["variability"]`` (the model changed its mind);
    - *easy-to-learn*: otherwise, ``confidence >= thresholds["confidence"]``;
    - *hard-to-learn*: otherwise (consistently low probability on the gold label).
    """
    limits = _check_thresholds(thresholds)
    confidence = np.asarray(confidence, dtype=np.float64)
    variability = np.asarray(variability, dtype=np.float64)
    if confidence.shape != variability.shape:
        raise ValueError(
            f"confidence and variability must have the same shape, got {confidence.shape} and {variability.shape}"
        )
    codes = np.where(confidence >= limits["confidence"], 0, 2).astype(np.int8)
    codes[variability >= limits["variability"]] = 1
    codes[np.isnan(confidence)] = -1
    return codes


def resolve_thresholds(thresholds: Mapping[str, float] | str | None, gold_prob: np.ndarray) -> dict[str, float]:
    """The numeric region thresholds for a map: ``"quantile"`` (the default, ``None``) takes
    them from the data's confidence and variability at :data:`REGION_QUANTILES`; ``"fixed"``
    is :data:`DEFAULT_THRESHOLDS`; a mapping gives the values (missing keys fixed).

    Warns when at least :data:`NEVER_SEEN_WARN_SHARE` of the examples were never seen in
    the recorded passes: they get no region, and the regions describe the others only."""
    _warn_never_seen(gold_prob)
    if thresholds is None or (isinstance(thresholds, str) and thresholds == "quantile"):
        return quantile_thresholds(confidence(gold_prob), variability(gold_prob))
    if isinstance(thresholds, str):
        if thresholds == "fixed":
            return dict(DEFAULT_THRESHOLDS)
        raise ValueError(f"thresholds must be one of {list(THRESHOLD_RULES)} or a mapping of values, got {thresholds!r}")
    return _check_thresholds(thresholds)


def _warn_never_seen(gold_prob: np.ndarray) -> None:
    gold_prob = np.asarray(gold_prob)
    if gold_prob.ndim != 2 or gold_prob.shape[1] == 0 or gold_prob.shape[0] == 0:
        return  # no closed pass yet: the tracker says so itself
    unseen = int(np.isnan(gold_prob).all(axis=1).sum())
    if unseen and unseen >= NEVER_SEEN_WARN_SHARE * gold_prob.shape[0]:
        n = gold_prob.shape[0]
        warnings.warn(
            f"{unseen} of the map's {n} examples ({unseen / n:.0%}) were never seen in the "
            f"{gold_prob.shape[1]} recorded pass(es), so they have no region, score or suggestion; "
            "were they left out of training, or recorded under other ids?",
            UserWarning,
            stacklevel=4,
        )


def quantile_thresholds(
    confidence: np.ndarray, variability: np.ndarray, quantiles: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Thresholds at the given quantiles (default :data:`REGION_QUANTILES`) of the seen
    examples' confidence and variability, kept within :data:`REGION_BOUNDS`.

    An axis on which every seen example has the same value (identical trajectories, or a
    single pass for variability) has no quantile to cut at: its fixed threshold
    (:data:`DEFAULT_THRESHOLDS`) applies, so the tie lands in the region its value means
    rather than all in whichever side ``>=`` favours. No example seen: the fixed thresholds.
    """
    q = {**REGION_QUANTILES, **(quantiles or {})}
    for key, value in q.items():
        if key not in REGION_QUANTILES or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"quantiles must map {sorted(REGION_QUANTILES)} to values in [0, 1], got {dict(quantiles or {})}")
    values = {"confidence": np.asarray(confidence, dtype=np.float64), "variability": np.asarray(variability, dtype=np.float64)}
    seen = ~np.isnan(values["confidence"])
    if not seen.any():
        return dict(DEFAULT_THRESHOLDS)
    out = {}
    for key, column in values.items():
        column = column[seen]
        if column.max() - column.min() <= 1e-12:
            cut = DEFAULT_THRESHOLDS[key]
        else:
            cut = float(np.quantile(column, q[key]))
        low, high = REGION_BOUNDS[key]
        # Round to 4 decimals: the guides and the saved run show them, and the regions do not move.
        out[key] = round(min(max(cut, low), high), 4)
    return out


def _check_thresholds(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    if thresholds is None:
        return dict(DEFAULT_THRESHOLDS)
    unknown = set(thresholds) - set(DEFAULT_THRESHOLDS)
    if unknown:
        raise ValueError(
            f"thresholds has unknown keys {sorted(unknown)}; expected some of {sorted(DEFAULT_THRESHOLDS)}"
        )
    limits = {**DEFAULT_THRESHOLDS, **{k: float(v) for k, v in thresholds.items()}}
    for key, value in limits.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"thresholds[{key!r}] must lie in [0, 1], got {value}")
    return limits


# --------------------------------------------------------------------------------------
# Mislabel scores
# --------------------------------------------------------------------------------------


def _check_trajectories(trajectories: Trajectories, needed: tuple[str, ...]) -> None:
    missing = [name for name in needed if name not in trajectories]
    if missing:
        raise ValueError(f"trajectories lacks {missing}; expected arrays named {list(TRAJECTORY_FIELDS)}")
    shapes = {name: np.shape(trajectories[name]) for name in needed}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"trajectory arrays must share one (N, T) shape, got {shapes}")
    for name, shape in shapes.items():
        if len(shape) != 2:
            raise ValueError(f"trajectories[{name!r}] must have shape (N, T), got {shape}")


def _first_half(values: np.ndarray) -> np.ndarray:
    """The first ceil(T / 2) recorded passes (at least one)."""
    return values[:, : max(1, (values.shape[1] + 1) // 2)]


def _compute_score(
    trajectories: Trajectories, method: str, labels: Any = None, embeddings: Any = None, neighbours: Any = None,
    text_probabilities: Any = None,
) -> np.ndarray:
    if method in TEXT_METHODS:
        codes = np.asarray(labels, dtype=np.int64)
        text_gold = np.asarray(text_probabilities, dtype=np.float64)[np.arange(len(codes)), codes]
        if method == "text":
            return 1.0 - text_gold
        # The mean of two probabilities of the label, not of their ranks: a confident verdict of
        # either view counts in full (benchmarks/results/long_documents.md compares the rank mean).
        return 1.0 - (_nanmean_rows(np.asarray(trajectories["gold_prob"], dtype=np.float32)) + text_gold) / 2.0
    if method in NEIGHBOUR_METHODS:
        n = len(labels)
        if n < 2:
            return np.full(n, np.nan)
        if neighbours is None:  # a DataMap passes the neighbours its index found, so they are searched once
            neighbours, _ = nearest_neighbours(embeddings, min(KNN_K, n - 1))
        knn = knn_disagreement(neighbours, labels)
        if method == "knn":
            return knn
        if method == "confidence_knn":
            return 1.0 - (1.0 - _compute_score(trajectories, "confidence")) * (1.0 - knn)
        base = _compute_score(trajectories, method.removesuffix("_knn"))
        return (average_rank(base) + average_rank(knn)) / 2.0
    gold = np.asarray(trajectories["gold_prob"], dtype=np.float32)
    if method == "confidence":
        return 1.0 - _nanmean_rows(gold)
    if method == "early_confidence":
        return 1.0 - _nanmean_rows(_first_half(gold))
    other = np.asarray(trajectories["other_prob"], dtype=np.float32)
    if method == "margin":
        return (1.0 + _nanmean_rows(other - gold)) / 2.0
    if method == "early_margin":
        return (1.0 + _nanmean_rows(_first_half(other - gold))) / 2.0
    if method == "aum":
        return -_nanmean_rows(np.asarray(trajectories["margin"], dtype=np.float32))
    if method == "wrong_confident":
        wrong = 1.0 - np.asarray(trajectories["correct"], dtype=np.float32)
        return _nanmean_rows(wrong * other)
    if method == "loss":
        last = _last_seen(gold)
        with np.errstate(divide="ignore"):
            return -np.log(np.clip(last, 1e-12, 1.0))
    raise AssertionError(method)  # unreachable: mislabel_score validated the name


def _last_seen(values: np.ndarray) -> np.ndarray:
    """The value of each row at the last pass in which it was seen (NaN if never)."""
    if values.shape[1] == 0:
        return np.full(values.shape[0], np.nan)
    seen = ~np.isnan(values)
    last = values.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1)
    out = values[np.arange(values.shape[0]), last].astype(np.float64)
    out[~seen.any(axis=1)] = np.nan
    return out


def mislabel_score(
    trajectories: Trajectories,
    method: str = DEFAULT_METHOD,
    *,
    labels: np.ndarray | None = None,
    embeddings: np.ndarray | None = None,
    text_probabilities: np.ndarray | None = None,
) -> np.ndarray:
    """How likely each example is mislabeled, **higher = more suspect**.

    Parameters
    ----------
    trajectories : mapping of ``(N, T)`` arrays, see :data:`Trajectories`.
    method : one of :data:`SCORE_METHODS`; the default is :data:`DEFAULT_METHOD`.
    labels, embeddings : ``(N,)`` int codes and ``(N, D)`` sentence embeddings, needed by
        the :data:`NEIGHBOUR_METHODS` only (exact neighbour search: ``O(N^2 D)``, seconds at
        10^4 examples, minutes at 10^5).
    text_probabilities : ``(N, C)`` out-of-fold class probabilities of the text view
        (:func:`datamap_widget.text_view.out_of_fold_probabilities`), needed by the
        :data:`TEXT_METHODS` only (with ``labels``).

    Returns
    -------
    ``(N,)`` float64; NaN for an example never seen. ``margin``, ``confidence``,
    ``early_*`` and ``wrong_confident`` lie in ``[0, 1]``; ``aum`` and ``loss`` are
    unbounded. Only the order matters for ranking.
    """
    if method not in SCORE_METHODS:
        raise ValueError(f"method must be one of {sorted(SCORE_METHODS)}, got {method!r}")
    _check_trajectories(trajectories, ("gold_prob", "other_prob", "margin", "correct"))
    if method in NEIGHBOUR_METHODS:
        _check_neighbour_inputs(method, trajectories, labels, embeddings)
    if method in TEXT_METHODS:
        _check_text_inputs(method, trajectories, labels, text_probabilities)
    return _compute_score(trajectories, method, labels, embeddings, text_probabilities=text_probabilities)


def _check_text_inputs(method: str, trajectories: Trajectories, labels: Any, text_probabilities: Any) -> None:
    n = np.shape(trajectories["gold_prob"])[0]
    if text_probabilities is None:
        raise ValueError(
            f"method {method!r} needs the text view's probabilities (N, C); none were given: train with "
            "text_view=True (datamap train --text-view) or pick a method not in " + str(list(TEXT_METHODS))
        )
    if labels is None or np.shape(labels) != (n,):
        raise ValueError(f"method {method!r} needs labels of shape ({n},), got {None if labels is None else np.shape(labels)}")
    if np.ndim(text_probabilities) != 2 or np.shape(text_probabilities)[0] != n:
        raise ValueError(f"text_probabilities must have shape ({n}, C), got {np.shape(text_probabilities)}")


def _check_neighbour_inputs(method: str, trajectories: Trajectories, labels: Any, embeddings: Any) -> None:
    n = np.shape(trajectories["gold_prob"])[0]
    if embeddings is None:
        raise ValueError(
            f"method {method!r} needs embeddings (N, D); none were given: record them in training "
            "(fine_tune(embeddings=True), Tracker.record(..., embeddings=...)) or pick a method not in "
            f"{list(NEIGHBOUR_METHODS)}"
        )
    if labels is None or np.shape(labels) != (n,):
        raise ValueError(f"method {method!r} needs labels of shape ({n},), got {None if labels is None else np.shape(labels)}")
    if np.ndim(embeddings) != 2 or np.shape(embeddings)[0] != n:
        raise ValueError(f"embeddings must have shape ({n}, D), got {np.shape(embeddings)}")


def average_rank(values: np.ndarray) -> np.ndarray:
    """Ranks in ``(0, 1]`` (ties share their average rank; NaN stays NaN), so scores on
    different scales can be averaged; vectorized through ``np.unique``."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    seen = ~np.isnan(values)
    if not seen.any():
        return out
    _, inverse, counts = np.unique(values[seen], return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    out[seen] = ((ends - counts + 1 + ends) / 2.0)[inverse] / seen.sum()
    return out


def suggested_label(trajectories: Trajectories, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The class the model most consistently preferred over all passes, as an int code (-1 if never seen).

    This was the map's suggestion until ``benchmarks/suggestions.py`` measured it: by the last
    passes the model has memorised the given label, so the vote mostly repeats it (right for
    45% of the flipped labels among the top 5% suspects). The map now suggests by
    :func:`suggest_labels`; this vote stays for comparison and as a summary of the predictions.

    Every pass votes for its predicted class with that class's probability (the gold
    probability when it predicted the gold label, else the largest other probability), so
    the label predicted most often wins and confidence breaks ties.
    """
    _check_trajectories(trajectories, ("gold_prob", "other_prob", "argmax"))
    labels = np.asarray(labels)
    argmax = np.asarray(trajectories["argmax"])
    n, t = argmax.shape
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if t == 0 or n == 0:
        return np.full(n, -1, dtype=np.int64)
    gold = np.asarray(trajectories["gold_prob"], dtype=np.float32)
    other = np.asarray(trajectories["other_prob"], dtype=np.float32)
    # Unseen passes (argmax -1) weigh 0, so a product with the class mask never meets a NaN.
    weight = np.where(argmax == labels[:, None], gold, other)
    weight[argmax < 0] = 0
    # Votes of one class at a time, never an (N, C) table or per-record index arrays: with
    # few classes loop over the classes, with many over the passes' predictions (the winner
    # is one of them). Either way min(C, T) vectorized sweeps over the (N, T) arrays.
    best = np.full(n, -1, dtype=np.int64)
    best_votes = np.full(n, -np.inf, dtype=np.float32)
    # Two scratch arrays reused by every sweep (fresh 40 MB temporaries would each page-fault).
    order = "F" if argmax.flags.f_contiguous and not argmax.flags.c_contiguous else "C"
    mask = np.empty(argmax.shape, dtype=bool, order=order)
    product = np.empty(argmax.shape, dtype=np.float32, order=order)
    if n_classes <= t:
        for c in range(n_classes):
            np.equal(argmax, c, out=mask)
            votes = np.multiply(weight, mask, out=product).sum(axis=1)
            better = votes > best_votes  # strict: the lower class keeps a tie, as argmax does
            np.copyto(best, c, where=better)
            np.maximum(best_votes, votes, out=best_votes)
    else:
        for s in range(t):
            candidate = argmax[:, s].astype(np.int64)
            np.equal(argmax, candidate[:, None], out=mask)
            votes = np.multiply(weight, mask, out=product).sum(axis=1)
            better = (candidate >= 0) & ((votes > best_votes) | ((votes == best_votes) & (candidate < best)))
            np.copyto(best, candidate, where=better)
            np.copyto(best_votes, votes, where=better)
    seen = (argmax >= 0).any(axis=1)
    best[~seen] = -1
    return best.astype(np.int64)


#: The former rule (see :func:`suggested_label`, kept for comparison): a vote that differs from
#: the label was offered only when at least this share of the passes predicted it (5 of 6 epochs). Measured in
#: ``benchmarks/results/recipe.md`` (shipped recipe, six sets, 500 examples, 3% flips): at
#: 0.5 a suggestion went to 11% of the correct labels and fixed 27% of the flipped ones; at
#: 0.67, 3.7% and 14%. Wrong suggestions cost more than missing ones (a reviewer trusts them),
#: so the stricter level; neither is fit for accepting suggestions in bulk.
SUGGESTION_MIN_SUPPORT = 0.67


def suggestion_support(trajectories: Trajectories, suggested: np.ndarray) -> np.ndarray:
    """Share of the passes (in which each example was seen) whose prediction was ``suggested``;
    NaN for an example never seen."""
    argmax = np.asarray(trajectories["argmax"])
    seen = argmax >= 0
    counts = seen.sum(axis=1)
    hits = ((argmax == np.asarray(suggested)[:, None]) & seen).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


#: The map's suggestion (:func:`suggest_labels`) reads the first this share of the recorded
#: passes (rounded up: 3 of 6), before the model memorises a wrong label. Chosen with the
#: three constants below by ``benchmarks/suggestions.py`` (``results/suggestions.md``): eight
#: sets, 2,000 examples, 3% flips, seeds 0-2, leave-one-set-out; every fold picked these values.
SUGGESTION_EARLY_SHARE = 0.5

#: What every text view (widget, report, `datamap suspects`) shows where the map suggests no other label.
NO_SUGGESTION = "—"

#: A suggestion other than the label is shown only when the early passes gave it at least this
#: much more probability than the label (mean over those passes).
SUGGESTION_MIN_MARGIN = 0.2

#: An example whose early passes prefer another class by more than this margin counts towards
#: the estimated number of label errors (as cleanlab's confident joint counts them).
SUGGESTION_ERROR_MARGIN = 0.3

#: Suggestions are shown only within the map's top suspects (by ``mislabel_score``): this share
#: of the estimated number of label errors. The zone follows the data's own noise, so the rule
#: holds at 3% and at 10% flips; outside it a wrong suggestion would cost more than it fixes.
SUGGESTION_ZONE_SHARE = 0.75


def suggest_labels(
    trajectories: Trajectories,
    labels: np.ndarray,
    score: np.ndarray,
) -> dict[str, np.ndarray]:
    """The label to offer a reviewer for each example, and whether to offer another one.

    The model memorises a flipped label by the last passes, so a vote over all passes mostly
    repeats it. The first :data:`SUGGESTION_EARLY_SHARE` of the passes still show what the model
    learned from the other examples: each class gets its mean probability there (the gold
    probability for the label; the best other class's probability in each pass for the others),
    and the best class other than the label is the *alternative*. It is shown when

    - the early passes prefer it over the label by more than :data:`SUGGESTION_MIN_MARGIN`, and
    - the example is among the top suspects by ``score`` (higher = more suspect), as many as
      :data:`SUGGESTION_ZONE_SHARE` x the examples whose early passes prefer another class by
      more than :data:`SUGGESTION_ERROR_MARGIN` (an estimate of the number of label errors).

    Measured (``benchmarks/suggestions.py``, eight sets, 3% flips, leave-one-set-out): among the
    true errors in the top 5% it shows the true label for 73% (the former vote: 45%), while 1.1%
    of the correct labels are shown another one (0.7%). Adding the neighbours' labels or the text
    view's probabilities to the evidence moved neither number beyond the seed noise, so the rule
    needs only the trajectories and works on every map.

    Parameters
    ----------
    trajectories : the per-pass arrays (``gold_prob``, ``other_prob``, ``other_class``), ``(N, T)``.
    labels : ``(N,)`` int label codes the model trained on.
    score : ``(N,)`` the map's ``mislabel_score`` (NaN = never seen).

    Returns
    -------
    dict of ``(N,)`` arrays: ``suggested_label`` (int code: the alternative where shown, else the
    label; -1 for an example never seen), ``suggestion_support`` (float64 in [0, 1]: the early
    passes' mean probability of the suggested label; NaN if never seen), ``suggestion_confident``
    (bool: another label is shown), ``alternative`` (int: the best class other than the label,
    -1 if none) and ``suggestion_weak`` (bool: the early passes prefer the alternative, but too
    little or outside the top suspects to show it; a widget may mark it as a weak hint).
    """
    _check_trajectories(trajectories, ("gold_prob", "other_prob", "other_class"))
    labels = np.asarray(labels)
    n = np.shape(trajectories["gold_prob"])[0]
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    score = np.asarray(score, dtype=np.float64)
    if score.shape != (n,):
        raise ValueError(f"score must have shape ({n},) like labels, got {score.shape}")
    return _compute_suggestions(trajectories, labels.astype(np.int64), score)


def _early_evidence(gold: np.ndarray, other: np.ndarray, other_class: np.ndarray) -> tuple[np.ndarray, ...]:
    """(mean gold probability, best other class, its mean probability) over the given passes.

    A class's mean counts the passes in which it was the best other class (0 elsewhere), over
    the passes the example was seen in; never an ``(N, C)`` table: the winner is one of the
    passes' other classes, so one sweep per pass."""
    seen = ~np.isnan(gold)
    counts = seen.sum(axis=1)
    gold_mean = _nanmean_rows(gold)
    weight = np.where(seen & (other_class >= 0), np.nan_to_num(other), 0.0).astype(np.float32)
    best = np.full(gold.shape[0], -1, dtype=np.int64)
    best_sum = np.zeros(gold.shape[0], dtype=np.float64)
    for s in range(gold.shape[1]):
        candidate = other_class[:, s].astype(np.int64)
        total = (weight * (other_class == candidate[:, None])).sum(axis=1, dtype=np.float64)
        better = (candidate >= 0) & ((total > best_sum) | ((total == best_sum) & ((best < 0) | (candidate < best))))
        np.copyto(best, candidate, where=better)
        np.copyto(best_sum, total, where=better)
    with np.errstate(invalid="ignore", divide="ignore"):
        best_mean = np.where(counts > 0, best_sum / np.maximum(counts, 1), np.nan)
    return gold_mean, best, best_mean


def _compute_suggestions(trajectories: Trajectories, labels: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    gold = np.asarray(trajectories["gold_prob"], dtype=np.float32)
    other = np.asarray(trajectories["other_prob"], dtype=np.float32)
    other_class = np.asarray(trajectories["other_class"])
    n, t = gold.shape
    early = max(1, int(np.ceil(SUGGESTION_EARLY_SHARE * t))) if t else 0
    gold_early, alternative, alt_early = _early_evidence(gold[:, :early], other[:, :early], other_class[:, :early])
    # An example not seen in the early passes (a pass cut short) is judged on all its passes.
    late = np.isnan(gold_early) & (~np.isnan(gold)).any(axis=1)
    if late.any():
        g, a, p = _early_evidence(gold[late], other[late], other_class[late])
        gold_early[late], alternative[late], alt_early[late] = g, a, p
    seen = ~np.isnan(gold_early)
    with np.errstate(invalid="ignore"):
        preference = np.where(seen & (alternative >= 0), alt_early - gold_early, -np.inf)
    # The suspect zone: the top-scored examples, as many as the estimated label errors allow.
    zone_size = int(np.floor(SUGGESTION_ZONE_SHARE * np.count_nonzero(preference > SUGGESTION_ERROR_MARGIN) + 0.5))
    zone = np.zeros(n, dtype=bool)
    if zone_size:
        order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
        zone[order[:zone_size]] = True
    shown = zone & (preference > SUGGESTION_MIN_MARGIN) & ~np.isnan(score)
    suggested = np.where(shown, alternative, labels)
    suggested[~seen] = -1
    return {
        "suggested_label": suggested.astype(np.int64),
        "suggestion_support": np.where(shown, alt_early, gold_early),
        "suggestion_confident": shown,
        "alternative": np.where(seen, alternative, -1).astype(np.int64),
        "suggestion_weak": ~shown & (preference > 0),
    }


def summarize(
    trajectories: Trajectories,
    labels: np.ndarray,
    n_classes: int,
    method: str = DEFAULT_METHOD,
    thresholds: Mapping[str, float] | None = None,
    *,
    embeddings: np.ndarray | None = None,
    neighbours: np.ndarray | None = None,
    text_probabilities: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """All per-example metrics at once: what a :class:`~datamap_widget.DataMap` shows.

    ``embeddings`` (``(N, D)``) are needed by the :data:`NEIGHBOUR_METHODS` only;
    ``neighbours`` (``(N, KNN_K)`` positions, ``-1`` = none), when given, are used instead
    of searching the embeddings again.

    Returns ``confidence``, ``variability``, ``correctness``, ``category`` (int8 codes into
    :data:`CATEGORIES`), ``mislabel_score``, ``suggested_label`` (int codes: the label to offer,
    which is the example's own label unless another is shown), ``suggestion_support`` (the early
    passes' mean probability of it), ``suggestion_confident`` (another label is shown),
    ``suggestion_weak`` (the early passes lean to another class, too little to show it; see
    :func:`suggest_labels`) and ``n_passes`` (passes in which each example was seen), each of
    shape ``(N,)``. One suggestion for every view: the widget, ``accept_suggestions``, export and
    report all read these.
    """
    if method not in SCORE_METHODS:
        raise ValueError(f"method must be one of {sorted(SCORE_METHODS)}, got {method!r}")
    _check_trajectories(trajectories, TRAJECTORY_FIELDS)
    if method in NEIGHBOUR_METHODS:
        _check_neighbour_inputs(method, trajectories, labels, embeddings)
    if method in TEXT_METHODS:
        _check_text_inputs(method, trajectories, labels, text_probabilities)
    gold = np.asarray(trajectories["gold_prob"], dtype=np.float32)
    n_seen = (~np.isnan(gold)).sum(axis=1)
    if gold.shape[1] == 1:
        warnings.warn(
            "only one pass is recorded, so variability is 0 for every example; "
            "data maps need at least two passes (epochs) to separate the regions",
            UserWarning,
            stacklevel=3,
        )
    conf = _nanmean_rows(gold)
    var = _nanstd_rows(gold, conf)
    labels = np.asarray(labels)
    score = _compute_score(trajectories, method, labels, embeddings, neighbours, text_probabilities)
    suggestion = _compute_suggestions(trajectories, labels.astype(np.int64), score)
    return {
        "confidence": conf,
        "variability": var,
        "correctness": _nanmean_rows(np.asarray(trajectories["correct"], dtype=np.float32)),
        "category": categorize(conf, var, thresholds),
        "mislabel_score": score,
        "suggested_label": suggestion["suggested_label"],
        "suggestion_support": suggestion["suggestion_support"],
        "suggestion_confident": suggestion["suggestion_confident"],
        "suggestion_weak": suggestion["suggestion_weak"],
        "n_passes": n_seen.astype(np.int64),
    }


# --------------------------------------------------------------------------------------
# Classes the map never learned: their suspects say "too small", not "mislabeled"
# --------------------------------------------------------------------------------------

#: A class is *unlearned* when its examples' mean correctness is at most this (the model
#: almost never predicted the class for its own examples) ...
UNLEARNED_MAX_CORRECTNESS = 0.05
#: ... and their mean confidence (gold-label probability) is at most this ...
UNLEARNED_MAX_CONFIDENCE = 0.2
#: ... and the class is small: at most this share of the examples seen ...
UNLEARNED_MAX_SHARE = 0.05
#: ... while the rest of the map was learned (mean correctness of the other examples at least this).
UNLEARNED_MIN_OTHERS_CORRECTNESS = 0.5


def unlearned_classes(gold_prob: np.ndarray, correct: np.ndarray, labels: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Classes the model never learned, with their size, mean confidence and mean correctness.

    The rule: a class is *unlearned* when, over its examples seen in training,

    - the mean correctness is at most :data:`UNLEARNED_MAX_CORRECTNESS` and the mean
      confidence at most :data:`UNLEARNED_MAX_CONFIDENCE`: the model (nearly) never put its
      probability on the class for the class's own examples, across the board;
    - the class is small: at most :data:`UNLEARNED_MAX_SHARE` of the examples seen;
    - the rest of the map was learned: the other examples' mean correctness is at least
      :data:`UNLEARNED_MIN_OTHERS_CORRECTNESS` (after one short pass nothing is learned yet,
      and a large class never learned points at the training, not at the class).

    Every example of such a class lands among the top suspects (low confidence, low
    correctness) and its suggested label is whatever the model predicts instead: the
    suspects mean the class was too small to learn, not that the labels are wrong, and
    accepting those suggestions moves correct examples out of the class.

    ``gold_prob`` and ``correct`` are ``(N, T)`` trajectories (NaN: not seen), ``labels`` the
    ``(N,)`` gold codes. Returns ``classes`` (int64 codes, ascending), ``count`` (examples seen
    of each), ``confidence`` and ``correctness`` (the class's means), all of the same length.
    """
    gold = _check_2d("gold_prob", np.asarray(gold_prob, dtype=np.float64))
    right = _check_2d("correct", np.asarray(correct, dtype=np.float64))
    labels = np.asarray(labels)
    if right.shape != gold.shape or labels.shape != (gold.shape[0],):
        raise ValueError(f"gold_prob {gold.shape}, correct {right.shape} and labels {labels.shape} must share N (and T)")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
    conf = _nanmean_rows(gold)
    corr = _nanmean_rows(right)
    seen = ~np.isnan(conf) & ~np.isnan(corr) & (labels >= 0) & (labels < n_classes)
    codes = labels[seen].astype(np.int64)
    count = np.bincount(codes, minlength=n_classes)
    conf_sum = np.bincount(codes, weights=conf[seen], minlength=n_classes)
    corr_sum = np.bincount(codes, weights=corr[seen], minlength=n_classes)
    total_seen, total_corr = int(seen.sum()), float(corr[seen].sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = conf_sum / count
        mean_corr = corr_sum / count
        others_corr = (total_corr - corr_sum) / (total_seen - count)
    unlearned = (
        (count > 0)
        & (mean_corr <= UNLEARNED_MAX_CORRECTNESS)
        & (mean_conf <= UNLEARNED_MAX_CONFIDENCE)
        & (count <= UNLEARNED_MAX_SHARE * total_seen)
        & (others_corr >= UNLEARNED_MIN_OTHERS_CORRECTNESS)
    )
    found = np.flatnonzero(unlearned)
    return {"classes": found.astype(np.int64), "count": count[found].astype(np.int64),
            "confidence": mean_conf[found], "correctness": mean_corr[found]}


def unlearned_message(names: list[str], counts: list[int]) -> str:
    """The warning for unlearned classes (``names`` with their example ``counts``), in the words the widget shows too."""
    if not names:
        return ""
    listed = ", ".join(f"{name} ({int(c):,} example{'s' if int(c) != 1 else ''})" for name, c in zip(names, counts))
    one = len(names) == 1
    return (
        f"The model never learned class{'' if one else 'es'} {listed}: "
        f"{'its' if one else 'their'} suspects mean the class is too small, not that the labels are wrong; "
        f"suggestions for {'it' if one else 'them'} are unreliable."
    )


# --------------------------------------------------------------------------------------
# Neighbour scores: a second signal from the embeddings the training passes produced
# --------------------------------------------------------------------------------------

#: Rows per block of the exact neighbour search: a block's similarity matrix is
#: ``block x N`` float32, so 1,024 rows of a 100,000-example set take 400 MB at most.
NEIGHBOUR_BLOCK = 1024


def nearest_neighbours(
    embeddings: np.ndarray, k: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other examples of each example by cosine similarity (exact).

    Blocked matrix products (``NEIGHBOUR_BLOCK`` rows at a time), so memory stays
    ``block x N``. A row that is all NaN (an example with no embedding) has no neighbours
    and is nobody's neighbour: its indices are ``-1``.

    ``rows`` (int positions) limits the search to those query examples, e.g. the one
    document a reviewer looks at: ``(len(rows), k)`` results against all ``N``.

    Returns ``(indices, similarities)``, each ``(N, k)`` (or ``(len(rows), k)``), nearest first.
    """
    values = np.asarray(embeddings, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"embeddings must have shape (N, D), got shape {values.shape}")
    n = values.shape[0]
    k = _check_k(k, n)
    queries = _check_rows(rows, n)
    unit, missing = unit_rows(values)
    return search_unit(unit, missing, queries, k)


def _check_k(k: Any, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < max(n, 2):
        raise ValueError(f"k must be an int in [1, {max(n - 1, 1)}] (fewer than the {n} examples), got {k!r}")
    return int(k)


def _check_rows(rows: Any, n: int) -> np.ndarray:
    queries = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
    if queries.size and (queries.min() < 0 or queries.max() >= n):
        raise ValueError(f"rows must be positions in [0, {n}), got {queries[(queries < 0) | (queries >= n)][:5].tolist()}")
    return queries


def unit_rows(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(unit, missing)``: float32 rows scaled to length 1 (an all-zero or NaN row stays zero) and
    which rows had a NaN (no embedding). Computed once per map by its neighbour index."""
    values = np.asarray(embeddings, dtype=np.float32)
    missing = np.isnan(values).any(axis=1)
    if missing.any():
        values = np.where(missing[:, None], 0.0, values)
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    return values / np.maximum(norms, 1e-12), missing


def search_unit(unit: np.ndarray, missing: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` of ``queries`` (positions) against all rows of ``unit``, trusting its inputs."""
    m = len(queries)
    indices = np.full((m, k), -1, dtype=np.int64)
    similarity = np.full((m, k), np.nan, dtype=np.float32)
    any_missing = bool(missing.any())
    for start in range(0, m, NEIGHBOUR_BLOCK):
        stop = min(m, start + NEIGHBOUR_BLOCK)
        block = queries[start:stop]
        sims = unit[block] @ unit.T
        sims[np.arange(stop - start), block] = -np.inf  # never one's own neighbour
        if any_missing:
            sims[:, missing] = -np.inf
        width = sims.shape[1]
        top = np.argpartition(sims, width - k, axis=1)[:, width - k :]  # no negated copy: half the time
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")
        indices[start:stop] = np.take_along_axis(top, order, axis=1)
        similarity[start:stop] = np.take_along_axis(top_sims, order, axis=1)
    indices[missing[queries]] = -1
    similarity[missing[queries]] = np.nan
    unreachable = ~np.isfinite(similarity)
    indices[unreachable] = -1
    similarity[unreachable] = np.nan
    return indices, similarity


def knn_disagreement(neighbours: np.ndarray, labels: np.ndarray, k: int | None = None) -> np.ndarray:
    """Share of each example's ``k`` nearest neighbours whose label differs from its own.

    As cleanlab's Datalab and SimiFeat use features: a label its neighbourhood does not
    share is suspect, whatever the model memorised. **Higher = more suspect**, in
    ``[0, 1]``; NaN for an example without neighbours.

    Parameters
    ----------
    neighbours : ``(N, K)`` int indices from :func:`nearest_neighbours` (``-1`` = none).
    labels : ``(N,)`` int label codes.
    k : use the first ``k`` columns (default all ``K``).
    """
    neighbours = np.asarray(neighbours)
    labels = np.asarray(labels)
    if neighbours.ndim != 2 or neighbours.shape[0] != labels.shape[0]:
        raise ValueError(f"neighbours must have shape ({labels.shape[0]}, K) like labels, got {neighbours.shape}")
    if k is not None:
        if int(k) != k or not 1 <= k <= neighbours.shape[1]:
            raise ValueError(f"k must be an int in [1, {neighbours.shape[1]}], got {k!r}")
        neighbours = neighbours[:, : int(k)]
    valid = neighbours >= 0
    differ = (labels[np.where(valid, neighbours, 0)] != labels[:, None]) & valid
    counts = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, differ.sum(axis=1) / np.maximum(counts, 1), np.nan)
