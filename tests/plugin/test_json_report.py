"""--llm-json and --llm-baseline through a run: the document reads back as the history does."""

from __future__ import annotations

import json

import pytest

from pytest_llmbench.storage import history
from pytest_llmbench.storage.json_report import (
    load_json_rankings,
    results_from_json,
)

NO_BENCHMARK = ("-p", "no:benchmark")


def test_a_real_run_reads_back_alike_from_the_json_and_the_history(
    suite: pytest.Pytester,
) -> None:
    out = suite.path / "bench.json"
    suite.runpytest(
        "evals",
        "--llm-models=fake/right,fake/slowright,fake/lenient",
        "--llm-repeat=2",
        "--deselect",
        "evals/grading.yaml::grading::GRADE_FAIL_001[fake/lenient-rep2]",
        f"--llm-json={out}",
        *NO_BENCHMARK,
    )
    [ranking] = load_json_rankings(out)
    [run] = history.list_runs(suite.path / ".llmbench" / "history.sqlite")
    stored = history.load_run(suite.path / ".llmbench" / "history.sqlite", run.id)
    assert [ranking] == list(stored.rankings)
    assert results_from_json(json.loads(out.read_text())) == list(stored.results)
    lenient = next(s for s in ranking.standings if s.model == "fake/lenient")
    assert lenient.incomplete is not None
    assert (lenient.incomplete.missing, lenient.incomplete.per_case) == (
        (("GRADE_FAIL_001", 2),),
        2,
    )
    assert lenient.repeats is not None
    assert lenient.repeats.k == 1
    # the same rankings as a baseline: no regression
    again = suite.runpytest(
        "evals",
        "--llm-models=fake/right,fake/slowright",
        "--llm-repeat=2",
        f"--llm-baseline={out}",
        *NO_BENCHMARK,
    )
    again.stdout.fnmatch_lines([f"compared with {out}: grading", "passed: no regression"])


def test_a_malformed_baseline_is_a_usage_error(suite: pytest.Pytester) -> None:
    base = suite.path / "base.json"
    base.write_text('{"tasks": {"grading": {"ranking": [{"model": 1}], "disqualified": []}}}')
    result = suite.runpytest("evals", "--llm-models=fake/right", f"--llm-baseline={base}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        f"ERROR: --llm-baseline {base}: not a --llm-json document "
        "(tasks['grading'].standings[0].model: expected a string, got a number (1))"
    ) in result.stderr.lines
    assert "Traceback" not in result.stderr.str()
