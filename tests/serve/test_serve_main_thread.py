"""MainThreadRunner: model calls made from request threads run on the serving (main) thread, in order."""

from __future__ import annotations

import threading
import time

import pytest

from audiodiff.serve.main_thread import MainThreadRunner, run_in_thread


def test_calls_from_other_threads_run_on_the_serving_thread_in_order():
    runner = MainThreadRunner()
    seen, results = [], {}

    def work(k):
        seen.append((k, threading.current_thread().name))
        return k * k

    def request(k):
        results[k] = runner.run(work, k)

    clients = []
    for k in range(4):
        clients.append(run_in_thread(lambda k=k: request(k), f"client-{k}"))
        time.sleep(0.05)  # arrival order 0, 1, 2, 3
    runner.serve_until(stopped=lambda: all(not c.is_alive() for c in clients), poll_seconds=0.01)
    assert results == {0: 0, 1: 1, 2: 4, 3: 9}
    assert [k for k, _ in seen] == [0, 1, 2, 3]
    assert {name for _, name in seen} == {threading.current_thread().name}


def test_an_exception_reaches_the_caller():
    runner = MainThreadRunner()
    caught = []

    def fail():
        raise ValueError("bad request")

    def request():
        with pytest.raises(ValueError, match="bad request") as info:
            runner.run(fail)
        caught.append(info.value)

    client = run_in_thread(request, "client")
    runner.serve_until(stopped=lambda: not client.is_alive(), poll_seconds=0.01)
    assert len(caught) == 1
