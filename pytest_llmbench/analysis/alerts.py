"""Latency and error-rate alerts as gates: the limits a task's production models must keep.

Pure module.  The models a task sends to production are its champion and runner-up
(the fallback); each is held to the task's limits:

- ``max_p95_ms``: its p95 latency (the warm calls, as the ranking computes it) is at
  most this many milliseconds;
- ``max_error_rate``: its calls that failed (an error or a timeout: no answer at all;
  a wrong answer is not an error) are at most this share of the runs the task expects
  of it (a fraction; ``0.05`` is 5%).

A limit comes from the case file's ``alerts:`` for its task, else from
``--llm-max-p95`` / ``--llm-max-error-rate`` (or their ini keys).  A task without a
champion has nothing to hold to them (``--llm-fail-on=champion`` is the gate for that).
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_llmbench.analysis.ranking import ModelStanding, TaskRanking

__all__ = ["Limits", "breaches"]


@dataclass(frozen=True)
class Limits:
    """A task's alert limits; ``None``: no limit."""

    max_p95_ms: float | None = None
    max_error_rate: float | None = None
    """A fraction of the runs."""

    @property
    def any(self) -> bool:
        return self.max_p95_ms is not None or self.max_error_rate is not None

    def describe(self) -> str:
        """``p95 <= 1,500 ms, error rate <= 5%``."""
        parts = []
        if self.max_p95_ms is not None:
            parts.append(f"p95 <= {self.max_p95_ms:,.0f} ms")
        if self.max_error_rate is not None:
            parts.append(f"error rate <= {100 * self.max_error_rate:g}%")
        return ", ".join(parts) or "no limit"


def _breaches(task: str, role: str, s: ModelStanding, limits: Limits) -> list[str]:
    out: list[str] = []
    p95, limit = s.p95_ms, limits.max_p95_ms
    if limit is not None and p95 is not None and p95 > limit:
        out.append(
            f"{task}: the {role} {s.model} has a p95 latency of {p95:,.0f} ms, "
            f"above the limit of {limit:,.0f} ms"
        )
    rate, most = (s.errors / s.total if s.total else 0.0), limits.max_error_rate
    if most is not None and rate > most:
        out.append(
            f"{task}: the {role} {s.model} failed {s.errors} of {s.total} calls "
            f"({100 * rate:.1f}%), above the limit of {100 * most:g}%"
        )
    return out


def breaches(ranking: TaskRanking, limits: Limits) -> list[str]:
    """One reason per limit the task's champion or runner-up is over, champion first."""
    reasons: list[str] = []
    for role, standing in (("champion", ranking.champion), ("runner-up", ranking.runner_up)):
        if standing is not None:
            reasons.extend(_breaches(ranking.task, role, standing, limits))
    return reasons
