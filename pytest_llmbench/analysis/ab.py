"""A/B comparison of two prompt versions of one task: paired accuracy, McNemar, decision.

Pure module.  The results of version A and version B are paired by (model, case,
repeat): the same model answered the same case with each prompt.  Per model and over
all models:

- accuracy of A and of B (correct / pairs) and the difference in percentage points;
- the discordant pairs: ``fixed`` (A wrong, B right) and ``broken`` (A right, B wrong);
- the exact McNemar test: under "the versions are equally good" each discordant pair
  is fixed or broken with probability 1/2, so with n = fixed + broken and
  k = min(fixed, broken), the two-sided p-value is
  ``p = min(1, 2 * sum_{i=0..k} C(n, i) / 2^n)`` (1 when n = 0);
- the mean warm latency of each version (answers that were timed: no error, no cache)
  and its change, the mean cost per call where the calls have one.

The decision rule (the LLMOps practice): **ship B** when its accuracy is at least
``min_gain`` percentage points higher (default 5) and it is neither slower nor
costlier than A beyond a tolerance (default 10% each); otherwise **keep A**.  The
p-value is reported beside the decision, not part of it: with ten gold cases no
difference is ever significant, and the rule is the team's, not a statistician's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from pytest_llmbench.analysis.stats import mcnemar_exact, mean
from pytest_llmbench.execution.results import Result

__all__ = ["ABComparison", "ABReport", "ABRule", "compare_versions", "mcnemar_exact"]


@dataclass(frozen=True)
class ABRule:
    """Ship B when it gains ``min_gain`` points, within the latency and cost tolerances."""

    min_gain: float = 5.0
    """Percentage points of accuracy B must gain."""
    latency_tolerance: float = 0.10
    """How much slower B may be (0.10 = 10% more mean latency)."""
    cost_tolerance: float = 0.10
    """How much costlier B may be per call."""


@dataclass(frozen=True)
class ABComparison:
    """Version A against version B on the pairs of one model (or of all models)."""

    model: str
    """The model, or ``all`` for every model's pairs together."""
    pairs: int
    a_correct: int
    b_correct: int
    fixed: int
    """Pairs A got wrong and B right."""
    broken: int
    """Pairs A got right and B wrong."""
    p_value: float
    a_ms: float | None
    b_ms: float | None
    a_cost: float | None
    """Mean $ per call of A (``None``: unknown)."""
    b_cost: float | None
    decision: str
    """``ship B`` or ``keep A``."""
    why: str

    @property
    def a_accuracy(self) -> float:
        return self.a_correct / self.pairs if self.pairs else 0.0

    @property
    def b_accuracy(self) -> float:
        return self.b_correct / self.pairs if self.pairs else 0.0

    @property
    def gain_points(self) -> float:
        """B's accuracy minus A's, in percentage points."""
        return 100.0 * (self.b_accuracy - self.a_accuracy)

    @property
    def latency_change(self) -> float | None:
        """B's mean latency relative to A's (0.2 = 20% slower); ``None`` when unknown."""
        if self.a_ms is None or self.b_ms is None or self.a_ms == 0:
            return None
        return self.b_ms / self.a_ms - 1.0

    @property
    def cost_change(self) -> float | None:
        if self.a_cost is None or self.b_cost is None:
            return None
        if self.a_cost == 0:
            return 0.0 if self.b_cost == 0 else math.inf
        return self.b_cost / self.a_cost - 1.0


@dataclass(frozen=True)
class ABReport:
    task: str
    a: str
    b: str
    rule: ABRule
    models: tuple[ABComparison, ...]
    overall: ABComparison
    unpaired: int = 0
    """Results of A or B without a partner (a case one version did not run)."""

    @property
    def decision(self) -> str:
        return self.overall.decision


Key = tuple[str, str, int]


def _by_pair(results: Iterable[Result], version: str) -> dict[Key, Result]:
    return {(r.model, r.case_id, r.repeat): r for r in results if r.prompt_version == version}


def _timed(results: Iterable[Result]) -> list[float]:
    return [
        r.latency_ms
        for r in results
        if r.latency_ms is not None and r.error is None and not r.cached and not r.cold
    ]


def _cost(results: Sequence[Result]) -> float | None:
    costs = [r.cost_usd for r in results if r.cost_usd is not None]
    if not costs:
        return None
    return sum(costs) / len(costs)


def _decide(
    gain: float, latency: float | None, cost: float | None, rule: ABRule
) -> tuple[str, str]:
    if gain < rule.min_gain:
        return "keep A", f"accuracy {gain:+.1f} points, below the {rule.min_gain:g}-point bar"
    if latency is not None and latency > rule.latency_tolerance:
        return "keep A", (
            f"accuracy {gain:+.1f} points, but {latency:+.0%} latency "
            f"(tolerance {rule.latency_tolerance:.0%})"
        )
    if cost is not None and cost > rule.cost_tolerance:
        return "keep A", (
            f"accuracy {gain:+.1f} points, but {cost:+.0%} cost "
            f"(tolerance {rule.cost_tolerance:.0%})"
        )
    return "ship B", (
        f"accuracy {gain:+.1f} points (bar {rule.min_gain:g}), latency and cost within tolerance"
    )


def _compare(model: str, pairs: Sequence[tuple[Result, Result]], rule: ABRule) -> ABComparison:
    a_runs = [a for a, _ in pairs]
    b_runs = [b for _, b in pairs]
    fixed = sum(1 for a, b in pairs if not a.correct and b.correct)
    broken = sum(1 for a, b in pairs if a.correct and not b.correct)
    a_correct = sum(1 for a in a_runs if a.correct)
    b_correct = sum(1 for b in b_runs if b.correct)
    a_ms, b_ms = mean(_timed(a_runs)), mean(_timed(b_runs))
    a_cost, b_cost = _cost(a_runs), _cost(b_runs)
    draft = ABComparison(
        model, len(pairs), a_correct, b_correct, fixed, broken,
        mcnemar_exact(fixed, broken), a_ms, b_ms, a_cost, b_cost, "", "",
    )  # fmt: skip
    decision, why = _decide(draft.gain_points, draft.latency_change, draft.cost_change, rule)
    return replace(draft, decision=decision, why=why)


def compare_versions(
    task: str, results: Iterable[Result], a: str, b: str, rule: ABRule | None = None
) -> ABReport:
    """Compare prompt version ``a`` with ``b`` on the task's results (see the module doc)."""
    rule = rule or ABRule()
    mine = [r for r in results if r.task == task]
    runs_a, runs_b = _by_pair(mine, a), _by_pair(mine, b)
    paired = [(runs_a[key], runs_b[key]) for key in runs_a if key in runs_b]
    unpaired = len(runs_a) + len(runs_b) - 2 * len(paired)
    by_model: dict[str, list[tuple[Result, Result]]] = {}
    for pair in paired:
        by_model.setdefault(pair[0].model, []).append(pair)
    models = tuple(_compare(model, pairs, rule) for model, pairs in by_model.items())
    return ABReport(task, a, b, rule, models, _compare("all", paired, rule), unpaired)
