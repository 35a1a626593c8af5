"""Benchmark: the slot test's figures under load against what the script predicts (issue 23).

Model A (one slot, 100 ms) and model B (four slots, 150 ms), both always right, on the
emulated Ollama (``tests/support/slot_script.py``): with ``load: {concurrency: 4,
requests: 16, slo: {p95_ms: 250}}`` B is the champion at load, and each model's p95 and
goodput under load come within 10% of the script (acceptance 3 of issue 23): asserted when
the machine is quiet (load average below one per core at the start), printed with a
warning otherwise, since a busy machine adds its own queueing to every request.
Queueing on the emulator is real time, so the figures carry the HTTP round trips and the
machine's load, which is printed beside them; the functional suite checks only the
rankings and the script's floors (``tests/plugin/test_load.py``).

Run it alone with ``pytest tests/benchmarks/test_benchmark_load.py -m performance -s``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.benchmarks.perf_table import readme_row
from tests.support.casedata import right_answer
from tests.support.ollama_emulator import OllamaEmulator
from tests.support.slot_script import (
    A_GOODPUT,
    A_P95_MS,
    B_GOODPUT,
    B_S,
    LOAD_YAML,
    figures,
    models,
    run_task,
)

pytestmark = pytest.mark.performance

pytest.importorskip("pytest_benchmark")

MARGIN = 0.10


def test_the_slot_script_under_load_within_10_percent(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, benchmark: Any
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    quiet = os.getloadavg()[0] < (os.cpu_count() or 1)
    with OllamaEmulator(models=models(), answer=right_answer, resident_slots=None) as srv:
        task = benchmark.pedantic(
            lambda: run_task(pytester, srv.url, LOAD_YAML),
            rounds=1,
            iterations=1,
            warmup_rounds=0,
        )
    assert srv.errors == []
    a, b = figures(task, "ollama/a:1b"), figures(task, "ollama/b:1b")
    load = os.getloadavg()[0]
    measured = (
        f"A p95 {a['p95_ms']:.0f} ms (script {A_P95_MS:.0f}), goodput {a['goodput_rps']:.2f}/s "
        f"(script {A_GOODPUT:.2f}); B p95 {b['p95_ms']:.0f} ms (script {B_S * 1000:.0f}), "
        f"goodput {b['goodput_rps']:.1f}/s (script {B_GOODPUT:.1f})"
    )
    print(f"\nslot script at concurrency 4: {measured}; load average {load:.1f}")
    benchmark.extra_info.update(
        {
            "a": {k: a[k] for k in ("p95_ms", "goodput_rps", "throughput_rps")},
            "b": {k: b[k] for k in ("p95_ms", "goodput_rps", "throughput_rps")},
            "load_average_1m": round(load, 2),
        }
    )
    readme_row(
        benchmark,
        "load-slots",
        what=(
            "the slot script under load (A: 1 slot, 100 ms; B: 4 slots, 150 ms; 4 in flight, "
            "16 requests each): p95 and goodput against the script's"
        ),
        target="within 10% of the script",
        measured=measured,
    )
    assert task["at_load"]["champion"] == "ollama/b:1b"
    if not quiet:
        print("the machine was busy at the start: the figures are shown, not held to 10%")
        return
    assert b["p95_ms"] == pytest.approx(B_S * 1000, rel=MARGIN)
    assert b["goodput_rps"] == pytest.approx(B_GOODPUT, rel=MARGIN)
    assert a["p95_ms"] == pytest.approx(A_P95_MS, rel=MARGIN)
    assert a["goodput_rps"] == pytest.approx(A_GOODPUT, rel=MARGIN)
