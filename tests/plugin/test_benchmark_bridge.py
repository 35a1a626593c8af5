"""pytest-benchmark stays, quietly: every call recorded, no table of case items.

The case items' calls are in ``--benchmark-json`` and ``--benchmark-autosave``; its
terminal table leaves them out unless ``--llm-benchmark-table``; a project's own
benchmarks keep their table, and the ranking comes after it (the last thing on screen).
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pytest_benchmark")

MODELS = "--llm-models=fake/right,fake/slowright"
NAMES = sorted(
    f"{case}[{model}]"
    for case in ("GRADE_PASS_001", "GRADE_FAIL_001")
    for model in ("fake/right", "fake/slowright")
)

OWN_BENCHMARK = """
def test_own(benchmark):
    benchmark(sum, range(10))
"""


def _table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Name (time in")]


def test_every_call_recorded_and_no_table(suite: pytest.Pytester) -> None:
    out = suite.path / "bm.json"
    result = suite.runpytest("evals", MODELS, f"--benchmark-json={out}", "--benchmark-autosave")
    result.assert_outcomes(passed=4)
    benchmarks = json.loads(out.read_text())["benchmarks"]
    assert sorted(b["name"] for b in benchmarks) == NAMES
    assert all(b["stats"]["rounds"] == 1 for b in benchmarks)
    assert {b["extra_info"]["model"] for b in benchmarks} == {"fake/right", "fake/slowright"}
    slow = [b for b in benchmarks if b["extra_info"]["model"] == "fake/slowright"]
    assert all(b["stats"]["mean"] >= 0.04 for b in slow)  # its 50 ms latency, in seconds
    saved = list((suite.path / ".benchmarks").rglob("*.json"))
    assert len(saved) == 1
    assert sorted(b["name"] for b in json.loads(saved[0].read_text())["benchmarks"]) == NAMES
    assert _table_lines(result.stdout.str()) == []
    result.stdout.fnmatch_lines(["*llmbench ranking*", "Champion:  fake/right*"])


def test_the_table_when_asked(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", MODELS, "--llm-benchmark-table")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["Name (time in *", "GRADE_FAIL_001*fake/right*"])


def test_own_benchmarks_keep_their_table_and_the_ranking_comes_last(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(test_own=OWN_BENCHMARK)
    result = suite.runpytest("evals", "test_own.py", MODELS)
    result.assert_outcomes(passed=5)
    text = result.stdout.str()
    assert len(_table_lines(text)) == 1
    assert "test_own" in text.split("Name (time in", 1)[1]
    assert "GRADE_PASS_001" not in text.split("Name (time in", 1)[1].split("Legend", 1)[0]
    assert text.index("Name (time in") < text.index("llmbench ranking")


def test_skipped_benchmarks_record_nothing(suite: pytest.Pytester) -> None:
    out = suite.path / "bm.json"
    result = suite.runpytest("evals", MODELS, "--benchmark-disable", f"--benchmark-json={out}")
    result.assert_outcomes(passed=4)
    assert not out.exists() or json.loads(out.read_text())["benchmarks"] == []
