"""Training off the kernel's main thread, with one handle for every way of training.

Why: ipykernel handles widget messages (a click, a relabel, a page of texts) only between
cells, so a training cell leaves the live widget unable to answer until it ends. Running
the training in a thread frees the kernel: the cell returns at once with a
:class:`TrainingHandle`, and the widget stays usable while the map redraws after each pass.

Two pieces live here, both used by ``train_datamap(..., background=True)`` and by
``integrations.hf_trainer.train_in_background``:

- :class:`TrainingHandle` runs a training function in a daemon thread and gives the user
  its progress, ``wait()``, ``stop()`` (cooperative: the training function checks
  :attr:`TrainingHandle.stop_requested` at each step boundary), the result, and the
  exception raised in the thread, re-raised by ``wait()`` / ``result``;
- :class:`KernelThreadCall` hands work triggered in the training thread (a widget redraw)
  to the kernel's main event loop, where every other widget change happens, so widget
  state is only ever touched from one thread.

No torch, no widget imports here: the training function and the listeners bring their own.
"""

from __future__ import annotations

import sys
import threading
import warnings
import weakref
from typing import Any, Callable

__all__ = ["KernelThreadCall", "TrainingHandle", "run_pending_calls", "watch_relabels"]

#: Objects (widgets) that hold relabels made while a tracker trains: ``holder.relabels_for(tracker)``
#: -> how many of its examples' labels differ from the ones the tracker trains on (0 if it does
#: not follow that tracker). Weak: a widget that is gone is forgotten.
_RELABEL_HOLDERS: "weakref.WeakSet[Any]" = weakref.WeakSet()


def watch_relabels(holder: Any) -> None:
    """Let :meth:`TrainingHandle.wait` warn when ``holder`` has relabels its returned map lacks
    (the training thread's map keeps the model's labels; the widget holds the reviewer's)."""
    _RELABEL_HOLDERS.add(holder)


