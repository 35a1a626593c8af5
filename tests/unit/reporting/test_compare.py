"""``reporting/compare.py``: what ``llmbench compare A B`` says when the runs differ in
tasks, models and repeats.  Plain unit tests: stored runs in, lines out."""

from __future__ import annotations

from pytest_llmbench.analysis.ranking import rank_strict
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.compare import compare_lines
from pytest_llmbench.storage.history import StoredRun


def text(task: str, case: str, model: str, answer: str, ms: float, repeat: int = 1) -> Result:
    """A text-task result, right when the answer is ``ok``."""
    return Result(task, case, model, repeat, "ok", answer, answer == "ok", latency_ms=ms)


def stored(run_id: str, results: list[Result]) -> StoredRun:
    tasks = sorted({r.task for r in results})
    rankings = tuple(rank_strict(t, [r for r in results if r.task == t]) for t in tasks)
    run = {"id": run_id, "started_at": "2025-01-01T12:00:00+00:00"}
    return StoredRun(run, tuple(results), rankings)


def section(lines: list[str], title: str) -> list[list[str]]:
    """The rows of one table (after its title, header and rule), split into cells."""
    start = lines.index(title) + 3
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return [line.split() for line in lines[start:end]]


A = stored(
    "run-a",
    [
        text("extract", "E1", "p/a", "ok", 100.0),
        text("extract", "E1", "p/b", "ok", 300.0),
        text("summary", "S1", "p/a", "ok", 50.0),
    ],
)
B = stored(
    "run-b",
    [
        text("extract", "E1", "p/a", "ok", 100.0),
        text("extract", "E1", "p/a", "no", 120.0, repeat=2),
        text("extract", "E1", "p/c", "ok", 200.0),
        text("extract", "E1", "p/c", "ok", 200.0, repeat=2),
        text("grading", "G1", "p/a", "ok", 80.0),
    ],
)


def test_a_task_that_one_run_did_not_run_is_named_so() -> None:
    assert section(compare_lines(A, B), "Champions") == [
        ["extract", "p/a", "100", "p/c", "200", "changed"],
        ["summary", "p/a", "50", "not", "run", "-", "changed"],
        ["grading", "not", "run", "-", "p/a", "80", "changed"],
    ]


def test_every_model_of_either_run_with_its_standing_in_each() -> None:
    rows = section(compare_lines(A, B), "Models")
    assert ["extract", "p/a", "1/1", "1/2", "champion", "disqualified", "100", "110", "+10%"] in (
        rows
    )
    assert ["extract", "p/b", "1/1", "-", "runner-up", "not", "run", "300", "-"] in rows
    assert ["extract", "p/c", "-", "2/2", "not", "run", "champion", "-", "200"] in rows


def test_only_cases_both_runs_ran_with_the_model_and_that_changed() -> None:
    lines = compare_lines(A, B)
    assert section(lines, "Cases that changed") == [
        ["extract", "E1", "p/a", "correct", "(ok)", "1/2", "correct"]
    ]


def test_runs_that_agree_have_no_changed_case() -> None:
    lines = compare_lines(A, A)
    assert lines[-1] == "Cases that changed: none (every case and model the runs share agree)"
    assert all(row[-1] == "same" for row in section(lines, "Champions"))
