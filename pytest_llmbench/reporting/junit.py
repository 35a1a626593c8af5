"""What pytest-llmbench puts in the JUnit XML: an item's properties, and the failure
text of a task whose passed answers the generic-answer check overturned.

Pure: records in, values and lines out; the plugin hands them to pytest's junitxml.
"""

from __future__ import annotations

from pytest_llmbench.analysis.ranking import TaskRanking
from pytest_llmbench.execution.results import Result
from pytest_llmbench.safety.sanitising import shown

__all__ = ["generic_lines", "junit_properties"]


def junit_properties(result: Result) -> list[tuple[str, object]]:
    """What an item's JUnit ``<properties>`` say about its call."""
    properties: list[tuple[str, object]] = [
        ("task", result.task),
        ("case", result.case_id),
        ("model", result.model),
        ("repeat", result.repeat),
        ("expected", result.expected),
        ("got", result.got),
        ("correct", result.correct),
        ("latency_ms", "" if result.latency_ms is None else round(result.latency_ms, 1)),
    ]
    if result.cached:
        properties.append(("cached", True))
    return [(name, shown(value) if isinstance(value, str) else value) for name, value in properties]


def generic_lines(ranking: TaskRanking) -> list[str]:
    """The JUnit failure text of a task whose passed answers the generic check overturned."""
    lines = [
        f"{len(ranking.generic)} answer(s) of task {ranking.task} passed their own "
        "checks but are generic (nearly the same answer to different inputs):"
    ]
    lines += [
        f"  {g.model} {g.case_id}"
        + (f" (repeat {g.repeat})" if g.repeat > 1 else "")
        + f": {g.describe()}: {' '.join(str(g.answer).split())[:200]!r}"
        for g in ranking.generic
    ]
    return lines
