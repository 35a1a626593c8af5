"""The header lines about the run's selection (reporting/header.py)."""

from __future__ import annotations

from pytest_llmbench.reporting.header import changed_lines, difficulty_lines


def test_cases_without_a_difficulty_are_counted_per_task_when_shown() -> None:
    assert difficulty_lines({"grading": 3, "extract": 1}, shown=True) == [
        "llmbench: 4 case(s) give no difficulty and are marked medium, the default "
        "(grading: 3, extract: 1)"
    ]
    assert difficulty_lines({"grading": 3}, shown=False) == []
    assert difficulty_lines({}, shown=True) == []


def test_changed_since_names_the_tasks_kept() -> None:
    assert changed_lines("HEAD~1", (["grading"], ["extract", "summary"])) == [
        "llmbench: changed since HEAD~1: 1 of 3 task(s): grading"
    ]
    assert changed_lines("main", ([], ["extract"])) == [
        "llmbench: changed since main: 0 of 1 task(s): none"
    ]
    assert changed_lines("main", None) == []


def test_a_marker_expression_selects_by_difficulty_when_it_names_one() -> None:
    from pytest_llmbench.reporting.header import selects_difficulty

    assert selects_difficulty("not hard")
    assert selects_difficulty("easy or medium")
    assert not selects_difficulty("should_pass")
    assert not selects_difficulty("hardware")  # a word, not the difficulty
    assert not selects_difficulty("")
