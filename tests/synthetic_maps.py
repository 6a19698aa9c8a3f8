"""Synthetic DataMaps from random training trajectories, for chart and report tests.

No training: each example gets a "learnability" and logits that drift towards its true
class over the passes; a share of examples carry a flipped (wrong) given label, so the map
has easy, ambiguous and hard regions like a real one.
"""

from __future__ import annotations

import numpy as np

from datamap_widget import DataMap, metrics


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
