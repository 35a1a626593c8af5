"""Consensus combinations in the ranking of a task that declares ``consensus:``.

At the end of the session each task is ranked by the ``pytest_llmbench_rank`` hook.
For a task whose case file declares ``consensus: {models: 3, agree: 0.75}``, the
combinations of its best models (:func:`~pytest_llmbench.analysis.consensus.combinations`:
the registry's champion, runner-up and fallbacks first when they ran, then this run's
ranking under the task's policy; ``--llm-consensus-pairs`` of them) are built from the
answers the single models gave (:func:`~pytest_llmbench.analysis.consensus.combine`: no
model is called again), and the task is ranked again with their rows beside the single
models', under the same policy and held to the same runs.  Each combination's standing
carries a :class:`~pytest_llmbench.analysis.consensus.Combination`.

The findings about the task's answers (generic answers, suspect gold labels, warnings)
stay those of the single models: a combination only repeats their answers.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmbench.analysis.consensus import (
    CombinedRun,
    combinations,
    combine,
    is_combination,
    summarise,
)
from pytest_llmbench.analysis.ranking import TaskRanking
from pytest_llmbench.cases.records import OutputSpec, Task
from pytest_llmbench.storage.champions import RegistryError, load_registry

if TYPE_CHECKING:
    from pytest_llmbench.plugin.session import BenchSession

__all__ = ["consensus_settings", "rank_with_consensus", "singles_only"]


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


def _registry_order(path: Path, task: str, ran: set[str]) -> list[str]:
    """The task's registered models (champion, runner-up, fallbacks) that ran now."""
    try:
        entry = load_registry(path).get(task) if path.is_file() else None
    except (RegistryError, OSError):
        return []  # a registry that cannot be read: this run's order alone
    return [m for m in entry.chain if m in ran] if entry is not None else []


def rank_with_consensus(config: pytest.Config, bench: BenchSession, task: str) -> TaskRanking:
    """The task ranked by the ``pytest_llmbench_rank`` hook, with its combinations."""
    ledger = bench.ledger
    results = ledger.for_task(task)
    expected = ledger.expected_runs(task)
    ranking: TaskRanking = config.hook.pytest_llmbench_rank(
        config=config, task=task, results=results, expected=expected
    )
    settings = ledger.task_ranking.get(task, {}).get("consensus")
    if not settings:
        return ranking
    singles = [s.model for s in ranking.standings if not is_combination(s.model)]
    ran = {r.model for r in results}
    order = _registry_order(bench.options.registry_path, task, ran) + singles
    output = OutputSpec(
        kind=str(settings["kind"]),
        labels=tuple(settings["labels"]),
        schema=settings.get("schema"),
    )
    made: dict[str, tuple[tuple[str, ...], list[CombinedRun]]] = {}
    for models in combinations(order, int(settings["models"]), bench.options.consensus_pairs):
        runs = combine(results, models, agree=float(settings["agree"]), output=output)
        if runs:
            made[runs[0].result.model] = (models, runs)
    if not made:
        return ranking
    rows = [run.result for _, runs in made.values() for run in runs]
    combined: TaskRanking = config.hook.pytest_llmbench_rank(
        config=config, task=task, results=[*results, *rows], expected=expected
    )
    standings = tuple(
        replace(s, combination=summarise(*made[s.model])) if s.model in made else s
        for s in combined.standings
    )
    return replace(
        combined,
        standings=standings,
        generic=ranking.generic,
        suspect_gold=ranking.suspect_gold,
        warnings=ranking.warnings,
    )


def singles_only(ranking: TaskRanking) -> TaskRanking:
    """``ranking`` without its combinations, the single models relabelled (champion,
    runner-up, qualified): what the registry records, since production calls one model
    (the router applies a task's ``consensus:`` itself)."""
    kept = [s for s in ranking.standings if s.combination is None]
    if len(kept) == len(ranking.standings):
        return ranking
    labels = iter(("champion", "runner-up"))
    standings = tuple(
        replace(s, status=next(labels, "qualified")) if s.qualified else s for s in kept
    )
    ties = tuple(
        t for t in ranking.ties if not (is_combination(t.first) or is_combination(t.second))
    )
    return replace(ranking, standings=standings, ties=ties)
