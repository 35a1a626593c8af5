"""The end-of-run pipeline (analysis/run.py): rank, consensus, loads, notes, elimination,
judges and evidence, with the rank function passed in; no pytest."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from pytest_llmbench.analysis.elimination import Eliminator
from pytest_llmbench.analysis.ledger import ResultsLedger
from pytest_llmbench.analysis.ranking import TaskRanking, rank_task
from pytest_llmbench.analysis.run import evidence, finish_run
from pytest_llmbench.execution.call import Call
from pytest_llmbench.execution.judging import Judging
from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.base import ModelInfo, Response


def _result(
    task: str, case_id: str, model: str, correct: bool = True, ms: float = 10.0, **extra: Any
) -> Result:
    return dataclasses.replace(
        Result(
            task, case_id, model, 1, "PASS", "PASS" if correct else "FAIL", correct, latency_ms=ms
        ),
        **extra,
    )


def _ledger(*results: Result, cases: Sequence[str] = ("A", "B")) -> ResultsLedger:
    ledger = ResultsLedger()
    for r in results:
        for case_id in cases:
            ledger.expect(r.task, case_id, 1, r.model)
        ledger.add_result(r)
    return ledger


def _rank(task: str, results: Sequence[Result], expected: Sequence[tuple[str, int]]) -> TaskRanking:
    return rank_task(task, results, expected=expected)


def test_every_task_is_ranked_by_the_rank_function_in_the_order_of_its_first_result() -> None:
    calls: list[str] = []

    def rank(
        task: str, results: Sequence[Result], expected: Sequence[tuple[str, int]]
    ) -> TaskRanking:
        calls.append(task)
        return _rank(task, results, expected)

    ledger = _ledger(
        _result("grading", "A", "p/fast", ms=5.0),
        _result("grading", "B", "p/fast", ms=5.0),
        _result("grading", "A", "p/slow", ms=50.0),
        _result("grading", "B", "p/slow", ms=50.0),
        _result("extract", "A", "p/fast"),
        _result("extract", "B", "p/fast", correct=False),
    )
    outcome = finish_run(ledger, rank)

    assert calls == ["grading", "extract"]
    assert [r.task for r in outcome.rankings] == ["grading", "extract"]
    grading, extract = outcome.rankings
    assert grading.champion is not None
    assert grading.champion.model == "p/fast"
    assert grading.runner_up is not None
    assert grading.runner_up.model == "p/slow"
    assert extract.champion is None
    assert outcome.results == ledger.results  # nothing judged: the results as they were
    assert outcome.partial is None
    assert not outcome.cache_only
    assert not outcome.failed


def test_every_task_shows_the_load_of_the_whole_run() -> None:
    ledger = _ledger(
        _result("one", "A", "p/m", cold_start_ms=800.0),
        _result("one", "B", "p/m"),
        _result("two", "A", "p/m"),
        _result("two", "B", "p/m"),
    )
    outcome = finish_run(ledger, _rank)
    assert [r.standings[0].load_ms for r in outcome.rankings] == [800.0, 800.0]


def test_an_eliminated_model_is_disqualified_by_its_case_not_incomplete() -> None:
    wrong = _result("t", "A", "p/bad", correct=False)
    ledger = _ledger(_result("t", "A", "p/good"), _result("t", "B", "p/good"), wrong)
    eliminator = Eliminator()
    for r in ledger.results:
        eliminator.record(r)

    without = finish_run(ledger, _rank).rankings[0]
    with_it = finish_run(ledger, _rank, eliminator=eliminator).rankings[0]

    bad = next(s for s in without.standings if s.model == "p/bad")
    assert bad.incomplete is not None
    assert bad.eliminated is None
    bad = next(s for s in with_it.standings if s.model == "p/bad")
    assert bad.incomplete is None
    assert bad.eliminated is not None
    assert bad.eliminated.describe() == "eliminated after A, 1 of 2 runs made"


def test_a_run_stopped_early_with_runs_not_made_is_partial() -> None:
    ledger = _ledger(_result("t", "A", "p/m"))  # B never ran
    assert finish_run(ledger, _rank, stopped="stopped early (-x)").partial == (
        "stopped early (-x); incomplete: p/m"
    )
    assert finish_run(ledger, _rank).partial is None
    done = _ledger(_result("t", "A", "p/m"), _result("t", "B", "p/m"))
    assert finish_run(done, _rank, stopped="stopped early (-x)").partial is None
    assert finish_run(done, _rank, stopped="interrupted").partial == "interrupted"


def test_evidence_from_the_cache_alone_is_cache_only() -> None:
    cached = [_result("t", c, "p/m", cached=True) for c in "AB"]
    assert evidence([], cached, None) == (None, True)
    assert evidence([], [*cached, _result("t", "C", "p/m")], None) == (None, False)
    assert evidence([], [], None) == (None, False)


def _consensus_ledger() -> ResultsLedger:
    ledger = ResultsLedger()
    settings = {"models": 2, "agree": 0.75, "kind": "verdict", "labels": ["PASS", "FAIL"]}
    ledger.merge_worker_output({"task_ranking": {"t": {"policy": "strict", "consensus": settings}}})
    for model in ("p/a", "p/b"):
        for case_id in "AB":
            ledger.expect("t", case_id, 1, model)
            ledger.add_result(_result("t", case_id, model, got="PASS"))
    return ledger


def test_a_task_with_consensus_is_ranked_again_with_its_combinations() -> None:
    asked: list[str] = []
    ranked: list[int] = []

    def rank(
        task: str, results: Sequence[Result], expected: Sequence[tuple[str, int]]
    ) -> TaskRanking:
        ranked.append(len(results))
        return _rank(task, results, expected)

    def registered(task: str) -> list[str]:
        asked.append(task)
        return []

    outcome = finish_run(_consensus_ledger(), rank, registered=registered)

    assert asked == ["t"]
    assert ranked == [4, 6]  # the singles, then with the combination's two rows
    combined = [s for s in outcome.rankings[0].standings if s.combination is not None]
    assert [s.model for s in combined] == ["consensus(p/a+p/b)"]


def test_registered_models_are_not_read_for_a_task_without_consensus() -> None:
    asked: list[str] = []

    def registered(task: str) -> list[str]:
        asked.append(task)
        return []

    ledger = _ledger(_result("t", "A", "p/m"), _result("t", "B", "p/m"))
    finish_run(ledger, _rank, registered=registered)
    assert asked == []


class _Judge:
    """A judge that scores every answer 0.2: every judged run fails."""

    def find(self, model_id: str) -> ModelInfo | None:
        return ModelInfo("fake", "judge") if model_id == "fake/judge" else None

    def registered(self) -> dict[str, list[str]]:
        return {}

    def load(self, model: ModelInfo) -> str | None:
        return None

    def ask(self, model: ModelInfo, prompt: str) -> Call:
        return Call(Response(text=json.dumps({"score": 0.2, "reason": "vague"})), 30.0)

    def release(self, model: ModelInfo) -> None:
        pass


def test_the_judges_verdicts_are_applied_before_ranking_and_fail_the_run() -> None:
    ledger = _ledger(_result("t", "A", "p/m"), _result("t", "B", "p/m"))
    judging = Judging()
    job = {"task": "t", "model": "p/m", "repeat": 1, "judge": "fake/judge", "prompt": "?"}
    judging.merge_worker_output({"jobs": [{**job, "case_id": "A", "threshold": 0.7}]})

    outcome = finish_run(ledger, _rank, judging=judging, judges=_Judge())

    assert outcome.judged_wrong == 1
    assert outcome.failed
    assert outcome.results[0].judge_score == 0.2
    assert ledger.results[0].judge_score is None  # the ledger is the caller's to update
    ranking = outcome.rankings[0]
    assert ranking.champion is None  # the judged run is wrong now
    assert ranking.judge is not None
