"""Rank the models of one task from its result records.

Pure module.  The strict policy (the default): a model qualifies when every
case and every repeat is correct; qualified models are ordered by mean latency;
the first is the champion, the second the runner-up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from .results import Result

__all__ = ["Miss", "ModelStanding", "TaskRanking", "mean", "percentile", "rank_strict"]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear interpolation between closest ranks.

    Same as ``numpy.percentile(values, q)`` with the default (linear) method.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Miss:
    """A case a model got wrong, with how (``too lenient``, ``too strict``, ``wrong``, ...)."""

    case_id: str
    direction: str
    wrong: int
    runs: int
    expected: str
    got: str
    reason: str

    def describe(self) -> str:
        times = f" ({self.wrong} of {self.runs} runs)" if self.runs > 1 else ""
        return f"{self.direction} on {self.case_id}{times}"


@dataclass(frozen=True)
class ModelStanding:
    model: str
    total: int
    correct: int
    errors: int
    mean_ms: float | None
    p95_ms: float | None
    tokens_per_s: float | None
    qualified: bool
    misses: tuple[Miss, ...] = ()
    status: str = ""

    @property
    def score(self) -> str:
        return f"{self.correct}/{self.total}"

    def miss_summary(self) -> str:
        """``too lenient on GRADE_FAIL_001, GRADE_FAIL_002; too strict on GRADE_PASS_003``."""
        groups: dict[str, list[str]] = {}
        for miss in self.misses:
            times = f" ({miss.wrong}/{miss.runs})" if miss.runs > 1 else ""
            groups.setdefault(miss.direction, []).append(miss.case_id + times)
        return "; ".join(f"{direction} on {', '.join(ids)}" for direction, ids in groups.items())


@dataclass(frozen=True)
class TaskRanking:
    task: str
    standings: tuple[ModelStanding, ...]
    policy: str = "strict"
    notes: tuple[str, ...] = field(default=())

    @property
    def qualified(self) -> tuple[ModelStanding, ...]:
        return tuple(s for s in self.standings if s.qualified)

    @property
    def disqualified(self) -> tuple[ModelStanding, ...]:
        return tuple(s for s in self.standings if not s.qualified)

    @property
    def champion(self) -> ModelStanding | None:
        return self.qualified[0] if self.qualified else None

    @property
    def runner_up(self) -> ModelStanding | None:
        return self.qualified[1] if len(self.qualified) > 1 else None

    @property
    def nearest_miss(self) -> ModelStanding | None:
        """The best model that did not qualify (most correct, then fastest)."""
        return self.disqualified[0] if self.disqualified else None


def _tokens_per_s(results: Iterable[Result]) -> float | None:
    tokens = 0
    seconds = 0.0
    for r in results:
        if r.completion_tokens and r.eval_ms and not r.cached:
            tokens += r.completion_tokens
            seconds += r.eval_ms / 1000.0
    return tokens / seconds if seconds > 0 else None


def _misses(results: Sequence[Result]) -> tuple[Miss, ...]:
    by_case: dict[str, list[Result]] = {}
    for r in results:
        by_case.setdefault(r.case_id, []).append(r)
    misses: list[Miss] = []
    for case_id, runs in by_case.items():
        wrong = [r for r in runs if not r.correct]
        if not wrong:
            continue
        first = wrong[0]
        directions = {r.direction for r in wrong}
        direction = first.direction if len(directions) == 1 else "inconsistent"
        misses.append(
            Miss(
                case_id,
                direction,
                len(wrong),
                len(runs),
                first.expected,
                first.got,
                first.error or first.reason,
            )
        )
    return tuple(misses)


def _standing(model: str, results: Sequence[Result]) -> ModelStanding:
    # A cached answer was not timed now: its latency never enters the ranking.
    latencies = [
        r.latency_ms
        for r in results
        if r.latency_ms is not None and r.error is None and not r.cached
    ]
    correct = sum(1 for r in results if r.correct)
    return ModelStanding(
        model=model,
        total=len(results),
        correct=correct,
        errors=sum(1 for r in results if r.error),
        mean_ms=mean(latencies),
        p95_ms=percentile(latencies, 95),
        tokens_per_s=_tokens_per_s(results),
        qualified=bool(results) and correct == len(results),
        misses=_misses(results),
    )


def _speed_key(s: ModelStanding) -> tuple[float, str]:
    return (s.mean_ms if s.mean_ms is not None else math.inf, s.model)


def rank_strict(task: str, results: Iterable[Result]) -> TaskRanking:
    """Rank by the strict policy: all correct qualifies, then fastest mean latency wins."""
    by_model: dict[str, list[Result]] = {}
    for r in results:
        if r.task == task:
            by_model.setdefault(r.model, []).append(r)
    standings = [_standing(m, rs) for m, rs in by_model.items()]
    qualified = sorted((s for s in standings if s.qualified), key=_speed_key)
    others = sorted(
        (s for s in standings if not s.qualified),
        key=lambda s: (-(s.correct / s.total if s.total else 0.0), *_speed_key(s)),
    )
    labelled: list[ModelStanding] = []
    for index, s in enumerate(qualified):
        status = ("champion", "runner-up")[index] if index < 2 else "qualified"
        labelled.append(_with_status(s, status))
    labelled.extend(_with_status(s, "disqualified") for s in others)
    return TaskRanking(task=task, standings=tuple(labelled), policy="strict")


def _with_status(s: ModelStanding, status: str) -> ModelStanding:
    return replace(s, status=status)
