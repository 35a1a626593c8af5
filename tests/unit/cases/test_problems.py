"""Unit tests for pytest_llmbench.cases.problems: how a case file's problems are named."""

from __future__ import annotations

import pytest

from pytest_llmbench.cases.problems import CaseFileError, KeyPath, Problem, key_of, path_of


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ((), ""),
        (("task",), "task"),
        (("cases", 0, "why"), "cases[0].why"),
        (("cases", 12, "expected", "json", "skills", 3), "cases[12].expected.json.skills[3]"),
        (("prompts", "v2", "file"), "prompts.v2.file"),
    ],
)
def test_keys_are_written_as_a_user_reads_them_and_read_back(path: KeyPath, key: str) -> None:
    assert key_of(path) == key
    assert path_of(key) == path


def test_one_problem_is_shown_on_the_line_under_the_file() -> None:
    error = CaseFileError("evals/bad.yaml", [Problem(6, "cases[0].id", "missing required key")])
    assert str(error) == (
        "invalid case file evals/bad.yaml\n  evals/bad.yaml:6: cases[0].id: missing required key"
    )


def test_several_problems_are_counted_sorted_by_line_and_given_once() -> None:
    later = Problem(9, "cases[1].id", "duplicate id 'A' (first at line 5)")
    earlier = Problem(2, "", "the file is empty")
    error = CaseFileError("x.yaml", [later, earlier, later])
    assert error.problems == [earlier, later]
    assert str(error) == (
        "invalid case file x.yaml (2 problems)\n"
        "  x.yaml:2: the file is empty\n"
        "  x.yaml:9: cases[1].id: duplicate id 'A' (first at line 5)"
    )
