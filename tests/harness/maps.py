"""Synthetic DataMaps and trackers, no training, shared by several test modules.

``random_datamap``: random training trajectories, for chart and report tests.

No training: each example gets a "learnability" and logits that drift towards its true
class over the passes; a share of examples carry a flipped (wrong) given label, so the map
has easy, ambiguous and hard regions like a real one.

``clustered_map``: two clusters in embedding space with four mislabelled examples each (the
ranking and widget tests). ``fixed_tracker``: a tracker whose first three examples the model
disagrees with (the widget and store tests).
"""

from __future__ import annotations

import numpy as np

from datamap_widget import DataMap, Tracker, metrics


def random_datamap(
    n: int,
    n_classes: int = 3,
    passes: int = 5,
    flip: float = 0.05,
    seed: int = 0,
    ids: np.ndarray | None = None,
    label_names: list[str] | None = None,
) -> DataMap:
    """A DataMap of ``n`` examples whose trajectories come from random, drifting logits."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, n_classes, n)
    given = true.copy()
    flipped = rng.random(n) < flip
    given[flipped] = (true[flipped] + rng.integers(1, n_classes, flipped.sum())) % n_classes
    speed = rng.uniform(-0.5, 4.0, n)  # how fast each example is learned
    steps = []
    for t in range(passes):
        logits = rng.normal(0.0, 1.0, (n, n_classes)).astype(np.float32)
        logits[np.arange(n), true] += speed * (t + 1) / passes * 2.5
        steps.append(metrics.batch_statistics(logits, given))
    trajectories = {name: np.stack([s[name] for s in steps], axis=1) for name in metrics.TRAJECTORY_FIELDS}
    names = label_names or [f"class_{k}" for k in range(n_classes)]
    ids = np.array([f"ex{i}" for i in range(n)]) if ids is None else ids
    return DataMap(ids, given, names, trajectories)


CLUSTER_NAMES = ["a", "b"]


def clustered_map(method: str = "margin_knn", seed: int = 0) -> DataMap:
    """Two clusters of 20 in embedding space: ex0..ex19 mostly "a", ex20..ex39 mostly "b";
    four of each cluster carry the other cluster's label (ex0..3 are "b", ex20..23 are "a")."""
    rng = np.random.default_rng(seed)
    n = 40
    true = np.repeat([0, 1], 20)
    given = true.copy()
    given[[0, 1, 2, 3]] = 1
    given[[20, 21, 22, 23]] = 0
    centres = np.eye(8, dtype=np.float32)[:2] * 3
    emb = centres[true] + rng.normal(0, 0.3, (n, 8)).astype(np.float32)
    steps = []
    for t in range(4):
        logits = rng.normal(0, 1, (n, 2)).astype(np.float32)
        logits[np.arange(n), true] += 0.5 + t
        steps.append(metrics.batch_statistics(logits, given))
    traj = {name: np.stack([s[name] for s in steps], axis=1) for name in metrics.TRAJECTORY_FIELDS}
    return DataMap([f"ex{i}" for i in range(n)], given, CLUSTER_NAMES, traj, method, embeddings=emb)


LABELS = ["neg", "pos", "neutral"]


def fixed_tracker(n: int = 12, passes: int = 3) -> Tracker:
    """Examples 0..n-1 with gold label i % 3; the model prefers label (i + 1) % 3 for i < 3 (the suspects)."""
    ids = [f"ex{i}" for i in range(n)]
    gold = np.arange(n) % 3
    tracker = Tracker(ids, [LABELS[g] for g in gold], label_names=LABELS)
    for t in range(passes):
        tracker.record(ids, fixed_logits(n, t))
        tracker.end_epoch()
    return tracker


def fixed_logits(n: int, t: int) -> np.ndarray:
    gold = np.arange(n) % 3
    logits = np.zeros((n, 3), dtype=np.float32)
    rows = np.arange(n)
    prefer = np.where(rows < 3, (gold + 1) % 3, gold)
    logits[rows, prefer] = 1.0 + 0.5 * t + 0.1 * (rows % 4)
    return logits


#: A text that would run script if any surface rendered texts as HTML.
INJECTION = "<img src=x onerror=alert(1)>"


def frame_for(n: int = 12):
    """The user's data for fixed_tracker(n) (a pandas DataFrame): ids ex0.., a markup text at row 4 and a
    1,000-character one at row 5."""
    import pandas as pd  # the harness imports no pandas until asked

    texts = [f"document number {i} about things" for i in range(n)]
    texts[4] = INJECTION
    texts[5] = "x" * 1000
    return pd.DataFrame({"id": [f"ex{i}" for i in range(n)], "text": texts, "label": [LABELS[i % 3] for i in range(n)]})
