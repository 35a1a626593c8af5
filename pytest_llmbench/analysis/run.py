"""The end of a run, outside pytest: judged results in, rankings and their verdict out.

:func:`finish_run` is the engine's last stage, the same whoever drives it (the pytest
plugin at the end of the session, a command that runs cases).  In order:

1. the judges score every queued answer, after every candidate (each judge loaded
   once, never in a candidate's time), through the models ``judges`` gives access to;
2. each task is ranked by ``rank`` (the plugin passes its ``pytest_llmbench_rank``
   hook), with its consensus combinations when its case file declares ``consensus:``;
3. every task's standings get the model loads of the whole run (a model is loaded
   once per process, before its first case of whichever task);
4. the notes (cache use, structured-output fallbacks) and the judging summary;
5. ``--llm-eliminate``: an eliminated model is disqualified by its case, not incomplete;
6. the load phase, for a task with ``load:`` (or under ``--llm-load``): its qualified
   models answer its cases again at concurrency, and the champion is the one with the
   best goodput (:mod:`pytest_llmbench.analysis.load`; ``load`` runs the requests);
7. the evidence: is the run partial (stopped early with runs not made, interrupted),
   did every answer come from the cache, how many runs failed the generic-answer
   check or the judge.

Nothing here reads a file or imports pytest: what the run's settings and stores say
comes in as plain values and callables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pytest_llmbench.analysis.consensus_ranking import RankTask, rank_with_consensus
from pytest_llmbench.analysis.elimination import Eliminator, mark_eliminated
from pytest_llmbench.analysis.ledger import ResultsLedger
from pytest_llmbench.analysis.notes import annotate
from pytest_llmbench.analysis.racing import Racer, mark_raced
from pytest_llmbench.analysis.ranking import TaskRanking, model_loads, with_loads
from pytest_llmbench.execution.results import Result, failed_runs

if TYPE_CHECKING:  # a run without a judge or a load phase imports neither
    from pytest_llmbench.analysis.calibration import Agreement, JudgeSummary
    from pytest_llmbench.execution.judging import JudgeModels, Judging
    from pytest_llmbench.execution.load import LoadPhase

__all__ = ["RunOutcome", "agreements", "at_load", "evidence", "finish_run", "wants_load"]


@dataclass(frozen=True)
class RunOutcome:
    """What the end of a run found."""

    results: list[Result]
    """Every result, with the judges' scores folded in."""
    rankings: list[TaskRanking]
    partial: str | None = None
    """Why the evidence is incomplete (stopped early, interrupted), else ``None``."""
    cache_only: bool = False
    """Every answer came from the response cache: nothing was timed."""
    judged_wrong: int = 0
    """Runs the judge failed or could not judge (the items themselves had passed)."""
    warnings: list[str] = field(default_factory=list)
    """One per judge that agrees with the gold on less than 90% of its cases."""

    @property
    def generic_failures(self) -> int:
        """How many runs the ranking failed for a generic answer (all tasks)."""
        return sum(len(r.generic) for r in self.rankings)

    @property
    def failed(self) -> bool:
        """Some run that passed its own checks fails at the end (generic answer, judge)."""
        return bool(self.generic_failures or self.judged_wrong)


