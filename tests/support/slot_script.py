"""The slot script of issue 23, shared by its functional test and its benchmark.

Model A answers in 100 ms with one slot, model B in 150 ms with four; both are always
right.  One request at a time A is the champion; with ``load: {concurrency: 4}`` B is.
Slots and queueing are real time (requests in flight together overlap; a fake clock
advanced by each would add their durations up), so the figures the script predicts are
floors: the HTTP round trips and a busy machine only add to them.  The functional test
(``tests/plugin/test_load.py``) checks the rankings and those floors; the benchmark
(``tests/benchmarks/test_benchmark_load.py``) checks the figures within 10% of the
script, in the benchmarks' own step, with the machine's load printed beside them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from tests.support.casedata import NO_LLAMACPP, ollama_run_args, verdict_yaml
from tests.support.ollama_emulator import EmulatedModel

__all__ = [
    "A_GOODPUT",
    "A_P95_MS",
    "A_S",
    "A_WALL_S",
    "B_GOODPUT",
    "B_S",
    "CASES",
    "CONCURRENCY",
    "LOAD_YAML",
    "REQUESTS",
    "SLO_MS",
    "figures",
    "models",
    "run_task",
]

CASES, CONCURRENCY, REQUESTS, SLO_MS = 4, 4, 16, 250.0
A_S, B_S = 0.100, 0.150

# What the script predicts.  A (one slot): the first four requests wait 0, 1, 2, 3
# service times, then the queue holds four: 100, 200, 300, 400, then 400 ms each.
A_TIMES = [100.0, 200.0, 300.0] + [400.0] * (REQUESTS - 3)
A_P95_MS = 400.0
A_WALL_S = REQUESTS * A_S  # one at a time: 1.6 s
A_GOODPUT = sum(t <= SLO_MS for t in A_TIMES) / A_WALL_S  # 2 within the SLO: 1.25/s
# B (four slots): every request is served at once, four rounds of 150 ms.
B_WALL_S = REQUESTS / CONCURRENCY * B_S  # 0.6 s
B_GOODPUT = REQUESTS / B_WALL_S  # 26.7/s

LOAD_YAML = (
    f"load: {{concurrency: {CONCURRENCY}, requests: {REQUESTS}, slo: {{p95_ms: {SLO_MS:g}}}}}\n"
)


def models() -> list[EmulatedModel]:
    """A (one slot, 100 ms) and B (four slots, 150 ms)."""
    return [
        EmulatedModel("a:1b", latency_s=A_S, slots=1),
        EmulatedModel("b:1b", latency_s=B_S, slots=4),
    ]


def run_task(
    pytester: pytest.Pytester, url: str, load: str | None, extra: Sequence[str] = ()
) -> dict[str, Any]:
    """The grading task run against the emulator at ``url`` (``extra``: more options,
    such as ``-n 2``): its JSON document's task, with the run's terminal output under
    ``_stdout``."""
    pytester.makeconftest(NO_LLAMACPP)
    (pytester.path / "evals").mkdir(exist_ok=True)
    text = verdict_yaml(cases=CASES) + (load or "")
    (pytester.path / "evals" / "grading.yaml").write_text(text)
    result = pytester.runpytest(
        *ollama_run_args(url),
        "--llm-json=out.json",
        "--llm-update-registry=registry.yaml",
        *extra,
    )
    assert result.ret == 0, result.stdout.str()
    document: dict[str, Any] = json.loads((pytester.path / "out.json").read_text())
    task: dict[str, Any] = document["tasks"]["grading"]
    task["_stdout"] = result.stdout.str()
    return task


def figures(task: dict[str, Any], model: str) -> dict[str, Any]:
    """One model's figures under load."""
    found: dict[str, Any] = next(s for s in task["at_load"]["standings"] if s["model"] == model)
    return found
