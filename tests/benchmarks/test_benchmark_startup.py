"""Start-up cost of the plugin: what every pytest run pays once the plugin is installed.

Two benchmarks, each printing its figure beside its target and keeping both in
pytest-benchmark's ``extra_info``; no timed assertion.

**Importing the entry point** (``pytest_llmbench.plugin``) costs at most 30 ms of the
plugin's own modules and what only they import, measured with ``python -X importtime``
on the same run that measures pytest's own import, with this machine's environment
(the CI machines set ``PYTHONDONTWRITEBYTECODE=1``: every run compiles the modules,
and that is counted).

**The CPU a small run costs above pytest without the plugin** (issue 17, part 1; issue
23, point 0): at most 0.15 s, with an Ollama-only selection and with an embedded-only
one, in the run a user makes.  How:

- one project for every run: ``evals/grading.yaml`` (10 verdict cases) and
  ``test_plain.py`` (one plain test); every run is ``pytest`` on it as a user types it:
  no ``-q`` (progress and the ranking table shown), pytest's cache provider and every
  installed plugin loaded (pytest-benchmark too, in the reference as well); only the
  plugin's part differs.  Without the plugin (``-p no:llmbench``, the reference) the
  case file is not collected (a YAML file is no one else's) and only the plain test
  runs; so the figure is everything the plugin adds, its case items included;
- ``ollama``: ``--llm-ollama-host=<emulator> --llm-models=ollama``, a whole small run
  with the defaults: discovery, the 10 cases answered at once by an emulated Ollama in
  this process (``tests/support/ollama_emulator.py``; its CPU is not the child's), the
  journal written line by line, ranking, the table, the run appended to the history
  (which the next run reads: the project keeps its ``.llmbench`` across rounds, as a
  user's does); against the reference run;
- ``ollama, collected`` and ``embedded, collected`` (``--llm-models=llamacpp``, the
  embedded models installed): ``--collect-only``, start-up up to the first request,
  against the reference with ``--collect-only``.  A whole embedded run is not the
  figure: loading a model and its answers (seconds each) are the model's cost;
- CPU, not wall time: the child's user + system time from ``getrusage(RUSAGE_CHILDREN)``;
  rounds interleaved (reference, then each selection), the median of each kind over
  the rounds, minus the reference's median;
- with bytecode caches warm, as a user's second run is: ``PYTHONDONTWRITEBYTECODE``
  unset for the children (the CI machine sets it) and one unmeasured run of each kind
  first, so every module is read compiled (the plugin's from the assertion-rewritten
  copies pytest caches: pytest rewrites the modules of every plugin it loads through an
  entry point).  The same runs without any bytecode (``PYTHONPYCACHEPREFIX`` at an
  empty directory and ``PYTHONDONTWRITEBYTECODE=1``: every module compiled on every
  run, pytest's own in the reference too, and the plugin's also rewritten) are reported
  beside, without a target: the worst case, a first run after installing, and the CI
  machine's own setting.

An earlier version ran 5 cases with ``-q -p no:benchmark -p no:cacheprovider``; the
outside measurement (``tests/benchmarks/outside.py``, fresh project folders) is printed
by ``tests/benchmarks/test_benchmark_call_cpu.py``.

``LLMBENCH_BENCH_ROUNDS`` sets the number of rounds (default 5: each run is short).
What each run leaves unimported (no SDK for an Ollama-only run on plain http, none
for an embedded-only one, no TLS context) is asserted in ``tests/test_architecture.py``
and ``tests/e2e/test_embedded.py``; what each entry point leaves out (pytest, jsonschema,
provider SDKs) in ``tests/test_architecture.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import statistics
import subprocess
import sys
from typing import Any

import pytest

from tests.benchmarks.perf_table import readme_row
from tests.support.casedata import right_answer, run_with_cpu, verdict_yaml
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

pytestmark = pytest.mark.performance

TARGET_MS = 30.0
TARGET_CPU_S = 0.15
"""The CPU a small run may cost above ``pytest -p no:llmbench`` on the same collection."""
CASES = 10
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
            "(`tests/benchmarks/test_benchmark_startup.py`: `python -X importtime`, last of 3 "
            "rounds, with "
            "this machine's environment, `PYTHONDONTWRITEBYTECODE=1`)"
        ),
        target=f"<= {TARGET_MS:.0f} ms",
        measured=f"**{own:.1f} ms** (pytest's own import on the same run: {of_pytest:.1f} ms)",
    )
    load = os.getloadavg()[0]
    assert own <= TARGET_MS, (
        f"import pytest_llmbench.plugin: {own:.1f} ms of its own, above {TARGET_MS:.0f} ms "
        f"(load average {load:.1f} on {os.cpu_count()} cores)"
    )


# --------------------------------------------------------------------------- a small run

_QUIET: tuple[str, ...] = ()
"""Nothing switched off: the run a user makes (see the module doc)."""


def _embedded_installed() -> bool:
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    from pytest_llmbench.providers.base import BuiltinSettings
    from pytest_llmbench.providers.llamacpp import LlamaCppProvider

    return bool(LlamaCppProvider(BuiltinSettings()).discover().models)


class _Startup:
    """The project and one run of each kind; ``cpu(kind)`` is that run's child CPU time."""

    def __init__(self, pytester: pytest.Pytester, ollama_url: str, embedded: bool) -> None:
        self.pytester = pytester
        (pytester.mkdir("evals") / "grading.yaml").write_text(verdict_yaml(cases=CASES))
        pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
        ollama = (f"--llm-ollama-host={ollama_url}", "--llm-models=ollama")
        self.runs: dict[str, tuple[tuple[str, ...], int]] = {
            # kind -> (arguments, items expected to pass (run) or be collected)
            "reference": (("-p", "no:llmbench"), 1),
            "ollama": (ollama, 1 + CASES),
            "reference, collected": (("-p", "no:llmbench", "--collect-only"), 1),
            "ollama, collected": ((*ollama, "--collect-only"), 1 + CASES),
        }
        if embedded:
            self.runs["embedded, collected"] = (("--llm-models=llamacpp", "--collect-only"), 0)

    def cpu(self, kind: str) -> float:
        args, items = self.runs[kind]
        result, spent = run_with_cpu(self.pytester, *args, *_QUIET)
        assert result.ret == 0, result.stdout.str()[-2000:]
        if "--collect-only" not in args:
            result.assert_outcomes(passed=items)
        elif items:
            result.stdout.re_match_lines([rf".*\b{items} tests? collected"])
        return spent


