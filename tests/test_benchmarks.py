"""Speed targets, measured with pytest-benchmark (no timed assertions here).

- collection of 2,000 cases x 10 models (20,000 items): target under 2 s;
- harness overhead per call against an instant provider: target under 1 ms;
- for reference, a whole pytest run per item (pytest's own per-test cost included).

Run them alone with ``pytest tests/test_benchmarks.py --benchmark-only``; the
README reports the figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.cases.model import load_task
from pytest_llmbench.execution import scoring
from pytest_llmbench.execution.call import run
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


def test_collection_of_2000_cases_times_10_models(
    pytester: pytest.Pytester, benchmark: pytest.FixtureDef[None]
) -> None:
    _project(pytester, FILES, CASES_PER_FILE)

    def collect() -> int:
        items, _ = pytester.inline_genitems("evals", "--llm-models=instant", "-p", "no:benchmark")
        return len(items)

    count = benchmark.pedantic(collect, rounds=3, iterations=1)  # type: ignore[attr-defined]
    assert count == FILES * CASES_PER_FILE * MODELS


class _Instant:
    name = "instant"

    def discover(self) -> None:  # pragma: no cover - not used here
        return None

    def generate(self, request: Request) -> Response:
        return Response(text='{"verdict": "PASS"}', completion_tokens=4, eval_ms=1.0)


def test_harness_overhead_per_call(tmp_path: Path, benchmark: pytest.FixtureDef[None]) -> None:
    case_file = tmp_path / "task.yaml"
    (tmp_path / "posting.txt").write_text("Acme is hiring a data engineer in Berlin. " * 20)
    case_file.write_text(_task_yaml("overhead", 1))
    task = load_task(case_file)
    case = task.cases[0]
    model = ModelInfo("instant", "m0")
    provider = _Instant()

    def one_call() -> bool:
        result = run(
            provider,  # type: ignore[arg-type]
            task,
            case,
            model,
            1,
            scorer=scoring.score,
            timeout_s=120.0,
        )
        return result.correct

    assert benchmark(one_call) is True  # type: ignore[operator]


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
