"""Qualification before score under the weighted policy (issue 24, point 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.analysis.ranking import BEST_UNQUALIFIED, TaskRanking, rank_task
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.problems import CaseFileError
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.terminal import task_lines
from pytest_llmbench.storage.champions import load_registry, update_registry

RUN = {"id": "run-1", "started_at": "2026-01-01T00:00:00Z"}


def res(model: str, case: str, correct: bool, ms: float) -> Result:
    return Result("t", case, model, 0, "PASS", "PASS" if correct else "FAIL", correct, "", ms)


# p/quick: 1 of 2 right in 100 ms; p/exact: 2 of 2 right in 400 ms.
# Scores (quality 0.7, speed 0.3): p/quick 0.7 * 0.5 + 0.3 * 1 = 0.65;
# p/exact 0.7 * 1 + 0.3 * 100 / 400 = 0.775: p/exact leads on score and on the bar.
# With quality 0.3, speed 0.7: p/quick 0.15 + 0.7 = 0.85 beats p/exact 0.3 + 0.175 = 0.475.
RESULTS = [
    res("p/quick", "A", True, 100.0),
    res("p/quick", "B", False, 100.0),
    res("p/exact", "A", True, 400.0),
    res("p/exact", "B", True, 400.0),
]


def weighted(results: list[Result], min_correct: float = 1.0) -> TaskRanking:
    return rank_task("t", results, policy="weighted", weights=(0.3, 0.7), min_correct=min_correct)


def test_a_model_below_the_bar_is_never_champion_even_with_the_best_score() -> None:
    ranking = weighted(RESULTS)
    assert ranking.champion is not None
    assert ranking.champion.model == "p/exact"
    assert ranking.champion.weighted_score == pytest.approx(0.475)
    best = ranking.best_unqualified
    assert best is not None
    assert (best.model, best.qualified, best.status) == ("p/quick", False, BEST_UNQUALIFIED)
    assert best.weighted_score == pytest.approx(0.85)
    assert (
        "Best score, not qualified: p/quick (score 0.850, 1/2 correct; the bar: every run "
        "right); not champion, not in the registry"
    ) in task_lines(ranking, width=200)


def test_the_task_bar_lets_a_model_with_80_percent_right_qualify() -> None:
    ranking = weighted(RESULTS, min_correct=0.5)
    assert ranking.champion is not None
    assert ranking.champion.model == "p/quick"
    assert ranking.best_unqualified is None
    assert ranking.min_correct == 0.5


def test_no_champion_below_the_bar_and_the_registry_holds_none(tmp_path: Path) -> None:
    only_wrong = [r for r in RESULTS if r.model == "p/quick"]
    ranking = weighted(only_wrong)
    assert ranking.champion is None
    lines = task_lines(ranking)
    assert "Champion:  none, no model qualified (every run right)" in lines
    assert any(line.startswith("Best score, not qualified: p/quick") for line in lines)
    path = tmp_path / "llmbench-registry.yaml"
    assert update_registry(path, [ranking], RUN) == ([], ["t"])
    assert load_registry(path) == {}


def test_a_best_score_below_the_champion_is_just_disqualified() -> None:
    ranking = rank_task("t", RESULTS, policy="weighted", weights=(0.7, 0.3))
    assert ranking.best_unqualified is None
    assert [s.status for s in ranking.standings] == ["champion", "disqualified"]


CASE_FILE = """\
task: t
prompt: "Grade {x}"
output: {kind: verdict}
ranking: {policy: weighted, min_correct: BAR}
cases:
  - {id: A, vars: {x: a}, expected: {verdict: PASS}}
"""


def test_the_case_file_declares_the_bar(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(CASE_FILE.replace("BAR", "0.8"), encoding="utf-8")
    assert load_task(path, root=tmp_path).min_correct == 0.8
    path.write_text(CASE_FILE.replace("BAR", "1.5"), encoding="utf-8")
    with pytest.raises(CaseFileError, match="min_correct"):
        load_task(path, root=tmp_path)


def test_the_shipped_job_summary_task_keeps_the_default_bar() -> None:
    shipped = Path(__file__).resolve().parents[3] / "evals" / "job_summary.yaml"
    task = load_task(shipped, root=shipped.parent.parent)
    assert (task.policy, task.min_correct) == ("weighted", 1.0)
