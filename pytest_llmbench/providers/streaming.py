"""Client-side token timing of a streamed answer: time to first token and inter-token latency.

A provider that streams its answer starts a :class:`TokenTimer` when it sends the
request (each attempt its own timer: a retried attempt starts again) and calls
:meth:`TokenTimer.token` when a chunk with answer text arrives.  From those moments:

* ``ttft_ms`` = first content chunk - request sent (connecting, sending, the server's
  queue, the prompt's evaluation and the first token's generation; a model load the
  server reports inside the call is taken out by the harness, as from the latency);
* ``itl_ms`` = (last content chunk - first content chunk) / (content chunks - 1): the
  mean time between tokens after the first (``None`` with fewer than two).

Chunks without answer text (the role, the usage, Ollama's final ``done`` line) are not
tokens.  ``clock`` is the module's timer (seconds); tests put the fake clock of the
emulators here, as they do in :mod:`pytest_llmbench.execution.call`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["TokenTimer", "clock"]

clock: Callable[[], float] = time.perf_counter
"""The timer of :class:`TokenTimer` (seconds)."""


class TokenTimer:
    """The moments one streamed answer's content chunks arrived (see the module doc)."""

    __slots__ = ("_clock", "chunks", "first", "last", "started")

    def __init__(self) -> None:
        self._clock = clock
        self.started = self._clock()
        self.first: float | None = None
        self.last: float | None = None
        self.chunks = 0

    def token(self) -> None:
        """A chunk with answer text arrived now."""
        now = self._clock()
        if self.first is None:
            self.first = now
        self.last = now
        self.chunks += 1

    @property
    def ttft_ms(self) -> float | None:
        """Request sent to first content chunk (ms); ``None``: no content came."""
        if self.first is None:
            return None
        return (self.first - self.started) * 1000.0

    @property
    def itl_ms(self) -> float | None:
        """Mean time between content chunks after the first (ms); ``None``: fewer than two."""
        if self.first is None or self.last is None or self.chunks < 2:
            return None
        return (self.last - self.first) * 1000.0 / (self.chunks - 1)
