"""The records of a task's load phase (:mod:`pytest_llmbench.analysis.load` makes them):
each model's figures under load and the champion at load, kept in
``TaskRanking.at_load`` (the JSON document, the history and the registry's ``at_load``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LoadStanding", "TaskLoad"]


@dataclass(frozen=True)
class LoadStanding:
    """One model's figures under load."""

    model: str
    requests: int
    errors: int
    wrong: int
    """Answers that came back but were not correct."""
    wall_s: float
    throughput_rps: float | None
    tokens_per_s: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    ttft_p95_ms: float | None
    """The p95 of the time to first token, where the results carry ``ttft_ms``."""
    good: int
    """Requests that met the SLO (correct, no error, within its limits)."""
    goodput_rps: float | None
    flag: str | None = None
    """Why the model cannot be champion at load (wrong or failing answers under load)."""
    skipped: str | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def eligible(self) -> bool:
        return self.flag is None and self.skipped is None and self.goodput_rps is not None


@dataclass(frozen=True)
class TaskLoad:
    """A task's load phase: its settings, each model's figures, the champion at load."""

    concurrency: int
    requests: int
    slo_p95_ms: float | None
    slo_ttft_ms: float | None
    standings: tuple[LoadStanding, ...]
    champion: str | None
    """The qualified, unflagged model with the best goodput (``None``: none)."""

    def standing(self, model: str) -> LoadStanding | None:
        return next((s for s in self.standings if s.model == model), None)
