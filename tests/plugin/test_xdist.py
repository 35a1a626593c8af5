"""Parallel runs under pytest-xdist: the same results as a serial run, hosts, crashes.

Each test here starts real xdist workers (a subprocess each), so there are few of them;
the scheduler's decisions are tested one by one in test_scheduler.py.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.casedata import NO_LLAMACPP_PROVIDER
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

pytest.importorskip("xdist")

CONFTEST = (
    NO_LLAMACPP_PROVIDER
    + """

import os

from pytest_llmbench.providers.scripted import ScriptedProvider


def by_posting(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def crashy(request):
    if "CRASH" in request.prompt and os.environ.get("PYTEST_XDIST_WORKER"):
        os._exit(1)  # the worker dies: no report, no teardown
    return by_posting(request)


def pytest_llmbench_register_providers(registry, config):
    registry.add(NoLlamaCpp())
    registry.add(ScriptedProvider("fake", {
        "right": by_posting,
        "slowright": by_posting,
        "lenient": lambda request: '{"verdict": "PASS"}',
        "crashy": crashy,
    }, latency_s={"slowright": 0.15}))
"""
)

TIMINGS = {
    "latency_ms",
    "load_ms",
    "prompt_eval_ms",
    "eval_ms",
    "total_ms",
    "tokens_per_s",
    "wall_ms",
    "queue_ms",
    "cold_start_ms",
}


def task_yaml(task: str, postings: list[str]) -> str:
    lines = [
        f"task: {task}",
        'prompt: "Posting: {posting}\\nAnswer PASS or FAIL."',
        "output: {kind: verdict, labels: [PASS, FAIL]}",
        "cases:",
    ]
    for i, posting in enumerate(postings, 1):
        lines += [
            f"  - id: CASE_{i}",
            f"    expected: {{verdict: {'PASS' if 'GOOD' in posting else 'FAIL'}}}",
            f"    vars: {{posting: {posting}}}",
            "    why: test case",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    pytester.makeconftest(CONFTEST)
    evals = pytester.mkdir("evals")
    (evals / "grading.yaml").write_text(task_yaml("grading", ["GOOD 1", "BAD 2", "GOOD 3"]))
    (evals / "screening.yaml").write_text(task_yaml("screening", ["BAD 1", "GOOD 2"]))
    return pytester


def answer(model: str, messages: list[dict[str, Any]], fmt: Any, options: Any) -> str:
    """Every emulated model is right, but beta, which passes everything."""
    good = "GOOD" in messages[-1]["content"] or model.startswith("beta")
    return json.dumps({"verdict": "PASS" if good else "FAIL"})


@pytest.fixture
def hosts() -> Iterator[tuple[OllamaEmulator, OllamaEmulator]]:
    """Host a has alpha and gamma, host b has beta; both have shared (-> b, the less busy)."""
    shared = {"name": "shared:1b", "latency_s": 0.06}
    with (
        OllamaEmulator(
            models=[
                EmulatedModel("alpha:1b", latency_s=0.02),
                EmulatedModel("gamma:1b", latency_s=0.1),
                EmulatedModel(**shared),  # type: ignore[arg-type]
            ],
            answer=answer,
            resident_slots=None,
        ) as a,
        OllamaEmulator(
            models=[EmulatedModel("beta:1b", latency_s=0.04), EmulatedModel(**shared)],  # type: ignore[arg-type]
            answer=answer,
            resident_slots=None,
        ) as b,
    ):
        yield a, b
    assert a.errors == b.errors == []


def comparable(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A run's results without timings (sorted), and its rankings without figures."""
    results = sorted(
        ({k: v for k, v in r.items() if k not in TIMINGS} for r in doc["results"]),
        key=lambda r: (r["task"], r["model"], r["case_id"], r["repeat"]),
    )
    rankings = {
        task: {
            "champion": t["champion"],
            "runner_up": t["runner_up"],
            "ranking": [s["model"] for s in t["ranking"]],
            "disqualified": sorted(
                (s["model"], s["correct"], s["total"], [c["case_id"] for c in s["failed_cases"]])
                for s in t["disqualified"]
            ),
        }
        for task, t in doc["tasks"].items()
    }
    return results, rankings


def test_serial_and_parallel_runs_give_the_same_results_and_ranking(
    project: pytest.Pytester, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    a, b = hosts
    args = [
        "evals",
        "--llm-models=fake/right,fake/slowright,fake/lenient,ollama",
        f"--llm-ollama-host={a.url}",
        f"--llm-ollama-host={b.url}",
        "-p",
        "no:cacheprovider",
    ]
    serial = project.runpytest(*args, "--llm-json=serial.json", "-p", "no:benchmark")
    serial.assert_outcomes(passed=31, failed=4)
    a.reset_counters()
    b.reset_counters()

    # pytest-benchmark stays on: under xdist it turns its own timing off, ours stays
    parallel = project.runpytest_subprocess(
        *args, "-n", "3", "--llm-json=parallel.json", "--benchmark-json=bm.json"
    )
    parallel.assert_outcomes(passed=31, failed=4)
    parallel.stdout.fnmatch_lines(
        [
            "llmbench: xdist: 7 model(s) on 3 worker(s), each model's items on one worker "
            "(pytest-llmbench scheduler*",
            "*Champion:  fake/right*",
            "llmbench: xdist: 7 model(s) on 3 worker(s), each model on one worker",
            "llmbench: 2 hosts:",
        ]
    )
    lines = parallel.stdout.lines  # hosts in URL order: the ports decide
    assert f"  {a.url}: 10 call(s), 2 model(s): ollama/alpha:1b, ollama/gamma:1b" in lines
    assert f"  {b.url}: 10 call(s), 2 model(s): ollama/beta:1b, ollama/shared:1b" in lines
    docs = {
        name: json.loads((project.path / f"{name}.json").read_text())
        for name in ("serial", "parallel")
    }
    assert comparable(docs["parallel"]) == comparable(docs["serial"])
    ranking = comparable(docs["parallel"])[1]["grading"]
    assert ranking["ranking"] == [
        "fake/right",
        "ollama/alpha:1b",
        "ollama/shared:1b",
        "ollama/gamma:1b",
        "fake/slowright",
    ]

    # each result names its host; a model on both hosts was served by one of them
    host_of = {r["model"]: r["host"] for r in docs["parallel"]["results"]}
    assert host_of["ollama/shared:1b"] == host_of["ollama/beta:1b"] == b.url
    assert host_of["ollama/alpha:1b"] == host_of["ollama/gamma:1b"] == a.url
    assert host_of["fake/right"] is None
    assert (dict(a.requests), dict(b.requests)) == (
        {"alpha:1b": 5, "gamma:1b": 5},
        {"beta:1b": 5, "shared:1b": 5},
    )

    # one worker per model, and a worker loads only the models it runs
    workers = docs["parallel"]["run"]["xdist"]["workers"]
    ran = [m for w in workers.values() for m in w["models"]]
    assert sorted(ran) == sorted(set(ran)) == sorted(host_of)
    for worker in workers.values():
        assert sorted(worker["loaded"]) == worker["models"]
    assert sum(a.loads.values()) + sum(b.loads.values()) == 4  # each Ollama model once

    assert not (project.path / "bm.json").exists()  # pytest-benchmark: off under xdist
    slow = [r["latency_ms"] for r in docs["parallel"]["results"] if r["model"] == "fake/slowright"]
    assert min(slow) >= 150  # ours: on


def test_a_worker_that_crashes_keeps_every_finished_result(project: pytest.Pytester) -> None:
    (project.path / "evals" / "grading.yaml").write_text(
        task_yaml("grading", ["GOOD 1", "BAD 2", "GOOD CRASH 3", "BAD 4", "GOOD 5"])
    )
    result = project.runpytest_subprocess(
        "evals/grading.yaml",
        "--llm-models=fake/right,fake/crashy,fake/lenient",
        "-n",
        "2",
        "-p",
        "no:benchmark",
        "-p",
        "no:cacheprovider",
        "--llm-json=out.json",
        "--junitxml=junit.xml",
    )
    # crashy dies on CASE_3: xdist replaces the worker; that case is an error with the
    # reason, the rest of crashy's cases run on another worker
    result.assert_outcomes(passed=12, failed=2, errors=1)
    crash = "worker gw* crashed while running this case (Not properly terminated)*"
    result.stdout.fnmatch_lines(
        [
            f"ERROR evals/grading.yaml::grading::CASE_3[[]fake/crashy[]] - {crash}"[:60] + "*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*llmbench ranking*",
            "Champion:  fake/right (5/5 correct*",
            "  fake/crashy (4/5): error on CASE_3",
            "  fake/lenient (3/5): too lenient on CASE_2, CASE_4",
            "llmbench: xdist: worker gw* crashed while running grading::CASE_3[[]fake/crashy[]] "
            "(Not properly terminated); that case counts as an error",
        ]
    )
    doc = json.loads((project.path / "out.json").read_text())
    got = {(r["model"], r["case_id"]): r for r in doc["results"]}
    assert len(doc["results"]) == len(got) == 15  # every finished result, once
    crashed = got[("fake/crashy", "CASE_3")]
    assert crashed["correct"] is False
    assert crashed["error"].startswith("worker gw")
    assert (crashed["kind"], crashed["expected_label"]) == ("verdict", "PASS")
    assert all(r["error"] is None for key, r in got.items() if key != ("fake/crashy", "CASE_3"))
    assert doc["tasks"]["grading"]["champion"] == "fake/right"
    (entry,) = doc["run"]["xdist"]["crashed"]
    assert entry["nodeid"] == "evals/grading.yaml::grading::CASE_3[fake/crashy]"

    suite = ET.parse(Path(project.path / "junit.xml")).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("errors"), suite.get("failures"), suite.get("tests")) == ("1", "2", "15")
