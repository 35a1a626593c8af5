"""Racing: stop timing a model once it clearly cannot be champion or runner-up.

Pure module.  Under the strict policy with ``--llm-eliminate`` (``--llm-race``, on with
it), models run one after the other, each making all its runs of a task before the next
starts.  The **references** of a task are the models that have made every run the task
expects of them and got every one right; among them the **champion** and the
**runner-up** are the two with the lowest mean warm latency (the strict policy's order).
Neither can lose that standing later: their runs are all made and right, so whoever
ends above them must be faster.

A model still running (no wrong run so far) is **raced out** when, after at least
:data:`MIN_RACE_PAIRS` (6) paired warm calls with each of the two, the paired latency
ratio's 95% interval (:func:`~pytest_llmbench.analysis.paired.paired_lead`: geometric
mean of the per-call ratios, seeded case bootstrap, 2,000 resamples, seed 24) lies
wholly above 1 against both, and each lead is at least ``--llm-min-lead``: it is slower
than both beyond the noise, so it cannot end first or second.  From then on its
**repeats** are skipped; each case it has not run yet still runs **once**, for
correctness: a wrong answer there eliminates it as usual.  A raced-out model right on
every run it made stays in the table with its figures, below the other qualified
models, marked ``raced out`` with the evidence (:class:`~.ranking.RaceOut`); it is
never champion or runner-up while the two it was raced against are qualified.

The bootstrap costs a few milliseconds, so it is not run after every call: a cheap
deterministic screen comes first (the t interval of the mean log ratio over the paired
cases, as wide as the bootstrap's expanded interval), and only a model that passes it
against both is checked with the bootstrap; one that passes the screen but not the
bootstrap is checked again :data:`RETRY_PAIRS` paired calls later.

Racing needs every result of the task in one process (the references are models other
than the one running): it is serial-only and off under xdist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol

from pytest_llmbench.analysis.ledger import ResultsLedger
from pytest_llmbench.analysis.paired import MIN_UNITS, Lead, paired_lead
from pytest_llmbench.analysis.ranking import (
    RACED_OUT,
    ModelStanding,
    RaceOut,
    TaskRanking,
    rank_ms,
)
from pytest_llmbench.analysis.stats import t_critical
from pytest_llmbench.execution.results import Result

__all__ = [
    "MIN_RACE_PAIRS",
    "RACE_LATENCIES",
    "RETRY_PAIRS",
    "RaceSettings",
    "Racer",
    "mark_raced",
    "race_runs",
]

MIN_RACE_PAIRS = MIN_UNITS
"""Fewest paired warm calls with the champion and with the runner-up before a model can
be raced out (6: the fewest paired cases whose interval can separate two models)."""
RETRY_PAIRS = 3
"""A model that passed the screen but not the bootstrap is checked again this many
paired calls later (the bootstrap is not run after every call)."""
RACE_LATENCIES = ("mean", "p50")
"""The ranking latencies racing applies to: the paired ratio compares typical calls,
which says nothing of a 95th percentile or of the time to first token."""

Key = tuple[str, str]


class RaceSettings(Protocol):
    """What :meth:`Racer.of` reads of the run's options."""

    @property
    def race(self) -> bool: ...
    @property
    def rank_policy(self) -> str | None: ...
    @property
    def rank_latency(self) -> str | None: ...
    @property
    def min_lead(self) -> float: ...


Run = tuple[str, int]


def _warm(result: Result) -> bool:
    return (
        result.error is None
        and not result.cached
        and not result.cold
        and bool(result.latency_ms)
        and (result.latency_ms or 0.0) > 0.0
    )


