"""Unit tests for pytest_llmbench.reporting.terminal: summary lines and the --llm-json document."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from pytest_llmbench.analysis.ranking import TaskRanking, rank_strict, rank_weighted
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.terminal import summary_lines, task_lines
from pytest_llmbench.storage.json_report import json_document

EXTRA_KEYS = {
    "weighted_score",
    "latency",
    "cold",
    "repeats",
    "verdict_metrics",
    "cost_per_1k_requests",
    "cost_basis",
}


def res(
    model: str, case: str, correct: bool, latency: float, task: str = "grading", **kw: Any
) -> Result:
    fields: dict[str, Any] = {
        "task": task,
        "case_id": case,
        "model": model,
        "repeat": 0,
        "expected": "FAIL" if case.startswith("FAIL") else "PASS",
        "got": "?",
        "correct": correct,
        "latency_ms": latency,
    }
    fields.update(kw)
    return Result(**fields)


def lenient(model: str, case: str, latency: float, repeat: int = 0) -> Result:
    """Said PASS on a FAIL case."""
    return res(
        model,
        case,
        False,
        latency,
        repeat=repeat,
        got="PASS",
        kind="verdict",
        expected_label="FAIL",
        got_label="PASS",
        pass_label="PASS",
    )


# Two qualified models and one that was too lenient.
#   p/a: 100, 300 ms   -> mean 200, p95 100 + 200 * 0.95 = 290; 40 tokens / 0.8 s = 50.0 tok/s
#   p/b: 1000, 1500 ms -> mean 1,250, p95 1000 + 500 * 0.95 = 1,475
#   p/c: 50, 70 ms     -> mean 60, p95 50 + 20 * 0.95 = 69; 1 of 2 correct
# p50 of two samples is their mean; speed = 1000 / seconds: 5,000, 800, 16,667.
# p/a and p/b are tied: with two samples t(1) = 12.706 makes the intervals wide,
# p/a (200 -/+ 12.706 * 141.42 / sqrt 2 = 1,270.6) and p/b (1,250 -/+ 3,176.5) overlap.
THREE = [
    res("p/a", "PASS_1", True, 100.0, completion_tokens=20, eval_ms=400.0),
    res("p/a", "FAIL_1", True, 300.0, completion_tokens=20, eval_ms=400.0),
    res("p/b", "PASS_1", True, 1000.0),
    res("p/b", "FAIL_1", True, 1500.0),
    res("p/c", "PASS_1", True, 50.0),
    lenient("p/c", "FAIL_1", 70.0),
]


def test_task_lines_champion_and_runner_up() -> None:
    assert task_lines(rank_strict("grading", THREE), 2) == [
        "task grading (strict policy, 2 cases)",
        "model      correct    mean ms    p50 ms    p95 ms    speed    tok/s  status",
        "-------  ---------  ---------  --------  --------  -------  -------  ------------",
        "p/a            2/2        200       200       290    5,000     50.0  champion",
        "p/b            2/2      1,250     1,250     1,475      800        -  runner-up",
        "p/c            1/2         60        60        69   16,667        -  disqualified",
        "Champion:  p/a (2/2 correct, mean 200 ms, p95 290 ms)",
        "Runner-up: p/b (2/2 correct, mean 1,250 ms, p95 1,475 ms)",
        "Tied: the champion and the runner-up are statistically tied (their 95% confidence "
        "intervals of the mean latency",
        "    overlap); the champion is faster on the median (200 vs 1,250 ms)",
        "Did not qualify:",
        "  p/c (1/2): too lenient on FAIL_1",
    ]


def test_task_lines_only_one_model_qualified() -> None:
    results = [
        *(res("p/a", "FAIL_1", True, 120.0, repeat=index) for index in range(3)),
        lenient("p/b", "FAIL_1", 80.0, repeat=0),
        lenient("p/b", "FAIL_1", 90.0, repeat=1),
        res("p/b", "FAIL_1", True, 100.0, repeat=2),
    ]
    lines = task_lines(rank_strict("grading", results))
    assert lines[0] == "task grading (strict policy, 3 runs each)"  # no case count given
    # p/b: mean (80 + 90 + 100) / 3 = 90; p95 at position 1.9: 90 + 10 * 0.9 = 99
    # pass^3: p/a C(3,3)/C(3,3) = 1; p/b C(1,3)/C(3,3) = 0
    # consistency: p/a said "?" every run; p/b said PASS, PASS, "?"
    assert lines[1:] == [
        "model      correct    pass^3    consist.    mean ms    p50 ms    p95 ms    speed"
        "    tok/s  status",
        "-------  ---------  --------  ----------  ---------  --------  --------  -------"
        "  -------  ------------",
        "p/a            3/3      1.00        1.00        120       120       120    8,333"
        "        -  champion",
        "p/b            1/3      0.00        0.00         90        90        99   11,111"
        "        -  disqualified",
        "Champion:  p/a (3/3 correct, mean 120 ms, p95 120 ms)",
        "Runner-up: none, only one model qualified",
        "Did not qualify:",
        "  p/b (1/3): too lenient on FAIL_1 (2/3)",
        "Flaky cases (right in some runs, wrong in others):",
        "  p/b: FAIL_1 (1/3 right)",
    ]


def test_task_lines_no_model_qualified() -> None:
    results = [
        res("p/a", "PASS_1", False, 10.0, error="timeout after 120 s"),
        res("p/a", "FAIL_1", False, 20.0, got="{}", kind="json", reason="missing field 'x'"),
        res("p/b", "PASS_1", True, 30.0),
        lenient("p/b", "FAIL_1", 50.0),
    ]
    lines = task_lines(rank_strict("grading", results), 2)
    # p/b (1/2) is ahead of p/a (0/2). p/a's error is left out of its latency: only 20 ms.
    assert lines[3:] == [
        "p/b            1/2         40        40        49   25,000        -  disqualified",
        "p/a            0/2         20        20        20   50,000        -  disqualified",
        "Champion:  none, no model qualified (nearest miss: p/b, 1/2)",
        "Did not qualify:",
        "  p/b (1/2): too lenient on FAIL_1",
        "  p/a (0/2): error on PASS_1; wrong on FAIL_1; a call error, not a wrong answer: "
        "timeout after 120 s",
    ]


def test_task_lines_say_why_an_incomplete_model_did_not_qualify() -> None:
    # p/fast made 1 of the 4 runs (the run was stopped), p/rash 2 (a -k left out the others).
    results = [
        *(res("p/slow", case, True, 300.0) for case in ("PASS_1", "FAIL_1", "PASS_2", "FAIL_2")),
        res("p/fast", "PASS_1", True, 10.0),
        res("p/rash", "PASS_1", True, 20.0),
        lenient("p/rash", "FAIL_1", 20.0),
    ]
    lines = task_lines(rank_strict("grading", results), 4)
    assert lines[3:] == [
        "p/slow         4/4        300       300       300    3,333        -  champion",
        "p/fast         1/4         10        10        10  100,000        -  disqualified",
        "p/rash         1/4         20        20        20   50,000        -  disqualified",
        "Champion:  p/slow (4/4 correct, mean 300 ms, p95 300 ms)",
        "Runner-up: none, only one model qualified",
        "Did not qualify:",
        "  p/fast (1/4): incomplete: 3 of 4 cases not run",
        "  p/rash (1/4): incomplete: 2 of 4 cases not run; too lenient on FAIL_1",
    ]


def test_task_lines_name_incomplete_ranked_models_under_the_weighted_policy() -> None:
    results = [
        *(res("p/all", f"PASS_{i}", True, 400.0) for i in range(4)),
        *(res("p/part", f"PASS_{i}", True, 100.0) for i in range(3)),
    ]
    lines = task_lines(rank_weighted("grading", results, min_correct=0.0), 4)
    # p/part: 0.7 * 3/4 + 0.3 * 1 = 0.825; p/all 0.7 + 0.3 * 100 / 400 = 0.775
    assert lines[-3:] == [
        "Runner-up: p/all (score 0.775, 4/4 correct, mean 400 ms, p95 400 ms)",
        "Wrong or missing answers of ranked models:",
        "  p/part (3/4): incomplete: 1 of 4 cases not run",
    ]


@pytest.mark.parametrize(
    ("latencies", "speed"),
    [
        ([0.01, 0.02], "-"),  # a scripted answer: not 1000 / 0.000015 s = 66,666,667
        ([0.2, 1.0], "-"),  # mean 0.6 ms
        ([1.0, 1.0], "1,000,000"),  # 1000 / 0.001 s
        ([4.0, 6.0], "200,000"),
    ],
)
def test_speed_column_is_empty_below_one_millisecond(latencies: list[float], speed: str) -> None:
    results = [res("p/a", f"PASS_{i}", True, ms) for i, ms in enumerate(latencies)]
    header, _, row = task_lines(rank_strict("grading", results), 2)[1:4]
    # model, correct, mean ms, p50 ms, p95 ms, speed, ...
    assert header.split()[8] == "speed"
    assert row.split()[5] == speed


def test_task_lines_no_results_at_all() -> None:
    assert task_lines(rank_strict("grading", []))[-1] == "Champion:  none, no model qualified"


def test_task_lines_notes() -> None:
    ranking = dataclasses.replace(rank_strict("grading", THREE), notes=("prompt changed",))
    assert task_lines(ranking)[-1] == "Note: prompt changed"


def test_summary_lines_blank_line_between_tasks() -> None:
    results = [
        *THREE,
        res("p/a", "X_1", True, 4.0, task="extraction"),
        res("p/a", "X_2", True, 6.0, task="extraction"),
    ]
    rankings = [rank_strict("grading", results), rank_strict("extraction", results)]
    lines = summary_lines(rankings, {"grading": 2, "extraction": 2})
    grading = task_lines(rankings[0], 2)
    assert lines[: len(grading)] == grading
    assert lines[len(grading) :] == [
        "",
        "task extraction (strict policy, 2 cases)",
        "model      correct    mean ms    p50 ms    p95 ms    speed    tok/s  status",
        "-------  ---------  ---------  --------  --------  -------  -------  --------",
        # mean (4 + 6) / 2 = 5; p95 4 + 2 * 0.95 = 5.9, shown rounded as 6; 1000 / 0.005 s
        "p/a            2/2          5         5         6  200,000        -  champion",
        "Champion:  p/a (2/2 correct, mean 5 ms, p95 6 ms)",
        "Runner-up: none, only one model qualified",
    ]


def test_summary_lines_empty() -> None:
    assert summary_lines([], {}) == []


# --------------------------------------------------------------------------- JSON


def test_json_document_shape() -> None:
    ranking = rank_strict("grading", THREE)
    doc = json_document({"started": "2024-01-01T00:00:00Z", "models": 3}, THREE, [ranking])
    assert set(doc) == {"run", "results", "tasks"}
    assert doc["run"] == {"started": "2024-01-01T00:00:00Z", "models": 3}
    assert doc["results"] == [r.to_dict() for r in THREE]
    assert list(doc["tasks"]) == ["grading"]
    task = doc["tasks"]["grading"]
    assert set(task) == {
        "policy",
        "champion",
        "runner_up",
        "ranking",
        "disqualified",
        "notes",
        "weights",
        "repeats",
        "ties",
        "leads",
        "accuracy",
        "min_correct",
        "min_lead",
        "generic_answers",
        "suspect_gold",
        "warnings",
        "judge",
        "latency",
    }
    assert task["policy"] == "strict"
    assert task["latency"] == "mean"  # the latency the models are ordered by
    assert task["notes"] == []
    assert (task["weights"], task["repeats"]) == (None, 1)
    assert task["ties"] == [
        {"models": ["p/a", "p/b"], "faster_on_median": "p/a", "p50_ms": [200.0, 1250.0]}
    ]
    assert (task["generic_answers"], task["suspect_gold"], task["warnings"]) == ([], [], [])
    assert task["judge"] is None
    # It must survive a JSON round trip unchanged.
    assert json.loads(json.dumps(doc)) == doc


def test_json_document_agrees_with_the_ranking() -> None:
    ranking = rank_strict("grading", THREE)
    task = json_document({}, THREE, [ranking])["tasks"]["grading"]
    assert ranking.champion is not None
    assert ranking.runner_up is not None
    assert task["champion"] == ranking.champion.model == "p/a"
    assert task["runner_up"] == ranking.runner_up.model == "p/b"
    assert [s["model"] for s in task["ranking"]] == ["p/a", "p/b"]
    champion = task["ranking"][0]
    assert {k: v for k, v in champion.items() if k not in EXTRA_KEYS} == {
        "model": "p/a",
        "status": "champion",
        "qualified": True,
        "correct": 2,
        "total": 2,
        "mean_score": 1.0,
        "errors": 0,
        "mean_ms": 200.0,
        "p95_ms": 290.0,
        "tokens_per_s": 50.0,
        "failed_cases": [],
        "missing_runs": [],
        "eliminated": None,  # ran every run (--llm-eliminate skips none of a champion's)
        "raced": None,  # racing never stops timing a champion
        "load_ms": None,  # no load measured (no result has a cold_start_ms)
        "prompt_version": "",  # a task with one prompt: no version
        "prompt_version_hash": "",
        "combination": None,  # a single model, not a consensus combination
        # no answer was streamed; generation: the mean eval time the server reported
        "ttft": None,
        "itl_ms": None,
        "prefill_ms": None,
        "generation_ms": 400.0,
    }
    # p/a: 100, 300 ms; s = sqrt(2 * 100^2 / 1) = 141.42; half = 12.706 * 141.42 / sqrt(2)
    latency = champion["latency"]
    assert latency.pop("ci95_ms") == pytest.approx([200.0 - 1270.6, 200.0 + 1270.6])
    assert latency == pytest.approx(
        {
            "n": 2,
            "mean_ms": 200.0,
            "p50_ms": 200.0,
            "p95_ms": 290.0,
            "p99_ms": 298.0,  # 100 + 200 * 0.99
            "stdev_ms": 141.4214,
            "speed": 5000.0,
        },
        abs=1e-4,
    )
    assert champion["cold"] is None
    assert champion["repeats"] == {
        "k": 1,
        "pass_at_1": 1.0,
        "pass_hat_k": 1.0,
        "consistency": None,
        "flaky_cases": [],
        "cases": [
            {
                "case_id": c,
                "runs": 1,
                "passes": 1,
                "pass_rate": 1.0,
                "pass_hat_k": 1.0,
                "distinct_answers": 1,
            }
            for c in ("PASS_1", "FAIL_1")
        ],
    }
    assert champion["verdict_metrics"] is None  # THREE's p/a results carry no labels
    assert (champion["weighted_score"], champion["cost_per_1k_requests"]) == (None, None)
    [dis] = task["disqualified"]
    assert (dis["model"], dis["status"], dis["qualified"]) == ("p/c", "disqualified", False)
    assert dis["failed_cases"] == [
        {
            "case_id": "FAIL_1",
            "direction": "too lenient",
            "wrong": 1,
            "runs": 1,
            "expected": "FAIL",
            "got": "PASS",
            "reason": "",
        }
    ]


def test_json_document_lists_the_missing_runs() -> None:
    results = [*THREE[:2], res("p/b", "PASS_1", True, 10.0)]
    ranking = rank_strict("grading", results, expected=[("PASS_1", 0), ("FAIL_1", 0)])
    task = json_document({}, results, [ranking])["tasks"]["grading"]
    assert task["champion"] == "p/a"
    assert [s["missing_runs"] for s in task["ranking"]] == [[]]
    [dis] = task["disqualified"]
    assert (dis["model"], dis["correct"], dis["total"], dis["failed_cases"]) == ("p/b", 1, 2, [])
    assert dis["missing_runs"] == [{"case_id": "FAIL_1", "repeat": 0}]


def test_json_document_without_champion() -> None:
    results = [lenient("p/a", "FAIL_1", 10.0)]
    ranking: TaskRanking = rank_strict("grading", results)
    task = json_document({}, results, [ranking])["tasks"]["grading"]
    assert task["champion"] is None
    assert task["runner_up"] is None
    assert task["ranking"] == []
    assert [s["model"] for s in task["disqualified"]] == ["p/a"]


def test_json_document_one_entry_per_task() -> None:
    results = [*THREE, res("p/b", "X_1", True, 5.0, task="extraction")]
    rankings = [rank_strict("grading", results), rank_strict("extraction", results)]
    tasks = json_document({}, results, rankings)["tasks"]
    assert {name: t["champion"] for name, t in tasks.items()} == {
        "grading": "p/a",
        "extraction": "p/b",
    }
