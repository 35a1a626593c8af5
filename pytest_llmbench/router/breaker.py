"""A circuit breaker per model: skip a model that keeps failing, for a while.

Closed (the model is called) until ``failures`` calls in a row fail; then open (the
model is skipped) for ``cool_down_s``; after that half-open: the next call is a trial,
whose success closes the circuit and whose failure opens it for another cool-down.
A failure whose server asked its clients to wait (``Retry-After``) opens the circuit at
once, for that long.  The clock is injectable (``clock=``), so tests move time instead
of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEFAULT_COOL_DOWN_S", "DEFAULT_FAILURES", "CircuitBreaker"]

DEFAULT_FAILURES = 3
DEFAULT_COOL_DOWN_S = 60.0


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    open_for: float | None = None
    """How long it stays open, when the server said (``Retry-After``); else the cool-down."""


class CircuitBreaker:
    """Per-model circuits; thread-safe."""

    def __init__(
        self,
        failures: int = DEFAULT_FAILURES,
        cool_down_s: float = DEFAULT_COOL_DOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1:
            raise ValueError(f"failures must be at least 1, got {failures}")
        if cool_down_s < 0:
            raise ValueError(f"cool_down_s must not be negative, got {cool_down_s}")
        self.failures = failures
        self.cool_down_s = cool_down_s
        self.clock = clock
        self.on_open: Callable[[str], None] | None = None
        """Called with the model each time its circuit opens, from closed or half-open
        (outside the lock)."""
        self._circuits: dict[str, _Circuit] = {}
        self._lock = threading.Lock()

    def state(self, model: str) -> str:
        """``closed``, ``open`` (skipped) or ``half-open`` (the next call is a trial)."""
        with self._lock:
            circuit = self._circuits.get(model)
            if circuit is None or circuit.opened_at is None:
                return "closed"
            if self.clock() - circuit.opened_at >= self._span(circuit):
                return "half-open"
            return "open"

    def allows(self, model: str) -> bool:
        """Whether the model may be called now (its circuit is not open)."""
        return self.state(model) != "open"

    def retry_in(self, model: str) -> float:
        """Seconds until an open circuit lets a trial call through (0 when not open)."""
        with self._lock:
            circuit = self._circuits.get(model)
            if circuit is None or circuit.opened_at is None:
                return 0.0
            return max(0.0, circuit.opened_at + self._span(circuit) - self.clock())

    def _span(self, circuit: _Circuit) -> float:
        return self.cool_down_s if circuit.open_for is None else circuit.open_for

    def record(self, model: str, ok: bool, retry_after_s: float | None = None) -> None:
        """The outcome of one call: a success closes the circuit, failures open it.

        A success recorded while the circuit is open (a call that began before it
        opened, under concurrency) leaves it open: only a trial after the cool-down
        closes it.

        A failure whose server asked to wait (``Retry-After``: ``retry_after_s``) opens
        the circuit at once, for that long (a trial call then, as after a cool-down).
        """
        with self._lock:
            if ok:
                circuit = self._circuits.get(model)
                if (
                    circuit is not None
                    and circuit.opened_at is not None
                    and self.clock() - circuit.opened_at < self._span(circuit)
                ):
                    return  # a call begun before the circuit opened: old news
                self._circuits.pop(model, None)
                return
            circuit = self._circuits.setdefault(model, _Circuit())
            circuit.failures += 1
            opens = False
            asked = retry_after_s is not None and retry_after_s > 0
            if circuit.failures >= self.failures or asked:
                now = self.clock()
                was = circuit.opened_at
                opens = was is None or now - was >= self._span(circuit)  # closed or half-open
                circuit.opened_at = now  # a failed trial opens it again
                circuit.open_for = retry_after_s if asked else None
        if opens and self.on_open is not None:
            self.on_open(model)
