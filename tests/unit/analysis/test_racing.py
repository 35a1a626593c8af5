"""Racing (``analysis.racing``): when a model is raced out, what it still runs, and how
the ranking shows it."""

from __future__ import annotations

import json
import math
from typing import Any

from pytest_llmbench.analysis.racing import MIN_RACE_PAIRS, Racer, mark_raced
from pytest_llmbench.analysis.ranking import rank_strict
from pytest_llmbench.execution.results import Result
from pytest_llmbench.storage.json_report import json_text, rankings_from_json

CASES = 8
REPEATS = 3
RUNS = CASES * REPEATS


def result(model: str, case: int, repeat: int, ms: float, **kw: Any) -> Result:
    fields: dict[str, Any] = {
        "task": "t",
        "case_id": f"C{case}",
        "model": model,
        "repeat": repeat,
        "expected": "PASS",
        "got": "PASS",
        "correct": True,
        "latency_ms": ms,
        "cold": case == 1 and repeat == 1,  # the first call after the load
    }
    fields.update(kw)
    return Result(**fields)


def length(case: int) -> float:
    """The case's length factor: the same for every model (the paired ratio removes it)."""
    return 1.0 + 0.3 * math.sin(case)


def all_runs(model: str, speed: float) -> list[Result]:
    return [
        result(model, case, repeat, speed * length(case))
        for repeat in range(1, REPEATS + 1)
        for case in range(1, CASES + 1)
    ]


def feed(racer: Racer, results: list[Result]) -> list[Result]:
    """Record ``results`` as the plugin would; the ones made (a raced-out model's repeats
    of a case it already ran are skipped)."""
    made = []
    for r in results:
        if racer.skip_reason(r.task, r.candidate, r.case_id) is not None:
            continue
        racer.record(r, RUNS)
        made.append(r)
    return made


def test_a_slower_model_is_raced_out_after_the_minimum_paired_calls() -> None:
    racer = Racer()
    feed(racer, all_runs("a", 10.0) + all_runs("b", 12.0))
    assert racer.top_two("t") == ["a", "b"]
    made = feed(racer, all_runs("c", 20.0))
    race = racer.raced[("t", "c")]
    # The first call is cold: 6 paired warm calls after 7 runs.
    assert race.after == MIN_RACE_PAIRS + 1
    assert [lead.model for lead in race.leads] == ["a", "b"]
    assert race.leads[0].ratio is not None
    assert math.isclose(race.leads[0].ratio, 2.0)
    assert race.leads[1].low is not None
    assert race.leads[1].low > 1.0
    # Every case still ran once; no repeat did.
    assert sorted(r.case_id for r in made) == sorted(f"C{i}" for i in range(1, CASES + 1))
    reason = racer.skip_reason("t", "c", "C1")
    assert reason is not None
    assert "raced out after 7 runs: slower than a and b" in reason


def test_no_race_before_two_models_are_done_nor_against_a_tie() -> None:
    racer = Racer()
    feed(racer, all_runs("a", 10.0))
    assert len(feed(racer, all_runs("c", 20.0))) == RUNS  # one reference only: no race
    feed(racer, all_runs("b", 12.0))
    assert len(feed(racer, all_runs("d", 12.0))) == RUNS  # as fast as the runner-up
    assert racer.raced == {}


def test_a_model_done_with_a_wrong_run_is_no_reference() -> None:
    racer = Racer()
    wrong = [
        r if (r.case_id, r.repeat) != ("C3", 2) else result("b", 3, 2, 12.0, correct=False)
        for r in all_runs("b", 12.0)
    ]
    feed(racer, all_runs("a", 10.0) + wrong)
    assert racer.top_two("t") == ["a"]
    assert len(feed(racer, all_runs("c", 20.0))) == RUNS


def test_a_noisy_small_difference_is_not_raced_out() -> None:
    racer = Racer()
    feed(racer, all_runs("a", 10.0) + all_runs("b", 12.0))
    noisy = [
        result("c", case, repeat, 12.5 * length(case) * (1.4 if case % 2 else 0.75))
        for repeat in range(1, REPEATS + 1)
        for case in range(1, CASES + 1)
    ]
    assert len(feed(racer, noisy)) == RUNS
    assert racer.raced == {}


