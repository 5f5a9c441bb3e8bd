"""Run the model's calls on the main thread while the web server answers requests on its own thread.

torch's CPU kernels use OpenMP, which keeps one team of worker threads per calling thread.  The team of the
thread that loaded the model stays and spins for a while after each use; a model call made from another thread
gets a second team competing with it for the cores.  On the 2-core machine the default model's 5 s clip took
2.0 s in the main thread and 3.5-3.9 s from any other thread (benchmarks/README.md, "Serving").  So
``audiodiff serve`` runs uvicorn in a thread and hands every model call to the main thread through this runner.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class MainThreadRunner:
    """A queue of calls that :meth:`serve_until` runs, in arrival order, on the thread that calls it."""

    def __init__(self) -> None:
        self._calls: queue.Queue[tuple[contextvars.Context, Callable[..., Any], tuple[Any, ...], Future]] = queue.Queue()

    def run(self, function: Callable[..., T], *args: Any) -> T:
        """Call ``function(*args)`` on the serving thread, in the caller's context (so Gradio's progress tracking
        follows), and return its result or raise its exception.  Blocks until it has run."""
        future: Future = Future()
        self._calls.put((contextvars.copy_context(), function, args, future))
        return future.result()

    def serve_until(self, stopped: Callable[[], bool], poll_seconds: float = 0.2) -> None:
        """Run queued calls on this thread until ``stopped()`` is true (checked every ``poll_seconds``)."""
        while not stopped():
            try:
                context, function, args, future = self._calls.get(timeout=poll_seconds)
            except queue.Empty:
                continue
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(context.run(function, *args))
            except BaseException as error:  # handed to the waiting request thread
                future.set_exception(error)


def run_in_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """Start ``target`` on a daemon thread and return it."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
