"""Why a model's next run of a task is skipped (analysis/elimination.py ``skip_reason``)."""

from __future__ import annotations

from pytest_llmbench.analysis.elimination import Eliminator, skip_reason
from pytest_llmbench.analysis.ledger import ResultsLedger
from pytest_llmbench.execution.results import Result


def _run(policy: str | None) -> tuple[Eliminator, ResultsLedger]:
    ledger = ResultsLedger()
    for case_id in ("A", "B", "C"):
        ledger.expect("t", case_id, 1, "p/m")
        ledger.expect("t", case_id, 1, "p/other")
    eliminator = Eliminator()
    eliminator.record(Result("t", "A", "p/m", 1, "PASS", "FAIL", False))
    eliminator.record(Result("t", "A", "p/other", 1, "PASS", "PASS", True))
    return eliminator, ledger


def test_a_model_wrong_on_a_strict_task_is_skipped_with_its_first_wrong_case() -> None:
    eliminator, ledger = _run(None)
    reason = skip_reason(eliminator, ledger, "t", "p/m", None)
    assert reason is not None
    assert "A" in reason
    assert "1 of 3 runs made" in reason


def test_a_model_not_wrong_or_a_task_not_strict_is_not_skipped() -> None:
    eliminator, ledger = _run(None)
    assert skip_reason(eliminator, ledger, "t", "p/other", None) is None
    assert skip_reason(eliminator, ledger, "t", "p/m", "balanced") is None
