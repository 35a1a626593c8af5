"""Repeats: how often a model is right on a case, and whether it says the same thing.

Pure module.  Input: the results of one model on one task (every case, every repeat).

- pass rate of a case = passes / runs
- pass^k of a case = C(passes, k) / C(runs, k): the chance that k runs drawn from the
  ones made are all right (the unbiased estimator of tau-bench's pass^k).  ``k`` is the
  number of runs per case (the smallest, if cases ran a different number of times), so
  with every case run k times, pass^k of a case is 1 when every run was right, else 0.
  A model's pass^k is the mean over its cases; its pass@1 is the mean pass rate.
- consistency = share of the cases run at least twice whose parsed answers (``got``;
  an error counts as its own answer) were identical in every run.  ``None`` when no case
  was run twice.
- flaky cases: right in some runs and wrong in others (0 < passes < runs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_llmbench.execution.results import Result

__all__ = ["CaseRuns", "RepeatStats", "repeat_stats"]


@dataclass(frozen=True)
class CaseRuns:
    """One case of one model: how many runs, how many right, how many distinct answers."""

    case_id: str
    runs: int
    passes: int
    answers: int

    @property
    def pass_rate(self) -> float:
        return self.passes / self.runs if self.runs else 0.0

    @property
    def flaky(self) -> bool:
        return 0 < self.passes < self.runs

    @property
    def consistent(self) -> bool:
        return self.answers == 1

    def pass_hat(self, k: int) -> float:
        """C(passes, k) / C(runs, k)."""
        if k < 1 or k > self.runs:
            raise ValueError(f"k must be between 1 and {self.runs}, got {k}")
        return math.comb(self.passes, k) / math.comb(self.runs, k)


@dataclass(frozen=True)
class RepeatStats:
    k: int
    """Runs per case (the smallest over the cases)."""
    cases: tuple[CaseRuns, ...]
    pass_at_1: float | None
    pass_hat_k: float | None
    consistency: float | None

    @property
    def flaky(self) -> tuple[CaseRuns, ...]:
        return tuple(c for c in self.cases if c.flaky)


def _answer(result: Result) -> str:
    return "\x00error" if result.error else result.got


def repeat_stats(results: Iterable[Result]) -> RepeatStats:
    """Pass rates, pass^k and consistency of one model's results on one task."""
    by_case: dict[str, list[Result]] = {}
    for r in results:
        by_case.setdefault(r.case_id, []).append(r)
    cases = tuple(
        CaseRuns(
            case_id=case_id,
            runs=len(runs),
            passes=sum(1 for r in runs if r.correct),
            answers=len({_answer(r) for r in runs}),
        )
        for case_id, runs in by_case.items()
    )
    if not cases:
        return RepeatStats(k=0, cases=(), pass_at_1=None, pass_hat_k=None, consistency=None)
    k = min(c.runs for c in cases)
    repeated = [c for c in cases if c.runs > 1]
    return RepeatStats(
        k=k,
        cases=cases,
        pass_at_1=sum(c.pass_rate for c in cases) / len(cases),
        pass_hat_k=sum(c.pass_hat(k) for c in cases) / len(cases),
        consistency=(
            sum(1 for c in repeated if c.consistent) / len(repeated) if repeated else None
        ),
    )
