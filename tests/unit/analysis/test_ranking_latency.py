"""The latency a task is ranked by (``rank_task(latency=...)``) and the streamed
figures of a standing."""

from __future__ import annotations

import pytest

from pytest_llmbench.analysis.ranking import LATENCIES, rank_ms, rank_task
from pytest_llmbench.execution.results import Result
from tests.support.factories import result

TASK = "grading"


def runs(model: str, latency: float, ttft: float | None, n: int = 4) -> list[Result]:
    return [
        result(
            model,
            f"C{i}",
            latency_ms=latency + i,
            ttft_ms=None if ttft is None else ttft + i,
            itl_ms=None if ttft is None else 5.0,
            prompt_eval_ms=ttft,
            eval_ms=latency - (ttft or 0.0),
        )
        for i in range(n)
    ]


# A: long prefill, fast tokens; B: the opposite; C: not streamed (no TTFT).
SLOW_READER = runs("p/a", 600.0, 505.0)
FAST_READER = runs("p/b", 850.0, 90.0)
UNSTREAMED = runs("p/c", 700.0, None)


def order(latency: str) -> list[str]:
    ranking = rank_task(TASK, [*SLOW_READER, *FAST_READER, *UNSTREAMED], latency=latency)
    assert ranking.latency == latency
    return [s.model for s in ranking.qualified]


def test_the_end_to_end_latencies_put_the_fast_generator_first() -> None:
    assert order("mean") == order("p50") == order("p95") == ["p/a", "p/c", "p/b"]


def test_the_time_to_first_token_puts_the_fast_reader_first_and_unstreamed_last() -> None:
    assert order("ttft_p95") == order("ttft_p50") == ["p/b", "p/a", "p/c"]


def test_a_standing_has_its_streamed_figures() -> None:
    standing = rank_task(TASK, FAST_READER).standings[0]
    assert standing.ttft is not None
    assert standing.ttft_p50_ms == pytest.approx(91.5)
    assert standing.ttft_p95_ms == pytest.approx(92.85)
    assert standing.itl_ms == pytest.approx(5.0)
    assert standing.prefill_ms == pytest.approx(90.0)
    assert standing.generation_ms == pytest.approx(760.0)
    assert rank_ms(standing, "ttft_p95") == standing.ttft_p95_ms
    assert rank_ms(standing, "mean") == standing.mean_ms


def test_ties_are_of_the_mean_only() -> None:
    same = [*runs("p/a", 100.0, 50.0), *runs("p/b", 100.0, 10.0)]
    assert rank_task(TASK, same).ties  # the mean's intervals overlap
    assert rank_task(TASK, same, latency="ttft_p95").ties == ()


def test_an_unknown_latency_is_refused() -> None:
    assert "p99" not in LATENCIES
    with pytest.raises(ValueError, match="unknown ranking latency 'p99'"):
        rank_task(TASK, SLOW_READER, latency="p99")
