"""Speed targets, measured with pytest-benchmark (no timed assertions here).

- collection of 2,000 cases x 10 models (20,000 items): target under 2 s;
- harness overhead per call against an instant provider (the path a case item runs:
  ``build_request``, ``fetch``, ``finish`` with the default scorer): target under 1 ms;
- for reference, a whole pytest run per item (pytest's own per-test cost included).

Run them alone with ``pytest tests/test_benchmarks.py --benchmark-only``; the
README reports the figures.  Each benchmark prints its figure beside its target and
keeps both in ``benchmark.extra_info``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.cases.model import load_task
from pytest_llmbench.execution import scoring
from pytest_llmbench.execution.call import build_request, fetch, finish
from pytest_llmbench.execution.prices import PriceTable
from pytest_llmbench.providers.base import ModelInfo, Request, Response

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


def _report(benchmark: Any, capsys: pytest.CaptureFixture[str], what: str, target: str) -> None:
    """Print the benchmark's mean beside its target (nothing when benchmarks are disabled)."""
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    if stats is None:
        return
    figure = f"{stats.mean * 1000:.3f} ms"
    benchmark.extra_info.update({"figure": figure, "target": target})
    with capsys.disabled():
        print(f"\n{what}: {figure} (target: {target})")


def test_collection_of_2000_cases_times_10_models(
    pytester: pytest.Pytester, benchmark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(pytester, FILES, CASES_PER_FILE)

    def collect() -> int:
        items, _ = pytester.inline_genitems("evals", "--llm-models=instant", "-p", "no:benchmark")
        return len(items)

    count = benchmark.pedantic(collect, rounds=3, iterations=1)
    assert count == FILES * CASES_PER_FILE * MODELS
    _report(benchmark, capsys, "collection of 20,000 items", "under 2,000 ms")


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
        # What a case item runs on pytest's thread (plugin/items.py, CaseItem.run_case
        # and _fetch) with no cache, no pytest-benchmark wrapper and the default scorer.
        request = build_request(task, case, model, 120.0)
        call = fetch(provider, model, request, 1)  # type: ignore[arg-type]
        result = finish(task, case, model, 1, call, scorer=scoring.score, prices=prices)
        return result.correct

    assert benchmark(one_call) is True
    _report(benchmark, capsys, "harness overhead per call", "under 1 ms")


def test_whole_pytest_run_per_item(
    pytester: pytest.Pytester, benchmark: pytest.FixtureDef[None]
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

    count = benchmark.pedantic(run_all, rounds=1, iterations=1)  # type: ignore[attr-defined]
    assert count == 10_000
