"""Speed targets, measured with pytest-benchmark (no timed assertions here).

- collection of 2,000 cases x 10 models (20,000 items): target under 2 s;
- harness overhead per call against an instant provider (the path a case item runs:
  ``build_request``, ``fetch``, ``finish`` with the default scorer): target under 1 ms;
- for reference, a whole pytest run per item (pytest's own per-test cost included).

Run them alone with ``pytest tests/benchmarks/test_benchmarks.py --benchmark-only``.  Each
benchmark prints its figure beside its target and keeps both in
``benchmark.extra_info``, with its README row (``tests/benchmarks/perf_table.py`` writes the table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.cases.load import load_task
from pytest_llmbench.execution import scoring
from pytest_llmbench.execution.call import build_request, fetch, finish
from pytest_llmbench.execution.prices import PriceTable
from pytest_llmbench.providers.base import ModelInfo, Request, Response
from tests.benchmarks.perf_table import readme_row

pytestmark = pytest.mark.performance

pytest.importorskip("pytest_benchmark")

MODELS = 10
FILES = 20
CASES_PER_FILE = 100

CONFTEST = f"""
from pytest_llmbench.providers.scripted import ScriptedProvider


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("instant", {{
        f"m{{i}}": (lambda request: '{{"verdict": "PASS"}}') for i in range({MODELS})
    }}))
"""


def _task_yaml(name: str, cases: int) -> str:
    lines = [
        f"task: {name}",
        'prompt: "Posting: {posting}\\nSummary: {summary}\\nPASS or FAIL?"',
        "output: {kind: verdict, labels: [PASS, FAIL]}",
        "vars: {posting: {file: posting.txt}}",
        "cases:",
    ]
    for i in range(cases):
        lines += [
            f"  - id: CASE_{i:05d}",
            "    expected: {verdict: PASS}",
            "    difficulty: easy",
            "    tags: [bench]",
            f'    vars: {{summary: "summary number {i}"}}',
            "    why: benchmark case",
        ]
    return "\n".join(lines) + "\n"


def _project(pytester: pytest.Pytester, files: int, cases: int) -> None:
    pytester.makeconftest(CONFTEST)
    evals = pytester.mkdir("evals")
    (evals / "posting.txt").write_text("Acme is hiring a data engineer in Berlin. " * 20)
    for f in range(files):
        (evals / f"task_{f:02d}.yaml").write_text(_task_yaml(f"task_{f:02d}", cases))


def _stats(benchmark: Any) -> Any:
    """pytest-benchmark's statistics of the benchmark (``None`` when benchmarks are disabled)."""
    return getattr(getattr(benchmark, "stats", None), "stats", None)


def _report(
    benchmark: Any, capsys: pytest.CaptureFixture[str], key: str, what: str, target: str
) -> None:
    """Print the benchmark's mean beside its target, keep both in ``extra_info`` and the
    README row (nothing when benchmarks are disabled)."""
    stats = _stats(benchmark)
    if stats is None:
        return
    figure = f"{stats.mean * 1000:.3f} ms"
    benchmark.extra_info.update({"figure": figure, "target": target})
    with capsys.disabled():
        print(f"\n{what}: {figure} (target: {target})")
    if stats.mean >= 0.1:  # a whole run: seconds
        measured = f"**{stats.min:.2f} s** best, {stats.mean:.2f} s mean of {stats.rounds} rounds"
    else:
        measured = (
            f"**{stats.mean * 1000:.3f} ms** mean ({stats.min * 1e6:.0f} us min), "
            f"{stats.rounds:,} rounds"
        )
    readme_row(benchmark, key, what=what, target=target, measured=measured)


def test_collection_of_2000_cases_times_10_models(
    pytester: pytest.Pytester, benchmark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(pytester, FILES, CASES_PER_FILE)

    def collect() -> int:
        items, _ = pytester.inline_genitems("evals", "--llm-models=instant", "-p", "no:benchmark")
        return len(items)

    count = benchmark.pedantic(collect, rounds=3, iterations=1)
    assert count == FILES * CASES_PER_FILE * MODELS
    _report(
        benchmark,
        capsys,
        "collection",
        "collecting 2,000 cases x 10 models (20,000 items, in-process, YAML loading, "
        "validation and item creation included; `tests/benchmarks/test_benchmarks.py`)",
        "< 2 s",
    )


class _Instant:
    name = "instant"

    def discover(self) -> None:  # pragma: no cover - not used here
        return None

    def generate(self, request: Request) -> Response:
        return Response(text='{"verdict": "PASS"}', completion_tokens=4, eval_ms=1.0)


def test_harness_overhead_per_call(
    tmp_path: Path, benchmark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    case_file = tmp_path / "task.yaml"
    (tmp_path / "posting.txt").write_text("Acme is hiring a data engineer in Berlin. " * 20)
    case_file.write_text(_task_yaml("overhead", 1))
    task = load_task(case_file)
    case = task.cases[0]
    model = ModelInfo("instant", "m0")
    provider = _Instant()
    prices = PriceTable()

    def one_call() -> bool:
        # What a case item runs on pytest's thread (plugin/items.py, CaseItem.run_case, and
        # execution/call.py, prepared_call) with no cache, no pytest-benchmark wrapper and
        # the default scorer.
        request = build_request(task, case, model, 120.0)
        call = fetch(provider, model, request, 1)  # type: ignore[arg-type]
        result = finish(task, case, model, 1, call, scorer=scoring.score, prices=prices)
        return result.correct

    assert benchmark(one_call) is True
    _report(
        benchmark,
        capsys,
        "harness-per-call",
        "harness overhead per call against an instant provider (request, timing, scoring, "
        "record; `tests/benchmarks/test_benchmarks.py`)",
        "< 1 ms",
    )


def test_whole_pytest_run_per_item(
    pytester: pytest.Pytester, benchmark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference figure: one full pytest item (setup, call, report) per call."""
    _project(pytester, 2, 500)  # 1,000 cases x 10 models = 10,000 items

    def run_all() -> int:
        reprec = pytester.inline_run(
            "evals", "--llm-models=instant", "-p", "no:benchmark", "-p", "no:cacheprovider", "-q"
        )
        passed, _, failed = reprec.listoutcomes()
        assert not failed
        return len(passed)

    count = benchmark.pedantic(run_all, rounds=1, iterations=1)
    assert count == 10_000
    stats = _stats(benchmark)
    if stats is None:
        return
    per_item = stats.mean / count * 1000
    with capsys.disabled():
        print(f"\na whole pytest item: {per_item:.2f} ms ({count:,} items in {stats.mean:.1f} s)")
    readme_row(
        benchmark,
        "pytest-item",
        what=(
            "a whole pytest item per call, for reference (setup, call, report; pytest's own "
            "cost included; `tests/benchmarks/test_benchmarks.py`, in-process)"
        ),
        target="",
        measured=f"{per_item:.2f} ms per item ({count:,} items in {stats.mean:.1f} s)",
    )
