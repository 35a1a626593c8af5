"""Send the next case's request while pytest finishes the current one.

A model served elsewhere (an Ollama server, an OpenAI-compatible endpoint) is idle
between two of our requests: while the client decodes an answer, pytest scores it,
reports it, writes the journal and sets up the next item.  At 20 ms answers that idle
time is a quarter of the run.  The pipeline keeps the server busy: the item for case
*k* hands case *k+1*'s request to one background thread before it waits for its own
answer, so the request for *k+1* leaves the moment *k*'s answer has arrived.

Only one request is ever in flight (one thread, first in first out), so the server
sees the same sequence of single requests as without the pipeline, and every call
is timed on that thread from the moment it is sent to the moment its answer is read:
the latency is the call's own, not the time an item waited.

The worker is a daemon thread: a run stopped with ``-x`` or Ctrl-C does not wait
for a request nobody will read (at most one, bounded by the provider's timeout).
Waiting for an answer (:meth:`Pipeline.wait`) wakes up every ``WAKE_S``: the signal of
Ctrl-C may reach the worker thread, and the main thread sees it only when it runs
Python code; on Ctrl-C the jobs queued behind the one in flight are cancelled at once,
before the worker can start the next request.
A model that answers faster than the client records an answer (a response cache on
the server, an emulator: under :data:`INLINE_BELOW_MS`) gains nothing from this: its
answer is back before there is anything to overlap, and handing each call to the
thread costs more CPU (the two threads trade the interpreter lock on every system
call) than it saves.  Such a model's next calls are made on pytest's thread, one by
one, until an answer takes longer again (:func:`worth_sending_ahead`).
Pure module: no pytest.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Generic, TypeVar

__all__ = ["INLINE_BELOW_MS", "Pipeline", "worth_sending_ahead"]

_T = TypeVar("_T")
WAKE_S = 0.05
"""How often a wait for an answer wakes up to let Ctrl-C through."""
_Job = tuple["Future[_T]", Callable[[], _T]]
INLINE_BELOW_MS = 2.0
"""A model whose last answer took less (wall time) is called inline, not sent ahead."""


def worth_sending_ahead(last_answer_ms: float | None) -> bool:
    """Whether a model's next call should go through the pipeline, given how long its
    last answer took (``None``: no answer yet, or one not timed now: assume it is)."""
    return last_answer_ms is None or last_answer_ms >= INLINE_BELOW_MS


class Pipeline(Generic[_T]):
    """Runs jobs one at a time, in submission order, on one background thread.

    ``submit(key, job)`` queues a job and returns its future; ``take(key)`` hands the
    future of a queued or finished job to whoever needs its result, once.
    """

    def __init__(self, name: str = "llmbench-pipeline") -> None:
        self._name = name
        self._queue: queue.SimpleQueue[_Job[_T] | None] = queue.SimpleQueue()
        self._futures: dict[str, Future[_T]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.submitted = 0
        """How many jobs were handed to the thread (prefetches and own calls alike)."""

    def submit(self, key: str, job: Callable[[], _T]) -> Future[_T]:
        """Queue ``job`` under ``key``; a key already queued keeps its first job."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the pipeline is closed")
            existing = self._futures.get(key)
            if existing is not None:
                return existing
            future: Future[_T] = Future()
            self._futures[key] = future
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
            self.submitted += 1
        self._queue.put((future, job))
        return future

    def take(self, key: str) -> Future[_T] | None:
        """The future queued under ``key`` (and forget it), or ``None``."""
        with self._lock:
            return self._futures.pop(key, None)

    def wait(self, future: Future[_T]) -> _T:
        """``future.result()``, interruptible: on Ctrl-C nothing queued is sent any more.

        Only the request in flight is lost (the pipeline is closed, see :meth:`close`).
        """
        try:
            while True:  # result(timeout): one lock and waiter, not wait()'s per-call set-up
                try:
                    return future.result(timeout=WAKE_S)
                except FuturesTimeout:
                    continue
        except KeyboardInterrupt:
            self.close()
            raise

    def pending(self) -> list[str]:
        """Keys submitted and not taken (e.g. prefetched for an item that never ran)."""
        with self._lock:
            return list(self._futures)

    def discard(self) -> int:
        """Cancel every job not started yet and forget every untaken future; how many."""
        with self._lock:
            futures = list(self._futures.values())
            self._futures.clear()
        for future in futures:
            future.cancel()
        return len(futures)

    def close(self) -> None:
        """Cancel what has not started and let the thread end (it is not waited for)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.discard()
        self._queue.put(None)

    def _work(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None:
                return
            future, job = entry
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = job()
            except BaseException as exc:  # handed to the item that takes the future
                future.set_exception(exc)
            else:
                future.set_result(result)
