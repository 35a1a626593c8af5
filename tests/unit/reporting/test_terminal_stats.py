"""Unit tests for the statistics in the summary, the detail tables and the JSON document."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from pytest_llmbench.analysis.ranking import model_loads, rank_task, with_loads
from pytest_llmbench.execution.prices import Price, PriceTable
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.terminal import WIDTH, detail_lines, summary_lines, task_lines
from pytest_llmbench.storage.json_report import json_document
from tests.support import factories


def res(model: str, case: str, latency: float, correct: bool = True, **kw: Any) -> Result:
    fields: dict[str, Any] = {
        "task": "t",
        "expected": f"gold {case}",
        "got": f"{case} " * 4,
        "latency_ms": latency,
        "prompt_hash": f"hash-{case}",
        **kw,
    }
    return factories.result(model, case, correct=correct, **fields)


def verdict(model: str, case: str, said: str, latency: float = 100.0, **kw: Any) -> Result:
    gold = "PASS" if "PASS" in case else "FAIL"
    return res(
        model,
        case,
        latency,
        correct=said == gold,
        expected=gold,
        got=said,
        kind="verdict",
        expected_label=gold,
        got_label=said,
        pass_label="PASS",
        **kw,
    )


def test_weighted_heading_score_column_and_champion_line() -> None:
    # p/quick 3/4 at 100 ms: 0.5 * 0.75 + 0.5 * 1 = 0.875; p/exact 4/4 at 400 ms: 0.5 + 0.125
    results = [
        *(res("p/quick", f"C{i}", 100.0, correct=i < 3) for i in range(4)),
        *(res("p/exact", f"C{i}", 400.0) for i in range(4)),
    ]
    lines = task_lines(
        rank_task("t", results, policy="weighted", weights=(0.5, 0.5), min_correct=0.0), 4
    )
    assert lines == [
        "task t (weighted policy: quality 0.5, speed 0.5, 4 cases)",
        "model      correct    score    mean ms    p50 ms    p95 ms    speed    tok/s  status",
        "-------  ---------  -------  ---------  --------  --------  -------  -------  ---------",
        "p/quick        3/4    0.875        100       100       100   10,000        -  champion",
        "p/exact        4/4    0.625        400       400       400    2,500        -  runner-up",
        "Champion:  p/quick (score 0.875, 3/4 correct, mean 100 ms, p95 100 ms)",
        "Runner-up: p/exact (score 0.625, 4/4 correct, mean 400 ms, p95 400 ms)",
        "Wrong answers of ranked models:",
        "  p/quick (3/4): wrong on C3",
    ]


def test_cold_and_cost_columns_appear_when_there_is_something_to_show() -> None:
    results = [
        res("openai/m", "A", 900.0, cold=True, prompt_tokens=400, completion_tokens=50),
        res("openai/m", "B", 100.0, prompt_tokens=400, completion_tokens=50),
    ]
    prices = PriceTable((Price("openai/*", input=0.15, output=0.60),))
    lines = task_lines(rank_task("t", results, prices=prices))
    assert lines[1].split() == [
        *("model", "correct", "mean", "ms", "p50", "ms", "p95", "ms", "speed"),
        *("cold", "ms", "tok/s", "$/1k", "status"),
    ]
    # warm mean 100 (the cold 900 apart); $ 1000 * (400 * 0.15 + 50 * 0.60) / 1e6 = 0.090
    assert lines[3].split() == [
        *("openai/m", "2/2", "100", "100", "100", "10,000"),
        *("900", "-", "0.090", "champion"),
    ]


def test_load_column_shows_each_model_load_and_a_legend_follows_the_last_task() -> None:
    results = [
        res("p/a", "A", 900.0, cold=True, cold_start_ms=1234.0),
        res("p/a", "B", 100.0),
        # p/b was loaded already (an embedded model a previous session loaded): no load
        res("p/b", "A", 300.0, cold=True),
        res("p/b", "B", 200.0),
    ]
    other = [replace(r, task="u", cold=False, cold_start_ms=None) for r in results]
    loads = model_loads([*results, *other])
    assert loads == {"p/a": 1234.0}
    # the load happened before the first case of task t: task u's table shows it too
    rankings = [with_loads(rank_task(task, [*results, *other]), loads) for task in ("t", "u")]
    lines = summary_lines(rankings, {"t": 2, "u": 2})
    assert lines[1].split() == [
        *("model", "correct", "mean", "ms", "p50", "ms", "p95", "ms", "speed"),
        *("cold", "ms", "load", "ms", "tok/s", "status"),
    ]
    assert lines[3].split() == [
        *("p/a", "2/2", "100", "100", "100", "10,000", "900", "1,234", "-", "champion")
    ]
    assert lines[4].split()[6:8] == ["300", "-"]  # p/b: cold 300 ms, no load measured
    u = lines.index("task u (strict policy, 2 cases)")
    assert lines[u + 1].split()[9:11] == ["load", "ms"]  # no cold call in u: no cold column
    # in u every call is warm: p/b (mean 250 ms) before p/a (500 ms)
    assert lines[u + 3].split()[:3] + lines[u + 3].split()[-3:-2] == ["p/b", "2/2", "250", "-"]
    assert lines[u + 4].split()[:3] + lines[u + 4].split()[-3:-2] == [
        *("p/a", "2/2", "500", "1,234")
    ]
    assert lines[-2:] == [
        "",
        "cold ms: the first answer after loading (not in mean, p50, p95); load ms: loading the "
        "model before its first case",
    ]
    assert sum(line.startswith("cold ms: ") for line in lines) == 1
    # too narrow for them: speed goes first, then load, then cold, and the legend with them
    narrow = summary_lines(rankings[:1], {"t": 2}, width=90)
    assert narrow[1].split()[-5:] == ["cold", "ms", "load", "ms", "status"]
    narrower = summary_lines(rankings[:1], {"t": 2}, width=80)
    assert narrower[1].split()[-3:] == ["cold", "ms", "status"]
    assert narrower[-1] == "cold ms: the first answer after loading (not in mean, p50, p95)"
    narrowest = summary_lines(rankings[:1], {"t": 2}, width=70)
    assert narrowest[1].split()[-3:] == ["p95", "ms", "status"]
    assert narrowest[-1].startswith("Runner-up: ")  # no legend for columns not shown


def test_no_load_column_and_no_legend_without_loads_and_cold_calls() -> None:
    ranking = rank_task("t", [res("p/a", "A", 100.0), res("p/a", "B", 120.0)])
    lines = summary_lines([ranking], {"t": 2})
    assert "load ms" not in lines[1]
    assert "cold ms" not in lines[1]
    assert not any("first answer after" in line for line in lines)
    # cold calls alone: the legend names the cold column only
    cold = rank_task("t", [res("p/a", "A", 900.0, cold=True), res("p/a", "B", 120.0)])
    assert summary_lines([cold], {"t": 2})[-1] == (
        "cold ms: the first answer after loading (not in mean, p50, p95)"
    )


def test_no_cost_column_when_every_model_is_local_or_unknown() -> None:
    lines = task_lines(rank_task("t", [res("llamacpp/a", "A", 10.0), res("x/b", "A", 10.0)]))
    assert "$/1k" not in lines[1]


def test_warnings_suspect_gold_and_flaky_lines() -> None:
    sentence = "Advanced technical expertise in domain-specific systems"
    generic = [res(m, c, 10.0, got=sentence) for m in ("p/a", "p/b") for c in "AB"]
    lines = task_lines(rank_task("t", generic))
    assert lines[-6:] == [
        "Champion:  none, no model qualified (nearest miss: p/a, 0/2)",
        "Did not qualify:",
        "  p/a (0/2): generic answer on A, B",
        "  p/b (0/2): generic answer on A, B",
        "Warning: 2 of 2 models gave near-identical answers to different inputs (p/a, p/b; "
        "e.g. 'Advanced technical expertise in",
        "    domain-specific systems'): check that the prompt passes the input and that the "
        "checks can fail",
    ]
    grading = [
        verdict("p/a", "FAIL_1", "PASS"),
        verdict("p/b", "FAIL_1", "PASS"),
        verdict("p/c", "FAIL_1", "PASS", repeat=1),
        verdict("p/c", "FAIL_1", "PASS", repeat=2),
        verdict("p/d", "FAIL_1", "FAIL", repeat=1),
        verdict("p/d", "FAIL_1", "PASS", repeat=2),
    ]
    lines = task_lines(rank_task("t", grading))
    assert lines[-3:] == [
        "Flaky cases (right in some runs, wrong in others):",
        "  p/d: FAIL_1 (1/2 right)",
        "Suspect gold: FAIL_1: 3 of 4 models say PASS, gold is FAIL; recheck the label",
    ]


def twenty_models() -> list[Result]:
    """20 models with long names, 10 cases, 3 repeats, some cold, priced."""
    results: list[Result] = []
    for m in range(20):
        model = f"ollama/qwen2.5-coder-{m:02d}:7b-instruct-q4_K_M-very-long-tag"
        for c in range(10):
            for r in (1, 2, 3):
                case = f"GRADE_{'PASS' if c < 5 else 'FAIL'}_{c:03d}"
                said = "PASS" if (m + c + r) % 7 else "FAIL"
                results.append(
                    verdict(
                        model,
                        case,
                        said,
                        latency=1000.0 + 37 * m + 11 * c + r,
                        repeat=r,
                        cold=c == 0 and r == 1,
                        prompt_tokens=400,
                        completion_tokens=8,
                        eval_ms=200.0,
                    )
                )
    return results


def test_twenty_long_model_names_fit_in_120_columns() -> None:
    prices = PriceTable((Price("ollama/*", hourly=0.8),))
    ranking = rank_task("t", twenty_models(), prices=prices)
    lines = task_lines(ranking, 10)
    assert WIDTH == 120
    assert max(len(line) for line in lines) <= 120
    table = lines[1 : 1 + 2 + 20]
    assert len(table) == 22
    assert table[0].split()[:4] == ["model", "correct", "pass^3", "consist."]
    assert "status" in table[0]
    # each model's misses on one line: as many cases as fit, the rest counted
    misses = lines[lines.index("Did not qualify:") + 1 :][:20]
    assert all(line.startswith("  ollama/qwen2.5-coder-") for line in misses)
    assert all(line.endswith(" more") and "too strict on GRADE_PASS_" in line for line in misses)
    details = detail_lines([ranking])
    assert max(len(line) for line in details) <= 120
    assert any(line.startswith("task t: verdicts") for line in details)


def test_narrow_width_drops_optional_columns_then_shortens_names() -> None:
    ranking = rank_task("t", twenty_models())
    wide = task_lines(ranking, 10, width=200)
    assert "p50 ms" in wide[1]
    assert "ollama/qwen2.5-coder-" in wide[3]
    assert ":7b-instruct-q4_K_M-very-long-tag" in wide[3]
    narrow = task_lines(ranking, 10, width=100)
    assert max(len(line) for line in narrow) <= 100
    assert "p50 ms" not in narrow[1]
    assert "tok/s" not in narrow[1]
    # names cut where they are alike (the shared "ollama/qwen2.5-coder-"), still distinct
    names = [line.split()[0] for line in narrow[3:23]]
    assert len(set(names)) == 20
    assert all(name.startswith("…") and name.endswith("long-tag") for name in names)


def test_detail_tables() -> None:
    results = [
        verdict("p/a", "PASS_1", "PASS", 100.0),
        verdict("p/a", "PASS_2", "FAIL", 110.0),
        verdict("p/a", "FAIL_1", "FAIL", 120.0),
        verdict("p/a", "FAIL_2", "PASS", 130.0, cold=True, cold_start_ms=850.0),
    ]
    lines = detail_lines([rank_task("t", results)])
    # warm [100, 110, 120]: mean 110, sd 10, CI 110 -/+ 24.84 -> 85..135; p99 119.8
    # tp 1 (FAIL_1), fn 1 (FAIL_2), fp 1 (PASS_2), tn 1: all 0.50
    assert lines == [
        "",
        "task t: latency (warm calls), pass rate and cost",
        "model      runs    mean ms    sd ms    95% CI ms    p99 ms    cold ms    load ms    pass@1"
        "    $/1k  cost basis",
        "-------  ------  ---------  -------  -----------  --------  ---------  ---------  --------"
        "  ------  ------------",
        "p/a           3        110       10      85..135       120        130        850      0.50"
        "       -  unknown",
        "task t: verdicts, positive = the FAIL side (bad items)",
        "model      accuracy    precision    recall    F1    tp    fn    fp    tn    none",
        "-------  ----------  -----------  --------  ----  ----  ----  ----  ----  ------",
        "p/a            0.50         0.50      0.50  0.50     1     1     1     1       0",
        "tp: bad item caught, fn: bad item let through (too lenient), fp: good item failed "
        "(too strict), tn: good item passed,",
        "    none: no label",
    ]


def test_json_document_has_every_statistic() -> None:
    sentence = "Advanced technical expertise in domain-specific systems"
    results = [
        verdict("p/a", "PASS_1", "PASS", 100.0),
        verdict("p/a", "FAIL_1", "PASS", 120.0),
        verdict("p/b", "PASS_1", "PASS", 100.0),
        verdict("p/b", "FAIL_1", "PASS", 120.0),
        verdict("p/c", "PASS_1", "PASS", 100.0),
        verdict("p/c", "FAIL_1", "PASS", 120.0),
        res("p/a", "X", 5.0, task="skills", got=sentence),
        res("p/a", "Y", 5.0, task="skills", got=sentence),
    ]
    rankings = [rank_task("t", results), rank_task("skills", results)]
    doc = json.loads(json.dumps(json_document({}, results, rankings)))
    grading, skills = doc["tasks"]["t"], doc["tasks"]["skills"]
    assert grading["suspect_gold"] == [
        {
            "case_id": "FAIL_1",
            "gold": "FAIL",
            "answer": "PASS",
            "models": ["p/a", "p/b", "p/c"],
            "of": 3,
        }
    ]
    metrics = grading["disqualified"][0]["verdict_metrics"]
    assert metrics["confusion"] == {
        "PASS": {"PASS": 1, "FAIL": 0, "none": 0},
        "FAIL": {"PASS": 1, "FAIL": 0, "none": 0},
    }
    assert (metrics["accuracy"], metrics["precision"], metrics["recall"], metrics["f1"]) == (
        0.5,
        None,
        0.0,
        0.0,
    )
    assert skills["generic_answers"] == [
        {"model": "p/a", "case_id": "X", "repeat": 1, "similar_to": "Y", "similarity": 1.0},
        {"model": "p/a", "case_id": "Y", "repeat": 1, "similar_to": "X", "similarity": 1.0},
    ]
    [tmpl] = skills["disqualified"]
    assert tmpl["failed_cases"][0]["direction"] == "generic answer"
    assert skills["warnings"][0].startswith("1 of 1 models gave near-identical answers")
    # the records stay as each item scored them
    assert [r["correct"] for r in doc["results"] if r["task"] == "skills"] == [True, True]


@pytest.mark.parametrize("policy", ["strict", "weighted"])
def test_json_weights_only_for_weighted(policy: str) -> None:
    ranking = rank_task("t", [res("p/a", "A", 10.0)], policy=policy, weights=(0.6, 0.4))
    task = json_document({}, [], [ranking])["tasks"]["t"]
    expected = {"quality": 0.6, "speed": 0.4} if policy == "weighted" else None
    assert task["weights"] == expected
    assert task["ranking"][0]["weighted_score"] == (1.0 if policy == "weighted" else None)
