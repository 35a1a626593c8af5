"""analysis/elimination.py: which runs stop, the case order, incomplete becoming disqualified."""

from __future__ import annotations

from pathlib import Path

from pytest_llmbench.analysis.elimination import (
    Eliminator,
    FailureRates,
    case_order_key,
    mark_eliminated,
)
from pytest_llmbench.analysis.ranking import rank_task
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.execution.results import Result
from tests.support import factories


def _result(model: str, case_id: str, correct: bool, repeat: int = 1) -> Result:
    return factories.result(
        model, case_id, task="t", repeat=repeat, correct=correct, latency_ms=10.0
    )


def test_eliminator_keeps_the_first_wrong_run_and_the_runs_made() -> None:
    out = Eliminator()
    for result in [_result("m", "A", True), _result("m", "B", False), _result("m", "C", False)]:
        out.record(result)
    assert out.eliminated("t", "m")
    assert out.reason("t", "m", 6) == "eliminated after B, 2 of 6 runs made"
    assert out.reason("t", "other", 6) is None
    assert out.for_task("t") == {"m": "B"}


def test_mark_eliminated_turns_incomplete_into_disqualified() -> None:
    results = [_result("good", c, True) for c in "ABC"] + [_result("bad", "A", False)]
    ranking = rank_task("t", results, expected=[("A", 1), ("B", 1), ("C", 1)])
    bad = next(s for s in ranking.standings if s.model == "bad")
    assert bad.incomplete is not None
    marked = mark_eliminated(ranking, {"bad": "A"})
    bad = next(s for s in marked.standings if s.model == "bad")
    assert bad.incomplete is None
    assert bad.eliminated is not None
    assert bad.eliminated.describe() == ("eliminated after A, 1 of 3 runs made")
    assert bad.miss_summary().startswith("eliminated after A, 1 of 3 runs made; wrong on A")
    assert marked.champion is not None
    assert marked.champion.model == "good"


CASES = [
    # (id, verdict, difficulty, posting)
    ("CASE_01", "PASS", "easy", "GOOD easy one"),
    ("CASE_02", "FAIL", "easy", "BAD easy one"),
    ("CASE_03", "PASS", "hard", "GOOD hard one"),
    ("CASE_04", "FAIL", "hard", "BAD hard one"),
    ("CASE_05", "PASS", "medium", "GOOD medium one"),
    ("CASE_06", "FAIL", "medium", "BAD medium one"),
]


TASK = "\n".join(
    [
        "task: grading",
        'prompt: "Posting: {posting}\\nAnswer PASS or FAIL."',
        "output: {kind: verdict, labels: [PASS, FAIL]}",
        "repeat: 2",
        "cases:",
    ]
    + [
        f"  - {{id: {cid}, expected: {{verdict: {v}}}, difficulty: {d}, "
        f"vars: {{posting: {p}}}, why: test}}"
        for cid, v, d, p in CASES
    ]
)


FIRST_ROUND = ["CASE_04", "CASE_06", "CASE_02", "CASE_03", "CASE_05", "CASE_01"]
"""No history: gold FAIL first, then hard before medium before easy."""


def test_case_order_history_then_gold_fail_then_hard(tmp_path: Path) -> None:
    path = tmp_path / "grading.yaml"
    path.write_text(TASK + "\n")
    task = load_task(path, "grading.yaml")
    rates = FailureRates({("grading", "CASE_05"): 0.5}, {("grading", "CASE_01", "p/m"): 1.0})

    def order(model: str) -> list[str]:
        keyed = sorted(
            (case_order_key(task, case, i, model, rates), case.id)
            for i, case in enumerate(task.cases)
        )
        return [case_id for _, case_id in keyed]

    assert order("p/m") == ["CASE_01", "CASE_05", "CASE_04", "CASE_06", "CASE_02", "CASE_03"]
    assert order("p/other") == ["CASE_05", *[c for c in FIRST_ROUND if c != "CASE_05"]]
    no_history = FailureRates.empty()
    assert [
        c.id for c in sorted(task.cases, key=lambda c: case_order_key(task, c, 0, "x", no_history))
    ] == FIRST_ROUND
