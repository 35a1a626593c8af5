"""analysis/regression.py: a run compared with a baseline, the reasons the gate fails."""

from __future__ import annotations

from pytest_llmbench.analysis import regression as gate
from pytest_llmbench.analysis.ranking import TaskRanking, rank_strict
from pytest_llmbench.execution.results import Result
from tests.support import factories


def res(model: str, case: str, correct: bool, latency: float) -> Result:
    return factories.verdict(model, case, "PASS", correct=correct, latency_ms=latency)


def rank(*rows: tuple[str, bool, float]) -> list[TaskRanking]:
    return [
        rank_strict(
            "grading",
            [
                res(m, c, ok or c == "PASS_1", ms)
                for m, ok, ms in rows
                for c in ("PASS_1", "FAIL_1")
            ],
        )
    ]


BASELINE = rank(("p/a", True, 100.0), ("p/b", True, 200.0))


def test_compare_passes_an_unchanged_run() -> None:
    report = gate.compare(BASELINE, rank(("p/a", True, 110.0), ("p/b", True, 200.0)), 0.2)
    assert report.reasons == ()
    assert report.compared == ("grading",)


def test_compare_names_a_lost_champion_and_lost_correctness() -> None:
    report = gate.compare(BASELINE, rank(("p/a", False, 100.0), ("p/b", False, 200.0)), 0.2)
    assert report.reasons == (
        "grading: lost its champion (was p/a; no model qualified; nearest miss p/a, 1/2)",
        "grading: champion p/a lost correctness: 1/2 (too lenient on FAIL_1)",
    )


def test_compare_a_new_champion_after_the_old_one_failed() -> None:
    report = gate.compare(BASELINE, rank(("p/a", False, 100.0), ("p/b", True, 110.0)), 0.2)
    assert report.reasons == (
        "grading: champion p/a lost correctness: 1/2 (too lenient on FAIL_1)",
    )


def test_compare_latency_growth_beyond_the_limit() -> None:
    slower = rank(("p/a", True, 130.0), ("p/b", True, 200.0))
    assert gate.compare(BASELINE, slower, 0.2).reasons == (
        "grading: champion latency grew 30% (100 ms -> 130 ms, p/a; limit 20%)",
    )
    assert gate.compare(BASELINE, slower, 0.5).reasons == ()
    replaced = rank(("p/b", True, 200.0))
    assert gate.compare(BASELINE, replaced, 0.2).reasons == (
        "grading: champion latency grew 100% (100 ms -> 200 ms, p/a -> p/b; limit 20%)",
    )


def test_compare_ignores_tasks_the_baseline_does_not_have() -> None:
    other = [TaskRanking("other", ())]
    report = gate.compare(BASELINE, other, 0.2)
    assert (report.reasons, report.compared, report.not_compared) == ((), (), ("other",))


def test_without_champion_reasons() -> None:
    assert gate.without_champion(BASELINE) == []
    assert gate.without_champion(rank(("p/a", False, 1.0))) == [
        "grading: no model qualified (nearest miss p/a, 1/2)"
    ]
