"""Latency and error-rate alerts as gates (issue 14, part 6): ``--llm-max-p95 MS``,
``--llm-max-error-rate PCT``, their ini keys and the case file's ``alerts:``."""

from __future__ import annotations

import pytest

NO_BENCHMARK = ("-p", "no:benchmark")
MODELS = "--llm-models=fake/right,fake/slowright"
"""fake/right answers at once, fake/slowright after 50 ms: champion and runner-up."""


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
