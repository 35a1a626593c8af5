"""Paired accuracy with the exact McNemar p-value: the weighted policy and llmbench compare."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_llmbench.analysis.paired import accuracy_difference
from pytest_llmbench.analysis.ranking import rank_strict, rank_task
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.compare import compare_lines
from pytest_llmbench.reporting.terminal import detail_lines
from pytest_llmbench.storage.history import StoredRun
from pytest_llmbench.storage.json_report import json_document


def binomial_two_sided(k: int, n: int) -> float:
    """2 * P(X <= k), X ~ Binomial(n, 1/2), from numpy's log-gamma-free product form."""
    if n == 0:
        return 1.0
    pmf = (
        np.array(
            [
                np.prod(np.arange(n - i + 1, n + 1)) / np.prod(np.arange(1, i + 1))
                for i in range(n + 1)
            ],
            dtype=float,
        )
        / 2.0**n
    )
    return float(min(1.0, 2.0 * pmf[: k + 1].sum()))


def res(model: str, case: int, correct: bool, task: str = "t", repeat: int = 0) -> Result:
    return Result(
        task, f"C{case}", model, repeat, "ok", "ok" if correct else "no", correct, "", 100.0
    )


def test_the_p_value_of_the_discordant_runs() -> None:
    # 10 runs: p/a right on 0-8, p/b right on 0-2 and 9: p/a only 6, p/b only 1
    mine = {(f"C{i}", 0): i <= 8 for i in range(10)}
    theirs = {(f"C{i}", 0): i <= 2 or i == 9 for i in range(10)}
    diff = accuracy_difference("p/a", "p/b", mine, theirs)
    assert (diff.pairs, diff.model_correct, diff.other_correct) == (10, 9, 4)
    assert (diff.model_only, diff.other_only) == (6, 1)
    assert diff.p_value == pytest.approx(binomial_two_sided(1, 7))  # 16 / 128 = 0.125
    assert diff.p_value == pytest.approx(0.125)
    assert diff.describe() == (
        "p/a 9/10 vs p/b 4/10 on the same runs: right only for p/a 6, only for p/b 1; "
        "exact McNemar p = 0.12"
    )


def test_only_runs_both_made_are_paired() -> None:
    diff = accuracy_difference("a", "b", {("C1", 0): True, ("C2", 0): True}, {("C1", 0): False})
    assert (diff.pairs, diff.model_only, diff.other_only) == (1, 1, 0)
    assert diff.p_value == 1.0


def test_the_weighted_policy_tests_the_first_model_against_each_other() -> None:
    results = [
        *(res("p/a", i, i <= 8) for i in range(10)),
        *(res("p/b", i, i <= 7) for i in range(10)),
    ]
    ranking = rank_task("t", results, policy="weighted", min_correct=0.0)
    [diff] = ranking.accuracy
    assert (diff.model, diff.other, diff.model_only, diff.other_only) == ("p/a", "p/b", 1, 0)
    assert diff.p_value == pytest.approx(binomial_two_sided(0, 1))
    assert "task t: paired accuracy (exact McNemar)" in detail_lines([ranking])
    doc = json_document({}, [], [ranking])["tasks"]["t"]["accuracy"][0]
    assert (doc["model_only"], doc["p_value"]) == (1, 1.0)
    assert rank_task("t", results).accuracy == ()  # the strict policy: not tested


def stored(run_id: str, results: list[Result]) -> StoredRun:
    run = {"id": run_id, "started_at": "2025-01-01T12:00:00+00:00"}
    return StoredRun(run, tuple(results), (rank_strict("t", results),))


def test_compare_gives_the_p_value_of_a_model_whose_accuracy_changed() -> None:
    before = stored("run-a", [res("p/a", i, True) for i in range(8)])
    after = stored("run-b", [res("p/a", i, i < 2) for i in range(8)])
    lines = compare_lines(before, after)
    title = "Accuracy changes (the same model's runs of A and B paired; exact McNemar p)"
    start = lines.index(title)
    row = lines[start + 3].split()
    assert row == ["t", "p/a", "8/8", "2/8", "6", "0", f"{binomial_two_sided(0, 6):.2f}"]
    assert row[-1] == "0.03"  # 2 / 64


def test_compare_says_nothing_of_models_whose_runs_agree() -> None:
    same = [res("p/a", i, True) for i in range(3)]
    lines = compare_lines(stored("a", same), stored("b", same))
    assert not any(line.startswith("Accuracy changes") for line in lines)
