"""Live updates: a widget that follows a tracker redraws after each pass and shows its progress.

Both arrive from the training's thread (or the cell running the loop); :class:`KernelThreadCall`
hands them to the kernel's main thread, where the front end's actions run too, so the two never
interleave. Progress within an epoch is throttled to one message per PROGRESS_INTERVAL_S.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

from ..background import KernelThreadCall
from ..datamap import DataMap
from ._config import ENDED_STATES, PROGRESS_INTERVAL_S


def is_tracker(obj: Any) -> bool:
    """Duck-type a Tracker (we never need its class): it can build a DataMap and be subscribed to."""
    return callable(getattr(obj, "datamap", None)) and callable(getattr(obj, "subscribe", None))


class LiveUpdates:
    """The subscription of one widget to one tracker.

    Parameters
    ----------
    tracker : the Tracker the training feeds.
    redraw : called with the tracker's new map after each pass (on the kernel's main thread).
    show_progress : called with the tracker's progress (JSON-safe: a NaN loss is None) and
        whether the training may still add passes.
    """

    def __init__(self, tracker: Any, redraw: Callable[[DataMap], None], show_progress: Callable[[dict, bool], None]):
        self.tracker = tracker
        self._redraw = redraw
        self._show_progress = show_progress
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe_progress: Callable[[], None] | None = None
        self._progress_key: tuple = ()
        self._progress_sent = 0.0
        # Passes may close in a training thread: the redraw runs on the kernel's main thread,
        # like every action from the front end, so the two never interleave.
        self._on_epoch_in_kernel = KernelThreadCall(self._on_epoch)
        self._sync_in_kernel = KernelThreadCall(self.sync_progress)

    def start(self) -> None:
        """Subscribe to the tracker's passes and (when it reports them) its progress."""
        self._unsubscribe = self.tracker.subscribe(lambda _tracker: self._on_epoch_in_kernel())
        if callable(getattr(self.tracker, "subscribe_progress", None)):  # a tracker without progress still redraws
            self._unsubscribe_progress = self.tracker.subscribe_progress(self._on_progress)
            self.sync_progress()

    @property
    def following(self) -> bool:
        """Whether the widget still follows its tracker (False once closed)."""
        return self._unsubscribe is not None

    def _on_epoch(self) -> None:
        """Redraw the map with the latest passes (keeps labels, reviews, selection).

        A failure here must never stop the training loop that called ``end_epoch()``: it becomes a warning.
        """
        tracker = self.tracker
        try:
            with warnings.catch_warnings():
                # After one pass the map warns that variability is 0; the pass counter says as much.
                warnings.simplefilter("ignore", UserWarning)
                self._redraw(tracker.datamap())
        except Exception as exc:  # noqa: BLE001 - reported, and training goes on
            warnings.warn(
                f"DataMapWidget could not redraw after pass {getattr(tracker, 'n_passes', '?')}: "
                f"{type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )

    def _on_progress(self, progress: dict) -> None:
        """Tracker progress listener (any thread): at most one message per PROGRESS_INTERVAL_S within an epoch."""
        key = (progress.get("state"), progress.get("epoch"), progress.get("message"))
        now = time.monotonic()
        last_step = progress.get("step") is not None and progress.get("step") == progress.get("steps")
        if key == self._progress_key and not last_step and now - self._progress_sent < PROGRESS_INTERVAL_S:
            return
        self._progress_key, self._progress_sent = key, now
        self._sync_in_kernel()

    def sync_progress(self) -> None:
        """Show the tracker's latest progress (JSON: a NaN loss is sent as null)."""
        progress = dict(self.tracker.progress)
        loss = progress.get("loss")
        if loss is not None and not math.isfinite(loss):
            progress["loss"] = None
        # "live" while the training may still add passes: gone once it finished, failed or was stopped.
        self._show_progress(progress, progress.get("state") not in ENDED_STATES)

    def close(self) -> None:
        """Stop following the tracker."""
        for unsubscribe in (self._unsubscribe, self._unsubscribe_progress):
            if unsubscribe is not None:
                unsubscribe()
        self._unsubscribe = self._unsubscribe_progress = None
