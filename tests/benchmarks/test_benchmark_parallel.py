"""Benchmark: a sweep over 4 emulated Ollama hosts, serial (``-n 0``) and with ``-n 4``.

Four emulated Ollama servers on loopback stand for four GPU boxes: each has its own
two models, one resident-model slot (a second model on a host evicts the first and
pays a load) and a fixed answer time (``ANSWER_S``).  The models' names put a host's
two models next to each other, so handing out models in name order would send two
workers to the same host while others idle; the scheduler must spread them.

Ideal times: serial = every load and every answer one after the other; ``-n 4`` =
a quarter of that (one worker per host, each host's two models in turn).  Two
speed-ups are recorded, neither asserted (the figures go to ``benchmark.extra_info``
and the README):

- ``sweep_speedup``: the servers' view, from the first request any host received to
  the last, i.e. the benchmark itself, the part that -n spreads (target: >= 3x);
- ``run_speedup``: the whole pytest run, xdist's start-up of four workers included.

The test asserts what makes the figures meaningful: every answer right, each host
loaded each of its models once (no host ever had two workers at once), one worker
per model.

Run it alone with ``pytest tests/benchmarks/test_benchmark_parallel.py --benchmark-only``.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack
from typing import Any

import pytest

from tests.benchmarks.perf_table import readme_row
from tests.support.casedata import NO_LLAMACPP, right_answer, verdict_yaml
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

pytestmark = pytest.mark.performance

pytest.importorskip("pytest_benchmark")
pytest.importorskip("xdist")

HOSTS = 4
MODELS_PER_HOST = 2
CASES = 12
ANSWER_S = 0.05
LOAD_S = 0.1
WORKERS = 4
SERIAL_IDEAL_S = HOSTS * MODELS_PER_HOST * (LOAD_S + CASES * ANSWER_S)
PARALLEL_IDEAL_S = SERIAL_IDEAL_S / WORKERS


def test_four_hosts_with_four_workers_against_serial(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, benchmark: Any
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    pytester.makeconftest(NO_LLAMACPP)
    pytester.mkdir("evals")
    (pytester.path / "evals" / "grading.yaml").write_text(verdict_yaml(cases=CASES))
    names = [
        [f"{chr(ord('a') + h)}{m}:1b" for m in range(1, MODELS_PER_HOST + 1)] for h in range(HOSTS)
    ]
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                OllamaEmulator(
                    models=[EmulatedModel(n) for n in host_models],
                    answer=right_answer,
                    resident_slots=1,
                    latency_s=ANSWER_S,
                    load_latency_s=LOAD_S,
                )
            )
            for host_models in names
        ]
        args = [
            "evals",
            "--llm-models=ollama",
            *(f"--llm-ollama-host={s.url}" for s in servers),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:benchmark",
            "-q",
        ]
        figures: dict[str, dict[str, float]] = {}

        def one_run(label: str, *extra: str) -> pytest.RunResult:
            for server in servers:
                server.reset_counters()
            started = time.perf_counter()
            result = pytester.runpytest_subprocess(*args, *extra, f"--llm-json={label}.json")
            wall = time.perf_counter() - started
            result.assert_outcomes(passed=HOSTS * MODELS_PER_HOST * CASES)
            for server, host_models in zip(servers, names, strict=True):
                assert server.loads == dict.fromkeys(host_models, 1), label
                assert server.requests == dict.fromkeys(host_models, CASES), label
                assert server.evictions == {}, label
            inference = [
                r.at
                for s in servers
                for r in s.received
                if r.path in ("/api/generate", "/api/chat")
            ]
            figures[label] = {
                "run_s": wall,
                "sweep_s": max(inference) - min(inference),
            }
            return result

        one_run("serial", "-n", "0")
        parallel = benchmark.pedantic(
            one_run, args=("parallel", "-n", str(WORKERS)), rounds=1, iterations=1
        )
        parallel.stdout.fnmatch_lines(
            [f"llmbench: xdist: {HOSTS * MODELS_PER_HOST} model(s) on {WORKERS} worker(s), *"]
        )
        doc = json.loads((pytester.path / "parallel.json").read_text())
        workers = doc["run"]["xdist"]["workers"]
        assert sorted(len(w["models"]) for w in workers.values()) == [MODELS_PER_HOST] * WORKERS

    s, p = figures["serial"], figures["parallel"]
    benchmark.extra_info.update(
        {
            "hosts": HOSTS,
            "models": HOSTS * MODELS_PER_HOST,
            "cases": CASES,
            "answer_s": ANSWER_S,
            "load_s": LOAD_S,
            "workers": WORKERS,
            "serial_ideal_s": round(SERIAL_IDEAL_S, 3),
            "parallel_ideal_s": round(PARALLEL_IDEAL_S, 3),
            "serial_sweep_s": round(s["sweep_s"], 3),
            "parallel_sweep_s": round(p["sweep_s"], 3),
            "sweep_speedup": round(s["sweep_s"] / p["sweep_s"], 2),
            "serial_run_s": round(s["run_s"], 3),
            "parallel_run_s": round(p["run_s"], 3),
            "run_speedup": round(s["run_s"] / p["run_s"], 2),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    )
    speedup = s["sweep_s"] / p["sweep_s"]
    print(
        f"\nsweep {s['sweep_s']:.2f} s -> {p['sweep_s']:.2f} s with -n {WORKERS}: "
        f"{speedup:.2f}x (target >= 3x); whole run {s['run_s']:.1f} s -> {p['run_s']:.1f} s"
    )
    readme_row(
        benchmark,
        "parallel-hosts",
        what=(
            f"{HOSTS} emulated Ollama hosts x {MODELS_PER_HOST} models x {CASES} cases, "
            f"{ANSWER_S:g} s per answer: the sweep with `-n {WORKERS}` against `-n 0` "
            "(`tests/benchmarks/test_benchmark_parallel.py`: first request to last, on the servers)"
        ),
        target=">= 3x",
        measured=(
            f"**{speedup:.2f}x** ({s['sweep_s']:.2f} s -> {p['sweep_s']:.2f} s; ideal "
            f"{WORKERS}x); the whole run including start-up of {WORKERS} workers: "
            f"{s['run_s']:.1f} s -> {p['run_s']:.1f} s"
        ),
    )
