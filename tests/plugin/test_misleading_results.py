"""Results that mislead (issue 22): a run that ran nothing ranks nothing and records nothing."""

from __future__ import annotations

import pytest

NO_BENCHMARK = ("-p", "no:benchmark")


def test_collect_only_prints_no_ranking_and_writes_nothing(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", "--llm-models=fake", *NO_BENCHMARK, "--collect-only")
    assert "llmbench ranking" not in result.stdout.str()
    assert "disqualified" not in result.stdout.str()
    assert not (suite.path / ".llmbench" / "history.sqlite").exists()


def test_collection_error_prints_no_ranking_and_writes_nothing(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_broken="import no_such_module_here\n")
    result = suite.runpytest(".", "--llm-models=fake", *NO_BENCHMARK)
    result.stdout.fnmatch_lines(["*1 error*"])
    assert "llmbench ranking" not in result.stdout.str()
    assert "disqualified" not in result.stdout.str()
    assert not (suite.path / ".llmbench" / "history.sqlite").exists()
