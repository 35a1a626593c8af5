"""Paired latency leads (analysis/paired.py), checked against numbers computed with numpy."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

from pytest_llmbench.analysis.paired import (
    MIN_UNITS,
    RESAMPLES,
    SEED,
    Lead,
    paired_lead,
    warm_latencies,
)
from pytest_llmbench.analysis.ranking import rank_task
from pytest_llmbench.analysis.stats import latency_stats, overlap
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.terminal import detail_lines, task_lines
from pytest_llmbench.storage.json_report import json_document

Runs = dict[tuple[str, int], float]


def scripted(
    seed: int, slower: float, cases: int = 10, repeats: int = 3, spread: float = 0.3
) -> tuple[Runs, Runs]:
    """Two models on the same cases: a case's length varies by ``spread`` (log-normal
    sd), each call by 5%; model B takes ``slower`` times model A's time."""
    rng = random.Random(seed)
    a: Runs = {}
    b: Runs = {}
    for case in range(cases):
        length = 500.0 * math.exp(rng.gauss(0.0, spread))
        for repeat in range(repeats):
            a[(f"C{case}", repeat)] = length * math.exp(rng.gauss(0.0, 0.05))
            b[(f"C{case}", repeat)] = length * slower * math.exp(rng.gauss(0.0, 0.05))
    return a, b


def result(model: str, case: str, repeat: int, latency: float, **kw: Any) -> Result:
    fields: dict[str, Any] = {
        "task": "grading",
        "case_id": case,
        "model": model,
        "repeat": repeat,
        "expected": "PASS",
        "got": "PASS",
        "correct": True,
        "latency_ms": latency,
    }
    fields.update(kw)
    return Result(**fields)


def results(model: str, runs: Runs) -> list[Result]:
    return [result(model, case, repeat, ms) for (case, repeat), ms in runs.items()]


def numpy_logs(a: Runs, b: Runs) -> Any:
    return np.log(np.array([b[run] for run in a]) / np.array(list(a.values())))


def test_the_ratio_is_the_geometric_mean_of_the_paired_ratios() -> None:
    a, b = scripted(3, 1.1)
    lead = paired_lead("A", "B", a, b)
    expected = float(np.exp(numpy_logs(a, b).mean()))
    assert lead.ratio is not None
    assert math.isclose(lead.ratio, expected, rel_tol=1e-12)
    assert math.isclose(lead.lead or 0.0, 1.0 - 1.0 / expected, rel_tol=1e-12)
    assert (lead.pairs, lead.cases) == (30, 10)


def test_the_interval_is_close_to_the_t_interval_of_the_case_means() -> None:
    # With equal repeats per case, the expanded percentile interval of the resampled
    # cases tends to mean -/+ t(n-1) * s / sqrt(n) of the per-case mean log ratios.
    a, b = scripted(7, 1.1, cases=20)
    lead = paired_lead("A", "B", a, b)
    per_case = numpy_logs(a, b).reshape(20, 3).mean(axis=1)
    half = 2.093 * per_case.std(ddof=1) / math.sqrt(20)  # t(19) = 2.093
    centre = per_case.mean()
    assert lead.low is not None
    assert lead.high is not None
    assert abs(math.log(lead.low) - (centre - half)) < 0.2 * half
    assert abs(math.log(lead.high) - (centre + half)) < 0.2 * half


def test_the_bootstrap_is_deterministic_for_a_seed() -> None:
    a, b = scripted(11, 1.05)
    first, again = paired_lead("A", "B", a, b), paired_lead("A", "B", a, b)
    assert (first.low, first.high) == (again.low, again.high)
    other = paired_lead("A", "B", a, b, seed=SEED + 1)
    assert (other.low, other.high) != (first.low, first.high)
    assert RESAMPLES == 2000


def test_a_constant_ratio_has_an_interval_of_one_point() -> None:
    a = {(f"C{i}", r): 100.0 + 10 * i for i in range(8) for r in range(2)}
    b = {run: ms * 1.25 for run, ms in a.items()}
    lead = paired_lead("A", "B", a, b)
    assert lead.ratio is not None
    assert lead.low is not None
    assert lead.high is not None
    assert math.isclose(lead.ratio, 1.25)
    assert math.isclose(lead.low, 1.25)
    assert math.isclose(lead.high, 1.25)
    assert lead.describe() == "A, 20% faster than B [20%, 20%], 16 paired calls"
    reverse = paired_lead("B", "A", b, a)
    assert reverse.describe() == "B, 25% slower than A [25%, 25%], 16 paired calls"
    assert reverse.faster == "A"


