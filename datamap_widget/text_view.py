"""A second view of the labels that reads every word: out-of-fold TF-IDF class probabilities.

The fine-tuned transformer reads meaning but memorises its training labels, and it reads at
most a window of each text; a bag-of-words model reads the whole text in seconds and, scored
out of fold, never saw the label it is asked about. Their errors differ, so the map combines
both (``metrics`` method ``confidence_text``): on long texts with verified errors a 5-fold
TF-IDF + logistic regression alone found about twice what the head-only map found.

Needs scikit-learn (the ``[train]`` extra).
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from .dependencies import require

__all__ = ["TEXT_VIEW_FOLDS", "TEXT_VIEW_MAX_CHARS", "out_of_fold_probabilities"]

#: Folds of the cross-validation (cleanlab's protocol): each text is scored by a model fit on
#: the other 80%.
TEXT_VIEW_FOLDS = 5

#: Characters of a text the bag of words reads (the first ones); a 50 MB text costs what a
#: 200 kB one does.
TEXT_VIEW_MAX_CHARS = 200_000


def out_of_fold_probabilities(texts: Sequence[str], labels: Sequence[int] | np.ndarray, n_classes: int, *, folds: int = TEXT_VIEW_FOLDS, seed: int = 0) -> np.ndarray:
    """``(N, n_classes)`` float32 class probabilities of each text from a TF-IDF (words and
    word pairs, sublinear counts) + logistic regression model that did not see it.

    Folds are class-stratified. A class with fewer examples than ``folds`` is spread over as
    many folds as it has examples; where a fold's training part lacks a class, its held-out
    examples get probability 0 for it (a label no other text supports is suspect).
    ``labels`` are int codes ``0..n_classes-1``; NaN rows when there are fewer than 4 texts.
    """
    require("sklearn", "the text view (out-of-fold TF-IDF probabilities)")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    codes = np.asarray(labels, dtype=np.int64)
    n = len(codes)
    if len(texts) != n:
        raise ValueError(f"texts has {len(texts)} entries but labels has {n}")
    out = np.zeros((n, n_classes), dtype=np.float32)
    k = int(min(folds, np.bincount(codes).max()))  # stratified folds need one class with k members
    if n < 4 or k < 2 or len(np.unique(codes)) < 2:
        out[:] = np.nan  # too little data to hold any example out
        return out
    # The vocabulary and idf come from every text (no label is used), as cleanlab's TF-IDF
    # baseline does; only the classifier is fit out of fold.
    features = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32).fit_transform(
        [text[:TEXT_VIEW_MAX_CHARS] for text in texts]
    )
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # "the least populated class has only 1 member": handled above
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = list(splitter.split(np.zeros(n), codes))
    for train_rows, test_rows in splits:
        present = np.unique(codes[train_rows])
        if len(present) < 2:
            out[np.ix_(test_rows, present)] = 1.0
            continue
        model = LogisticRegression(max_iter=2000)
        model.fit(features[train_rows], codes[train_rows])
        probs = model.predict_proba(features[test_rows])
        out[np.ix_(test_rows, model.classes_)] = probs
    return out


def gold_probability(probabilities: np.ndarray, labels: Any) -> np.ndarray:
    """Each row's probability of its label, float64 (NaN rows stay NaN)."""
    codes = np.asarray(labels, dtype=np.int64)
    return probabilities[np.arange(len(codes)), codes].astype(np.float64)
