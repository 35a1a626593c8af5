"""execution/pipeline.py: one background thread, one request in flight, close and cancel."""

from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import CancelledError

import pytest

from pytest_llmbench.execution.pipeline import Pipeline


def test_jobs_run_one_at_a_time_in_order_on_one_background_thread() -> None:
    pipeline: Pipeline[tuple[int, str]] = Pipeline()
    running = 0
    most = 0
    lock = threading.Lock()

    def job(n: int) -> tuple[int, str]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.005)
        with lock:
            running -= 1
        return n, threading.current_thread().name

    futures = [pipeline.submit(f"k{n}", functools.partial(job, n)) for n in range(5)]
    results = [f.result(timeout=5) for f in futures]
    assert [n for n, _ in results] == [0, 1, 2, 3, 4]
    assert {name for _, name in results} == {"llmbench-pipeline"}
    assert most == 1
    pipeline.close()


def test_take_hands_a_future_out_once_and_a_key_is_queued_once() -> None:
    pipeline: Pipeline[int] = Pipeline()
    calls: list[int] = []

    def job(n: int) -> int:
        calls.append(n)
        return n

    first = pipeline.submit("a", lambda: job(1))
    again = pipeline.submit("a", lambda: job(2))
    assert again is first
    assert pipeline.take("a") is first
    assert pipeline.take("a") is None
    assert first.result(timeout=5) == 1
    assert calls == [1]
    assert pipeline.submitted == 1
    pipeline.close()


def test_an_exception_reaches_whoever_takes_the_future() -> None:
    pipeline: Pipeline[int] = Pipeline()

    def boom() -> int:
        raise ValueError("the job broke")

    future = pipeline.submit("a", boom)
    with pytest.raises(ValueError, match="the job broke"):
        future.result(timeout=5)
    # the thread lives on
    assert pipeline.submit("b", lambda: 2).result(timeout=5) == 2
    pipeline.close()


def test_close_cancels_what_has_not_started_and_does_not_wait() -> None:
    pipeline: Pipeline[int] = Pipeline()
    release = threading.Event()
    started = threading.Event()

    def slow() -> int:
        started.set()
        release.wait(5)
        return 1

    running = pipeline.submit("running", slow)
    queued = pipeline.submit("queued", lambda: 2)
    assert started.wait(5)
    pipeline.close()
    assert not running.done()  # the running job is not waited for (it waits for release)
    assert queued.cancelled()
    with pytest.raises(CancelledError):
        queued.result(timeout=0)
    assert pipeline.pending() == []
    with pytest.raises(RuntimeError, match="closed"):
        pipeline.submit("late", lambda: 3)
    release.set()
    assert running.result(timeout=5) == 1
