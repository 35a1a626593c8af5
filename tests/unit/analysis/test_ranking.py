"""Unit tests for pytest_llmbench.analysis.ranking and the Result record it ranks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmbench.analysis.ranking import Miss, ModelStanding, mean, percentile, rank_strict
from pytest_llmbench.execution.results import Result

TASK = "grading"


def res(
    model: str, case: str, correct: bool = True, latency: float | None = 100.0, **kw: Any
) -> Result:
    """One result of TASK; verdict-free unless the caller says otherwise."""
    fields: dict[str, Any] = {
        "task": TASK,
        "case_id": case,
        "model": model,
        "repeat": 0,
        "expected": "PASS",
        "got": "PASS" if correct else "FAIL",
        "correct": correct,
        "latency_ms": latency,
    }
    fields.update(kw)
    return Result(**fields)


def verdict(
    model: str, case: str, expected: str, got: str | None, repeat: int = 0, **kw: Any
) -> Result:
    """A verdict result whose correctness follows from expected and got."""
    correct = kw.pop("correct", expected == got)
    return res(
        model,
        case,
        correct=correct,
        expected=expected,
        got=got or "garbage",
        kind="verdict",
        expected_label=expected,
        got_label=got,
        pass_label="PASS",
        repeat=repeat,
        **kw,
    )


def standing(ranking_models: tuple[ModelStanding, ...], model: str) -> ModelStanding:
    [found] = [s for s in ranking_models if s.model == model]
    return found


# --------------------------------------------------------------------------- statistics


def test_mean() -> None:
    assert mean([1.0, 2.0, 3.0, 4.0]) == 2.5  # 10 / 4
    assert mean([7.0]) == 7.0
    assert mean([]) is None


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # sorted [15, 20, 35, 40, 50]; position = (5 - 1) * q / 100
        (0, 15.0),
        (40, 29.0),  # position 1.6: 20 + (35 - 20) * 0.6 = 29
        (50, 35.0),  # position 2.0: exactly the middle value
        (95, 48.0),  # position 3.8: 40 + (50 - 40) * 0.8 = 48
        (100, 50.0),
    ],
)
def test_percentile_hand_computed(q: float, expected: float) -> None:
    assert percentile([50.0, 15.0, 40.0, 20.0, 35.0], q) == pytest.approx(expected)


def test_percentile_four_values() -> None:
    # position = 3 * 0.95 = 2.85: 30 + (40 - 30) * 0.85 = 38.5
    assert percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)
    # position = 3 * 0.5 = 1.5: 20 + (30 - 20) * 0.5 = 25
    assert percentile([40.0, 30.0, 20.0, 10.0], 50) == pytest.approx(25.0)


def test_percentile_single_sample_and_empty() -> None:
    assert percentile([7.0], 95) == 7.0
    assert percentile([7.0], 0) == 7.0
    assert percentile([], 95) is None


# --------------------------------------------------------------------------- Result


@pytest.mark.parametrize(
    ("expected", "got", "direction"),
    [
        ("FAIL", "PASS", "too lenient"),
        ("PASS", "FAIL", "too strict"),
        ("FAIL", None, "unparseable"),
        ("PASS", "PASS", ""),  # correct: no direction
    ],
)
def test_direction_of_a_verdict(expected: str, got: str | None, direction: str) -> None:
    assert verdict("m", "C", expected, got).direction == direction


def test_direction_error_wins_over_verdict() -> None:
    result = verdict("m", "C", "FAIL", None, correct=False, error="timeout after 120 s")
    assert result.direction == "error"


def test_direction_wrong_for_non_pass_labels_and_other_kinds() -> None:
    # Three labels: FAIL vs UNSURE is neither more lenient nor stricter.
    assert verdict("m", "C", "FAIL", "UNSURE").direction == "wrong"
    # Right label but a failed extra check (e.g. contains).
    assert verdict("m", "C", "PASS", "PASS", correct=False).direction == "wrong"
    assert res("m", "C", correct=False, kind="json").direction == "wrong"
    assert res("m", "C", correct=False, kind="text").direction == "wrong"


def test_to_dict_from_dict_round_trip() -> None:
    result = verdict(
        "ollama/qwen2.5:7b",
        "GRADE_FAIL_001",
        "FAIL",
        "PASS",
        repeat=2,
        reason="expected FAIL, said PASS",
        load_ms=12.5,
        eval_ms=800.0,
        prompt_tokens=120,
        completion_tokens=8,
        tokens_per_s=10.0,
        prompt_hash="0123456789abcdef",
        host="http://127.0.0.1:11434",
        difficulty="hard",
    )
    data = result.to_dict()
    assert data["case_id"] == "GRADE_FAIL_001"
    assert data["completion_tokens"] == 8
    assert "direction" not in data  # a derived property, not a field
    assert Result.from_dict(json.loads(json.dumps(data))) == result


def test_from_dict_ignores_unknown_keys() -> None:
    data = res("m", "C").to_dict()
    data.update({"direction": "too lenient", "added_in_v2": [1, 2]})
    assert Result.from_dict(data) == res("m", "C")


# --------------------------------------------------------------------------- rank_strict


def test_champion_and_runner_up_by_mean_latency() -> None:
    results = [
        res("p/slow", "A", latency=300.0),
        res("p/slow", "B", latency=500.0),  # mean 400
        res("p/fast", "A", latency=100.0),
        res("p/fast", "B", latency=200.0),  # mean 150
        res("p/mid", "A", latency=200.0),
        res("p/mid", "B", latency=300.0),  # mean 250
    ]
    ranking = rank_strict(TASK, results)
    assert ranking.task == TASK
    assert ranking.policy == "strict"
    assert [(s.model, s.status) for s in ranking.standings] == [
        ("p/fast", "champion"),
        ("p/mid", "runner-up"),
        ("p/slow", "qualified"),
    ]
    assert ranking.champion is not None
    assert ranking.champion.model == "p/fast"
    assert ranking.champion.mean_ms == 150.0
    assert ranking.champion.score == "2/2"
    assert ranking.runner_up is not None
    assert ranking.runner_up.model == "p/mid"
    assert ranking.disqualified == ()
    assert ranking.nearest_miss is None


def test_one_wrong_answer_disqualifies_even_the_fastest() -> None:
    results = [
        res("p/fast", "A", latency=10.0),
        res("p/fast", "B", correct=False, latency=10.0),
        res("p/slow", "A", latency=900.0),
        res("p/slow", "B", latency=900.0),
    ]
    ranking = rank_strict(TASK, results)
    assert ranking.champion is not None
    assert ranking.champion.model == "p/slow"
    assert ranking.runner_up is None
    assert [s.model for s in ranking.qualified] == ["p/slow"]
    assert [(s.model, s.status, s.qualified) for s in ranking.disqualified] == [
        ("p/fast", "disqualified", False),
    ]


def test_latency_tie_broken_by_model_name() -> None:
    results = [
        res("p/b", "A", latency=100.0),
        res("p/b", "B", latency=300.0),  # mean 200
        res("p/a", "A", latency=250.0),
        res("p/a", "B", latency=150.0),  # mean 200
    ]
    ranking = rank_strict(TASK, results)
    assert [s.model for s in ranking.qualified] == ["p/a", "p/b"]


def test_disqualified_by_correct_ratio_then_latency_then_name() -> None:
    results = [
        # p/late: 3 of 4 correct (0.75), mean 500
        *(res("p/late", c, latency=500.0) for c in "ABC"),
        res("p/late", "D", correct=False, latency=500.0),
        # p/quick: 3 of 4 correct (0.75), mean 100
        *(res("p/quick", c, latency=100.0) for c in "ABC"),
        res("p/quick", "D", correct=False, latency=100.0),
        # p/half: 2 of 4 correct (0.5) although fastest, mean 10
        *(res("p/half", c, latency=10.0) for c in "AB"),
        *(res("p/half", c, correct=False, latency=10.0) for c in "CD"),
        # p/also: 3 of 4 correct (0.75), mean 100: ties p/quick, sorted by name
        *(res("p/also", c, latency=100.0) for c in "ABC"),
        res("p/also", "D", correct=False, latency=100.0),
    ]
    ranking = rank_strict(TASK, results)
    assert ranking.champion is None
    assert [(s.model, s.score) for s in ranking.disqualified] == [
        ("p/also", "3/4"),
        ("p/quick", "3/4"),
        ("p/late", "3/4"),
        ("p/half", "2/4"),
    ]
    assert ranking.nearest_miss is not None
    assert ranking.nearest_miss.model == "p/also"


def test_all_models_wrong() -> None:
    results = [
        res("p/a", "A", correct=False, latency=100.0),
        res("p/a", "B", correct=False),
        res("p/b", "A", correct=False, latency=50.0),
        res("p/b", "B", correct=True),
    ]
    ranking = rank_strict(TASK, results)
    assert ranking.champion is None
    assert ranking.runner_up is None
    assert ranking.qualified == ()
    # p/b has 1/2 right, p/a 0/2: p/b is the nearest miss.
    assert [(s.model, s.correct, s.total) for s in ranking.disqualified] == [
        ("p/b", 1, 2),
        ("p/a", 0, 2),
    ]
    assert ranking.nearest_miss is not None
    assert ranking.nearest_miss.model == "p/b"


def test_no_results() -> None:
    ranking = rank_strict(TASK, [])
    assert ranking.standings == ()
    assert ranking.champion is None
    assert ranking.nearest_miss is None


def test_results_of_other_tasks_are_ignored() -> None:
    results = [
        res("p/a", "A", latency=100.0),
        res("p/a", "A", correct=False, latency=1.0, task="extraction"),
        res("p/other", "A", latency=1.0, task="extraction"),
    ]
    ranking = rank_strict(TASK, results)
    assert [(s.model, s.total, s.correct, s.mean_ms) for s in ranking.standings] == [
        ("p/a", 1, 1, 100.0),
    ]
    assert ranking.champion is not None


def test_errors_counted_and_excluded_from_latency() -> None:
    results = [
        res("p/a", "A", latency=100.0),
        res("p/a", "B", latency=300.0),
        res("p/a", "C", correct=False, latency=120_000.0, error="timeout after 120 s"),
    ]
    [s] = rank_strict(TASK, results).standings
    assert (s.total, s.correct, s.errors, s.qualified) == (3, 2, 1, False)
    assert s.mean_ms == 200.0  # (100 + 300) / 2; the 120 s timeout is left out
    # p95 of [100, 300]: position 0.95 -> 100 + 200 * 0.95 = 290
    assert s.p95_ms == pytest.approx(290.0)


def test_wrong_answers_still_count_for_latency() -> None:
    results = [res("p/a", "A", latency=100.0), res("p/a", "B", correct=False, latency=200.0)]
    [s] = rank_strict(TASK, results).standings
    assert s.mean_ms == 150.0  # (100 + 200) / 2


def test_model_without_any_latency_ranks_last_among_qualified() -> None:
    results = [res("p/a", "A", latency=None), res("p/z", "A", latency=900.0)]
    ranking = rank_strict(TASK, results)
    assert [(s.model, s.mean_ms, s.p95_ms) for s in ranking.qualified] == [
        ("p/z", 900.0, 900.0),
        ("p/a", None, None),
    ]


def test_tokens_per_s_is_sum_of_tokens_over_sum_of_eval_time() -> None:
    results = [
        res("p/a", "A", completion_tokens=50, eval_ms=500.0),  # 100 tok/s on its own
        res("p/a", "B", completion_tokens=30, eval_ms=1500.0),  # 20 tok/s on its own
        res("p/a", "C", completion_tokens=None, eval_ms=900.0),  # no tokens: ignored
        res("p/a", "D", completion_tokens=40, eval_ms=None),  # no time: ignored
    ]
    [s] = rank_strict(TASK, results).standings
    # (50 + 30) tokens / (0.5 + 1.5) s = 40 tok/s (not the mean of rates, 60)
    assert s.tokens_per_s == pytest.approx(40.0)


def test_tokens_per_s_none_without_timings() -> None:
    [s] = rank_strict(TASK, [res("p/a", "A")]).standings
    assert s.tokens_per_s is None


# --------------------------------------------------------------------------- misses


def test_misses_name_the_direction() -> None:
    results = [
        verdict("p/a", "GRADE_PASS_001", "PASS", "PASS"),
        verdict("p/a", "GRADE_FAIL_001", "FAIL", "PASS", reason="expected FAIL, said PASS"),
        verdict("p/a", "GRADE_PASS_002", "PASS", "FAIL", reason="expected PASS, said FAIL"),
        verdict("p/a", "GRADE_FAIL_002", "FAIL", None, reason="no verdict"),
        verdict("p/a", "GRADE_FAIL_003", "FAIL", None, correct=False, reason="", error="HTTP 500"),
        res("p/a", "EXTRACT_001", correct=False, kind="json", reason="missing field 'x'"),
    ]
    [s] = rank_strict(TASK, results).standings
    assert s.misses == (
        Miss("GRADE_FAIL_001", "too lenient", 1, 1, "FAIL", "PASS", "expected FAIL, said PASS"),
        Miss("GRADE_PASS_002", "too strict", 1, 1, "PASS", "FAIL", "expected PASS, said FAIL"),
        Miss("GRADE_FAIL_002", "unparseable", 1, 1, "FAIL", "garbage", "no verdict"),
        Miss("GRADE_FAIL_003", "error", 1, 1, "FAIL", "garbage", "HTTP 500"),
        Miss("EXTRACT_001", "wrong", 1, 1, "PASS", "FAIL", "missing field 'x'"),
    )
    assert [m.describe() for m in s.misses] == [
        "too lenient on GRADE_FAIL_001",
        "too strict on GRADE_PASS_002",
        "unparseable on GRADE_FAIL_002",
        "error on GRADE_FAIL_003",
        "wrong on EXTRACT_001",
    ]
    assert s.miss_summary() == (
        "too lenient on GRADE_FAIL_001; too strict on GRADE_PASS_002; "
        "unparseable on GRADE_FAIL_002; error on GRADE_FAIL_003; wrong on EXTRACT_001"
    )


def test_misses_count_repeats() -> None:
    results = [
        verdict("p/a", "GRADE_FAIL_001", "FAIL", "PASS", repeat=0),
        verdict("p/a", "GRADE_FAIL_001", "FAIL", "FAIL", repeat=1),
        verdict("p/a", "GRADE_FAIL_001", "FAIL", "PASS", repeat=2),
        verdict("p/a", "GRADE_FAIL_002", "FAIL", "PASS", repeat=0),
        verdict("p/a", "GRADE_FAIL_002", "FAIL", "FAIL", repeat=1),
        verdict("p/a", "GRADE_FAIL_002", "FAIL", "FAIL", repeat=2),
    ]
    [s] = rank_strict(TASK, results).standings
    assert s.score == "3/6"
    assert [(m.case_id, m.wrong, m.runs) for m in s.misses] == [
        ("GRADE_FAIL_001", 2, 3),
        ("GRADE_FAIL_002", 1, 3),
    ]
    assert [m.describe() for m in s.misses] == [
        "too lenient on GRADE_FAIL_001 (2 of 3 runs)",
        "too lenient on GRADE_FAIL_002 (1 of 3 runs)",
    ]
    assert s.miss_summary() == "too lenient on GRADE_FAIL_001 (2/3), GRADE_FAIL_002 (1/3)"


def test_misses_with_mixed_directions_are_inconsistent() -> None:
    results = [
        verdict("p/a", "GRADE_FAIL_001", "FAIL", "PASS", repeat=0),
        verdict("p/a", "GRADE_FAIL_001", "FAIL", None, repeat=1),
    ]
    [s] = rank_strict(TASK, results).standings
    [miss] = s.misses
    assert (miss.direction, miss.wrong, miss.runs) == ("inconsistent", 2, 2)
    assert miss.describe() == "inconsistent on GRADE_FAIL_001 (2 of 2 runs)"


def test_qualified_model_has_no_misses() -> None:
    [s] = rank_strict(TASK, [verdict("p/a", "A", "PASS", "PASS")]).standings
    assert s.misses == ()
    assert s.miss_summary() == ""


# --------------------------------------------------------------------------- missing runs


def test_a_model_that_made_fewer_runs_does_not_qualify() -> None:
    # The fastest model stopped after A (-x, Ctrl-C, a -k that left out its B): not champion.
    results = [
        res("p/fast", "A", latency=10.0),
        res("p/slow", "A", latency=900.0),
        res("p/slow", "B", latency=900.0),
    ]
    ranking = rank_strict(TASK, results)
    assert ranking.champion is not None
    assert ranking.champion.model == "p/slow"
    fast = standing(ranking.standings, "p/fast")
    assert (fast.status, fast.qualified, fast.score, fast.accuracy) == (
        "disqualified",
        False,
        "1/2",
        0.5,
    )
    assert fast.misses == ()  # nothing it answered was wrong
    assert fast.incomplete is not None
    assert fast.incomplete.missing == (("B", 0),)
    assert fast.miss_summary() == "incomplete: 1 of 2 cases not run"
    assert standing(ranking.standings, "p/slow").incomplete is None


def test_runs_no_model_made_count_when_expected() -> None:
    # -x stopped the run during the first model's C: nobody made C (or D), so the results
    # alone cannot tell; the collected runs can.
    results = [res("p/a", "A", latency=10.0), res("p/a", "B", latency=10.0)]
    assert rank_strict(TASK, results).champion is not None  # results alone: looks complete
    expected = [("A", 0), ("B", 0), ("C", 0), ("D", 0)]
    ranking = rank_strict(TASK, results, expected=expected)
    assert ranking.champion is None
    [s] = ranking.disqualified
    assert s.score == "2/4"
    assert s.incomplete is not None
    assert s.incomplete.missing == (("C", 0), ("D", 0))
    assert s.incomplete.describe() == "incomplete: 2 of 4 cases not run"


def test_missing_repeats_are_counted_as_runs() -> None:
    # 2 cases x 3 runs; p/a stopped after run 1 of B.
    expected = [(case, run) for case in "AB" for run in (1, 2, 3)]
    results = [res("p/a", case, repeat=run) for case, run in expected[:4]]
    [s] = rank_strict(TASK, results, expected=expected).standings
    assert (s.qualified, s.score) == (False, "4/6")
    assert s.incomplete is not None
    assert s.incomplete.missing == (("B", 2), ("B", 3))
    assert s.incomplete.describe() == "incomplete: 2 of 6 runs not run"


def test_incomplete_and_wrong_are_both_named() -> None:
    gold = {"GRADE_FAIL_001": "FAIL", "GRADE_PASS_001": "PASS", "GRADE_PASS_002": "PASS"}
    results = [
        verdict("p/a", "GRADE_FAIL_001", "FAIL", "PASS"),
        *(verdict("p/b", case, label, label) for case, label in gold.items()),
    ]
    s = standing(rank_strict(TASK, results).standings, "p/a")
    assert s.score == "0/3"
    assert s.miss_summary() == "incomplete: 2 of 3 cases not run; too lenient on GRADE_FAIL_001"


def test_a_run_made_beyond_the_expected_ones_is_expected_of_every_model() -> None:
    results = [res("p/a", "A"), res("p/b", "A"), res("p/b", "B")]
    ranking = rank_strict(TASK, results, expected=[("A", 0)])
    assert [s.model for s in ranking.qualified] == ["p/b"]
    assert standing(ranking.standings, "p/a").score == "1/2"
