"""Memory: the peak of a 20,000-item run (5,000 cases x 4 instant scripted models).

Target: at most 250 MiB peak resident memory, printed beside the figure and kept in
``benchmark.extra_info``; no assertion on it.  Two runs in subprocesses (the peak is
the process's own high-water mark, ``VmHWM`` in ``/proc/self/status``; ``ru_maxrss``
where there is no ``/proc``, which on Linux also counts the pages of the process that
started it, mapped when it forked: after a benchmark that loaded an embedded model, the
parent's 390 MiB): the defaults (journal and history written), and with
``--llm-json`` as well (the document is streamed to its file one record at a time, so it
adds little to the peak).

Run it alone with ``pytest tests/benchmarks/test_benchmark_memory.py --benchmark-only -s``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.benchmarks.perf_table import readme_row
from tests.support.casedata import verdict_yaml

pytestmark = pytest.mark.performance

pytest.importorskip("pytest_benchmark")

TARGET_MIB = 250


def scripted_conftest(models: int) -> str:
    """A conftest registering ``models`` instant scripted models (``fake/m0`` ...), always
    right on the verdict cases."""
    return f"""
from pytest_llmbench.providers.scripted import ScriptedProvider


def right(request):
    return '{{"verdict": "PASS"}}' if "GOOD" in request.prompt else '{{"verdict": "FAIL"}}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("fake", {{f"m{{i}}": right for i in range({models})}}))
"""


CONFTEST = scripted_conftest(4)
PEAK = """
import resource, sys, pytest

code = pytest.main(sys.argv[1:])
try:  # this process's own peak (ru_maxrss keeps the forking parent's, on Linux)
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
usage = resource.getrusage(resource.RUSAGE_SELF)
print("PEAK_KIB", kib)
print("CPU_S", usage.ru_utime + usage.ru_stime)
sys.exit(code)
"""
"""Runs pytest with the arguments given; prints the process's peak resident memory
(``PEAK_KIB``) and its CPU seconds (``CPU_S``)."""


@pytest.mark.parametrize("outputs", ["defaults", "json"])
def test_peak_memory_of_20000_items(
    pytester: pytest.Pytester, benchmark: Any, outputs: str
) -> None:
    pytester.makeconftest(CONFTEST)
    (pytester.mkdir("evals") / "grading.yaml").write_text(verdict_yaml(cases=5000))
    args = ["evals", "--llm-models=fake", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark"]
    if outputs == "json":
        args.append(f"--llm-json={pytester.path / 'out.json'}")

    def run() -> float:
        done = subprocess.run(
            [sys.executable, "-c", PEAK, *args],
            cwd=pytester.path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-2000:]
        assert "20000 passed" in done.stdout
        kib = next(line for line in done.stdout.splitlines() if line.startswith("PEAK_KIB"))
        return int(kib.split()[1]) / 1024

    peak = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(
        {
            "outputs": outputs,
            "peak_mib": round(peak, 1),
            "figure": f"{peak:.0f} MiB peak",
            "target": f"<= {TARGET_MIB} MiB",
        }
    )
    print(f"\n20,000 items ({outputs}): {peak:.0f} MiB peak (target <= {TARGET_MIB} MiB)")
    described = {
        "defaults": "with the default outputs (journal, history)",
        "json": "with `--llm-json` as well (the document streamed to its file)",
    }
    readme_row(
        benchmark,
        f"memory-{outputs}",
        what=(
            "peak memory of 20,000 items (5,000 cases x 4 instant models; "
            "`tests/benchmarks/test_benchmark_memory.py`: the subprocess's peak RSS), "
            f"{described[outputs]}"
        ),
        target=f"<= {TARGET_MIB} MiB",
        measured=f"**{peak:.0f} MiB**",
    )
