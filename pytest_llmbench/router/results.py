"""What a router call gives back and how it fails: :class:`RouterResult` with the
:class:`Attempt` of each model asked (and :class:`ConsensusDetails` for a consensus
call), :class:`RouterError` and its kinds.  Plain records, no I/O."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_llmbench.execution.results import timed_out

if TYPE_CHECKING:
    from pytest_llmbench.cases.records import Task

__all__ = [
    "Attempt",
    "BadValues",
    "ConsensusDetails",
    "NoAnswer",
    "RouterError",
    "RouterResult",
    "UnknownTask",
    "answer",
    "no_answer",
    "timed_out",
]


class RouterError(Exception):
    """A router that cannot serve a call: no registry, an unknown task, no case file, bad
    variables, or no model that answered.  ``str()`` is the one-line message."""


class UnknownTask(RouterError):
    """The registry has no such task."""


class BadValues(RouterError):
    """The values do not fill the task's template (one missing, one it does not use)."""


class NoAnswer(RouterError):
    """Every model of the task failed (or was skipped by its circuit breaker)."""

    def __init__(self, message: str, attempts: tuple[Attempt, ...]) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class Attempt:
    """One model asked (or skipped) in one router call."""

    model: str
    outcome: str
    """``ok``, ``error``, ``timeout``, ``unparseable`` or ``circuit_open`` (not called)."""
    latency_ms: float | None = None
    """Wall time of the call, as the caller waited for it."""
    detail: str = ""
    """What went wrong (one line)."""
    text: str = ""
    """The raw answer (when there was one)."""
    value: Any = None
    """The answer as the benchmark reads it (label, JSON value, text) when ``ok``."""
    fell_over_from: tuple[str, ...] = ()
    """The models that failed before this one in the same call."""
    retry_after_s: float | None = None
    """The wait the model's server asked for with its error (``Retry-After``)."""
    changed: bool = False
    """The model's weights are not the benchmarked ones
    (:mod:`~pytest_llmbench.router.identity`)."""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True)
class ConsensusDetails:
    """How a consensus call decided."""

    accepted: bool
    """Two models agreed; ``False``: no agreement, the top model's answer is flagged."""
    agreed: tuple[str, ...]
    """The two models that agreed (empty without agreement)."""
    similarity: float | None
    """Of the agreeing pair; without agreement, the highest of the pairs compared."""
    answers: Mapping[str, Any]
    """Every usable answer, by model, in the order they were asked."""
    threshold: float
    calls_ms: float
    """The calls added up (what they cost one after the other)."""
    wall_ms: float
    """How long the consensus took (less than ``calls_ms`` when two ran at once)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "agreed": list(self.agreed),
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "models": list(self.answers),
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class RouterResult:
    """The answer of one router call."""

    task: str
    text: str
    """The model's raw answer."""
    value: Any
    """The answer as the benchmark reads it: the label (verdict), the JSON value (json),
    the text (text)."""
    model: str
    """The model whose answer this is."""
    latency_ms: float | None
    """That model's call."""
    total_ms: float
    """The whole router call: fall-overs and consensus included."""
    fell_over_from: tuple[str, ...]
    """Models that failed before an answer came (in order)."""
    attempts: tuple[Attempt, ...]
    consensus: ConsensusDetails | None = None
    """Set for a consensus call."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "model": self.model,
            "answer": self.value,
            "text": self.text,
            "latency_ms": _round(self.latency_ms),
            "total_ms": _round(self.total_ms),
            "fell_over_from": list(self.fell_over_from),
            "attempts": [
                {
                    "model": a.model,
                    "outcome": a.outcome,
                    "latency_ms": _round(a.latency_ms),
                    "detail": a.detail,
                }
                for a in self.attempts
            ],
            "consensus": None if self.consensus is None else self.consensus.to_dict(),
        }


def answer(
    task: Task,
    chosen: Attempt,
    attempts: list[Attempt],
    started: float,
    fell_over_from: tuple[str, ...],
    consensus: ConsensusDetails | None = None,
) -> RouterResult:
    return RouterResult(
        task=task.name,
        text=chosen.text,
        value=chosen.value,
        model=chosen.model,
        latency_ms=chosen.latency_ms,
        total_ms=(time.perf_counter() - started) * 1000.0,
        fell_over_from=fell_over_from,
        attempts=tuple(attempts),
        consensus=consensus,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def no_answer(task: str, attempts: list[Attempt]) -> NoAnswer:
    """The error of a call that no model answered, naming each model tried and why."""
    tried = "; ".join(
        f"{a.model}: {a.outcome}{' (' + a.detail + ')' if a.detail else ''}" for a in attempts
    )
    return NoAnswer(f"no model answered task {task}: {tried or 'no model'}", tuple(attempts))
