"""Parallel runs under pytest-xdist: the same results as a serial run, hosts, crashes.

Each test here starts real xdist workers (a subprocess each), so there are few of them;
the scheduler's decisions are tested one by one in tests/unit/plugin/test_scheduler.py.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.storage import history, journal
from pytest_llmbench.storage.champions import (
    load_registry,
)
from tests.support.casedata import COMPANY_TASK, NO_LLAMACPP_PROVIDER
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator
from tests.support.openai_emulator import OpenAIEmulator

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
    }, latency_s={"slowright": 0.3}))
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
    "ttft_ms",
    "itl_ms",
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
    assert min(slow) >= 300  # ours: on


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
            "  fake/crashy (4/5): error on CASE_3; a call error, not a wrong answer: *",
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


NO_BENCHMARK = ("-p", "no:benchmark")


def test_update_registry_under_xdist_records_the_case_file(suite: pytest.Pytester) -> None:
    suite.runpytest("evals", "--llm-models=fake", *NO_BENCHMARK, "-n", "2", "--llm-update-registry")
    entry = load_registry(suite.path / "llmbench-registry.yaml")["grading"]
    assert entry.case_file == "evals/grading.yaml"


def keys(entries: list[journal.Entry]) -> Counter[tuple[str, str, str, int]]:
    return Counter(e.key for e in entries)


def journal_of(root: Path) -> tuple[str, list[journal.Entry]]:
    [path] = sorted((root / ".llmbench" / "runs").glob("*.jsonl"))
    return path.stem, journal.read_entries(path)


ALL_FAKE = "--llm-models=fake"


def test_journal_and_resume_under_xdist(suite: pytest.Pytester) -> None:
    first = suite.runpytest_subprocess("evals", ALL_FAKE, *NO_BENCHMARK, "-n", "2")
    first.assert_outcomes(passed=6, failed=4)
    run_id, entries = journal_of(suite.path)
    assert len(entries) == 10
    assert set(keys(entries).values()) == {1}
    out = suite.path / "out.json"
    again = suite.runpytest_subprocess(
        "evals", ALL_FAKE, *NO_BENCHMARK, "-n", "2", "--llm-resume", f"--llm-json={out}"
    )
    again.assert_outcomes(skipped=10)
    again.stdout.fnmatch_lines(["Champion:  fake/right*"])
    assert len(json.loads(out.read_text())["results"]) == 10
    assert journal_of(suite.path)[0] == run_id


def weighted(suite: pytest.Pytester, ranking: str) -> None:
    path = suite.path / "evals" / "grading.yaml"
    text = path.read_text().replace("cases:\n", f"ranking: {ranking}\ncases:\n", 1)
    path.write_text(text)


def test_xdist_controller_learns_policies_and_case_counts(suite: pytest.Pytester) -> None:
    # The controller collects nothing under xdist: the workers send what it needs.
    weighted(suite, "{policy: weighted, quality: 0.5, min_correct: 0}")
    result = suite.runpytest_subprocess(
        "evals", "--llm-models=fake/right,fake/lenient", "-n", "2", *NO_BENCHMARK
    )
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["task grading (weighted policy: quality 0.5, speed 0.5, 2 cases)", "Champion:  fake/*"]
    )


def test_only_the_controller_writes_under_xdist(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("evals", ALL_FAKE, *NO_BENCHMARK, "-n", "2")
    result.assert_outcomes(passed=6, failed=4)
    path = suite.path / ".llmbench" / "history.sqlite"
    [run] = history.list_runs(path)
    assert len(history.load_run(path, run.id).results) == 10


def test_runs_under_xdist_and_summary_has_every_result(suite: pytest.Pytester) -> None:
    out = suite.path / "bench.json"
    result = suite.runpytest_subprocess(
        "evals", ALL_FAKE, "-n", "2", "-p", "no:benchmark", f"--llm-json={out}"
    )
    result.assert_outcomes(passed=6, failed=4)
    result.stdout.fnmatch_lines(["Champion:  fake/right*"])
    assert len(json.loads(out.read_text())["results"]) == 10


def test_reports_under_xdist_know_descriptions_and_sizes(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        (suite.path / "conftest.py")
        .read_text()
        .replace(
            'registry.add(ScriptedProvider("fake", {',
            "class Sized(ScriptedProvider):\n"
            "        def discover(self):\n"
            "            from pytest_llmbench import Discovery, ModelInfo\n"
            "            return Discovery(tuple(ModelInfo(self.name, m, size_bytes=len(m) * 10**9)"
            " for m in self.answers))\n"
            '    registry.add(Sized("fake", {',
        )
    )
    result = suite.runpytest_subprocess(
        "evals",
        "--llm-models=fake/right,fake/slowright",
        *NO_BENCHMARK,
        "-n",
        "2",
        "--llm-report=r.md",
    )
    result.assert_outcomes(passed=4)
    text = (suite.path / "r.md").read_text()
    assert "Grade a posting." in text
    assert "| `fake/slowright` | 9.0 GB |" in text
    assert "- Size against speed: fake/right (5.0 GB, " in text


def test_fail_on_champion_under_xdist(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess(
        "evals",
        "--llm-models=fake",
        *NO_BENCHMARK,
        "--llm-fail-on=champion",
        "--llm-eliminate=off",
        "-n",
        "2",
    )
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=6, xfailed=4)


def test_endpoint_cache_and_notes_under_xdist(pytester: pytest.Pytester) -> None:
    """Workers call the endpoint and share the cache; the controller's notes come from the
    result records (the structured-output fallback happened in the workers)."""
    (pytester.path / "company.yaml").write_text(COMPANY_TASK)

    def answer(model: str, messages: list[dict[str, Any]], fmt: Any) -> str:
        return json.dumps({"company": "Acme" if "Acme" in messages[-1]["content"] else "Globex"})

    with OpenAIEmulator(models=["m"], answer=answer, formats=("text", "json_object")) as srv:
        pytester.makeini(f"[pytest]\nllm_openai_endpoints = emu = {srv.url}\n")
        out = pytester.path / "live.json"
        live = pytester.runpytest_subprocess(
            "-n", "2", "--llm-models=emu/m", "--llm-cache=write", f"--llm-json={out}"
        )
        live.assert_outcomes(passed=2)
    live.stdout.fnmatch_lines(
        [
            "Note: emu/m: the endpoint rejected the json_schema response format; "
            "asked for json_object*"
        ]
    )
    out = pytester.path / "read.json"
    cached = pytester.runpytest_subprocess(
        "-n", "2", "--llm-models=emu/m", "--llm-cache=read", f"--llm-json={out}"
    )
    cached.assert_outcomes(passed=2)
    read = json.loads(out.read_text())
    assert [r["cached"] for r in read["results"]] == [True, True]
    assert [r["structured"] for r in read["results"]] == ["json_object", "json_object"]
