"""A clock that moves only when told, for timing calls to emulated servers.

The emulators take it as ``clock=``: instead of sleeping for a model's scripted
durations (loading, reading the prompt, generating) they advance it by them, and
report those durations in their timing fields.  The ``fake_clock`` fixture
(``tests/conftest.py``) also makes it the call timer of
:func:`pytest_llmbench.execution.call.call_provider`, so a call's measured latency is
exactly the durations the emulator scripted for it: rankings by speed are the same on
any machine, under any load, and no test waits for them.

Only for calls made one at a time (a serial run in this process; the pipeline keeps one
request in flight): concurrent calls would each see the others' durations.  A streamed
answer moves in step with its client: the emulator sends a chunk, waits until the clock
is read (:meth:`FakeClock.await_read`: the client timed the chunk), then advances it to
the next chunk's moment.
"""

from __future__ import annotations

import threading


class FakeClock:
    """Seconds, like :func:`time.perf_counter`; starts at ``start`` and moves by
    :meth:`advance` only."""

    def __init__(self, start: float = 1000.0) -> None:
        self._ns = int(start * 1e9)
        self._lock = threading.Lock()
        self._read = threading.Condition()
        self._reads = 0
        self._paced = True

    def __call__(self) -> float:
        with self._read:
            self._reads += 1
            self._read.notify_all()
        return self._ns / 1e9

    def reads(self) -> int:
        """How many times the clock was read (called) so far."""
        with self._read:
            return self._reads

    def await_read(self, after: int, timeout_s: float = 2.0) -> bool:
        """Wait until the clock was read more than ``after`` times (:meth:`reads`).

        An emulator streaming an answer calls it after each chunk with text, so that the
        client times the chunk (reads the clock) before the clock moves on to the next
        one: the chunks' moments on the client are the scripted ones, not a race."""
        with self._read:
            if not self._paced:
                return False
            read = self._read.wait_for(lambda: self._reads > after, timeout_s)
            if not read:  # a client that times with another clock: never wait again
                self._paced = False
            return read

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
