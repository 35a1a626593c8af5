"""The benchmarks' figures beside their targets, at the end of the run.

The benchmarks carry the ``performance`` marker, which the default run leaves out
(``tests/conftest.py``); run them with ``pytest tests/benchmarks -m performance``.
"""

from __future__ import annotations

import pytest

from tests.benchmarks.perf_table import FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per benchmark: its figure, its target and the machine's load average."""
    if not FIGURES:
        return
    terminalreporter.section("llmbench benchmarks: figure, target, load average")
    width = max(len(key) for key, *_ in FIGURES)
    for key, measured, target, load in FIGURES:
        terminalreporter.write_line(
            f"{key:<{width}}  {measured.replace('**', '')}  "
            f"target: {target or '(reference)'}  load average: {load:.1f}"
        )
