"""The load phase's figures: throughput, percentiles, error rate, goodput, champion at load."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any, cast

import pytest

from pytest_llmbench.analysis.load import (
    LoadSettings,
    load_settings,
    load_standing,
    meets_slo,
    rank_at_load,
    task_load,
)
from pytest_llmbench.analysis.ranking import rank_strict
from pytest_llmbench.execution.load import LoadRun
from pytest_llmbench.execution.results import Result
from tests.support.factories import result

SLO = LoadSettings(concurrency=4, requests=8, slo_p95_ms=300.0)


def answers(model: str, *latencies: float, **fields: Any) -> tuple[Result, ...]:
    return tuple(
        result(model, f"C{i}", latency_ms=ms, completion_tokens=10, **fields)
        for i, ms in enumerate(latencies)
    )


def test_goodput_counts_correct_answers_within_the_slo_per_second() -> None:
    run = LoadRun("p/a", answers("p/a", 100, 200, 250, 400, 500), wall_s=2.0)
    figures = load_standing(run, SLO)
    assert figures.requests == 5
    assert figures.throughput_rps == pytest.approx(2.5)
    assert figures.tokens_per_s == pytest.approx(25.0)
    assert figures.good == 3  # 100, 200 and 250 ms meet p95_ms 300
    assert figures.goodput_rps == pytest.approx(1.5)
    assert figures.p50_ms == pytest.approx(250)
    assert figures.p95_ms == pytest.approx(480)
    assert figures.error_rate == 0.0
    assert figures.eligible


def test_without_an_slo_goodput_is_the_rate_of_correct_answers() -> None:
    run = LoadRun("p/a", answers("p/a", 100, 5000), wall_s=1.0)
    assert load_standing(run, LoadSettings(2, 2)).goodput_rps == pytest.approx(2.0)


def test_time_to_first_token_counts_where_a_result_has_one() -> None:
    # A result with the streamed timings' field (another change adds it to Result).
    streamed = cast(Result, SimpleNamespace(error=None, correct=True, latency_ms=100, ttft_ms=400))
    settings = dataclasses.replace(SLO, slo_ttft_ms=300.0)
    assert not meets_slo(streamed, settings)
    assert meets_slo(result("p/a", "C1", latency_ms=100), settings)  # no TTFT: end-to-end only


def test_a_model_wrong_or_failing_under_load_is_flagged_and_cannot_win() -> None:
    fast_but_wrong = answers("p/a", 50, 50, 50) + (
        result("p/a", "C9", latency_ms=50, correct=False, got="FAIL"),
    )
    timing_out = answers("p/b", 60, 60) + (
        result("p/b", "C9", latency_ms=None, correct=False, error="timed out"),
    )
    slow = answers("p/c", 200, 200, 200)
    load = task_load(
        [
            LoadRun("p/a", fast_but_wrong, 0.2),
            LoadRun("p/b", timing_out, 0.2),
            LoadRun("p/c", slow, 0.6),
        ],
        SLO,
    )
    flagged = {s.model: s.flag for s in load.standings}
    assert flagged["p/a"] == "1 wrong of 4 answers under load"
    assert flagged["p/b"] == "1 failed of 3 answers under load"
    assert load.standing("p/b") is not None
    assert load.standing("p/b").error_rate == pytest.approx(1 / 3)  # type: ignore[union-attr]
    assert load.champion == "p/c"


def test_the_champion_at_load_has_the_best_goodput_ties_to_the_lower_p95() -> None:
    serial = [
        *answers("p/a", 100, 100, task="t"),
        *answers("p/b", 150, 150, task="t"),
        *answers("p/c", 160, 160, task="t"),
    ]
    ranking = rank_strict("t", serial)
    assert ranking.champion is not None
    assert ranking.champion.model == "p/a"
    load = task_load(
        [
            LoadRun("p/a", answers("p/a", 100, 400, 400, 400), 1.6),
            LoadRun("p/b", answers("p/b", 150, 150, 150, 150), 0.6),
            LoadRun("p/c", answers("p/c", 160, 160, 170, 170), 0.6),
        ],
        SLO,
    )
    ranked = rank_at_load(ranking, load)
    assert [s.model for s in ranked.qualified] == [
        "p/b",
        "p/c",
        "p/a",
    ]  # b: same goodput, lower p95
    assert ranked.champion is not None
    assert ranked.champion.status == "champion"
    assert ranked.at_load is load
    assert ranked.standings[0].mean_ms == pytest.approx(150)  # the serial figures stay


def test_a_flagged_model_is_disqualified_and_a_skipped_one_keeps_its_serial_place() -> None:
    ranking = rank_strict(
        "t", [*answers("p/a", 100, task="t"), *answers("llamacpp/e", 90, task="t")]
    )
    load = task_load(
        [
            LoadRun("llamacpp/e", skipped="embedded"),
            LoadRun(
                "p/a", (result("p/a", "C1", latency_ms=None, error="boom", correct=False),), 1.0
            ),
        ],
        SLO,
    )
    ranked = rank_at_load(ranking, load)
    assert ranked.champion is not None
    assert ranked.champion.model == "llamacpp/e"
    assert ranked.disqualified[0].status.startswith("flagged: 1 failed")
    assert "llamacpp/e: not run under load (embedded)" in ranked.notes


def test_load_settings_from_the_case_file_and_the_option() -> None:
    assert load_settings(None, None, 5) is None
    assert load_settings(None, 8, 5) == LoadSettings(8, 32)
    declared = {"concurrency": 2, "requests": None, "slo_p95_ms": 1500.0, "slo_ttft_ms": 300.0}
    assert load_settings(declared, None, 10) == LoadSettings(2, 10, 1500.0, 300.0)
    assert load_settings(declared, 4, 3).concurrency == 4  # type: ignore[union-attr]
