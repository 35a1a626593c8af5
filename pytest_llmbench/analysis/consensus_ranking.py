"""Consensus combinations in the ranking of a task that declares ``consensus:``.

Pure module.  At the end of the run each task is ranked by the rank function the
caller passes in (the plugin's ``pytest_llmbench_rank`` hook).
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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pytest_llmbench.analysis.ranking import TaskRanking
from pytest_llmbench.cases.records import OutputSpec
from pytest_llmbench.execution.results import Result

if TYPE_CHECKING:  # consensus itself is imported by a task that declares it
    from pytest_llmbench.analysis.consensus import CombinedRun

__all__ = ["RankTask", "rank_with_consensus", "singles_only"]

RankTask = Callable[[str, Sequence[Result], Sequence[tuple[str, int]]], TaskRanking]
"""Ranks one task: (task, results, expected (case id, repeat) runs) -> its ranking."""


def rank_with_consensus(
    rank: RankTask,
    task: str,
    results: Sequence[Result],
    expected: Sequence[tuple[str, int]],
    settings: Mapping[str, Any] | None,
    *,
    registered: Sequence[str] = (),
    pairs: int = 1,
) -> TaskRanking:
    """The task ranked by ``rank``, with its combinations when ``settings`` (what
    :func:`consensus_settings` made) declare consensus.

    ``settings``: :func:`pytest_llmbench.analysis.ledger.consensus_settings`;
    ``registered``: the task's registered models (champion, runner-up, fallbacks),
    whose combinations come first when they ran; ``pairs``: ``--llm-consensus-pairs``.
    """
    ranking = rank(task, results, expected)
    if not settings:
        return ranking
    from pytest_llmbench.analysis.consensus import (
        combinations,
        combine,
        is_combination,
        summarise,
    )

    singles = [s.model for s in ranking.standings if not is_combination(s.model)]
    ran = {r.model for r in results}
    order = [m for m in registered if m in ran] + singles
    output = OutputSpec(
        kind=str(settings["kind"]),
        labels=tuple(settings["labels"]),
        schema=settings.get("schema"),
    )
    made: dict[str, tuple[tuple[str, ...], list[CombinedRun]]] = {}
    for models in combinations(order, int(settings["models"]), pairs):
        runs = combine(results, models, agree=float(settings["agree"]), output=output)
        if runs:
            made[runs[0].result.model] = (models, runs)
    if not made:
        return ranking
    rows = [run.result for _, runs in made.values() for run in runs]
    combined = rank(task, [*results, *rows], expected)
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
    from pytest_llmbench.analysis.consensus import is_combination

    labels = iter(("champion", "runner-up"))
    standings = tuple(
        replace(s, status=next(labels, "qualified")) if s.qualified else s for s in kept
    )
    ties = tuple(
        t for t in ranking.ties if not (is_combination(t.first) or is_combination(t.second))
    )
    return replace(ranking, standings=standings, ties=ties)
