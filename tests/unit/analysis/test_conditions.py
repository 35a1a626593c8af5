"""Runs know their conditions (issue 24, point 5): load, cores, the loaded mark, the gate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pytest_llmbench.analysis.conditions import (
    describe_loaded,
    is_loaded,
    measure,
    run_conditions,
)
from pytest_llmbench.analysis.gate import Baseline, gate
from pytest_llmbench.analysis.ranking import rank_strict
from pytest_llmbench.analysis.run import RunOutcome
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.end import ranking_lines
from pytest_llmbench.reporting.history import history_lines
from pytest_llmbench.storage import history

CALM = {"load_1m": 0.5, "cores": 2}
BUSY = {"load_1m": 3.1, "cores": 2}


def test_measure_reads_the_load_average_and_the_cores() -> None:
    now = measure()
    assert now["cores"] == os.cpu_count()
    assert now["load_1m"] is None or now["load_1m"] >= 0


def test_a_run_is_loaded_when_the_load_exceeded_the_cores_at_either_end() -> None:
    assert run_conditions(CALM, CALM, 2) == {
        "start": CALM,
        "end": CALM,
        "embedded_threads": 2,
        "loaded": False,
    }
    busy = run_conditions(CALM, BUSY)
    assert busy["loaded"] is True
    assert is_loaded({"conditions": busy})
    assert describe_loaded({"conditions": busy}) == "load average 3.1 on 2 cores at the end"
    assert describe_loaded({"conditions": run_conditions(CALM, CALM)}) is None
    assert not is_loaded({})  # a run of an older version: no conditions, not marked
    assert not is_loaded({"conditions": run_conditions({"load_1m": None, "cores": 2}, CALM)})


def res(model: str, ms: float, case: str = "C1") -> Result:
    return Result("t", case, model, 0, "PASS", "PASS", True, "", ms)


def test_the_summary_marks_a_loaded_run() -> None:
    outcome = RunOutcome(results=[], rankings=[rank_strict("t", [res("p/a", 100.0)])])
    lines = [text for text, _ in ranking_lines(outcome, {"t": 1}, False, [], None)]
    assert not any("loaded machine" in line for line in lines)
    marked = ranking_lines(outcome, {"t": 1}, False, [], run_conditions(BUSY, CALM))
    assert marked[-2:] == [
        (
            "Warning: this run ran on a loaded machine: its latencies are inflated and "
            "timeouts may be the machine's;",
            {"yellow": True},
        ),
        ("compare them with care (load average 3.1 on 2 cores at the start)", {"yellow": True}),
    ]
    assert all(len(text) <= 120 for text, _ in marked)


def rankings(ms: float) -> list[Any]:
    return [rank_strict("t", [res("p/a", ms)])]


def test_the_gate_says_when_it_compares_latency_with_a_loaded_baseline() -> None:
    quiet = gate(rankings(200.0), baseline=Baseline("run 1", rankings(100.0)))
    assert quiet.failed
    assert not any("loaded machine" in line for line in quiet.lines)
    loaded = Baseline("run 1", rankings(100.0), {"conditions": run_conditions(BUSY, CALM)})
    verdict = gate(rankings(200.0), baseline=loaded)
    assert verdict.reasons == quiet.reasons  # the regression still fails the gate, said
    assert (
        "run 1 ran on a loaded machine (load average 3.1 on 2 cores at the start): its "
        "latencies are inflated, so a latency change against it may be the machine's"
    ) in verdict.lines


def test_the_gate_says_when_this_run_was_loaded() -> None:
    verdict = gate(
        rankings(200.0),
        baseline=Baseline("run 1", rankings(100.0)),
        run={"conditions": run_conditions(CALM, BUSY)},
    )
    assert any(
        line.startswith("this run ran on a loaded machine (load average 3.1")
        for line in verdict.lines
    )


def test_the_history_marks_a_change_involving_a_loaded_run(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    for index, (ms, conditions) in enumerate(
        [(100.0, run_conditions(CALM, CALM)), (200.0, run_conditions(BUSY, BUSY)), (210.0, None)]
    ):
        run: dict[str, Any] = {"id": f"run-{index}", "started_at": f"2026-01-0{index + 1}T00:00:00"}
        if conditions is not None:
            run["conditions"] = conditions
        results = [res("p/a", ms)]
        history.record_run(path, run, results, rankings(ms))
    rows = history.task_timeline(path, "t")
    assert [row["loaded"] for row in rows] == [False, True, False]
    lines = history_lines(rows, "t")
    marked = [line.split()[0] for line in lines[2:] if "(loaded)" in line]
    assert marked == ["run-1", "run-2"]  # loaded itself, then compared with a loaded run
