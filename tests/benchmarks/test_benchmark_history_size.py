"""A run's cost does not grow with the history (issue 22, "Cost that grows with the history").

A small run (20 cases x 2 instant scripted models) with a 100 MB history against the
same run with none yet: the peak resident memory (``VmHWM`` of the child process, as
``test_benchmark_memory.py`` measures it) and the CPU (the child's user + system time)
of each, printed beside the target (within 5% of the empty history's) and the load
average; kept in ``benchmark.extra_info``, no assertion on the figures.

The 100 MB history is a real one: 50 earlier nightly runs of the same task, each of
2,000 results with long answers (``storage/history.py``'s ``record_run``), so every query
the run makes at its start and end (baseline ``last``, the change column) meets the rows.
Rounds interleaved (empty, then large), one unmeasured run of each first (bytecode warm),
the median of each kind.  ``LLMBENCH_BENCH_ROUNDS`` sets the rounds (default 3).

Run it alone with ``pytest tests/benchmarks/test_benchmark_history_size.py -m performance -s``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.analysis.ranking import rank_task
from pytest_llmbench.execution.results import Result
from pytest_llmbench.storage import history
from tests.benchmarks.perf_table import readme_row
from tests.benchmarks.test_benchmark_memory import PEAK, scripted_conftest
from tests.support.casedata import verdict_yaml

pytestmark = pytest.mark.performance

pytest.importorskip("pytest_benchmark")

TARGET_PERCENT = 5.0
HISTORY_MB = 100
ROUNDS = int(os.environ.get("LLMBENCH_BENCH_ROUNDS", "3"))
CONFTEST = scripted_conftest(2)


def _large_history(path: Path) -> None:
    """A history of at least ``HISTORY_MB`` MB: earlier nights of the benchmark's task."""
    answer = "PASS " + "x" * 2000
    night = 0
    while not path.exists() or path.stat().st_size < HISTORY_MB * 1024 * 1024:
        night += 1
        results = [
            Result(
                "grading",
                f"CASE_{i:04d}",
                f"fake/m{i % 2}",
                1,
                "PASS",
                answer,
                True,
                latency_ms=5.0,
            )
            for i in range(2000)
        ]
        started = f"2025-01-{1 + night % 28:02d}T{night // 28:02d}:00:00+00:00"
        run = {
            "id": f"2025-{night:04d}-hist",
            "started_at": started,
            "models": ["fake/m0", "fake/m1"],
        }
        history.record_run(path, run, results, [rank_task("grading", results)])


def _measure(project: Path, history_path: Path) -> tuple[float, float]:
    """(peak MiB, CPU s) of one small run recorded in ``history_path``."""
    args = ["evals", "--llm-models=fake", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark"]
    args.append(f"--llm-history={history_path}")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "40 passed" in done.stdout
    lines = done.stdout.splitlines()
    kib = next(line for line in lines if line.startswith("PEAK_KIB")).split()[1]
    cpu = next(line for line in lines if line.startswith("CPU_S")).split()[1]
    return int(kib) / 1024, float(cpu)


def test_a_small_run_costs_the_same_with_a_100_mb_history(
    pytester: pytest.Pytester, benchmark: Any
) -> None:
    pytester.makeconftest(CONFTEST)
    (pytester.mkdir("evals") / "grading.yaml").write_text(verdict_yaml(cases=20))
    large = pytester.path / "large" / "history.sqlite"
    large.parent.mkdir()
    _large_history(large)
    size_mb = large.stat().st_size / 1024 / 1024

    def empty(n: int) -> Path:  # a history not there yet, new for every run
        return pytester.path / f"empty{n}" / "history.sqlite"

    def run() -> dict[str, list[tuple[float, float]]]:
        _measure(pytester.path, empty(0))  # unmeasured: bytecode warm
        _measure(pytester.path, large)
        figures: dict[str, list[tuple[float, float]]] = {"empty": [], "large": []}
        for n in range(1, ROUNDS + 1):
            figures["empty"].append(_measure(pytester.path, empty(n)))
            figures["large"].append(_measure(pytester.path, large))
        return figures

    figures = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    peak = {kind: statistics.median(p for p, _ in runs) for kind, runs in figures.items()}
    cpu = {kind: statistics.median(c for _, c in runs) for kind, runs in figures.items()}
    peak_pct = 100 * (peak["large"] - peak["empty"]) / peak["empty"]
    cpu_pct = 100 * (cpu["large"] - cpu["empty"]) / cpu["empty"]
    load = os.getloadavg()[0]
    target = f"within {TARGET_PERCENT:.0f}% of an empty history"
    measured = (
        f"peak {peak['large']:.1f} MiB vs {peak['empty']:.1f} MiB ({peak_pct:+.1f}%), "
        f"CPU {cpu['large']:.2f} s vs {cpu['empty']:.2f} s ({cpu_pct:+.1f}%)"
    )
    print(
        f"\n20 cases x 2 models, {size_mb:.0f} MB history vs empty (median of {ROUNDS}): "
        f"{measured}; target {target}; load average {load:.1f}"
    )
    benchmark.extra_info.update(
        {
            "history_mb": round(size_mb, 1),
            "peak_mib": {k: round(v, 1) for k, v in peak.items()},
            "cpu_s": {k: round(v, 3) for k, v in cpu.items()},
            "peak_percent": round(peak_pct, 1),
            "cpu_percent": round(cpu_pct, 1),
            "target": target,
            "load_average_1m": round(load, 2),
        }
    )
    readme_row(
        benchmark,
        "history-size",
        what=(
            f"a small run (20 cases x 2 instant models) with a {size_mb:.0f} MB history "
            "against none (`tests/benchmarks/test_benchmark_history_size.py`: the "
            "subprocess's peak RSS and CPU, median of the rounds)"
        ),
        target=target,
        measured=f"**{measured}**",
    )