def test_only_warm_timed_answers_are_paired() -> None:
    runs = [
        result("A", "C1", 0, 100.0),
        result("A", "C2", 0, 100.0, cold=True),
        result("A", "C3", 0, 100.0, cached=True),
        result("A", "C4", 0, 100.0, error="timeout"),
        result("A", "C5", 0, 0.0),
    ]
    assert warm_latencies(runs) == {("C1", 0): 100.0}


def test_acceptance_a_10_percent_difference_is_separated_where_the_overlap_rule_ties() -> None:
    a, b = scripted(1, 1.1)
    unpaired = overlap(latency_stats(list(a.values())), latency_stats(list(b.values())))
    assert unpaired is True  # the rule of thumb calls them tied
    lead = paired_lead("A", "B", a, b)
    assert not lead.tied
    assert lead.faster == "A"
    low, high = lead.interval or (0.0, 0.0)
    assert 0.0 < low < 1 - 1 / 1.1 < high


def test_acceptance_equal_speeds_are_tied_in_95_of_100_seeded_replications() -> None:
    # A 95% interval misses the truth 5 times in 100 on average: seeds 0-99 give 95 ties.
    ties = sum(paired_lead("A", "B", *scripted(seed, 1.0)).tied for seed in range(100))
    assert ties >= 95


def test_few_cases_are_always_tied() -> None:
    a = {(f"C{i}", 0): 100.0 for i in range(MIN_UNITS - 1)}
    b = dict.fromkeys(a, 200.0)
    lead = paired_lead("A", "B", a, b)
    assert lead.tied
    assert lead.faster is None
    assert "too few paired cases to tell (at least 6)" in lead.describe()


def test_a_lead_below_the_minimum_is_a_tie() -> None:
    a = {(f"C{i}", r): 100.0 + i for i in range(10) for r in range(3)}
    b = {run: ms * 1.03 for run, ms in a.items()}
    assert paired_lead("A", "B", a, b).faster == "A"
    held = paired_lead("A", "B", a, b, min_lead=0.05)
    assert held.tied
    assert held.more_repeats() is None
    assert held.describe().endswith("; the lead is below the minimum of 5%")
    faster = {run: ms * 1.25 for run, ms in a.items()}
    assert paired_lead("A", "B", a, faster, min_lead=0.05).faster == "A"


def test_more_repeats_from_the_interval_width() -> None:
    # half-width h = (ln 1.05 - ln 0.99) / 2 = 0.02942; d = ln 1.02 = 0.01980;
    # pairs needed = 30 * (h * 2.8 / (1.96 * d))^2 = 30 * 2.1226^2 = 135.2;
    # (135.2 - 30) / 10 cases = 10.5 -> 11 more repeats
    lead = Lead("A", "B", pairs=30, cases=10, ratio=1.02, low=0.99, high=1.05)
    assert lead.more_repeats() == 11
    assert lead.describe() == (
        "A and B are tied on speed: B / A = 1.02 [0.99, 1.05], 30 paired calls; "
        "11 more repeats would likely settle it"
    )
    assert Lead("A", "B", 30, 10, 1.0, 0.95, 1.05).more_repeats() is None


def test_the_ranking_summary_json_and_details_carry_the_lead() -> None:
    a, b = scripted(1, 1.1)
    ranking = rank_task("grading", [*results("p/a", a), *results("p/b", b)])
    lead = ranking.lead
    assert lead is not None
    assert (lead.model, lead.other) == ("p/a", "p/b")
    lines = task_lines(ranking)
    speed = next(line for line in lines if line.startswith("Speed:"))
    assert speed == "Speed:     " + paired_lead("p/a", "p/b", a, b).describe()
    assert speed.startswith("Speed:     p/a, 8% faster than p/b [")
    assert not any(line.startswith("Tied:") for line in lines)
    assert any("paired latency leads" in line for line in detail_lines([ranking]))
    doc = json_document({}, [], [ranking])["tasks"]["grading"]["leads"][0]
    assert doc["model"] == "p/a"
    assert doc["tied"] is False
    assert doc["seed"] == SEED
    assert doc["lead_ci"][0] < doc["lead"] < doc["lead_ci"][1]
