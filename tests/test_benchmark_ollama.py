"""Benchmark: a whole run against an emulated Ollama vs the ideal schedule.

The emulated server has one resident-model slot and charges a load (0.2 s) on every
switch; each answer takes 0.02 s. For 4 models x 20 cases the ideal is one load per
model plus every answer: 4 x 0.2 + 80 x 0.02 = 2.4 s. Two figures are compared with it
(target: within 5 % of ideal):

- ``server_span_s``: wall time on the server, from the first load request it receives
  to the last unload, i.e. what the schedule costs (loads, answers, the client's and
  pytest's time between requests);
- ``run_wall_s``: the whole pytest run (start-up, discovery, collection, report,
  pytest's own teardown) for reference.

No timed assertion (the figure goes to ``benchmark.extra_info`` and the README); the
test asserts what makes the figure meaningful: 4 loads, 80 answers, all correct.

Run it alone with ``pytest tests/test_benchmark_ollama.py --benchmark-only``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from ollama_emulator import EmulatedModel, OllamaEmulator

pytest.importorskip("pytest_benchmark")

MODELS = ("gemma3:1b", "llama3.2:3b", "phi3:mini", "qwen2.5:7b")
CASES = 20
LOAD_S = 0.2
ANSWER_S = 0.02
IDEAL_S = len(MODELS) * LOAD_S + len(MODELS) * CASES * ANSWER_S

TASK_HEAD = """\
task: grading
prompt: "Posting: {posting}\\nAnswer PASS or FAIL."
output: {kind: verdict, labels: [PASS, FAIL]}
options: {temperature: 0, seed: 42, max_tokens: 16}
cases:
"""


def _task_yaml() -> str:
    lines = [TASK_HEAD.rstrip("\n")]
    for i in range(1, CASES + 1):
        good = i % 2 == 1
        lines += [
            f"  - id: CASE_{i:02d}",
            f"    expected: {{verdict: {'PASS' if good else 'FAIL'}}}",
            f"    vars: {{posting: {'GOOD' if good else 'BAD'} posting {i}}}",
            "    why: benchmark case",
        ]
    return "\n".join(lines) + "\n"


def _answer(model: str, messages: list[dict[str, Any]], fmt: Any, options: Any) -> str:
    return json.dumps({"verdict": "PASS" if "GOOD" in messages[-1]["content"] else "FAIL"})


def test_run_wall_time_against_the_ideal_schedule(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, benchmark: Any
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    evals = pytester.mkdir("evals")
    (evals / "grading.yaml").write_text(_task_yaml())
    srv = OllamaEmulator(
        models=[EmulatedModel(name) for name in MODELS],
        answer=_answer,
        resident_slots=1,
        load_latency_s=LOAD_S,
        latency_s=ANSWER_S,
    )
    walls: list[float] = []
    cpu: list[float] = []

    def one_run() -> pytest.RunResult:
        srv.reset_counters()
        cpu_started = time.process_time()
        started = time.perf_counter()
        result = pytester.runpytest(
            "evals",
            f"--llm-ollama-host={srv.url}",
            "--llm-models=ollama",
            "-p",
            "no:benchmark",
            "-p",
            "no:cacheprovider",
            "-q",
        )
        walls.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        return result

    with srv:
        result = benchmark.pedantic(one_run, rounds=1, iterations=1, warmup_rounds=0)
        result.assert_outcomes(passed=len(MODELS) * CASES)
        assert srv.loads == dict.fromkeys(MODELS, 1)
        assert srv.requests == dict.fromkeys(MODELS, CASES)
        assert srv.evictions == {}
    assert srv.errors == []

    # The server's view: from the first load to the last unload (both answered at once
    # apart from the load itself), i.e. everything the schedule costs on the server.
    inference = [r for r in srv.received if r.path in ("/api/generate", "/api/chat")]
    server_span = inference[-1].at - inference[0].at
    wall = walls[-1]
    benchmark.extra_info.update(
        {
            "models": len(MODELS),
            "cases": CASES,
            "load_s": LOAD_S,
            "answer_s": ANSWER_S,
            "ideal_s": round(IDEAL_S, 3),
            "server_span_s": round(server_span, 3),
            "server_ratio": round(server_span / IDEAL_S, 4),
            "per_case_overhead_ms": round((server_span - IDEAL_S) / (len(MODELS) * CASES) * 1e3, 2),
            "run_wall_s": round(wall, 3),
            "run_ratio": round(wall / IDEAL_S, 4),
            # CPU of this process (pytest, plugin, client and the in-process emulator)
            # and the machine's load: on a busy machine, waiting for a CPU shows up as
            # overhead that no client can avoid.
            "run_cpu_s": round(cpu[-1], 3),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    )
