"""The load phase through pytest, against the emulated Ollama with parallel slots.

The slot test of issue 23 (``tests/support/slot_script.py``): model A answers in 100 ms
with one slot, model B in 150 ms with four; both are always right.  One request at a
time A is the champion; with ``load: {concurrency: 4}`` B is.  Slots and queueing are
real time, so this test checks the rankings, the counts and the floors the script sets
(a busy machine only adds to latencies and takes from goodput); the figures within 10%
of the script are the benchmark's (``tests/benchmarks/test_benchmark_load.py``), which
runs in the benchmarks' own step and prints the machine's load beside them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml

from tests.support.casedata import NO_LLAMACPP, ollama_run_args, right_answer, verdict_yaml
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator
from tests.support.slot_script import (
    A_GOODPUT,
    A_P95_MS,
    A_WALL_S,
    B_GOODPUT,
    B_S,
    CASES,
    CONCURRENCY,
    LOAD_YAML,
    REQUESTS,
    SLO_MS,
    figures,
    models,
    run_task,
)

FLOOR = 0.98  # the clocks' and percentiles' rounding, nothing more


@pytest.fixture
def srv() -> Iterator[OllamaEmulator]:
    with OllamaEmulator(models=models(), answer=right_answer, resident_slots=None) as server:
        yield server
    assert server.errors == []


@pytest.mark.deadline
def test_one_slot_wins_alone_and_four_slots_win_at_concurrency_4(
    pytester: pytest.Pytester, srv: OllamaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    serial = run_task(pytester, srv.url, None)
    assert serial["champion"] == "ollama/a:1b"
    assert serial.get("at_load") is None

    task = run_task(pytester, srv.url, LOAD_YAML)
    assert task["champion"] == "ollama/b:1b"
    assert task["at_load"]["champion"] == "ollama/b:1b"
    assert srv.max_concurrent >= CONCURRENCY
    a, b = figures(task, "ollama/a:1b"), figures(task, "ollama/b:1b")
    print(
        f"A: p95 {a['p95_ms']:.0f} ms (script {A_P95_MS:.0f}), goodput "
        f"{a['goodput_rps']:.2f}/s (script {A_GOODPUT:.2f}); B: p95 {b['p95_ms']:.0f} ms "
        f"(script {B_S * 1000:.0f}), goodput {b['goodput_rps']:.1f}/s (script {B_GOODPUT:.1f})"
    )
    assert (a["requests"], b["requests"]) == (REQUESTS, REQUESTS)
    assert (a["errors"], b["errors"], a["wrong"], b["wrong"]) == (0, 0, 0, 0)
    # The script's floors: A's fourth request waits behind three, B serves four at once.
    assert b["p95_ms"] >= B_S * 1000 * FLOOR
    assert a["p95_ms"] >= A_P95_MS * FLOOR
    assert a["p95_ms"] > b["p95_ms"]
    assert a["goodput_rps"] <= A_GOODPUT / FLOOR
    assert b["goodput_rps"] <= B_GOODPUT / FLOOR
    assert b["goodput_rps"] > a["goodput_rps"]
    assert a["throughput_rps"] <= REQUESTS / A_WALL_S / FLOOR
    assert "grading under load: x4 in flight, 16 requests per model" in task["_stdout"]
    assert "champion at load" in task["_stdout"]
    registry = yaml.safe_load((pytester.path / "registry.yaml").read_text())
    evidence = registry["tasks"]["grading"]["champion"]
    assert evidence["model"] == "ollama/b:1b"
    assert evidence["at_load"]["concurrency"] == CONCURRENCY
    assert evidence["at_load"]["goodput_rps"] == pytest.approx(b["goodput_rps"], abs=0.01)
    assert evidence["at_load"]["slo_p95_ms"] == SLO_MS


def test_a_model_that_times_out_under_load_is_flagged_and_cannot_win(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    # A is faster alone (200 ms against 300) but serves one request at a time: with 8 in
    # flight its queue reaches 8 x 200 ms, past the 1 s timeout.
    models = [
        EmulatedModel("a:1b", latency_s=0.2, slots=1),
        EmulatedModel("b:1b", latency_s=0.3, slots=8),
    ]
    pytester.makeini("[pytest]\nllm_retries = 0\n")
    pytester.makeconftest(NO_LLAMACPP)
    pytester.mkdir("evals")
    load = "load: {concurrency: 8, requests: 8}\n"
    (pytester.path / "evals" / "grading.yaml").write_text(verdict_yaml(cases=2) + load)
    with OllamaEmulator(models=models, answer=right_answer, resident_slots=None) as server:
        result = pytester.runpytest(
            *ollama_run_args(server.url), "--llm-json=out.json", "--llm-timeout=1"
        )
    assert result.ret == 0, result.stdout.str()
    task = json.loads((pytester.path / "out.json").read_text())["tasks"]["grading"]
    assert task["champion"] == "ollama/b:1b"
    a = figures(task, "ollama/a:1b")
    assert a["errors"] > 0
    assert a["flag"].endswith("of 8 answers under load")
    flagged = next(s for s in task["disqualified"] if s["model"] == "ollama/a:1b")
    assert flagged["status"].startswith("flagged:")
    result.stdout.fnmatch_lines(["*ollama/a:1b*FLAGGED:*failed of 8 answers under load*"])


@pytest.mark.deadline
def test_the_load_phase_runs_once_per_task_under_xdist_with_the_serial_champion(
    pytester: pytest.Pytester, srv: OllamaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    serial = run_task(pytester, srv.url, LOAD_YAML)
    serial_counts = dict(srv.requests)
    srv.requests.clear()
    # The workers answer the cases; the controller runs the load phase once, after them.
    task = run_task(pytester, srv.url, LOAD_YAML, ("-n", "2"))
    assert "xdist: 2 model(s) on 2 worker(s)" in task["_stdout"]
    assert (
        dict(srv.requests) == serial_counts == {"a:1b": CASES + REQUESTS, "b:1b": CASES + REQUESTS}
    )
    assert task["champion"] == serial["champion"] == "ollama/b:1b"
    assert task["at_load"]["champion"] == serial["at_load"]["champion"] == "ollama/b:1b"
    assert [s["model"] for s in task["at_load"]["standings"]] == [
        s["model"] for s in serial["at_load"]["standings"]
    ]
    a, b = figures(task, "ollama/a:1b"), figures(task, "ollama/b:1b")
    assert (a["requests"], b["requests"]) == (REQUESTS, REQUESTS)
    assert (a["errors"], b["errors"], a["wrong"], b["wrong"]) == (0, 0, 0, 0)
    assert a["p95_ms"] >= A_P95_MS * FLOOR
    assert b["goodput_rps"] > a["goodput_rps"]
    assert task["_stdout"].count("grading under load: x4 in flight") == 1


def test_the_markdown_and_html_reports_carry_the_load_table_and_chart(
    pytester: pytest.Pytester, srv: OllamaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    run_task(pytester, srv.url, LOAD_YAML, ("--llm-report=report.md", "--llm-html=report.html"))
    caption = f"x{CONCURRENCY} in flight, {REQUESTS} requests per model, SLO p95"
    markdown = (pytester.path / "report.md").read_text()
    assert "### Under load" in markdown
    assert caption in markdown
    assert "**Champion at load:** `ollama/b:1b`" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| `ollama/")]
    load_rows = [line for line in rows if line.endswith(" of 16 | champion at load |")]
    assert len(load_rows) == 1
    assert load_rows[0].startswith("| `ollama/b:1b` |")
    html = (pytester.path / "report.html").read_text()
    assert "<h3>Under load</h3>" in html
    assert "champion at load: <b>ollama/b:1b</b>" in html
    assert html.count("<polyline") == 4  # p50 and p95 of A and B, alone and x4
    assert "ollama/a:1b: p95" in html
    assert f"x{CONCURRENCY} in flight</title>" in html