def _screen(reference: Mapping[Run, float], mine: Mapping[Run, float]) -> bool:
    """Whether ``mine`` looks slower than ``reference`` beyond the noise: the t interval
    (expanded like the bootstrap's) of the mean per-case log ratio lies above 0."""
    by_case: dict[str, list[float]] = {}
    for run, ms in mine.items():
        theirs = reference.get(run)
        if theirs:
            by_case.setdefault(run[0], []).append(math.log(ms / theirs))
    units = [sum(v) / len(v) for v in by_case.values()]
    if len(by_case) == 1:
        units = next(iter(by_case.values()))
    n = len(units)
    if n < MIN_UNITS:
        return False
    centre = sum(units) / n
    sd = math.sqrt(sum((u - centre) ** 2 for u in units) / (n - 1))
    return centre - t_critical(n - 1) * math.sqrt(n / (n - 1)) * sd / math.sqrt(n) > 0.0


class Racer:
    """Which models racing stopped timing, as results arrive (see the module).

    ``record`` takes every result of the process once, with the runs its task expects of
    its candidate (0: racing does not apply to the task, e.g. the weighted policy).
    """

    def __init__(
        self,
        enabled: bool = True,
        *,
        rank_policy: str | None = None,
        rank_latency: str | None = None,
        min_lead: float = 0.0,
        min_pairs: int = MIN_RACE_PAIRS,
    ) -> None:
        self.enabled = enabled
        self.rank_policy = rank_policy
        """``--llm-rank`` and ``--llm-rank-latency`` (``None``: each task's own)."""
        self.rank_latency = rank_latency
        self.min_lead = min_lead
        """``--llm-min-lead`` as a fraction: a smaller lead does not race a model out."""
        self.min_pairs = min_pairs
        self.warm: dict[Key, dict[Run, float]] = {}
        """(task, candidate) -> (case id, repeat) -> warm latency (ms)."""
        self.cases: dict[Key, set[str]] = {}
        """(task, candidate) -> the cases it has run (at least once)."""
        self.made: dict[Key, int] = {}
        self.wrong: set[Key] = set()
        self.references: dict[str, dict[str, float]] = {}
        """task -> candidate -> mean warm latency, of the models with every run made right."""
        self.raced: dict[Key, RaceOut] = {}
        self._next_try: dict[Key, int] = {}
        self._runs: dict[Key, int] = {}

    @classmethod
    def of(cls, options: RaceSettings, *, serial: bool) -> Racer:
        """The racer of a run's options (off unless ``options.race`` and ``serial``)."""
        return cls(
            options.race and serial,
            rank_policy=options.rank_policy,
            rank_latency=options.rank_latency,
            min_lead=options.min_lead,
        )

    def take(self, result: Result, ledger: ResultsLedger) -> RaceOut | None:
        """:meth:`record` with the runs the ledger expects of the result's candidate
        (:func:`race_runs`, counted once per task and candidate)."""
        if not self.enabled:
            return None
        key = (result.task, result.candidate)
        runs = self._runs.get(key)
        if runs is None:
            runs = race_runs(ledger, *key, self.rank_policy, self.rank_latency)
            self._runs[key] = runs
        return self.record(result, runs)

    def record(self, result: Result, runs: int) -> RaceOut | None:
        """Take one result; the race-out it decided, if it decided one."""
        if not self.enabled:
            return None
        key = (result.task, result.candidate)
        made = self.made[key] = self.made.get(key, 0) + 1
        self.cases.setdefault(key, set()).add(result.case_id)
        if not result.correct:
            self.wrong.add(key)
        if _warm(result):
            assert result.latency_ms is not None
            self.warm.setdefault(key, {})[(result.case_id, result.repeat)] = result.latency_ms
        if key in self.wrong or key in self.raced or runs <= 0:
            return None
        warm = self.warm.get(key, {})
        if made >= runs:
            if warm:
                self.references.setdefault(result.task, {})[result.candidate] = sum(
                    warm.values()
                ) / len(warm)
            return None
        return self._race(key, warm, made)

    def top_two(self, task: str) -> list[str]:
        """The champion and the runner-up of the task's references (fewer: not yet)."""
        refs = self.references.get(task, {})
        return sorted(refs, key=lambda c: (refs[c], c))[:2]

    def _race(self, key: Key, mine: Mapping[Run, float], made: int) -> RaceOut | None:
        task, candidate = key
        top = self.top_two(task)
        if len(top) < 2 or len(mine) < self._next_try.get(key, self.min_pairs):
            return None
        theirs = [self.warm.get((task, ref), {}) for ref in top]
        if not all(_screen(reference, mine) for reference in theirs):
            return None
        leads: tuple[Lead, ...] = tuple(
            paired_lead(ref, candidate, reference, mine, min_lead=self.min_lead)
            for ref, reference in zip(top, theirs, strict=True)
        )
        if all(lead.faster == lead.model and lead.pairs >= self.min_pairs for lead in leads):
            race = self.raced[key] = RaceOut(leads, made)
            return race
        self._next_try[key] = len(mine) + RETRY_PAIRS
        return None

    def skip_reason(self, task: str, candidate: str, case_id: str) -> str | None:
        """Why a run of ``case_id`` is skipped (its model was raced out and has run the
        case already), or ``None``."""
        race = self.raced.get((task, candidate))
        if race is None or case_id not in self.cases.get((task, candidate), ()):
            return None
        if (task, candidate) in self.wrong:
            return None  # eliminated: elimination says why
        first, second = (lead.model for lead in race.leads)
        return (
            f"raced out after {race.after} runs: slower than {first} and {second} beyond "
            "the noise; its repeats are skipped, each case runs once"
        )

    def for_task(self, task: str) -> dict[str, RaceOut]:
        """Candidate -> its race-out, for one task (eliminated ones left out)."""
        return {
            c: race for (t, c), race in self.raced.items() if t == task and (t, c) not in self.wrong
        }


