"""Start-up cost of the plugin: what every pytest run pays once the plugin is installed.

Target: importing the entry point (``pytest_llmbench.plugin``) costs at most 30 ms of
the plugin's own modules and what only they import, measured with
``python -X importtime`` on the same run that measures pytest's own import.  Printed
beside the target, recorded in pytest-benchmark's ``extra_info`` with its README row; no
timed assertion.
Both figures come from one process with this machine's environment (the CI machines set
``PYTHONDONTWRITEBYTECODE=1``: every run compiles the modules, and that is counted).

What each entry point leaves out (pytest, jsonschema, provider SDKs) is asserted in
``tests/test_architecture.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from perf_table import readme_row

TARGET_MS = 30.0
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def _importtime(code: str) -> list[tuple[int, int, str]]:
    """(depth, cumulative µs, module) per module ``code`` imported, in importtime order."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            rows.append((len(match[3]) // 2, int(match[2]), match[4]))
    return rows


def plugin_import_ms() -> tuple[float, float]:
    """(the plugin's own import ms, pytest's import ms), from one ``-X importtime`` run.

    The plugin's own = the entry point's cumulative time minus the cumulative time of
    the modules it imports that pytest would import anyway (``pytest`` itself).
    """
    rows = _importtime("import pytest_llmbench.plugin")
    total = next(us for depth, us, name in rows if name == "pytest_llmbench.plugin")
    pytest_us = sum(us for depth, us, name in rows if name == "pytest" and depth == 1)
    return (total - pytest_us) / 1000.0, pytest_us / 1000.0


def test_the_entry_point_imports_in_at_most_30_ms(benchmark: pytest.FixtureDef[None]) -> None:
    own, of_pytest = benchmark.pedantic(plugin_import_ms, rounds=3, iterations=1)  # type: ignore[attr-defined]
    benchmark.extra_info.update(  # type: ignore[attr-defined]
        {"plugin_import_ms": round(own, 1), "pytest_import_ms": round(of_pytest, 1)}
    )
    print(
        f"\nimport pytest_llmbench.plugin: {own:.1f} ms of its own (target <= {TARGET_MS:.0f} ms); "
        f"pytest's own import on the same run: {of_pytest:.1f} ms"
    )
    readme_row(
        benchmark,
        "startup-import",
        what=(
            "importing the entry point (`pytest_llmbench.plugin`), which every pytest run in a "
            "project with the plugin installed pays: its own modules and what only they import "
            "(`tests/test_benchmark_startup.py`: `python -X importtime`, last of 3 rounds, with "
            "this machine's environment, `PYTHONDONTWRITEBYTECODE=1`)"
        ),
        target=f"<= {TARGET_MS:.0f} ms",
        measured=f"**{own:.1f} ms** (pytest's own import on the same run: {of_pytest:.1f} ms)",
    )
