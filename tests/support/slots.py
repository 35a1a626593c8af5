"""A model's parallel slots on an emulated server: at most N requests served at once,
the others queued first come, first served (as Ollama's and llama.cpp's servers queue).

``threading.Semaphore`` wakes waiters in no set order: a request could be overtaken by
later ones again and again, which no real server's queue does and which would make the
p95 under load depend on the scheduler."""

from __future__ import annotations

import threading

__all__ = ["Slots"]


class Slots:
    """``size`` slots, handed out in the order they were asked for."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        self._next = 0  # the next ticket to hand out
        self._turn = 0  # the ticket whose turn it is
        self._cond = threading.Condition()

    def acquire(self) -> None:
        """Wait for a slot, behind every request that asked before."""
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._turn or self._free == 0:
                self._cond.wait()
            self._turn += 1
            self._free -= 1
            self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._free += 1
            self._cond.notify_all()