def race_runs(
    ledger: ResultsLedger,
    task: str,
    candidate: str,
    rank_policy: str | None,
    rank_latency: str | None = None,
) -> int:
    """The runs ``task`` expects of ``candidate`` when racing applies to the task (the
    strict policy, ranked by the mean or the median latency), else 0."""
    settings = ledger.rank_settings(task, rank_policy, rank_latency)
    if settings.policy != "strict" or settings.latency not in RACE_LATENCIES:
        return 0
    return sum(1 for models in ledger.expected.get(task, {}).values() if candidate in models)


def mark_raced(ranking: TaskRanking, raced: Mapping[str, RaceOut]) -> TaskRanking:
    """The ranking with each raced-out model right on every run it made qualified,
    marked ``raced out`` and placed below the other qualified models.

    A model raced out against two models that are no longer both qualified (a judge or
    the generic-answer check overturned one of their runs at the end) is ranked by its
    figures like any qualified model, with its evidence kept.
    """
    if ranking.policy != "strict" or not raced:
        return ranking
    plain = {s.model for s in ranking.qualified}
    ahead: list[ModelStanding] = []
    below: list[ModelStanding] = []
    others: list[ModelStanding] = []
    for s in ranking.standings:
        race = raced.get(s.model)
        right = race is not None and s.correct == s.total - len(
            s.incomplete.missing if s.incomplete else ()
        )
        if race is None or not right or s.eliminated is not None:
            (ahead if s.qualified else others).append(s)
            continue
        made = s.total - (len(s.incomplete.missing) if s.incomplete else 0)
        marked = replace(
            s,
            qualified=True,
            total=made,
            mean_score=s.mean_score * s.total / made if made else 0.0,
            incomplete=None,
            raced=replace(race, made=made, runs=s.total),
        )
        holds = all(lead.model in plain for lead in race.leads)
        (below if holds else ahead).append(marked)
    if any(s.raced is not None for s in ahead):  # else ahead keeps the ranking's order
        ahead.sort(key=lambda s: (rank_ms(s, ranking.latency) or math.inf, s.model))
    below.sort(key=lambda s: (rank_ms(s, ranking.latency) or math.inf, s.model))
    labelled = []
    for index, s in enumerate(ahead):
        status = ("champion", "runner-up")[index] if index < 2 else "qualified"
        labelled.append(replace(s, status=status))
    labelled += [replace(s, status=RACED_OUT) for s in below]
    return replace(ranking, standings=(*labelled, *others))