def test_plugin_start_up_cpu_above_pytest_alone(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    benchmark: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("pytest_benchmark")
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    rounds = int(os.environ.get("LLMBENCH_BENCH_ROUNDS", "5"))
    embedded = _embedded_installed()
    figures: dict[str, dict[str, float]] = {}
    with OllamaEmulator(models=[EmulatedModel("m:1b")], answer=right_answer) as srv:
        runs = _Startup(pytester, srv.url, embedded)

        def measure() -> None:
            for caches in ("warm", "none"):
                if caches == "warm":
                    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
                    for kind in runs.runs:  # compiles (and caches) every module once
                        runs.cpu(kind)
                else:  # an empty cache directory, nothing written: every module compiled
                    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
                    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(pytester.mkdir("no-pyc")))
                spent: dict[str, list[float]] = {kind: [] for kind in runs.runs}
                for _ in range(rounds):
                    for kind in runs.runs:  # interleaved: a busy spell hits every kind alike
                        spent[kind].append(runs.cpu(kind))
                figures[caches] = {kind: statistics.median(v) for kind, v in spent.items()}

        benchmark.pedantic(measure, rounds=1, iterations=1, warmup_rounds=0)
        assert srv.errors == []

    def above(caches: str, kind: str) -> float:
        reference = "reference, collected" if "collected" in kind else "reference"
        return figures[caches][kind] - figures[caches][reference]

    kinds = [kind for kind in figures["warm"] if not kind.startswith("reference")]
    lines = [
        f"CPU above pytest -p no:llmbench ({rounds} round(s), median; {CASES} cases, "
        f"reference {figures['warm']['reference']:.3f} s run, "
        f"{figures['warm']['reference, collected']:.3f} s collected):"
    ]
    for kind in kinds:
        warm, cold = above("warm", kind), above("none", kind)
        verdict = "ok" if warm <= TARGET_CPU_S else "ABOVE TARGET"
        lines.append(
            f"  {kind:<20} {warm:+.3f} s  target <= +{TARGET_CPU_S} s  {verdict}   "
            f"(no bytecode: {cold:+.3f} s)"
        )
        key = kind.replace(", ", "_")
        benchmark.extra_info[f"{key}_cpu_above_s"] = round(warm, 3)
        benchmark.extra_info[f"{key}_cpu_above_no_pyc_s"] = round(cold, 3)
    benchmark.extra_info["reference_run_cpu_s"] = round(figures["warm"]["reference"], 3)
    benchmark.extra_info["target_cpu_above_s"] = TARGET_CPU_S
    benchmark.extra_info["rounds"] = rounds
    benchmark.extra_info["load_average_1m"] = round(os.getloadavg()[0], 2)
    if not embedded:
        lines.append("  embedded: not installed (pip install 'pytest-llmbench[embedded]')")
    with capsys.disabled():
        print("\n" + "\n".join(lines))

    def shown(kind: str, label: str) -> str:
        return f"{label} **{above('warm', kind):+.2f} s** ({above('none', kind):+.2f} s)"

    measured = [
        shown("ollama", f"Ollama, a run of {CASES} cases:"),
        shown("ollama, collected", "Ollama, collected:"),
    ]
    if embedded:
        measured.append(shown("embedded, collected", "embedded, collected:"))
    worst = max(above("warm", kind) for kind in kinds)
    readme_row(
        benchmark,
        "startup-cpu",
        what=(
            "the CPU a small run costs above `pytest -p no:llmbench` on the same project, with "
            "the user's defaults (journal and history on, progress and ranking table shown, "
            f"every installed plugin loaded; {CASES} cases and one plain test; "
            "`tests/benchmarks/test_benchmark_startup.py`: "
            f"child CPU time, median of {rounds} interleaved rounds, bytecode caches warm; "
            "in brackets with no bytecode at all, every module compiled): an Ollama-only "
            "selection (a whole run against an instant emulated server, and `--collect-only`) "
            "and an embedded-only one (`--collect-only`: start-up up to the first request)"
        ),
        target=f"<= +{TARGET_CPU_S} s",
        measured="; ".join(measured) + f"; {'met' if worst <= TARGET_CPU_S else 'not met'}",
    )
