"""A clock that moves only when told, for timing calls to emulated servers.

The emulators take it as ``clock=``: instead of sleeping for a model's scripted
durations (loading, reading the prompt, generating) they advance it by them, and
report those durations in their timing fields.  The ``fake_clock`` fixture
(``tests/conftest.py``) also makes it the call timer of
:func:`pytest_llmbench.execution.call.call_provider`, so a call's measured latency is
exactly the durations the emulator scripted for it: rankings by speed are the same on
any machine, under any load, and no test waits for them.

Only for calls made one at a time (a serial run in this process; the pipeline keeps one
request in flight): concurrent calls would each see the others' durations.
"""

from __future__ import annotations

import threading


class FakeClock:
    """Seconds, like :func:`time.perf_counter`; starts at ``start`` and moves by
    :meth:`advance` only."""

    def __init__(self, start: float = 1000.0) -> None:
        self._ns = int(start * 1e9)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._ns / 1e9

    def ns(self) -> int:
        """Now in nanoseconds, like :func:`time.perf_counter_ns`."""
        return self._ns

    def advance(self, seconds: float) -> None:
        """Move on by ``seconds`` (nothing for zero or less)."""
        if seconds > 0:
            with self._lock:
                self._ns += int(seconds * 1e9)

    def advance_to_ns(self, moment: int) -> None:
        """Move on to ``moment`` (nanoseconds) unless the clock is past it."""
        with self._lock:
            self._ns = max(self._ns, moment)