def one_line_error(error: BaseException) -> str:
    """``"TypeError: first line of the message"``: what a status line can show of an exception."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class TrainingHandle:
    """A training run in a background thread: progress, ``wait()``, ``stop()``, the result.

    Made by ``train_datamap(..., background=True)`` and ``train_in_background(trainer)``;
    it starts at once. ``handle.tracker`` is the :class:`~datamap_widget.Tracker` being fed,
    there from the start, so ``DataMapWidget(handle, data=df)`` (or ``DataMapWidget(handle.tracker,
    ...)``) draws each pass as it closes.

    Parameters
    ----------
    tracker : the tracker the training feeds; its :attr:`~datamap_widget.Tracker.progress`
        is this handle's progress.
    target : ``target(handle) -> result``, run in the thread. It should check
        ``handle.stop_requested`` at each step boundary and return early when it is set.
    name : the thread's name.
    """

    def __init__(self, tracker: Any, target: Callable[["TrainingHandle"], Any], *, name: str = "datamap-training"):
        if not callable(target):
            raise TypeError(f"target must be callable, got {type(target).__name__}")
        self.tracker = tracker
        self._target = target
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None
        self._warned_relabels = 0
        tracker.set_progress("running", epoch=None, epochs=None, step=None, steps=None, loss=None, message="starting")
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            result = self._target(self)
        except BaseException as error:  # noqa: BLE001 - kept for wait()/result, said on the widget
            self._error = error
            self.tracker.set_progress("failed", message=one_line_error(error))
            print(
                f"datamap_widget: background training failed: {one_line_error(error)} (handle.wait() re-raises it)",
                file=sys.stderr,
            )
        else:
            self._result = result
            if self._stop.is_set():
                self.tracker.set_progress("stopped", message="stopped by stop() at a step boundary")
            else:
                self.tracker.set_progress("done", message="")
        finally:
            self._finished.set()

    # ------------------------------------------------------------------ state

    @property
    def progress(self) -> dict[str, Any]:
        """``state``, ``epoch``/``epochs``, ``step``/``steps`` (within the epoch), ``loss``, ``message``."""
        return self.tracker.progress

    @property
    def done(self) -> bool:
        """Whether the thread has ended (finished, stopped or failed)."""
        return self._finished.is_set()

    @property
    def stop_requested(self) -> bool:
        """Whether :meth:`stop` was called; the training function checks it at each step."""
        return self._stop.is_set()

    @property
    def error(self) -> BaseException | None:
        """The exception the training raised, or None."""
        return self._error

    @property
    def result(self) -> Any:
        """The result (a :class:`~datamap_widget.DataMap`) once done; re-raises the training's exception.

        While training runs, this raises a RuntimeError: use :meth:`wait` to block until it ends.
        """
        if not self.done:
            progress = self.progress
            raise RuntimeError(
                f"training is still running (epoch {progress.get('epoch')}/{progress.get('epochs')}); "
                "call handle.wait() to block until it ends, or handle.stop() to end it at the next step"
            )
        return self.wait()

    # ---------------------------------------------------------------- actions

    def wait(self, timeout: float | None = None) -> Any:
        """Block until training ends and return its result (the map so far after :meth:`stop`).

        The map holds the labels the model trained on: relabels made in a widget during
        training are not in it (a review never changes a DataMap). They live in the widget:
        ``w.current_labels``, ``w.changes``, ``w.apply(df)`` (and its store, if it has one);
        ``w.datamap`` is a view of this map that reads the widget's review (``w.review``). When a widget following
        this handle's tracker holds relabels, ``wait()`` warns so (once per new count).

        Re-raises the exception training raised. With ``timeout`` (seconds) and training still
        running then, raises TimeoutError and training goes on. Interrupting the wait (the
        notebook's stop button) also stops training at the next step.
        """
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
            raise ValueError(f"timeout must be a number of seconds >= 0 or None, got {timeout!r}")
        try:
            finished = self._finished.wait(timeout)
        except KeyboardInterrupt:
            self.stop()
            raise
        if not finished:
            raise TimeoutError(f"training did not end within {timeout} s; it goes on (progress: {self.progress})")
        # The last redraw and progress were handed to the kernel's loop, which runs only after this
        # cell: run them now, so that `handle.wait(); w.datamap` in one cell sees the final map.
        run_pending_calls()
        if self._error is not None:
            raise self._error
        self._warn_relabels()
        return self._result

    def _warn_relabels(self) -> None:
        """Warn when a widget on this tracker holds relabels the returned map does not (once per count)."""
        count = sum(int(holder.relabels_for(self.tracker)) for holder in list(_RELABEL_HOLDERS))
        if count and count != self._warned_relabels:
            self._warned_relabels = count
            warnings.warn(
                f"the map handle.wait() returns holds the labels the model trained on: {count} relabel"
                f"{'s' if count != 1 else ''} made in a widget during training {'are' if count != 1 else 'is'} not in it. "
                "Take them from the widget: w.apply(df) (a copy of df with the new labels), w.current_labels, w.changes.",
                UserWarning,
                stacklevel=3,
            )

    def stop(self) -> None:
        """Ask training to end after the current step; returns at once (``wait()`` to block).

        The passes closed so far stay in the map; the pass in progress is closed with the
        batches recorded so far (the other examples miss that pass).
        """
        if not self.done and not self._stop.is_set():
            self._stop.set()
            self.tracker.set_progress(message="stopping after the current step")

    def __repr__(self) -> str:
        p = self.progress
        where = f", epoch {p['epoch']}/{p['epochs']}" if p.get("epoch") else ""
        step = f", step {p['step']}/{p['steps']}" if p.get("step") is not None and p.get("steps") else ""
        why = f": {p['message']}" if p.get("state") == "failed" else ""
        return f"TrainingHandle({p.get('state')}{where}{step}{why})"


def _kernel_loop() -> Any:
    """The running ipykernel's main event loop (tornado IOLoop), or None outside a kernel."""
    kernelbase = sys.modules.get("ipykernel.kernelbase")  # never import ipykernel ourselves
    if kernelbase is None or not kernelbase.Kernel.initialized():
        return None
    return getattr(kernelbase.Kernel.instance(), "io_loop", None)


class KernelThreadCall:
    """Call ``fn()`` on the kernel's main thread, however many threads ask; calls fold together.

    Widget state (traits, the review history) is changed by the kernel's main thread when the
    front end sends an action. A redraw asked for by the training thread is handed to that
    thread's event loop (``IOLoop.add_callback`` is safe from any thread), so the two never
    interleave. While a call is waiting to run, further requests are dropped: ``fn`` reads the
    latest state when it runs, so one call shows everything. On the main thread itself, or
    outside a kernel (a script, a test), ``fn`` runs at once in the calling thread.

    ``loop`` picks the event loop: default the running kernel's; anything with a thread-safe
    ``add_callback(fn)``.
    """

    def __init__(self, fn: Callable[[], Any], loop: Callable[[], Any] = _kernel_loop):
        self._fn = fn
        self._loop = loop
        self._scheduled = False

    def __call__(self) -> None:
        loop = None if threading.current_thread() is threading.main_thread() else self._loop()
        if loop is None:
            self._fn()
            return
        with _PENDING_LOCK:
            if self._scheduled:
                return
            self._scheduled = True
            _PENDING.append(self)
        loop.add_callback(self._run)

    def _run(self) -> None:
        with _PENDING_LOCK:
            if not self._scheduled:
                return  # already run by run_pending_calls()
            self._scheduled = False
            _PENDING.remove(self)
        self._fn()


_PENDING: list[KernelThreadCall] = []
_PENDING_LOCK = threading.Lock()


def run_pending_calls() -> int:
    """On the main thread, run now the calls still waiting for the kernel's loop; returns how many.

    :meth:`TrainingHandle.wait` does this, so a cell that waits for training sees its last redraw.
    Elsewhere it does nothing: only the main thread may touch widget state.
    """
    if threading.current_thread() is not threading.main_thread():
        return 0
    with _PENDING_LOCK:
        calls = list(_PENDING)
        _PENDING.clear()
        for call in calls:
            call._scheduled = False
    for call in calls:
        call._fn()
    return len(calls)