def finish_run(
    ledger: ResultsLedger,
    rank: RankTask,
    *,
    judging: Judging | None = None,
    judges: JudgeModels | None = None,
    registered: Callable[[str], Sequence[str]] = lambda task: (),
    consensus_pairs: int = 1,
    eliminator: Eliminator | None = None,
    racer: Racer | None = None,
    stopped: str | None = None,
    load: LoadPhase | None = None,
) -> RunOutcome:
    """Judge, rank, and weigh the evidence of one run (see the module's docstring).

    ``registered``: a task's registered models (champion first), read only for a task
    that declares consensus; ``eliminator``: given under ``--llm-eliminate``; ``racer``:
    the models racing stopped timing (``--llm-race``);
    ``stopped``: why the run stopped before its last item, if it did; ``load``: runs
    the load phase (``None``: no load phase).  A run in which no item ran
    (``--collect-only``, a collection error) ranks nothing: every model would show as
    "disqualified, incomplete".
    """
    results = list(ledger.results)
    if not results:
        return RunOutcome(results=[], rankings=[])
    if judging is not None and judges is not None:
        results = judging.run(judges, results)
    loads = model_loads(results)
    found = agreements(judging) if judging is not None else {}
    rankings = []
    for task in ledger.task_names():
        own = [r for r in results if r.task == task]
        consensus = ledger.task_ranking.get(task, {}).get("consensus")
        ranking = rank_with_consensus(
            rank,
            task,
            own,
            ledger.expected_runs(task),
            consensus,
            registered=registered(task) if consensus else (),
            pairs=consensus_pairs,
        )
        ranking = annotate(with_loads(ranking, loads), own)
        summary = _judge_summary(judging, found, task, own)
        if summary is not None:
            ranking = replace(ranking, judge=summary)
        if eliminator is not None:  # disqualified by a case, not incomplete
            ranking = mark_eliminated(ranking, eliminator.for_task(task))
        if racer is not None:  # qualified on the runs made, below the others
            ranking = mark_raced(ranking, racer.for_task(task))
        if load is not None and stopped is None:
            ranking = at_load(load, ledger, ranking)
        rankings.append(ranking)
    partial, cache_only = evidence(rankings, results, stopped)
    return RunOutcome(
        results=results,
        rankings=rankings,
        partial=partial,
        cache_only=cache_only,
        judged_wrong=failed_runs(results),
        warnings=[w for a in found.values() if (w := a.warning())],
    )


def at_load(load: LoadPhase, ledger: ResultsLedger, ranking: TaskRanking) -> TaskRanking:
    """The task's ranking after its load phase (unchanged when it has none)."""
    from pytest_llmbench.analysis.load import load_settings, rank_at_load, task_load
    from pytest_llmbench.execution.load import LoadRun

    task = ranking.task
    declared = ledger.task_ranking.get(task, {}).get("load")
    settings = load_settings(declared, load.concurrency, ledger.case_counts.get(task, 0))
    if settings is None or not ranking.qualified:
        return ranking
    record = load.task(task, ledger.task_facts.get(task, {}).get("case_file"))
    if record is None:
        note = "no load phase: the task's case file could not be read again"
        return replace(ranking, notes=(*ranking.notes, note))
    runs = [
        load.run(record, s.model, s.prompt_version, settings.concurrency, settings.requests)
        if s.combination is None
        else LoadRun(s.model, skipped="a consensus combination is not run under load")
        for s in ranking.qualified
    ]
    return rank_at_load(ranking, task_load(runs, settings))


def wants_load(ledger: ResultsLedger, concurrency: int | None) -> bool:
    """Whether a load phase may run: ``--llm-load`` given or a task declares ``load:``
    (see :func:`~pytest_llmbench.analysis.load.load_settings`)."""
    return concurrency is not None or any(r.get("load") for r in ledger.task_ranking.values())


def agreements(judging: Judging) -> dict[tuple[str, str], Agreement]:
    """(judge id, calibration task) -> the judge's agreement with the gold."""
    from pytest_llmbench.analysis.calibration import agreement

    return {
        (judge, task): agreement(judge, task, verdicts)
        for (judge, task), verdicts in judging.verdicts.items()
    }


def _judge_summary(
    judging: Judging | None,
    found: Mapping[tuple[str, str], Agreement],
    task: str,
    results: Sequence[Result],
) -> JudgeSummary | None:
    if judging is None and all(r.judge_model is None for r in results):
        return None  # nothing judged: calibration stays unimported
    from pytest_llmbench.analysis.calibration import judge_summary

    judge = judging.resolved.get(task) if judging is not None else None
    calibrate = judging.calibrate_with.get(task) if judging is not None else None
    measured = found.get((judge, calibrate)) if judge and calibrate else None
    return judge_summary(results, (measured,) if measured is not None else ())


def evidence(
    rankings: Sequence[TaskRanking], results: Sequence[Result], stopped: str | None
) -> tuple[str | None, bool]:
    """Is the evidence complete enough to replace a champion: (why partial, cache only).

    The run is partial when it was interrupted, or stopped early with runs not made.
    """
    not_run = sorted({s.model for r in rankings for s in r.standings if s.incomplete is not None})
    partial = None
    if stopped == "interrupted" or (stopped and not_run):
        detail = f"; incomplete: {', '.join(not_run)}" if not_run else ""
        partial = f"{stopped}{detail}"
    return partial, bool(results) and all(r.cached for r in results)
