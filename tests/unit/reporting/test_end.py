"""The end-of-run lines (reporting/end.py): what the terminal says, with its markup."""

from __future__ import annotations

from dataclasses import replace

from pytest_llmbench.analysis.gate import GateVerdict
from pytest_llmbench.analysis.ranking import rank_task
from pytest_llmbench.analysis.run import RunOutcome
from pytest_llmbench.execution.quality import Part
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.end import failure_lines, gate_lines, ranking_lines


def _outcome(**kwargs: object) -> RunOutcome:
    results = [Result("t", c, "p/m", 1, "PASS", "PASS", True, latency_ms=10.0) for c in "AB"]
    return RunOutcome(results, [rank_task("t", results)], **kwargs)  # type: ignore[arg-type]


def test_ranking_lines_end_with_the_xdist_lines() -> None:
    lines = ranking_lines(_outcome(), {"t": 2}, verbose=False, xdist=["llmbench: xdist: 2 workers"])
    assert lines[-1] == ("llmbench: xdist: 2 workers", {})
    assert any("p/m" in text for text, _ in lines)
    assert len(ranking_lines(_outcome(), {"t": 2}, verbose=True, xdist=[])) > len(lines) - 1


def test_a_green_run_says_why_it_fails_in_red() -> None:
    assert failure_lines(_outcome()) == []
    assert failure_lines(_outcome(judged_wrong=2, partial="interrupted")) == [
        (
            "llmbench: the judge failed 2 run(s) or could not judge them, so the run fails",
            {"red": True},
        ),
        ("llmbench: partial run: interrupted", {"yellow": True}),
    ]


def test_each_judge_failure_is_a_line_naming_the_judge_and_why() -> None:
    judged = Result("t", "A", "p/bad", 1, "PASS", "x", False, judge_model="j/judge")
    low = replace(judged, parts=(Part("judge", 0.2, 0.7, "judge 0.2 < 0.7"),))
    low = replace(low, judge_score=0.2, judge_reason="Does not name the company.")
    broken = replace(judged, case_id="B", error="judge j/broken failed: not valid JSON")
    lines = failure_lines(RunOutcome([low, broken], [], judged_wrong=2))
    assert lines == [
        ("llmbench: the judge failed 2 run(s) or could not judge them, so the run fails:", RED),
        ("  t A p/bad: j/judge scored 0.2 < 0.7: Does not name the company.", RED),
        ("  t B p/bad: judge j/broken failed: not valid JSON", RED),
    ]


RED = {"red": True}


def test_the_gate_lists_its_reasons_or_what_passed() -> None:
    failed = GateVerdict(reasons=("t: no champion",), lines=("alerts for t: p95 <= 5 ms",))
    assert gate_lines(failed) == [
        ("alerts for t: p95 <= 5 ms", {}),
        ("FAILED: 1 reason(s)", {"red": True, "bold": True}),
        ("  t: no champion", {"red": True}),
    ]
    passed = GateVerdict(compared=True, fail_on_champion=True)
    assert gate_lines(passed) == [
        ("passed: no regression, every task has a champion", {"green": True})
    ]
    assert gate_lines(GateVerdict()) == []
