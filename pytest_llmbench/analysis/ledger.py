"""What a run owes and what it got: :class:`ResultsLedger`.

Plain data throughout (it crosses xdist): per task the runs collected and skipped and
for which models, what ranking needs of the task (policy, weights, consensus, alert
limits), what a crashed case's record needs, and the results as they come in.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from pytest_llmbench.analysis.alerts import Limits
from pytest_llmbench.analysis.ranking import DEFAULT_WEIGHTS
from pytest_llmbench.cases.records import Task
from pytest_llmbench.execution.distribute import task_facts
from pytest_llmbench.execution.results import Result

__all__ = ["ResultsLedger", "Runs", "consensus_settings"]

Runs = dict[str, dict[tuple[str, int], set[str]]]
"""Per task, (case id, repeat) -> the models (``ResultsLedger.expected`` and ``skipped``)."""


def consensus_settings(task: Task) -> dict[str, Any] | None:
    """What ranking a task's combinations needs, as plain data (it crosses xdist)."""
    if task.consensus is None:
        return None
    output = task.output
    return {
        "models": task.consensus.models,
        "agree": task.consensus.agree,
        "kind": output.kind,
        "labels": list(output.labels),
        "schema": None if output.schema is None else dict(output.schema),
    }


class RankSettings(NamedTuple):
    """How one task is ranked (:meth:`ResultsLedger.rank_settings`)."""

    policy: str
    weights: tuple[float, float]
    latency: str
    min_correct: float


