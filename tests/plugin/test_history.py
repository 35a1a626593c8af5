"""What a run appends to the history (the store itself: tests/unit/storage/test_history.py)."""

from __future__ import annotations

import json

import pytest

from pytest_llmbench.storage import history

NO_BENCHMARK = ("-p", "no:benchmark")


ALL_FAKE = "--llm-models=fake"


def test_every_run_is_appended_by_default(suite: pytest.Pytester) -> None:
    out = suite.path / "bench.json"
    result = suite.runpytest("evals", ALL_FAKE, *NO_BENCHMARK, f"--llm-json={out}")
    path = suite.path / ".llmbench" / "history.sqlite"
    [run] = history.list_runs(path)
    shown = path.relative_to(suite.path)  # relative to where pytest was started
    result.stdout.fnmatch_lines([f"llmbench: run {run.id} recorded in {shown}"])
    stored = history.load_run(path, run.id)
    assert len(stored.results) == 10
    assert stored.run["options"]["llm_models"] == "fake"
    assert stored.run["plugin_version"]
    assert stored.run["host"]
    assert "git_commit" in stored.run
    assert stored.rankings[0].champion is not None
    assert stored.rankings[0].champion.model == "fake/right"
    assert json.loads(out.read_text())["run"]["id"] == run.id
    suite.runpytest("evals", "--llm-models=fake/right", *NO_BENCHMARK)
    assert len(history.list_runs(path)) == 2


def test_no_history_and_history_path(suite: pytest.Pytester) -> None:
    suite.runpytest("evals", "--llm-models=fake/right", *NO_BENCHMARK, "--llm-no-history")
    assert not (suite.path / ".llmbench" / "history.sqlite").exists()
    custom = suite.path / "store" / "h.sqlite"
    suite.runpytest("evals", "--llm-models=fake/right", *NO_BENCHMARK, f"--llm-history={custom}")
    assert len(history.list_runs(custom)) == 1


def test_nothing_is_written_without_cases(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass")
    pytester.runpytest().assert_outcomes(passed=1)
    assert not (pytester.path / ".llmbench").exists()
