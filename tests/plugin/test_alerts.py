"""Latency and error-rate alerts as gates (issue 14, part 6): ``--llm-max-p95 MS``,
``--llm-max-error-rate PCT``, their ini keys and the case file's ``alerts:``."""

from __future__ import annotations

import pytest

from pytest_llmbench.analysis.alerts import Limits, breaches
from pytest_llmbench.analysis.ranking import rank_strict, rank_weighted
from pytest_llmbench.execution.results import Result
from tests.support import factories

NO_BENCHMARK = ("-p", "no:benchmark")
MODELS = "--llm-models=fake/right,fake/slowright"
"""fake/right answers at once, fake/slowright after 50 ms: champion and runner-up."""


def run(model: str, case: str, ms: float, error: str | None = None) -> Result:
    return factories.result(model, case, correct=error is None, latency_ms=ms, error=error)


# --------------------------------------------------------------------------- pure


def test_champion_and_runner_up_are_held_to_the_p95_limit() -> None:
    results = [run("p/fast", f"C{i}", 10.0 + i) for i in range(10)]
    results += [run("p/slow", f"C{i}", 100.0 * (i + 1)) for i in range(10)]
    results += [run("p/slowest", f"C{i}", 5000.0) for i in range(10)]
    ranking = rank_strict("grading", results)
    assert breaches(ranking, Limits()) == []
    assert breaches(ranking, Limits(max_p95_ms=1000.0)) == []
    assert breaches(ranking, Limits(max_p95_ms=900.0)) == [
        "grading: the runner-up p/slow has a p95 latency of 955 ms, above the limit of 900 ms"
    ]
    # p/slowest is neither champion nor runner-up: not held to the limit
    assert all("p/slowest" not in r for r in breaches(ranking, Limits(max_p95_ms=1.0)))
    assert len(breaches(ranking, Limits(max_p95_ms=1.0))) == 2


def test_the_error_rate_counts_calls_without_an_answer() -> None:
    # weighted policy: a model with errors can still be champion
    results = [run("p/flaky", f"C{i}", 10.0, error="timeout" if i < 2 else None) for i in range(10)]
    results += [run("p/steady", f"C{i}", 100.0) for i in range(10)]
    ranking = rank_weighted("grading", results, (0.5, 0.5))
    assert ranking.champion is not None
    assert ranking.champion.model == "p/flaky"
    assert breaches(ranking, Limits(max_error_rate=0.2)) == []
    assert breaches(ranking, Limits(max_error_rate=0.05)) == [
        "grading: the champion p/flaky failed 2 of 10 calls (20.0%), above the limit of 5%"
    ]
    assert Limits(1500.0, 0.05).describe() == "p95 <= 1,500 ms, error rate <= 5%"


# --------------------------------------------------------------------------- the plugin


def test_a_runner_up_over_the_p95_limit_fails_the_session(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", MODELS, *NO_BENCHMARK, "--llm-max-p95=20")
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*llmbench gate*",
            "alerts for grading: p95 <= 20 ms",
            "FAILED: 1 reason(s)",
            "  grading: the runner-up fake/slowright has a p95 latency of * ms, above the limit "
            "of 20 ms",
        ]
    )


def test_within_the_limits_the_gate_says_so(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "evals", MODELS, *NO_BENCHMARK, "--llm-max-p95=5000ms", "--llm-max-error-rate=0%"
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "alerts for grading: p95 <= 5,000 ms, error rate <= 0%",
            "passed: champions and runners-up within the alert limits",
        ]
    )


def test_the_case_file_wins_over_the_ini_for_its_task(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nllm_max_p95 = 5000\nllm_max_error_rate = 5\n")
    assert suite.runpytest("evals", MODELS, *NO_BENCHMARK).ret == pytest.ExitCode.OK
    grading = suite.path / "evals" / "grading.yaml"
    grading.write_text(grading.read_text() + "alerts: {max_p95_ms: 20}\n")
    result = suite.runpytest("evals", MODELS, *NO_BENCHMARK)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["alerts for grading: p95 <= 20 ms, error rate <= 5%", "FAILED: 1 reason(s)"]
    )


def test_a_bad_case_file_limit_is_a_case_file_error(suite: pytest.Pytester) -> None:
    grading = suite.path / "evals" / "grading.yaml"
    grading.write_text(grading.read_text() + "alerts: {max_p95_ms: -3, max_error: 5}\n")
    result = suite.runpytest("evals", MODELS, *NO_BENCHMARK)
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*invalid case file*", "*alerts*"])