class ResultsLedger:
    """What the run owes (collected and skipped runs, per-task facts) and what it got."""

    def __init__(self) -> None:
        self.results: list[Result] = []
        self.case_counts: dict[str, int] = {}
        self.expected: Runs = {}
        """Per task, the (case id, repeat) runs collected for it, in order, with the models."""
        self.skipped: Runs = {}
        """Per task, the runs skipped (a skip mark, a missing model) and for which models."""
        self.task_ranking: dict[str, dict[str, Any]] = {}
        """Per task, from its case file: ``{"policy": ..., "weights": [q, s] or None}``."""
        self.task_facts: dict[str, dict[str, Any]] = {}
        """Per task, what a crashed case's record needs (see ``distribute.task_facts``)."""
        self.tasks: dict[str, Task] = {}
        """The tasks collected in this process (not sent across xdist: the controller
        reads a task's case file again when it needs its cases, see ``task_facts``)."""
        """Per task, what a crashed case's record needs (see ``distribute.task_facts``)."""

    def add_result(self, result: Result) -> None:
        self.results.append(result)

    def add_task(self, task: Task) -> None:
        """Remember what ranking needs of a collected task (plain data: it crosses xdist)."""
        self.case_counts[task.name] = len(task.cases)
        weights = list(task.weights) if task.weights is not None else None
        self.task_ranking[task.name] = {
            "policy": task.policy,
            "weights": weights,
            "min_correct": task.min_correct,
            "latency": task.rank_latency,
            "consensus": consensus_settings(task),
            "alerts": {
                "max_p95_ms": task.alerts.max_p95_ms,
                "max_error_rate": task.alerts.max_error_rate,
            },
            "load": dataclasses.asdict(task.load) if task.load is not None else None,
        }
        self.tasks[task.name] = task
        self.task_facts[task.name] = task_facts(task)

    def expect(self, task: str, case_id: str, repeat: int, model: str) -> None:
        """Remember a collected run of a task: every model that runs the task owes it."""
        _add_run(self.expected, task, case_id, repeat, model)

    def skip(self, task: str, case_id: str, repeat: int, model: str) -> None:
        """Remember a run that was skipped without a result (it is owed by nobody then)."""
        _add_run(self.skipped, task, case_id, repeat, model)

    def expected_runs(self, task: str) -> tuple[tuple[str, int], ...]:
        """The (case id, repeat) runs of a task some model was to make (not skipped for all).

        Empty when none is known.  A run skipped for one model but made by another is
        owed by every model: a model that skipped it has not shown it gets it right.
        """
        skipped = self.skipped.get(task, {})
        return tuple(
            run
            for run, models in self.expected.get(task, {}).items()
            if models - skipped.get(run, set())
        )

    def models_owing(self, task: str) -> list[str]:
        """The models that owe a task some run (not those skipped on every run), by name."""
        skipped = self.skipped.get(task, {})
        owing: set[str] = set()
        for run, models in self.expected.get(task, {}).items():
            owing |= models - skipped.get(run, set())
        return sorted(owing)

    def models(self) -> list[str]:
        """Every model the run selected (collected for some task) or has a result of."""
        found = {r.model for r in self.results}
        for by_run in self.expected.values():
            for models in by_run.values():
                found |= models
        return sorted(found)

    def rank_settings(
        self, task: str, policy: str | None, latency: str | None = None
    ) -> RankSettings:
        """How ``task`` is ranked: the policy (``policy``, i.e. ``--llm-rank``, wins over
        the task's), its weights, the latency (``latency``, i.e. ``--llm-rank-latency``,
        wins over the task's ``ranking.latency``; neither: the mean) and the weighted
        policy's bar (``ranking: {min_correct:}``; default 1)."""
        known = self.task_ranking.get(task, {})
        weights = known.get("weights")
        return RankSettings(
            policy or known.get("policy") or "strict",
            (float(weights[0]), float(weights[1])) if weights else DEFAULT_WEIGHTS,
            latency or known.get("latency") or "mean",
            float(known.get("min_correct", 1.0)),
        )

    def alert_limits(self, task: str, default: Limits) -> Limits:
        """The task's alert limits: its case file's ``alerts:``, else ``default`` (the options')."""
        own = self.task_ranking.get(task, {}).get("alerts") or {}
        p95, rate = own.get("max_p95_ms"), own.get("max_error_rate")
        return Limits(
            max_p95_ms=default.max_p95_ms if p95 is None else float(p95),
            max_error_rate=default.max_error_rate if rate is None else float(rate),
        )

    def for_task(self, task: str) -> list[Result]:
        return [r for r in self.results if r.task == task]

    def task_names(self) -> list[str]:
        """The tasks that have results, in the order of their first result, then the tasks
        some model owes a run but none made (a run stopped early)."""
        seen: dict[str, None] = {}
        for r in self.results:
            seen.setdefault(r.task)
        for task in self.expected:
            if self.models_owing(task):
                seen.setdefault(task)
        return list(seen)

    def worker_output(self) -> dict[str, Any]:
        """What an xdist worker sends the controller about the tasks it collected."""
        return {
            "case_counts": dict(self.case_counts),
            "task_ranking": dict(self.task_ranking),
            "task_facts": dict(self.task_facts),
            "expected": _runs_data(self.expected),
            "skipped": _runs_data(self.skipped),
        }

    def merge_worker_output(self, data: dict[str, Any]) -> None:
        self.case_counts.update(data.get("case_counts", {}))
        self.task_ranking.update(data.get("task_ranking", {}))
        self.task_facts.update(data.get("task_facts", {}))
        _merge_runs(self.expected, data.get("expected", {}))
        _merge_runs(self.skipped, data.get("skipped", {}))


def _add_run(runs: Runs, task: str, case_id: str, repeat: int, model: str) -> None:
    runs.setdefault(task, {}).setdefault((case_id, repeat), set()).add(model)


def _runs_data(runs: Runs) -> dict[str, list[Any]]:
    """Runs per task as plain data (for xdist): ``[[case_id, repeat, [models]], ...]``."""
    return {
        task: [[case_id, repeat, sorted(models)] for (case_id, repeat), models in by_run.items()]
        for task, by_run in runs.items()
    }


def _merge_runs(runs: Runs, data: dict[str, list[Any]]) -> None:
    """Add what :func:`_runs_data` made (on an xdist worker) to ``runs``."""
    for task, listed in data.items():
        for case_id, repeat, models in listed:
            for model in models:
                _add_run(runs, str(task), str(case_id), int(repeat), str(model))
