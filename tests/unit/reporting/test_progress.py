"""reporting/progress.py: a line when the running model changes, with its items left."""

from __future__ import annotations

from pytest_llmbench.execution.judging import judging_line
from pytest_llmbench.reporting.progress import ModelProgress


def test_a_line_when_the_model_changes_with_its_items_left() -> None:
    progress = ModelProgress(["a", "a", "a", "b", "b", "a"])
    shown = [progress.line(model) for model in ["a", "a", "a", "b", "b", "a"]]
    assert shown == [
        "llmbench: a: 4 items to run (model 1 of 2)",
        None,
        None,
        "llmbench: b: 2 items to run (model 2 of 2)",
        None,
        "llmbench: a: 1 item to run (model 1 of 2)",
    ]


def test_an_unknown_model_says_nothing() -> None:
    assert ModelProgress([]).line("a") is None


def test_the_judging_line() -> None:
    assert judging_line(4, 0, "jp/judge") == "llmbench: judging 4 answers with jp/judge ..."
    assert judging_line(1, 3, "j/x") == (
        "llmbench: judging 1 answer and 3 calibration cases with j/x ..."
    )


def test_a_model_not_counted_gets_no_line_however_often_it_runs() -> None:
    # an xdist worker counts nothing (the controller's terminal says it): no line, no error
    progress = ModelProgress([])
    assert [progress.line("a"), progress.line("a"), progress.line("b")] == [None, None, None]
