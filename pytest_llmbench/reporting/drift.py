"""``llmbench feedback --check``: production against the benchmark's evidence, one line
per breach.  Pure: feedback statistics and registry entries in, lines out.

Per task and model of the feedback log (over the window ``--since`` chose):

- **agreement**: the share of its checked answers (consensus calls, shadow checks) another
  model agreed with, below ``min_agreement``;
- **judge score**: the mean score shadow judges gave its answers, below ``min_judge_score``;
- **error rate**: the share of its calls that failed, above ``max_error_rate``;
- **latency**: its production p95 above ``max_p95_ratio`` times the p95 the benchmark
  measured (the registry's evidence).

A measure is judged only over at least ``min_calls`` calls (checked answers for agreement
and judge scores): a handful of calls proves nothing.  A task's case file may set its own
``alerts: {min_agreement, min_judge_score}``; they win over the command's options for it
(the line then names the limit and the file).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_llmbench.formatting import ms
from pytest_llmbench.storage.champions import Evidence, RegistryEntry
from pytest_llmbench.storage.feedback import FeedbackStats

__all__ = ["DriftLimits", "drift_breaches"]


@dataclass(frozen=True)
class DriftLimits:
    """The limits of ``llmbench feedback --check`` (its options; shares between 0 and 1)."""

    min_agreement: float = 0.8
    min_judge_score: float = 0.7
    max_error_rate: float = 0.1
    max_p95_ratio: float = 2.0
    min_calls: int = 20
    source: str = ""
    """Where ``min_agreement`` and ``min_judge_score`` come from when a case file set
    them (``evals/triage.yaml``); ``""``: the command's options."""

    def least(self, name: str, value: float) -> str:
        """How a breach names a limit: ``80%``, or ``min_agreement 90% (alerts of FILE)``."""
        shown = f"{value * 100:.0f}%" if name == "min_agreement" else f"{value:.2f}"
        return f"{name} {shown} (alerts of {self.source})" if self.source else shown


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def _evidence(entry: RegistryEntry | None, model: str) -> Evidence | None:
    if entry is None:
        return None
    for evidence in (entry.champion, entry.runner_up):
        if evidence is not None and evidence.model == model:
            return evidence
    return None


def _benchmark(evidence: Evidence | None) -> str:
    if evidence is None:
        return "not in the registry"
    run = f" in run {evidence.run}" if evidence.run else ""
    return f"benchmark {evidence.correct}/{evidence.total} correct{run}"


def drift_breaches(
    stats: Sequence[FeedbackStats],
    entries: Mapping[str, RegistryEntry],
    limits: DriftLimits = DriftLimits(),
    per_task: Mapping[str, DriftLimits] | None = None,
    window: str = "",
) -> list[str]:
    """One line per breach: ``TASK: MODEL: what, against what``; empty when none.

    :param per_task: the limits of a task whose case file sets its own.
    :param window: how the calls were chosen (`` since 7d``), said with the counts.
    """
    lines: list[str] = []
    for s in stats:
        limits_of = (per_task or {}).get(s.task, limits)
        evidence = _evidence(entries.get(s.task), s.model)
        where = f"{s.task}: {s.model}"
        agreement, task_limits = s.agreement, limits_of
        if (
            s.checked >= limits.min_calls
            and agreement is not None
            and agreement < task_limits.min_agreement
        ):
            least = task_limits.least("min_agreement", task_limits.min_agreement)
            lines.append(
                f"{where}: agreement {_pct(agreement)} ({s.agreed}/{s.checked} checked "
                f"answers{window}) is below {least}; {_benchmark(evidence)}"
            )
        score = s.judge_score
        if (
            len(s.judge_scores) >= limits.min_calls
            and score is not None
            and score < task_limits.min_judge_score
        ):
            least = task_limits.least("min_judge_score", task_limits.min_judge_score)
            lines.append(
                f"{where}: judge score {score:.2f} (mean of {len(s.judge_scores)}"
                f"{window}) is below {least}; {_benchmark(evidence)}"
            )
        errors = s.error_rate
        if s.calls >= limits.min_calls and errors is not None and errors > limits.max_error_rate:
            lines.append(
                f"{where}: error rate {_pct(errors)} ({s.calls - s.ok}/{s.calls} calls) "
                f"is above {_pct(limits.max_error_rate)}"
            )
        bench = None if evidence is None else evidence.p95_ms
        if (
            s.ok >= limits.min_calls
            and s.p95_ms is not None
            and bench
            and s.p95_ms > bench * limits.max_p95_ratio
        ):
            lines.append(
                f"{where}: p95 {ms(s.p95_ms)} ms is above {limits.max_p95_ratio:g} x the "
                f"benchmark's {ms(bench)} ms"
            )
    return lines
