"""What the plugin puts in the JUnit XML (reporting/junit.py)."""

from __future__ import annotations

import dataclasses

from pytest_llmbench.analysis.generic import GenericAnswer
from pytest_llmbench.analysis.ranking import TaskRanking, rank_task
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.junit import generic_lines, junit_properties


def test_an_items_properties_say_what_it_asked_and_got() -> None:
    result = Result("t", "A", "p/m", 2, "PASS", "FAIL", False, latency_ms=12.345)
    assert junit_properties(result) == [
        ("task", "t"),
        ("case", "A"),
        ("model", "p/m"),
        ("repeat", 2),
        ("expected", "PASS"),
        ("got", "FAIL"),
        ("correct", False),
        ("latency_ms", 12.3),
    ]


def test_a_cached_answer_says_so_and_has_no_latency() -> None:
    result = Result("t", "A", "p/m", 1, "PASS", "PASS", True, cached=True)
    properties = dict(junit_properties(result))
    assert properties["latency_ms"] == ""
    assert properties["cached"] is True


def test_the_generic_failure_names_each_overturned_answer() -> None:
    ranking: TaskRanking = rank_task("t", [Result("t", "A", "p/m", 1, "PASS", "PASS", True)])
    generic = GenericAnswer(
        "p/m", "A", 2, similar_to="B", similarity=0.97, answer="Looks  good\nto"
    )
    lines = generic_lines(dataclasses.replace(ranking, generic=(generic,)))
    assert lines[0] == (
        "1 answer(s) of task t passed their own checks but are generic (nearly the same "
        "answer to different inputs):"
    )
    assert lines[1:] == [
        "  p/m A (repeat 2): generic answer: 0.97 similar to its answer to B: 'Looks good to'"
    ]
