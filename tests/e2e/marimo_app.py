"""A marimo notebook hosting the widget, for tests/e2e/test_marimo.py (the same 240-document map as
fixture.ipynb). It writes the widget's Python-side state to $DATAMAP_MARIMO_STATE whenever the
selection or the labels change, so the test reads what reached Python, not what the page shows."""

import marimo

app = marimo.App()


@app.cell
def _():
    import json
    import os

    import marimo as mo
    import numpy as np
    import pandas as pd

    from datamap_widget import DataMapWidget, Tracker

    n, label_names = 240, ["neg", "pos", "neutral"]
    rng = np.random.default_rng(7)
    ids = [f"d{i:03d}" for i in range(n)]
    gold = rng.integers(0, 3, n)
    texts = [f"document {i} says something {label_names[g]}" for i, g in enumerate(gold)]
    texts[7] = "<img src=x onerror=alert(1)><script>alert(2)</script> hello"
    df = pd.DataFrame({"id": ids, "text": texts, "label": [label_names[g] for g in gold]})
    tracker = Tracker(ids, df["label"], label_names=label_names)
    skill = rng.uniform(-1.5, 3.0, n)
    wobble = rng.uniform(0.0, 2.5, n)
    for t in range(4):
        logits = rng.normal(0, 0.3, (n, 3)).astype(np.float32)
        logits[np.arange(n), gold] += skill + wobble * np.sin(1.7 * t + np.arange(n))
        tracker.record(ids, logits)
        tracker.end_epoch()
    w = DataMapWidget(tracker.datamap(), data=df)

    state_path = os.environ.get("DATAMAP_MARIMO_STATE")
    frame = w.frame

    def dump(_change=None):
        if not state_path:
            return
        changes = w.changes[["id", "old_label", "new_label", "action"]].astype(str).values.tolist()
        state = {
            "ids": frame.index.tolist(),
            "x": frame["variability"].astype("float32").astype(float).tolist(),
            "y": frame["confidence"].astype("float32").astype(float).tolist(),
            "labels": frame["label"].astype(str).tolist(),
            "selected": sorted(map(str, w.selected_ids)),
            "changes": changes,
        }
        with open(state_path + ".tmp", "w") as handle:
            json.dump(state, handle)
        os.replace(state_path + ".tmp", state_path)

    w.observe(dump, names=["selection", "labels", "reviewed"])
    dump()
    widget = mo.ui.anywidget(w)
    widget
    return (widget,)


if __name__ == "__main__":
    app.run()
