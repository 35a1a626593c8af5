"""Elimination under the strict policy: stop spending runs on a model that cannot win.

Pure module.  Under the strict policy one wrong run disqualifies a model for a task,
so once it has one, the rest of its runs of that task can be skipped
(``--llm-eliminate``).  Two things make that pay:

- the order of a model's runs of a task: round by round (every case once, then the
  second run of every case, ...), and within a round the cases most likely to
  eliminate first (:func:`case_order_key`): the model's own failure rate on the case in
  the history, then the case's failure rate over all models, then gold FAIL cases
  before PASS ones (a model is more often too lenient than too strict), then hard
  before medium before easy, then the file's order;
- :class:`Eliminator`, which remembers each (task, candidate)'s first wrong run as the
  results come in, and gives the skip reason of the runs left.

At the end, :func:`mark_eliminated` turns the standing of an eliminated model (which
looks incomplete: it did not make every run) into a disqualified one naming the case
that did it.  A model eliminated by its last run made every run: it stays as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from pytest_llmbench.analysis.ledger import ResultsLedger
from pytest_llmbench.analysis.ranking import Elimination, TaskRanking
from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.execution.results import Result

__all__ = [
    "DIFFICULTY_ORDER",
    "Eliminator",
    "FailureRates",
    "QueuedRun",
    "case_order_key",
    "elimination_order",
    "mark_eliminated",
    "skip_reason",
]

DIFFICULTY_ORDER = {"hard": 0, "medium": 1, "easy": 2}
"""Hard cases run first: they are the likelier to be got wrong."""


@dataclass(frozen=True)
class FailureRates:
    """Wrong runs / runs in the history, per (task, case) and per (task, case, model id)."""

    by_case: Mapping[tuple[str, str], float]
    by_model: Mapping[tuple[str, str, str], float]

    @classmethod
    def empty(cls) -> FailureRates:
        return cls({}, {})


def case_order_key(
    task: Task, case: Case, index: int, model: str, rates: FailureRates
) -> tuple[float, float, int, int, int]:
    """Sort key of a case within one round of ``model``'s runs: likeliest to eliminate first.

    ``index``: the case's position in the file (the last tie-breaker); ``model``: the
    model id as the history records it (``provider/name``).
    """
    own = rates.by_model.get((task.name, case.id, model), 0.0)
    overall = rates.by_case.get((task.name, case.id), 0.0)
    expected = case.expected.verdict
    gold_fail = task.output.kind == "verdict" and expected is not None
    gold_fail = gold_fail and expected != task.pass_label
    return (-own, -overall, 0 if gold_fail else 1, DIFFICULTY_ORDER.get(case.difficulty, 1), index)


@dataclass(frozen=True)
class QueuedRun:
    """A case run in the run order: its model id, task, case and repeat."""

    model: str
    task: Task
    case: Case
    repeat: int


def elimination_order(runs: Sequence[QueuedRun | None], rates: FailureRates) -> list[int]:
    """The positions of ``runs`` in elimination order.

    Each (model, task, prompt version) group's runs round by round, each round's cases
    likeliest to eliminate first; every run of a case the history has the model wrong
    on comes before the first round.  The groups stay where their first run was; a
    ``None`` (not a case run) keeps its place.
    """
    first: dict[tuple[str, str, str], int] = {}
    indexes: dict[str, dict[str, int]] = {}
    keys: list[tuple[int, int, tuple[float, ...], int]] = []
    for position, run in enumerate(runs):
        if run is None:
            keys.append((position, 0, (), 0))
            continue
        task, case = run.task, run.case
        group = first.setdefault((run.model, task.name, case.prompt_version), position)
        index = indexes.get(task.name)
        if index is None:
            index = indexes[task.name] = {c.id: i for i, c in enumerate(task.cases)}
        case_key = case_order_key(task, case, index.get(case.id, 0), run.model, rates)
        # A case the history has this model wrong on: all its runs first (a miss on a
        # second run only is found at once, not after a whole round of the others).
        known_miss = rates.by_model.get((task.name, case.id, run.model), 0.0) > 0.0
        keys.append((group, 0 if known_miss else run.repeat, case_key, run.repeat))
    return sorted(range(len(runs)), key=keys.__getitem__)


class Eliminator:
    """The first wrong run of each (task, candidate), as results arrive.

    ``record`` takes every result of the process (each result once); a candidate is
    ``provider/name`` or, with prompt versions, ``provider/name@v2``.
    """

    def __init__(self) -> None:
        self.first_wrong: dict[tuple[str, str], str] = {}
        """(task, candidate) -> the case id of its first wrong run."""
        self.made: dict[tuple[str, str], int] = {}
        """(task, candidate) -> runs made so far (until it was eliminated)."""
        self.rates = FailureRates.empty()
        """The history's failure rates the run order came from."""

    def order(self, runs: Sequence[QueuedRun | None], rates: FailureRates) -> list[int]:
        """:func:`elimination_order` of ``runs``; ``rates`` then decide
        :meth:`may_eliminate`."""
        self.rates = rates
        return elimination_order(runs, rates)

    def record(self, result: Result) -> None:
        key = (result.task, result.candidate)
        if key in self.first_wrong:
            return
        self.made[key] = self.made.get(key, 0) + 1
        if not result.correct:
            self.first_wrong[key] = result.case_id

    def may_eliminate(self, task: str, case_id: str, model: str) -> bool:
        """Whether the history has ``model`` wrong on the case at least once."""
        return self.rates.by_model.get((task, case_id, model), 0.0) > 0.0

    def eliminated(self, task: str, candidate: str) -> bool:
        return (task, candidate) in self.first_wrong

    def reason(self, task: str, candidate: str, runs: int) -> str | None:
        """Why the candidate's remaining runs of ``task`` are skipped, or ``None``.

        ``runs``: the runs the task expects of it (``3 of 10 runs made``).
        """
        key = (task, candidate)
        case_id = self.first_wrong.get(key)
        if case_id is None:
            return None
        return Elimination(case_id, self.made.get(key, 0), runs).describe()

    def for_task(self, task: str) -> dict[str, str]:
        """Candidate -> the case of its first wrong run, for one task."""
        return {c: case_id for (t, c), case_id in self.first_wrong.items() if t == task}


