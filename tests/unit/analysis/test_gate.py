"""The gate's verdict (analysis/gate.py): reasons to fail, and what it checked."""

from __future__ import annotations

from pytest_llmbench.analysis.alerts import Limits
from pytest_llmbench.analysis.gate import Baseline, gate
from pytest_llmbench.analysis.ranking import TaskRanking, rank_task
from pytest_llmbench.execution.results import Result


def _ranking(task: str, ms: float, correct: bool = True) -> TaskRanking:
    results = [
        Result(task, case_id, "p/m", 1, "PASS", "PASS", correct, latency_ms=ms) for case_id in "AB"
    ]
    return rank_task(task, results)


def test_no_check_asked_passes_and_checked_nothing() -> None:
    verdict = gate([_ranking("t", 10.0)])
    assert not verdict.failed
    assert verdict.reasons == ()
    assert verdict.lines == ()
    assert verdict.checks() == []


def test_a_champion_slower_than_the_baseline_allows_fails() -> None:
    baseline = Baseline("run 1", [_ranking("t", 100.0)])
    verdict = gate([_ranking("t", 200.0)], baseline=baseline, max_slowdown=0.2)
    assert verdict.failed
    assert len(verdict.reasons) == 1
    assert "t" in verdict.reasons[0]
    assert verdict.lines == ("compared with run 1: t",)
    assert verdict.compared


def test_within_the_slowdown_passes_with_no_regression() -> None:
    baseline = Baseline("run 1", [_ranking("t", 100.0)])
    verdict = gate([_ranking("t", 110.0)], baseline=baseline, max_slowdown=0.2)
    assert not verdict.failed
    assert verdict.checks() == ["no regression"]


def test_a_baseline_without_the_task_compares_nothing() -> None:
    verdict = gate([_ranking("t", 10.0)], baseline=Baseline("old.json", [_ranking("other", 1.0)]))
    assert verdict.lines == ("compared with old.json: no task in common",)
    assert not verdict.compared
    assert verdict.checks() == []


def test_notes_about_the_baseline_come_first() -> None:
    verdict = gate([_ranking("t", 10.0)], notes=["no history at h.sqlite: no baseline"])
    assert verdict.lines == ("no history at h.sqlite: no baseline",)


def test_fail_on_champion_fails_a_task_without_one() -> None:
    verdict = gate(
        [_ranking("ok", 10.0), _ranking("bad", 10.0, correct=False)], fail_on_champion=True
    )
    assert verdict.failed
    assert len(verdict.reasons) == 1
    assert "bad" in verdict.reasons[0]
    passing = gate([_ranking("ok", 10.0)], fail_on_champion=True)
    assert passing.checks() == ["every task has a champion"]


def test_alert_limits_per_task_name_the_breach() -> None:
    limits = {"t": Limits(max_p95_ms=50.0)}
    verdict = gate(
        [_ranking("t", 80.0), _ranking("free", 80.0)],
        limits=lambda task: limits.get(task, Limits()),
    )
    assert verdict.alerted
    assert verdict.lines == ("alerts for t: p95 <= 50 ms",)
    assert len(verdict.reasons) == 1
    assert "champion" in verdict.reasons[0]
    assert verdict.failed


def test_reasons_come_in_order_baseline_champion_alerts() -> None:
    baseline = Baseline("run 1", [_ranking("t", 10.0)])
    verdict = gate(
        [_ranking("t", 100.0, correct=False)],
        baseline=baseline,
        fail_on_champion=True,
        limits=lambda task: Limits(max_error_rate=0.5),
    )
    assert len(verdict.reasons) >= 2
    assert verdict.lines[0] == "compared with run 1: t"
    assert verdict.lines[-1].startswith("alerts for t:")
