"""How long the widget's Python side takes to serialize a large map, and how many bytes cross the comm.

Run: python benchmarks/widget_serialization.py [N]   (default 1,000,000 points, 4 passes, 3 classes)
Prints a table: the DataMap build (core, for scale), the widget's initial build from a tracker
and from a computed map, one live update (a new pass), ipywidgets' state extraction, and one
relabel of 1,000 points.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from ipywidgets.widgets.widget import _remove_buffers

from datamap_widget import Tracker
from datamap_widget.widget import BYTES_PER_POINT, DataMapWidget

FROM_MAP = "DataMapWidget(dmap, data) + get_state (map computed)"


def measure(n: int, passes: int = 4) -> tuple[list[tuple[str, float]], int, object]:
    """The timed steps (name, seconds), the bytes of the per-point buffers on the wire, and the DataMap."""
    rng = np.random.default_rng(0)
    ids = np.arange(n)
    tracker = Tracker(ids, rng.integers(0, 3, n), label_names=["a", "b", "c"])
    for _ in range(passes):
        tracker.record(ids, rng.normal(size=(n, 3)).astype(np.float32))
        tracker.end_epoch()
    data = pd.DataFrame({"id": ids, "text": pd.Series([f"text {i}" for i in range(n)], dtype=object)})
    rows = []

    t = time.perf_counter()
    dmap = tracker.datamap()
    _ = dmap.frame
    rows.append(("DataMap build (core)", time.perf_counter() - t))

    t = time.perf_counter()
    w = DataMapWidget(tracker, data=data)
    rows.append(("DataMapWidget(tracker, data) total", time.perf_counter() - t))

    t = time.perf_counter()
    other = DataMapWidget(dmap, data=data)
    _remove_buffers(other.get_state())
    rows.append((FROM_MAP, time.perf_counter() - t))
    other.close()

    t = time.perf_counter()
    w._set_map(dmap)
    rows.append(("serialize points (live update, excl. DataMap)", time.perf_counter() - t))

    t = time.perf_counter()
    state, paths, buffers = _remove_buffers(w.get_state())
    rows.append(("get_state + split buffers (ipywidgets)", time.perf_counter() - t))
    point_bytes = sum(len(b) for p, b in zip(paths, buffers) if p[0] in ("points", "labels", "reviewed"))

    t = time.perf_counter()
    w.relabel(ids[:1000], "b")
    rows.append((f"relabel {min(n, 1000):,} points", time.perf_counter() - t))
    w.close()
    return rows, point_bytes, dmap


def main(n: int = 1_000_000, passes: int = 4) -> None:
    rows, point_bytes, _ = measure(n, passes)
    print(f"{n:,} points, {passes} passes")
    print(f"{'step':54s} {'seconds':>8s}")
    for name, s in rows:
        print(f"{name:54s} {s:8.3f}")
    print(f"bytes per point on the wire: {point_bytes / n:.1f} (declared {BYTES_PER_POINT}); total {point_bytes / 1e6:.1f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
