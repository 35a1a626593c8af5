"""Unit tests for the ranking policies and the session-end pipeline (ranking.rank_task)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmbench.analysis.ranking import (
    ModelStanding,
    TaskRanking,
    Tie,
    rank_strict,
    rank_task,
    rank_weighted,
)
from pytest_llmbench.execution.prices import Price, PriceTable
from pytest_llmbench.execution.results import Result

TASK = "t"


def res(
    model: str, case: str, correct: bool = True, latency: float | None = 100.0, **kw: Any
) -> Result:
    fields: dict[str, Any] = {
        "task": TASK,
        "case_id": case,
        "model": model,
        "repeat": 1,
        "expected": f"gold {case}",
        "got": "x",
        "correct": correct,
        "latency_ms": latency,
        "prompt_hash": f"hash-{case}",
    }
    fields.update(kw)
    return Result(**fields)


def timed(model: str, latencies: list[float], **kw: Any) -> list[Result]:
    """One correct result per latency, cases C0, C1, ..."""
    return [res(model, f"C{i}", latency=ms, **kw) for i, ms in enumerate(latencies)]


def one(ranking: TaskRanking, model: str) -> ModelStanding:
    [found] = [s for s in ranking.standings if s.model == model]
    return found


# --------------------------------------------------------------------------- cold calls


def test_cold_call_is_kept_apart_from_warm_latency() -> None:
    results = [
        res("p/a", "A", latency=900.0, cold=True),
        res("p/a", "B", latency=100.0),
        res("p/a", "C", latency=300.0),
    ]
    s = one(rank_strict(TASK, results), "p/a")
    assert s.mean_ms == 200.0  # (100 + 300) / 2, the cold 900 ms left out
    assert s.latency is not None
    assert s.latency.n == 2
    assert s.cold is not None
    assert (s.cold.n, s.cold.mean) == (1, 900.0)


def test_only_cold_calls_time_the_model() -> None:
    s = one(rank_strict(TASK, [res("p/a", "A", latency=900.0, cold=True)]), "p/a")
    assert s.mean_ms == 900.0
    assert s.cold is not None
    assert s.cold.mean == 900.0


def test_cold_calls_do_not_decide_the_order() -> None:
    results = [
        # p/a: warm mean 150, but a slow first call
        res("p/a", "A", latency=5000.0, cold=True),
        res("p/a", "B", latency=100.0),
        res("p/a", "C", latency=200.0),
        # p/b: warm mean 180
        res("p/b", "A", latency=200.0, cold=True),
        res("p/b", "B", latency=180.0),
        res("p/b", "C", latency=180.0),
    ]
    assert [s.model for s in rank_strict(TASK, results).qualified] == ["p/a", "p/b"]


# --------------------------------------------------------------------------- ties


def test_overlapping_intervals_are_a_tie_named_with_the_faster_median() -> None:
    # p/b: [110, 115, 120] mean 115, median 115, s 5, half 4.303 * 5 / sqrt(3) = 12.42
    #      -> (102.58, 127.42)
    # p/a: [100, 100, 160] mean 120, median 100, s sqrt(1200) = 34.64, half 86.06
    #      -> (33.94, 206.06): overlaps; p/b wins on the mean, p/a is faster on the median
    # p/c: [400, 410, 420] -> (375.16, 444.84): clear of p/a
    results = [
        *timed("p/b", [110.0, 115.0, 120.0]),
        *timed("p/a", [100.0, 100.0, 160.0]),
        *timed("p/c", [400.0, 410.0, 420.0]),
    ]
    ranking = rank_strict(TASK, results)
    assert [s.model for s in ranking.qualified] == ["p/b", "p/a", "p/c"]
    assert ranking.ties == (Tie("p/b", "p/a", 115.0, 100.0),)
    [tie] = ranking.ties
    assert tie.faster_on_median == "p/a"
    assert tie.describe() == (
        "p/b and p/a are statistically tied (their 95% confidence intervals of the mean latency "
        "overlap); p/a is faster on the median (100 vs 115 ms)"
    )
    assert tie.describe({"p/b": "the champion", "p/a": "the runner-up"}) == (
        "the champion and the runner-up are statistically tied (their 95% confidence "
        "intervals of the mean latency overlap); the runner-up is faster on the median "
        "(100 vs 115 ms)"
    )


def test_no_tie_statement_from_single_samples() -> None:
    results = [res("p/a", "A", latency=100.0), res("p/b", "A", latency=101.0)]
    assert rank_strict(TASK, results).ties == ()


def test_ties_only_among_qualified_models() -> None:
    results = [*timed("p/a", [100.0, 110.0]), *timed("p/b", [100.0, 110.0])]
    results.append(res("p/b", "X", correct=False, latency=105.0))
    assert rank_strict(TASK, results).ties == ()


def test_equal_medians_name_neither() -> None:
    tie = Tie("p/a", "p/b", 100.0, 100.0)
    assert tie.faster_on_median is None
    assert tie.describe().endswith("overlap); their medians are equal (100 ms)")


# --------------------------------------------------------------------------- weighted


def four_cases(model: str, right: int, latency: float) -> list[Result]:
    """Answers that differ by case (so none is generic)."""
    return [
        res(model, f"C{i}", correct=i < right, latency=latency, got=str(i) * 8) for i in range(4)
    ]


def test_weighted_trades_accuracy_for_speed() -> None:
    results = [*four_cases("p/exact", 4, 400.0), *four_cases("p/quick", 3, 100.0)]
    # strict: only p/exact qualifies
    assert [s.model for s in rank_strict(TASK, results).qualified] == ["p/exact"]
    # quality 0.7, speed 0.3:
    #   p/exact 0.7 * 4/4 + 0.3 * 100/400 = 0.7 + 0.075 = 0.775
    #   p/quick 0.7 * 3/4 + 0.3 * 100/100 = 0.525 + 0.3 = 0.825
    ranking = rank_weighted(TASK, results, min_correct=0.0)
    assert ranking.policy == "weighted"
    assert ranking.weights == (0.7, 0.3)
    assert [(s.model, s.status) for s in ranking.standings] == [
        ("p/quick", "champion"),
        ("p/exact", "runner-up"),
    ]
    assert one(ranking, "p/quick").weighted_score == pytest.approx(0.825)
    assert one(ranking, "p/exact").weighted_score == pytest.approx(0.775)
    # quality 0.9, speed 0.1: p/exact 0.9 + 0.025 = 0.925; p/quick 0.675 + 0.1 = 0.775
    heavy = rank_weighted(TASK, results, (0.9, 0.1), min_correct=0.0)
    assert [s.model for s in heavy.qualified] == ["p/exact", "p/quick"]
    assert one(heavy, "p/exact").weighted_score == pytest.approx(0.925)


def test_weighted_never_right_is_not_ranked_even_if_fastest() -> None:
    results = [*four_cases("p/zero", 0, 1.0), *four_cases("p/half", 2, 100.0)]
    ranking = rank_weighted(TASK, results, min_correct=0.0)
    assert [(s.model, s.status) for s in ranking.standings] == [
        ("p/half", "champion"),
        ("p/zero", "disqualified"),
    ]
    # p/half is the fastest ranked model: 0.7 * 0.5 + 0.3 * 1 = 0.65
    assert one(ranking, "p/half").weighted_score == pytest.approx(0.65)
    assert one(ranking, "p/zero").weighted_score is None


def test_weighted_all_models_wrong() -> None:
    results = [*four_cases("p/a", 0, 10.0), *four_cases("p/b", 0, 20.0)]
    ranking = rank_weighted(TASK, results, min_correct=0.0)
    assert ranking.champion is None
    assert [s.model for s in ranking.disqualified] == ["p/a", "p/b"]


def test_weighted_equal_scores_go_to_the_faster_model() -> None:
    # quality only: both 1.0; p/b is faster
    results = [*four_cases("p/a", 4, 300.0), *four_cases("p/b", 4, 200.0)]
    ranking = rank_weighted(TASK, results, (1.0, 0.0), min_correct=0.0)
    assert [s.model for s in ranking.qualified] == ["p/b", "p/a"]


def test_weighted_model_without_latency_has_no_speed_credit() -> None:
    untimed = [res("p/b", f"C{i}", latency=None) for i in range(4)]
    results = [*four_cases("p/a", 4, 100.0), *untimed]
    ranking = rank_weighted(TASK, results, min_correct=0.0)
    assert one(ranking, "p/b").weighted_score == pytest.approx(0.7)  # 0.7 * 1 + 0.3 * 0
    assert one(ranking, "p/a").weighted_score == pytest.approx(1.0)


# --------------------------------------------------------------------------- rank_task

SENTENCE = "Advanced technical expertise in domain-specific systems"


def test_rank_task_fails_generic_answers() -> None:
    results = [
        res("p/tmpl", "A", got=SENTENCE, kind="text"),
        res("p/tmpl", "B", got=SENTENCE, kind="text"),
        res("p/real", "A", got="Python and SQL for Acme", kind="text", latency=500.0),
        res("p/real", "B", got="Nursing at the Globex clinic", kind="text", latency=500.0),
    ]
    ranking = rank_task(TASK, results)
    assert [(s.model, s.status, s.score) for s in ranking.standings] == [
        ("p/real", "champion", "2/2"),
        ("p/tmpl", "disqualified", "0/2"),
    ]
    tmpl = one(ranking, "p/tmpl")
    assert tmpl.miss_summary() == "generic answer on A, B"
    assert tmpl.misses[0].reason == "generic answer: 1.00 similar to its answer to B"
    assert [(g.model, g.case_id) for g in ranking.generic] == [("p/tmpl", "A"), ("p/tmpl", "B")]
    assert ranking.warnings == ()  # 1 of 2 models is not most


def test_rank_task_keeps_the_reason_of_an_answer_already_wrong() -> None:
    results = [
        res("p/t", "A", got=SENTENCE, kind="text", correct=False, reason="missing 'Python'"),
        res("p/t", "B", got=SENTENCE, kind="text"),
    ]
    s = one(rank_task(TASK, results), "p/t")
    # Issue 12: a wrong answer keeps its own reason; only a right one is overturned.
    assert s.misses[0].reason == "missing 'Python'"
    assert s.misses[0].direction == "wrong"


def test_rank_task_generic_check_can_be_switched_off() -> None:
    results = [res("p/t", c, got=SENTENCE, kind="text") for c in "AB"]
    ranking = rank_task(TASK, results, generic_threshold=None)
    assert ranking.generic == ()
    assert ranking.champion is not None


def test_rank_task_warns_when_most_models_answer_alike() -> None:
    results = [res(m, c, got=SENTENCE, kind="text") for m in ("p/a", "p/b") for c in "AB"]
    ranking = rank_task(TASK, results)
    assert ranking.champion is None
    [warning] = ranking.warnings
    assert warning.startswith("2 of 2 models gave near-identical answers to different inputs")


def test_rank_task_weighted_policy_and_cost() -> None:
    results = [
        *four_cases("openai/quick", 3, 100.0),
        *four_cases("llamacpp/exact", 4, 400.0),
    ]
    prices = PriceTable((Price("openai/*", input=1.0, output=2.0),))
    ranking = rank_task(
        TASK, results, policy="weighted", weights=(0.5, 0.5), prices=prices, min_correct=0.0
    )
    assert ranking.policy == "weighted"
    assert ranking.champion is not None
    assert ranking.champion.model == "openai/quick"  # 0.375 + 0.5 beats 0.5 + 0.125
    local = one(ranking, "llamacpp/exact")
    assert local.cost is not None
    assert (local.cost.per_1k, local.cost.basis) == (0.0, "local")
    quick = one(ranking, "openai/quick")
    assert quick.cost is not None
    assert (quick.cost.per_1k, quick.cost.basis) == (None, "unknown")  # no token counts


def test_rank_task_flags_suspect_gold() -> None:
    def said(model: str, label: str) -> Result:
        gold: dict[str, Any] = {"expected": "FAIL", "expected_label": "FAIL", "pass_label": "PASS"}
        return res(
            model, "FAIL_1", label == "FAIL", got=label, kind="verdict", got_label=label, **gold
        )

    results = [said("p/a", "PASS"), said("p/b", "PASS"), said("p/c", "PASS"), said("p/d", "FAIL")]
    [suspect] = rank_task(TASK, results).suspect_gold
    assert suspect.describe() == "FAIL_1: 3 of 4 models say PASS, gold is FAIL"


def test_rank_task_repeats_and_strict_default() -> None:
    results = [res("p/a", "A", repeat=r) for r in (1, 2, 3)]
    ranking = rank_task(TASK, results)
    assert (ranking.policy, ranking.repeats) == ("strict", 3)
    s = one(ranking, "p/a")
    assert s.repeats is not None
    assert s.repeats.consistency == 1.0


def test_rank_task_ignores_other_tasks_and_rejects_unknown_policies() -> None:
    results = [res("p/a", "A"), res("p/b", "A", task="other")]
    assert [s.model for s in rank_task(TASK, results).standings] == ["p/a"]
    with pytest.raises(ValueError, match="unknown ranking policy 'fastest'"):
        rank_task(TASK, results, policy="fastest")


# --------------------------------------------------------------------------- missing runs


def test_weighted_counts_missing_runs_as_not_correct() -> None:
    # p/quick stopped after 2 of the 4 cases, both right, and is the fastest.
    results = [*four_cases("p/exact", 4, 400.0), *four_cases("p/quick", 4, 100.0)[:2]]
    ranking = rank_weighted(TASK, results, min_correct=0.0)
    # accuracy = right runs / expected runs:
    #   p/exact 0.7 * 4/4 + 0.3 * 100/400 = 0.775
    #   p/quick 0.7 * 2/4 + 0.3 * 100/100 = 0.65 (1.0 if it were judged on its 2 runs)
    assert [(s.model, s.status) for s in ranking.standings] == [
        ("p/exact", "champion"),
        ("p/quick", "runner-up"),
    ]
    quick = one(ranking, "p/quick")
    assert quick.accuracy == 0.5
    assert quick.weighted_score == pytest.approx(0.65)
    assert one(ranking, "p/exact").weighted_score == pytest.approx(0.775)
    assert quick.miss_summary() == "incomplete: 2 of 4 cases not run"


def test_rank_task_holds_every_model_to_the_expected_runs() -> None:
    # The collected runs: 3 cases, 1 run each (repeat 1); -x stopped before anyone made C2.
    expected = [("C0", 1), ("C1", 1), ("C2", 1)]
    results = [*timed("p/a", [10.0, 20.0]), *timed("p/b", [50.0, 60.0])]
    strict = rank_task(TASK, results, expected=expected, generic_threshold=None)
    weighted = rank_task(
        TASK,
        results,
        policy="weighted",
        expected=expected,
        generic_threshold=None,
        min_correct=0.0,
    )
    assert strict.champion is None
    assert [s.model for s in weighted.qualified] == ["p/a", "p/b"]  # ranked, not complete
    for s in (*strict.standings, *weighted.standings):
        assert s.score == "2/3"
        assert s.miss_summary() == "incomplete: 1 of 3 cases not run"
    without = rank_task(TASK, results, generic_threshold=None)  # the results alone
    assert without.champion is not None
    assert without.champion.model == "p/a"
