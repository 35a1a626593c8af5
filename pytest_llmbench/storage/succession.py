"""The registry after a run of newcomers (``--llm-models=new --llm-update-registry``).

Such a run benchmarks, per task, only the models no earlier run has benchmarked on the
task's current prompt, so its ranking cannot replace the registry's entry wholesale
(the champion was not in it).  Instead each task's entry takes in the newcomers:

- the candidates are the registered champion and runner-up, with their evidence, and
  every newcomer that was correct on every case and every run (``correct == total``),
  whatever the task's policy;
- they are ordered by mean latency (a candidate without one last; equal means keep the
  registered model first): the first is the champion, the second the runner-up.

So a newcomer that beats the champion replaces it, and the old champion becomes the
runner-up when it is faster than the old runner-up (else the old runner-up stays); a
newcomer faster than the runner-up only takes the runner-up's place.  The entry's
``why`` records each change with both figures and the run; an entry nothing changed
keeps its ``why``.  A task without an entry gets the newcomers' champion and runner-up.

Pure apart from reading and writing the registry file (:mod:`.champions`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbench.formatting import ms
from pytest_llmbench.storage.champions import (
    Evidence,
    RegistryEntry,
    load_registry,
    registry_lock,
    relative_case_file,
    write_registry,
)

if TYPE_CHECKING:
    from pytest_llmbench.analysis.ranking import TaskRanking

__all__ = ["admit_newcomers", "succeed"]


def _speed(e: Evidence) -> float:
    """The figure the task is ranked by: its ``latency_ms`` when it was ranked by another
    latency than the mean, else the mean."""
    figure = e.latency_ms if e.latency is not None else e.mean_ms
    return math.inf if figure is None else figure


def _mean(value: float | None) -> str:
    return ms(value, " ms mean", missing="no latency")


def _change(role: str, new: Evidence, old: Evidence | None, run: str) -> str:
    if old is None:
        return f"{new.model} became {role} in run {run} ({_mean(new.mean_ms)})"
    return (
        f"{new.model} replaced {old.model} as {role} in run {run} "
        f"({_mean(new.mean_ms)} against {_mean(old.mean_ms)}, {new.correct}/{new.total} correct)"
    )


def succeed(
    before: RegistryEntry | None, ranking: TaskRanking, run: Mapping[str, Any]
) -> RegistryEntry | None:
    """The task's entry after its newcomers' ``ranking`` (the rules above); ``None``
    when there is no entry and no newcomer was always right."""
    newcomers = [
        Evidence.from_standing(s, run, latency=ranking.latency)
        for s in ranking.standings
        if s.combination is None and s.total > 0 and s.correct == s.total
    ]
    registered = [] if before is None else [before.champion, *filter(None, [before.runner_up])]
    pool = sorted([*registered, *newcomers], key=_speed)  # stable: registered first on a tie
    if not pool:
        return None
    champion, runner_up = pool[0], (pool[1] if len(pool) > 1 else None)
    if before is not None and (champion, runner_up) == (before.champion, before.runner_up):
        return before
    label = str(run.get("id") or "?")
    changes = []
    if before is None or champion.model != before.champion.model:
        changes.append(_change("champion", champion, before.champion if before else None, label))
    old_runner = before.runner_up if before else None
    if runner_up is not None and (old_runner is None or runner_up.model != old_runner.model):
        if before is not None and runner_up.model == before.champion.model:
            changes.append(
                f"{runner_up.model} became runner-up ({_mean(runner_up.mean_ms)}"
                + (f", faster than {old_runner.model}" if old_runner else "")
                + ")"
            )
        else:
            changes.append(_change("runner-up", runner_up, old_runner, label))
    base = before or RegistryEntry(task=ranking.task, champion=champion)
    return replace(base, champion=champion, runner_up=runner_up, why="; ".join(changes) or None)


def admit_newcomers(
    path: Path,
    rankings: Sequence[TaskRanking],
    run: Mapping[str, Any],
    case_files: Mapping[str, Path] | None = None,
) -> tuple[list[str], list[str]]:
    """Take each task's newcomers into the registry at ``path`` (see :func:`succeed`).

    :return: (tasks whose entry changed, tasks whose entry stayed as it was).
    """
    with registry_lock(path):  # read, change, write: no other writer in between
        return _admit(path, rankings, run, case_files)


def _admit(
    path: Path,
    rankings: Sequence[TaskRanking],
    run: Mapping[str, Any],
    case_files: Mapping[str, Path] | None,
) -> tuple[list[str], list[str]]:
    entries = load_registry(path)
    updated: list[str] = []
    kept: list[str] = []
    for ranking in rankings:
        before = entries.get(ranking.task)
        after = succeed(before, ranking, run)
        if after is None or after == before:
            kept.append(ranking.task)
            continue
        case_file = (case_files or {}).get(ranking.task)
        if case_file is not None:
            after = replace(after, case_file=relative_case_file(path, case_file))
        entries[ranking.task] = after
        updated.append(ranking.task)
    if updated:
        write_registry(path, entries)
    return updated, kept
