"""Unit tests for pytest_llmbench.analysis.repeats (repeats); numbers worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmbench.analysis.repeats import CaseRuns, repeat_stats
from pytest_llmbench.execution.results import Result
from tests.support import factories


def run(case: str, repeat: int, correct: bool, got: str, **kw: Any) -> Result:
    return factories.result("p/a", case, repeat=repeat, got=got, correct=correct, **kw)


# A: right 3 of 3, always "PASS"             -> pass rate 1,   consistent
# B: right, wrong, right ("FAIL","PASS","FAIL") -> pass rate 2/3, 2 answers, flaky
# C: wrong 3 of 3, always "PASS"             -> pass rate 0,   consistent
THREE_REPEATS = [
    run("A", 1, True, "PASS"),
    run("A", 2, True, "PASS"),
    run("A", 3, True, "PASS"),
    run("B", 1, True, "FAIL"),
    run("B", 2, False, "PASS"),
    run("B", 3, True, "FAIL"),
    run("C", 1, False, "PASS"),
    run("C", 2, False, "PASS"),
    run("C", 3, False, "PASS"),
]


def test_case_runs() -> None:
    stats = repeat_stats(THREE_REPEATS)
    assert stats.cases == (
        CaseRuns("A", runs=3, passes=3, answers=1),
        CaseRuns("B", runs=3, passes=2, answers=2),
        CaseRuns("C", runs=3, passes=0, answers=1),
    )
    assert [c.pass_rate for c in stats.cases] == pytest.approx([1.0, 2 / 3, 0.0])
    assert [c.case_id for c in stats.flaky] == ["B"]


def test_pass_at_1_pass_hat_k_and_consistency() -> None:
    stats = repeat_stats(THREE_REPEATS)
    assert stats.k == 3
    assert stats.pass_at_1 == pytest.approx((1 + 2 / 3 + 0) / 3)  # 0.5556
    # pass^3 per case: C(3,3)/C(3,3) = 1, C(2,3)/C(3,3) = 0, C(0,3)/C(3,3) = 0
    assert stats.pass_hat_k == pytest.approx(1 / 3)
    # A and C gave the same answer every time (C was always wrong, but consistent)
    assert stats.consistency == pytest.approx(2 / 3)


def test_pass_hat_for_smaller_k() -> None:
    case = CaseRuns("B", runs=3, passes=2, answers=2)
    assert case.pass_hat(1) == pytest.approx(2 / 3)  # C(2,1)/C(3,1)
    assert case.pass_hat(2) == pytest.approx(1 / 3)  # C(2,2)/C(3,2) = 1/3
    assert case.pass_hat(3) == 0.0
    with pytest.raises(ValueError, match="between 1 and 3"):
        case.pass_hat(4)


def test_single_run_per_case() -> None:
    stats = repeat_stats([run("A", 1, True, "PASS"), run("B", 1, False, "PASS")])
    assert stats.k == 1
    assert stats.pass_at_1 == 0.5
    assert stats.pass_hat_k == 0.5  # with k = 1, pass^1 is pass@1
    assert stats.consistency is None  # no case ran twice
    assert stats.flaky == ()


def test_cases_with_different_run_counts_use_the_smallest() -> None:
    # A: 2 of 2 right; B: 2 of 3 right. k = 2: pass^2 = (C(2,2)/C(2,2) + C(2,2)/C(3,2)) / 2
    results = [
        run("A", 1, True, "x"),
        run("A", 2, True, "x"),
        run("B", 1, True, "y"),
        run("B", 2, True, "y"),
        run("B", 3, False, "z"),
    ]
    stats = repeat_stats(results)
    assert stats.k == 2
    assert stats.pass_hat_k == pytest.approx((1 + 1 / 3) / 2)
    assert stats.consistency == 0.5  # A consistent, B not


def test_an_error_is_an_answer_of_its_own() -> None:
    results = [run("A", 1, False, "", error="timeout"), run("A", 2, False, "")]
    assert repeat_stats(results).consistency == 0.0
    both = [run("A", 1, False, "", error="timeout"), run("A", 2, False, "", error="HTTP 500")]
    assert repeat_stats(both).consistency == 1.0


def test_all_wrong_model() -> None:
    results = [run(c, i, False, "PASS") for c in "AB" for i in (1, 2)]
    stats = repeat_stats(results)
    assert (stats.pass_at_1, stats.pass_hat_k, stats.consistency) == (0.0, 0.0, 1.0)
    assert stats.flaky == ()


def test_no_results() -> None:
    stats = repeat_stats([])
    assert (stats.k, stats.cases, stats.pass_at_1, stats.pass_hat_k, stats.consistency) == (
        0,
        (),
        None,
        None,
        None,
    )
