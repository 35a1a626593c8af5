"""The lines of ``llmbench compare A B``: the champions, every model's standing, the
cases whose outcome changed between two runs, and per model whose accuracy changed the
exact McNemar p-value of the change (its runs of A and B paired by case and repeat, see
:func:`~pytest_llmbench.analysis.paired.accuracy_difference`).  Pure: stored runs in,
lines out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pytest_llmbench.analysis.paired import accuracy_difference, outcomes
from pytest_llmbench.analysis.ranking import ModelStanding, TaskRanking
from pytest_llmbench.execution.results import Result
from pytest_llmbench.formatting import ms
from pytest_llmbench.reporting.cells import change, table
from pytest_llmbench.reporting.facts import run_date
from pytest_llmbench.storage.history import StoredRun

__all__ = ["compare_lines"]

CHAMPION_HEADERS = ("task", "A", "A ms", "B", "B ms", "")
MODEL_HEADERS = (
    "task",
    "model",
    "A correct",
    "B correct",
    "A status",
    "B status",
    "A ms",
    "B ms",
    "change",
)
CASE_HEADERS = ("task", "case", "model", "A", "B")

CaseKey = tuple[str, str, str]
"""(task, case id, model)."""


def compare_lines(a: StoredRun, b: StoredRun) -> list[str]:
    """``llmbench compare A B``: champions, every model's standing, and changed cases."""
    before = {r.task: r for r in a.rankings}
    after = {r.task: r for r in b.rankings}
    tasks = [*before, *(t for t in after if t not in before)]
    return [
        f"A: run {a.id}  {run_date(a.run)}",
        f"B: run {b.id}  {run_date(b.run)}",
        "",
        "Champions",
        *table([_champion_row(t, before.get(t), after.get(t)) for t in tasks], CHAMPION_HEADERS),
        "",
        "Models",
        *table(_model_rows(tasks, before, after), MODEL_HEADERS),
        "",
        *_case_lines(a.results, b.results),
        *_accuracy_lines(a.results, b.results),
    ]


# --------------------------------------------------------------------------- champions


def _champion_name(ranking: TaskRanking | None) -> str:
    if ranking is None:
        return "not run"
    return ranking.champion.model if ranking.champion else "none"


def _champion_ms(ranking: TaskRanking | None) -> float | None:
    champion = ranking.champion if ranking else None
    return champion.mean_ms if champion else None


def _champion_row(task: str, a: TaskRanking | None, b: TaskRanking | None) -> list[str]:
    """The task, each run's champion with its mean latency, ``same`` or ``changed``."""
    name_a, name_b = _champion_name(a), _champion_name(b)
    return [
        task,
        name_a,
        ms(_champion_ms(a)),
        name_b,
        ms(_champion_ms(b)),
        "same" if name_a == name_b else "changed",
    ]


# --------------------------------------------------------------------------- models


def _standings(ranking: TaskRanking | None) -> dict[str, ModelStanding]:
    return {s.model: s for s in (ranking.standings if ranking else ())}


def _standing_cells(s: ModelStanding | None) -> tuple[str, str, float | None]:
    """(correct/total, status, mean latency) of a model in one run; ``not run`` without it."""
    if s is None:
        return "-", "not run", None
    return s.score, s.status, s.mean_ms


def _model_rows(
    tasks: Sequence[str], before: Mapping[str, TaskRanking], after: Mapping[str, TaskRanking]
) -> list[list[str]]:
    """Per task every model of either run: its score, status and mean latency in each."""
    rows = []
    for task in tasks:
        sa, sb = _standings(before.get(task)), _standings(after.get(task))
        for model in [*sa, *(m for m in sb if m not in sa)]:
            score_a, status_a, mean_a = _standing_cells(sa.get(model))
            score_b, status_b, mean_b = _standing_cells(sb.get(model))
            rows.append(
                [
                    task,
                    model,
                    score_a,
                    score_b,
                    status_a,
                    status_b,
                    ms(mean_a),
                    ms(mean_b),
                    change(mean_a, mean_b),
                ]
            )
    return rows


# --------------------------------------------------------------------------- cases


def _case_outcomes(results: Iterable[Result]) -> dict[CaseKey, list[Result]]:
    out: dict[CaseKey, list[Result]] = {}
    for r in results:
        out.setdefault((r.task, r.case_id, r.model), []).append(r)
    return out


def _outcome(results: Sequence[Result] | None) -> str:
    if not results:
        return "not run"
    right = sum(1 for r in results if r.correct)
    if len(results) == 1:
        r = results[0]
        return f"correct ({r.got})" if r.correct else f"{r.direction} ({r.got})"
    return f"{right}/{len(results)} correct"


def _share_right(results: Sequence[Result]) -> float:
    return sum(r.correct for r in results) / len(results)


def _changed_case_rows(a: Sequence[Result], b: Sequence[Result]) -> list[list[str]]:
    """Each (task, case, model) whose share of correct answers differs between the runs,
    among the tasks that both runs ran with that model (the others are in "Models")."""
    oa, ob = _case_outcomes(a), _case_outcomes(b)
    shared = {(r.task, r.model) for r in a} & {(r.task, r.model) for r in b}
    rows = []
    for key in [*oa, *(k for k in ob if k not in oa)]:
        if (key[0], key[2]) not in shared:
            continue
        runs_a, runs_b = oa.get(key), ob.get(key)
        if runs_a and runs_b and _share_right(runs_a) == _share_right(runs_b):
            continue
        rows.append([*key, _outcome(runs_a), _outcome(runs_b)])
    return rows


def _case_lines(a: Sequence[Result], b: Sequence[Result]) -> list[str]:
    rows = _changed_case_rows(a, b)
    if not rows:
        return ["Cases that changed: none (every case and model the runs share agree)"]
    return ["Cases that changed", *table(rows, CASE_HEADERS)]


ACCURACY_HEADERS = ("task", "model", "A", "B", "only A right", "only B right", "McNemar p")


def _accuracy_rows(a: Sequence[Result], b: Sequence[Result]) -> list[list[str]]:
    """Per (task, model) of both runs whose paired runs differ in correctness."""
    by_a: dict[tuple[str, str], list[Result]] = {}
    by_b: dict[tuple[str, str], list[Result]] = {}
    for results, into in ((a, by_a), (b, by_b)):
        for r in results:
            into.setdefault((r.task, r.model), []).append(r)
    rows = []
    for key, runs_a in by_a.items():
        if key not in by_b:
            continue
        diff = accuracy_difference("A", "B", outcomes(runs_a), outcomes(by_b[key]))
        if diff.model_only + diff.other_only == 0:
            continue
        rows.append(
            [
                *key,
                f"{diff.model_correct}/{diff.pairs}",
                f"{diff.other_correct}/{diff.pairs}",
                str(diff.model_only),
                str(diff.other_only),
                f"{diff.p_value:.2f}",
            ]
        )
    return rows


def _accuracy_lines(a: Sequence[Result], b: Sequence[Result]) -> list[str]:
    rows = _accuracy_rows(a, b)
    if not rows:
        return []
    return [
        "",
        "Accuracy changes (the same model's runs of A and B paired; exact McNemar p)",
        *table(rows, ACCURACY_HEADERS),
    ]
