"""The CI gate of one run: its verdict, with the reasons it fails and what it checked.

Pure module.  :func:`gate` applies, in order, ``--llm-baseline`` (the run against a
baseline run, :func:`~pytest_llmbench.analysis.regression.compare`), ``--llm-fail-on
champion`` (every task has a champion) and the alert limits (``--llm-max-p95``,
``--llm-max-error-rate`` and a case file's ``alerts:``: each task's champion and
runner-up within them).  The baseline itself is read by the caller (from a
``--llm-json`` file or the history) and comes in as plain rankings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_llmbench.analysis import alerts
from pytest_llmbench.analysis.alerts import Limits
from pytest_llmbench.analysis.conditions import describe_loaded
from pytest_llmbench.analysis.ranking import TaskRanking

__all__ = ["Baseline", "GateVerdict", "gate"]


@dataclass(frozen=True)
class GateVerdict:
    """Why the run fails the gate (no reason: it passes) and what the gate looked at."""

    reasons: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    """What was compared and with which limits (printed above the verdict)."""
    compared: bool = False
    """Some task was compared with the baseline."""
    fail_on_champion: bool = False
    alerted: bool = False
    """Some task has alert limits."""

    @property
    def failed(self) -> bool:
        return bool(self.reasons)

    def checks(self) -> list[str]:
        """What a passing run passed: ``no regression``, ``every task has a champion``, ..."""
        found = []
        if self.compared:
            found.append("no regression")
        if self.fail_on_champion:
            found.append("every task has a champion")
        if self.alerted:
            found.append("champions and runners-up within the alert limits")
        return found


@dataclass(frozen=True)
class Baseline:
    """The rankings a run is compared with, and how to name them (``run 20260101-...``)."""

    label: str
    rankings: Sequence[TaskRanking] = field(default_factory=tuple)
    run: Mapping[str, Any] | None = None
    """The baseline's run record, for its ``conditions`` (a run on a loaded machine is
    named as such beside the comparison)."""


def gate(
    rankings: Sequence[TaskRanking],
    *,
    baseline: Baseline | None = None,
    notes: Sequence[str] = (),
    max_slowdown: float = 0.0,
    fail_on_champion: bool = False,
    limits: Callable[[str], Limits] = lambda task: Limits(),
    run: Mapping[str, Any] | None = None,
) -> GateVerdict:
    """The gate's verdict on ``rankings``.

    ``notes``: what finding the baseline said (``no history at ...: no baseline``);
    ``limits``: each task's alert limits; ``run``: this run's record (its
    ``conditions``).  When either side ran on a loaded machine a line says so: the
    latency comparison still stands (a regression is not waved through), but it is never
    made against a loaded baseline without saying so.
    """
    reasons: list[str] = []
    lines = list(notes)
    compared = False
    if baseline is not None:
        from pytest_llmbench.analysis.regression import compare

        # --llm-min-lead: a latency change smaller than the min lead is a tie, never a
        # regression, whatever --llm-max-slowdown allows.
        min_lead = max((r.min_lead for r in rankings), default=0.0)
        allowed = max(max_slowdown, min_lead)
        if min_lead > max_slowdown:
            lines.append(
                f"latency growth below the min lead of {min_lead:.0%} is a tie "
                f"(--llm-max-slowdown {max_slowdown:.0%})"
            )
        report = compare(baseline.rankings, rankings, allowed, baseline.label)
        for side, loaded in (
            (baseline.label, describe_loaded(baseline.run)),
            ("this run", describe_loaded(run)),
        ):
            if loaded is not None:
                lines.append(
                    f"{side} ran on a loaded machine ({loaded}): its latencies are inflated, "
                    "so a latency change against it may be the machine's"
                )
        reasons.extend(report.reasons)
        compared = bool(report.compared)
        lines.append(
            f"compared with {baseline.label}: {', '.join(report.compared) or 'no task in common'}"
        )
        lines.extend(report.notes)
    if fail_on_champion:
        from pytest_llmbench.analysis.regression import without_champion

        reasons.extend(without_champion(rankings))
    alerted = False
    for ranking in rankings:
        own = limits(ranking.task)
        if own.any:
            alerted = True
            lines.append(f"alerts for {ranking.task}: {own.describe()}")
            reasons.extend(alerts.breaches(ranking, own))
    return GateVerdict(tuple(reasons), tuple(lines), compared, fail_on_champion, alerted)