def test_racing_off_records_nothing() -> None:
    racer = Racer(enabled=False)
    feed(racer, all_runs("a", 10.0) + all_runs("b", 12.0))
    assert len(feed(racer, all_runs("c", 20.0))) == RUNS
    assert racer.top_two("t") == []


def test_the_min_lead_keeps_a_model_within_it() -> None:
    racer = Racer(min_lead=0.5)  # a lead below 50% is a tie: c (2x a, 1.67x b) is not raced
    feed(racer, all_runs("a", 10.0) + all_runs("b", 12.0))
    assert len(feed(racer, all_runs("c", 20.0))) == RUNS


def test_the_ranking_keeps_a_raced_model_below_the_others_with_its_evidence() -> None:
    racer = Racer()
    made = feed(racer, all_runs("a", 10.0) + all_runs("b", 12.0) + all_runs("c", 11.0))
    made += feed(racer, all_runs("d", 20.0))
    expected = [(f"C{i}", k) for k in range(1, REPEATS + 1) for i in range(1, CASES + 1)]
    ranking = rank_strict("t", made, expected=expected)
    assert [s.model for s in ranking.qualified] == ["a", "c", "b"]  # d incomplete
    marked = mark_raced(ranking, racer.for_task("t"))
    assert [(s.model, s.status) for s in marked.qualified] == [
        ("a", "champion"),
        ("c", "runner-up"),
        ("b", "qualified"),
        ("d", "raced out"),
    ]
    d = marked.qualified[-1]
    assert (d.score, d.incomplete, d.mean_score) == ("8/8", None, 1.0)
    assert d.raced is not None
    assert (d.raced.made, d.raced.runs) == (CASES, RUNS)
    assert d.raced.describe().startswith("raced out after 7 runs (2.00x the latency of a [")
    assert d.raced.describe().endswith("; each case run once, 8 of 24 runs made")
    # The JSON keeps the evidence, and reads it back.
    doc = json.loads("".join(json_text({}, made, [marked])))
    task = doc["tasks"]["t"]
    raced = next(s for s in task["ranking"] if s["model"] == "d")["raced"]
    assert (raced["after"], raced["made"], raced["runs"]) == (7, CASES, RUNS)
    assert raced["leads"][0]["model"] == "a"
    assert raced["leads"][0]["ratio_ci"][0] > 1.0
    (back,) = rankings_from_json(doc)
    assert back.qualified[-1].raced == d.raced
    assert back.qualified[-1].status == "raced out"


def test_a_race_against_a_model_no_longer_qualified_ranks_by_the_figures() -> None:
    racer = Racer()
    made = feed(racer, all_runs("a", 10.0) + all_runs("b", 12.0) + all_runs("d", 20.0))
    # b is overturned at the end (a judge, the generic-answer check): d's race no longer
    # holds, it is ranked by its figures like any qualified model.
    made = [
        r
        if (r.model, r.case_id, r.repeat) != ("b", "C2", 1)
        else result("b", 2, 1, 12.0, correct=False)
        for r in made
    ]
    expected = [(f"C{i}", k) for k in range(1, REPEATS + 1) for i in range(1, CASES + 1)]
    marked = mark_raced(rank_strict("t", made, expected=expected), racer.for_task("t"))
    assert [(s.model, s.status) for s in marked.qualified] == [
        ("a", "champion"),
        ("d", "runner-up"),
    ]
    assert marked.qualified[1].raced is not None


class _Options:
    race = True
    rank_policy = None
    rank_latency = None
    min_lead = 0.05


def test_racing_is_serial_only() -> None:
    assert Racer.of(_Options(), serial=True).enabled
    assert Racer.of(_Options(), serial=True).min_lead == 0.05
    assert not Racer.of(_Options(), serial=False).enabled  # under xdist: off