def mark_eliminated(ranking: TaskRanking, first_wrong: Mapping[str, str]) -> TaskRanking:
    """The ranking with each eliminated model disqualified by its first wrong case.

    ``first_wrong``: candidate -> case id (:meth:`Eliminator.for_task`).  Only a
    model that did not make every run changes: its ``incomplete`` becomes
    ``eliminated`` (the runs it skipped could not have qualified it).
    """
    if ranking.policy != "strict" or not first_wrong:
        return ranking
    standings = []
    changed = False
    for s in ranking.standings:
        case_id = first_wrong.get(s.model)
        if case_id is not None and s.incomplete is not None and not s.qualified:
            made = s.incomplete.expected - len(s.incomplete.missing)
            elimination = Elimination(case_id, made, s.incomplete.expected)
            s = replace(s, incomplete=None, eliminated=elimination)
            changed = True
        standings.append(s)
    return replace(ranking, standings=tuple(standings)) if changed else ranking


def skip_reason(
    eliminator: Eliminator,
    ledger: ResultsLedger,
    task: str,
    candidate: str,
    rank_policy: str | None,
) -> str | None:
    """Why the candidate's next run of ``task`` is skipped (it had a wrong run and the
    task ranks ``strict``), or ``None``."""
    if not eliminator.eliminated(task, candidate):
        return None
    if ledger.rank_settings(task, rank_policy).policy != "strict":
        return None
    runs = sum(1 for models in ledger.expected.get(task, {}).values() if candidate in models)
    return eliminator.reason(task, candidate, runs)
