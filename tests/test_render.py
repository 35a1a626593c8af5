"""Unit tests for pytest_llmbench.render: summary lines and the --llm-json document."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pytest_llmbench.ranking import TaskRanking, rank_strict
from pytest_llmbench.render import json_document, summary_lines, task_lines
from pytest_llmbench.results import Result


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
        "model      correct    mean ms    p95 ms    tok/s  status",
        "-------  ---------  ---------  --------  -------  ------------",
        "p/a            2/2        200       290     50.0  champion",
        "p/b            2/2      1,250     1,475        -  runner-up",
        "p/c            1/2         60        69        -  disqualified",
        "Champion:  p/a (2/2 correct, mean 200 ms, p95 290 ms)",
        "Runner-up: p/b (2/2 correct, mean 1,250 ms, p95 1,475 ms)",
        "Did not qualify:",
        "  p/c (1/2): too lenient on FAIL_1",
    ]


def test_task_lines_only_one_model_qualified() -> None:
    results = [
        res("p/a", "PASS_1", True, 120.0),
        lenient("p/b", "FAIL_1", 80.0, repeat=0),
        lenient("p/b", "FAIL_1", 90.0, repeat=1),
        res("p/b", "FAIL_1", True, 100.0, repeat=2),
    ]
    lines = task_lines(rank_strict("grading", results))
    assert lines[0] == "task grading (strict policy)"  # no case count given
    # p/b: mean (80 + 90 + 100) / 3 = 90; p95 at position 1.9: 90 + 10 * 0.9 = 99
    assert lines[3:] == [
        "p/a            1/1        120       120        -  champion",
        "p/b            1/3         90        99        -  disqualified",
        "Champion:  p/a (1/1 correct, mean 120 ms, p95 120 ms)",
        "Runner-up: none, only one model qualified",
        "Did not qualify:",
        "  p/b (1/3): too lenient on FAIL_1 (2/3)",
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
        "p/b            1/2         40        49        -  disqualified",
        "p/a            0/2         20        20        -  disqualified",
        "Champion:  none, no model qualified (nearest miss: p/b, 1/2)",
        "Did not qualify:",
        "  p/b (1/2): too lenient on FAIL_1",
        "  p/a (0/2): error on PASS_1; wrong on FAIL_1",
    ]


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
        "model      correct    mean ms    p95 ms    tok/s  status",
        "-------  ---------  ---------  --------  -------  --------",
        # mean (4 + 6) / 2 = 5; p95 4 + 2 * 0.95 = 5.9, shown rounded as 6
        "p/a            2/2          5         6        -  champion",
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
    assert set(task) == {"policy", "champion", "runner_up", "ranking", "disqualified", "notes"}
    assert task["policy"] == "strict"
    assert task["notes"] == []
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
    assert task["ranking"][0] == {
        "model": "p/a",
        "status": "champion",
        "qualified": True,
        "correct": 2,
        "total": 2,
        "errors": 0,
        "mean_ms": 200.0,
        "p95_ms": 290.0,
        "tokens_per_s": 50.0,
        "failed_cases": [],
    }
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
