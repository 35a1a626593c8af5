"""analysis/alerts.py: the p95 and error-rate limits on the champion and runner-up."""

from __future__ import annotations

from pytest_llmbench.analysis.alerts import Limits, breaches
from pytest_llmbench.analysis.ranking import rank_strict, rank_weighted
from pytest_llmbench.execution.results import Result
from tests.support import factories


def run(model: str, case: str, ms: float, error: str | None = None) -> Result:
    return factories.result(model, case, correct=error is None, latency_ms=ms, error=error)


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
    # weighted policy with no bar (min_correct 0): a model with errors can still be champion
    results = [run("p/flaky", f"C{i}", 10.0, error="timeout" if i < 2 else None) for i in range(10)]
    results += [run("p/steady", f"C{i}", 100.0) for i in range(10)]
    ranking = rank_weighted("grading", results, (0.5, 0.5), min_correct=0)
    assert ranking.champion is not None
    assert ranking.champion.model == "p/flaky"
    assert breaches(ranking, Limits(max_error_rate=0.2)) == []
    assert breaches(ranking, Limits(max_error_rate=0.05)) == [
        "grading: the champion p/flaky failed 2 of 10 calls (20.0%), above the limit of 5%"
    ]
    assert Limits(1500.0, 0.05).describe() == "p95 <= 1,500 ms, error rate <= 5%"
