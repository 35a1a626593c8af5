"""A deadline for a whole blocking call made through a client that knows only per-read
timeouts (httpx, and so the ``ollama`` and ``openai`` clients).

A server that sends a valid answer one byte at a time never trips a per-read timeout;
:func:`call_within` runs the call on a helper thread and stops waiting for it at the
deadline.  ``abandon`` (closing the client the call uses) then cuts the connection, so
the helper ends too instead of reading on.  One thread per call, about 0.1 ms: used
only where no lean transport with its own deadline does the call.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["DeadlinePassed", "call_within"]

_T = TypeVar("_T")


class DeadlinePassed(TimeoutError):
    """The call did not finish within its deadline (it was abandoned)."""


def call_within(
    seconds: float, call: Callable[[], _T], *, abandon: Callable[[], None] | None = None
) -> _T:
    """``call()``'s result (or exception); :class:`DeadlinePassed` after ``seconds``."""
    future: concurrent.futures.Future[_T] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(call())
        except BaseException as exc:  # handed to the caller
            future.set_exception(exc)

    threading.Thread(target=run, name="llmbench-deadline", daemon=True).start()
    done, _ = concurrent.futures.wait([future], timeout=max(0.0, seconds))
    if not done:
        if abandon is not None:
            abandon()
        raise DeadlinePassed(f"no complete answer within {seconds:g} s")
    return future.result()
