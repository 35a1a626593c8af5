"""--llm-min-lead in the registry succession (issue 24, acceptance 3) and the evidence's lead."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pytest_llmbench.analysis.ranking import TaskRanking, rank_task
from pytest_llmbench.execution.results import Result
from pytest_llmbench.storage.champions import (
    Evidence,
    RegistryEntry,
    load_registry,
    write_registry,
)
from pytest_llmbench.storage.succession import succeed

RUN = {"id": "run-2", "started_at": "2026-01-02T00:00:00Z"}
BEFORE = RegistryEntry("grading", Evidence("p/champ", 30, 30, 190.0, run="run-1"))
"""The champion's registered mean, from an earlier run: (100 + 20 * 4.5) ms."""


def result(model: str, case: int, repeat: int, ms: float) -> Result:
    return Result("grading", f"C{case}", model, repeat, "PASS", "PASS", True, "", ms)


def ranking(min_lead: float, **models: Any) -> TaskRanking:
    """Every model right on 10 cases x 3 repeats; a case takes 100 + 20 * case ms for the
    champion, times each model's factor (``p_new=0.97``: 3% less time)."""
    results = [
        result(name.replace("_", "/"), case, repeat, (100.0 + 20 * case) * factor)
        for name, factor in models.items()
        for case in range(10)
        for repeat in range(3)
    ]
    return rank_task("grading", results, min_lead=min_lead, generic_threshold=None)


def test_a_newcomer_3_percent_faster_on_the_means_does_not_replace_the_champion() -> None:
    after = succeed(BEFORE, ranking(0.05, p_new=0.97), RUN)
    assert after is not None
    assert after.champion == BEFORE.champion
    assert after.runner_up is not None
    assert after.runner_up.model == "p/new"
    assert after.why is not None
    assert after.why.endswith(
        "p/new was 3% faster than p/champ on the means (not paired), below the min lead "
        "of 5%: p/champ stays champion"
    )


def test_a_newcomer_20_percent_faster_replaces_it_and_the_evidence_keeps_the_lead() -> None:
    # the newcomer's mean: (100 + 20 * 4.5) * 0.8 = 152 ms, 1 - 152 / 190 = 20% less time
    after = succeed(BEFORE, ranking(0.05, p_new=0.8), RUN)
    assert after is not None
    assert after.champion.model == "p/new"
    assert after.champion.lead_over == "p/champ"
    assert after.champion.lead == round(1 - 152.0 / 190.0, 4)
    assert after.why == (
        "p/new replaced p/champ as champion in run run-2 (152 ms mean against 190 ms mean, "
        "30/30 correct, 20% faster on the means (not paired), at least the min lead of 5%); "
        "p/champ became runner-up (190 ms mean)"
    )


def test_without_a_min_lead_any_faster_mean_replaces_the_champion() -> None:
    after = succeed(BEFORE, ranking(0.0, p_new=0.99), RUN)
    assert after is not None
    assert after.champion.model == "p/new"


def test_a_paired_lead_below_the_min_lead_is_a_tie() -> None:
    # both ran: p/new takes 0.97 of p/champ's time on every call, beyond the noise
    after = succeed(BEFORE, ranking(0.05, p_champ=1.0, p_new=0.97), RUN)
    assert after is not None
    assert after.champion.model == "p/champ"
    assert after.why == (
        "p/new became runner-up in run run-2 (184 ms mean); "
        "p/new was 3% faster than p/champ [3%, 3%] over 30 paired calls, below the min lead "
        "of 5%: p/champ stays champion"
    )


def test_a_paired_lead_above_the_min_lead_replaces_the_champion() -> None:
    after = succeed(BEFORE, ranking(0.05, p_champ=1.0, p_new=0.8), RUN)
    assert after is not None
    assert after.champion.model == "p/new"
    assert after.champion.paired_calls == 30
    assert (after.champion.lead, after.champion.lead_low, after.champion.lead_high) == (
        0.2,
        0.2,
        0.2,
    )
    assert after.why is not None
    assert "20% faster [20%, 20%] over 30 paired calls, at least the min lead of 5%" in after.why


def test_the_registry_file_keeps_the_lead() -> None:
    after = succeed(BEFORE, ranking(0.05, p_champ=1.0, p_new=0.8), RUN)
    assert after is not None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "llmbench-registry.yaml"
        write_registry(path, {"grading": after})
        assert load_registry(path)["grading"] == after


def test_the_gate_treats_a_growth_below_the_min_lead_as_a_tie() -> None:
    from dataclasses import replace

    from pytest_llmbench.analysis.gate import Baseline, gate

    old = ranking(0.0, p_champ=1.0)
    slower = ranking(0.0, p_champ=1.04)  # 4% slower than the baseline
    assert gate([slower], baseline=Baseline("run-1", [old]), max_slowdown=0.0).failed
    tolerant = replace(slower, min_lead=0.05)
    verdict = gate([tolerant], baseline=Baseline("run-1", [old]), max_slowdown=0.0)
    assert not verdict.failed
    assert "latency growth below the min lead of 5% is a tie (--llm-max-slowdown 0%)" in (
        verdict.lines
    )
