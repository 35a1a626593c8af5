"""What the end of a run writes and refuses to write (storage/outputs.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.analysis.ranking import TaskRanking, rank_task
from pytest_llmbench.execution.results import Result
from pytest_llmbench.safety.redaction import register_secret
from pytest_llmbench.storage import history
from pytest_llmbench.storage.champions import load_registry
from pytest_llmbench.storage.outputs import (
    Document,
    RunOutputs,
    Written,
    baseline_problem,
    display_path,
    load_baseline,
    output_problem,
    outputs_problem,
    write_outputs,
)

RUN_ID = "20260101-000000-abcd"
RUN: dict[str, Any] = {"id": RUN_ID, "started_at": "2026-01-01T00:00:00+00:00", "models": ["p/m"]}


def _results() -> list[Result]:
    return [Result("t", c, "p/m", 1, "PASS", "PASS", True, latency_ms=10.0) for c in "AB"]


def _rankings() -> list[TaskRanking]:
    return [rank_task("t", _results())]


def _write(asked: RunOutputs, **kwargs: object) -> Written:
    return write_outputs(asked, RUN, _results(), _rankings(), **kwargs)  # type: ignore[arg-type]


def test_reports_history_and_registry_are_written_and_said(tmp_path: Path) -> None:
    asked = RunOutputs(
        documents=[Document(tmp_path / "out" / "r.md", "Markdown report", lambda: "# ranking")],
        history=tmp_path / "h.sqlite",
        registry=tmp_path / "champions.yaml",
        start=tmp_path,
    )
    written = _write(asked)

    assert (tmp_path / "out" / "r.md").read_text() == "# ranking"
    assert history.list_runs(tmp_path / "h.sqlite")[-1].id == RUN_ID
    assert load_registry(tmp_path / "champions.yaml")["t"].models[0] == "p/m"
    assert written.messages == [
        "llmbench: Markdown report written to out/r.md",
        f"llmbench: run {RUN_ID} recorded in h.sqlite",
        f"llmbench: registry {tmp_path / 'champions.yaml'} updated: t",
    ]
    assert written.failed == 0
    assert written.problems == []


def test_a_partial_run_keeps_the_registry(tmp_path: Path) -> None:
    registry = tmp_path / "champions.yaml"
    asked = RunOutputs(registry=registry, history=tmp_path / "h.sqlite", start=tmp_path)
    written = _write(asked, partial="stopped early (-x); incomplete: p/m")

    assert not registry.exists()
    assert written.messages[-1] == (
        "llmbench: registry champions.yaml not updated: the run is partial (stopped early "
        "(-x); incomplete: p/m); it keeps its champions; finish the run with --llm-resume"
    )
    assert (tmp_path / "h.sqlite").exists()  # the history records a partial run all the same


def test_a_run_answered_from_the_cache_keeps_the_registry(tmp_path: Path) -> None:
    registry = tmp_path / "champions.yaml"
    written = _write(RunOutputs(registry=registry, start=tmp_path), cache_only=True)

    assert not registry.exists()
    assert written.messages == [
        "llmbench: registry champions.yaml not updated: every answer came from the response "
        "cache (nothing was timed); it keeps its champions"
    ]


def test_an_interrupted_run_writes_its_reports_and_nothing_else(tmp_path: Path) -> None:
    journal = tmp_path / "runs" / "x.jsonl"
    asked = RunOutputs(
        documents=[Document(tmp_path / "r.md", "Markdown report", lambda: "# partial")],
        history=tmp_path / "h.sqlite",
        registry=tmp_path / "champions.yaml",
        journal=journal,
        start=tmp_path,
    )
    written = _write(asked, interrupted=True)

    assert (tmp_path / "r.md").exists()
    assert not (tmp_path / "h.sqlite").exists()
    assert not (tmp_path / "champions.yaml").exists()
    assert written.messages[-1] == (
        f"llmbench: run {RUN_ID} interrupted; its finished items are in {journal}; "
        "finish it with --llm-resume"
    )
    no_journal = _write(RunOutputs(start=tmp_path), interrupted=True)
    assert no_journal.messages[-1].endswith("no journal was written, so it cannot be resumed")


def test_a_file_that_cannot_be_written_is_a_line_and_a_failure(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    asked = RunOutputs(
        documents=[Document(tmp_path / "file" / "r.md", "Markdown report", lambda: "#")],
        start=tmp_path,
    )
    written = _write(asked)
    assert written.failed == 1
    assert written.messages[0].startswith("llmbench: file/r.md not written: ")


def test_a_history_that_cannot_be_written_is_a_problem_not_a_failure(tmp_path: Path) -> None:
    bad = tmp_path / "h.sqlite"
    bad.write_text("not a database")
    written = _write(RunOutputs(history=bad, start=tmp_path))
    assert written.failed == 0
    assert len(written.problems) == 1
    assert written.problems[0].startswith(f"history {bad} not written: ")


def test_a_report_is_written_without_the_secrets_it_may_hold(tmp_path: Path) -> None:
    register_secret("s3cr3t-token-value")
    text = "host http://user:s3cr3t-token-value@gpu1:11434 answered"
    _write(RunOutputs(documents=[Document(tmp_path / "r.md", "Markdown report", lambda: text)]))
    assert "s3cr3t-token-value" not in (tmp_path / "r.md").read_text()


def test_output_problems_are_found_before_the_run(tmp_path: Path) -> None:
    case_file = tmp_path / "t.yaml"
    case_file.write_text("task: t\nprompt: hi\ncases: []\n")
    assert output_problem(tmp_path) == "is a directory; name a file"
    assert output_problem(case_file) is not None
    assert "case file" in (output_problem(case_file) or "")
    assert output_problem(tmp_path / "new" / "out.json") is None


def test_paths_are_shown_relative_to_where_the_run_started(tmp_path: Path) -> None:
    assert display_path(tmp_path / "a" / "b.md", tmp_path) == "a/b.md"
    assert display_path(Path("/elsewhere/b.md"), tmp_path) == "/elsewhere/b.md"


def test_a_baseline_from_the_history_or_why_none(tmp_path: Path) -> None:
    source = tmp_path / "h.sqlite"
    assert load_baseline("last", None, source, ["t"], None) == (
        None,
        [f"no history at {source}: no baseline, nothing compared"],
    )
    history.record_run(source, RUN, _results(), _rankings())
    baseline, notes = load_baseline("last", None, source, ["t"], "another-run")
    assert notes == []
    assert baseline is not None
    assert baseline.label == f"run {RUN_ID}"
    assert [r.task for r in baseline.rankings] == ["t"]
    none, why = load_baseline("last", None, source, ["t"], RUN_ID)
    assert none is None
    assert why == ["no earlier run in the history ranked t: no baseline, nothing compared"]


@pytest.mark.parametrize("spec", ["nope"])
def test_an_unknown_run_is_no_baseline(tmp_path: Path, spec: str) -> None:
    source = tmp_path / "h.sqlite"
    history.record_run(source, RUN, _results(), _rankings())
    baseline, notes = load_baseline(spec, None, source, ["t"], None)
    assert baseline is None
    assert notes[0].startswith("no baseline: ")


def test_the_first_output_that_cannot_be_written_is_named_by_its_option(tmp_path: Path) -> None:
    outputs = {"--llm-json": tmp_path / "ok.json", "--llm-report": tmp_path, "--llm-html": None}
    assert outputs_problem(outputs, tmp_path) == "--llm-report .: is a directory; name a file"
    assert outputs_problem({"--llm-json": tmp_path / "ok.json"}, tmp_path) is None


def test_a_baseline_that_names_nothing_is_refused_before_the_run(tmp_path: Path) -> None:
    source = tmp_path / "h.sqlite"
    assert baseline_problem("last", None, source) is None  # no history yet: nothing compared
    assert baseline_problem("20990101", None, source) == (
        f"--llm-baseline 20990101: not a file, nor a run in the history ({source}); "
        "use a --llm-json file, a run id or 'last'"
    )
    not_json = tmp_path / "old.json"
    not_json.write_text("[1, 2]")
    problem = baseline_problem("old.json", not_json, source)
    assert problem is not None
    assert problem.startswith("--llm-baseline ")
    history.record_run(source, RUN, _results(), _rankings())
    assert baseline_problem(RUN_ID, None, source) is None
