"""The response cache: keys, files, --llm-cache modes, and cached results kept out of timing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmbench.execution.results import Result
from tests.support import factories
from tests.support.casedata import COMPANY_TASK
from tests.support.openai_emulator import OpenAIEmulator


def result(model: str, case: str, latency: float | None, *, cached: bool = False) -> Result:
    return factories.result(
        model,
        case,
        task="t",
        latency_ms=latency,
        completion_tokens=10,
        eval_ms=100.0 if latency is not None else None,
        cached=cached,
    )


# -- through the plugin ------------------------------------------------------------------

SWITCHABLE_CONFTEST = """
import os
from pytest_llmbench.providers.base import ProviderError
from pytest_llmbench.providers.scripted import ScriptedProvider


def answer(request):
    if os.environ.get("LLMBENCH_SERVER_DOWN"):
        raise ProviderError("the model server is down")
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("fake", {"right": answer, "slowright": answer},
                                  latency_s={"slowright": 0.05}))
"""


def run_json(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    out = pytester.path / "bench.json"
    out.unlink(missing_ok=True)
    result = pytester.runpytest("evals", f"--llm-json={out}", "-p", "no:benchmark", *args)
    return result, json.loads(out.read_text())


def scores(doc: dict[str, Any]) -> list[tuple[str, str, bool, str, str]]:
    return sorted(
        (r["model"], r["case_id"], r["correct"], r["got"], r["reason"]) for r in doc["results"]
    )


def test_write_then_read_scores_the_same_with_no_live_call(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makeconftest(SWITCHABLE_CONFTEST)
    live, written = run_json(suite, "--llm-models=fake", "--llm-cache=write")
    live.assert_outcomes(passed=4)
    live.stdout.fnmatch_lines(["llmbench: response cache write (live answers are stored): *"])
    assert len(list((suite.path / ".llmbench" / "cache").rglob("*.json"))) == 4

    monkeypatch.setenv("LLMBENCH_SERVER_DOWN", "1")
    down, _ = run_json(suite, "--llm-models=fake")
    down.assert_outcomes(failed=4)  # proof that a live call would fail now

    cached, read = run_json(suite, "--llm-models=fake", "--llm-cache=read")
    cached.assert_outcomes(passed=4)
    assert scores(read) == scores(written)
    assert all(r["cached"] for r in read["results"])
    assert all(r["latency_ms"] is None for r in read["results"])
    assert not any(r["cached"] for r in written["results"])
    assert read["run"]["cache"] == "read"
    task = read["tasks"]["grading"]
    assert [s["mean_ms"] for s in task["ranking"]] == [None, None]
    assert task["notes"][0].startswith("all 4 answers came from the response cache")
    cached.stdout.fnmatch_lines(
        [
            "llmbench: 2 model(s): fake/right, fake/slowright",
            "llmbench: response cache read (answers from the cache only, no model is called): *",
            "Note: all 4 answers came from the response cache: no timing (cached)*",
        ]
    )


def test_read_miss_is_a_failed_case_saying_so(suite: pytest.Pytester) -> None:
    suite.runpytest("evals", "--llm-models=fake/right", "--llm-cache=write", "-k", "PASS")
    result = suite.runpytest("evals", "--llm-models=fake/right", "--llm-cache=read")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*grading::GRADE_FAIL_001[[]fake/right[]]*",
            "call error, not a wrong answer: not in the response cache (--llm-cache=read); "
            "record it with --llm-cache=write or readwrite",
        ]
    )


def test_readwrite_fetches_misses_and_reuses_hits(suite: pytest.Pytester) -> None:
    first, doc1 = run_json(suite, "--llm-models=fake/right", "--llm-cache=readwrite")
    first.assert_outcomes(passed=2)
    assert [r["cached"] for r in doc1["results"]] == [False, False]
    _, doc2 = run_json(suite, "--llm-models=fake/right", "--llm-cache=readwrite")
    assert [r["cached"] for r in doc2["results"]] == [True, True]
    assert scores(doc1) == scores(doc2)
    # more repeats: the first run's answers are reused, the new runs fetched and stored
    _, doc3 = run_json(suite, "--llm-models=fake/right", "--llm-cache=readwrite", "--llm-repeat=3")
    assert sorted((r["repeat"], r["cached"]) for r in doc3["results"]) == [
        (1, True),
        (1, True),
        (2, False),
        (2, False),
        (3, False),
        (3, False),
    ]


def test_cached_results_are_marked_in_junit(suite: pytest.Pytester) -> None:
    suite.runpytest("evals", "--llm-models=fake/right", "--llm-cache=write")
    xml = suite.path / "junit.xml"
    suite.runpytest("evals", "--llm-models=fake/right", "--llm-cache=read", f"--junitxml={xml}")
    text = xml.read_text()
    assert text.count('<property name="cached" value="True"') == 2
    assert '<property name="latency_ms" value=""' in text


def test_cache_options_from_ini_and_a_bad_mode(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nllm_cache = write\nllm_cache_dir = somewhere/else\n")
    suite.runpytest("evals", "--llm-models=fake/right", "-p", "no:benchmark")
    assert len(list((suite.path / "somewhere" / "else").rglob("*.json"))) == 2
    bad = suite.runpytest("evals", "--llm-models=fake/right", "--llm-cache=sometimes")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--llm-cache must be one of off, read, write, readwrite*"])


def test_benchmark_fixture_records_no_cached_call(suite: pytest.Pytester) -> None:
    table = "--llm-benchmark-table"  # the case items' rows (not printed by default)
    live = suite.runpytest("evals", "--llm-models=fake/right", "--llm-cache=write", table)
    live.stdout.fnmatch_lines(["*benchmark 'grading': 2 tests*"])
    result = suite.runpytest("evals", "--llm-models=fake/right", "--llm-cache=read", table)
    result.assert_outcomes(passed=2)
    assert "benchmark 'grading'" not in result.stdout.str()
    assert "Benchmark fixture was not used" not in result.stdout.str()


def test_write_then_read_over_http_with_the_server_stopped(pytester: pytest.Pytester) -> None:
    (pytester.path / "company.yaml").write_text(COMPANY_TASK)

    def answer(model: str, messages: list[dict[str, Any]], fmt: Any) -> str:
        return json.dumps({"company": "Acme"})  # right on one case, wrong on the other

    server = OpenAIEmulator(models=["m"], answer=answer).start()
    endpoint = f"--llm-endpoint=emu={server.url}"
    try:
        out = pytester.path / "live.json"
        live = pytester.runpytest(
            endpoint, "--llm-models=emu/m", "--llm-cache=write", f"--llm-json={out}"
        )
        live.assert_outcomes(passed=1, failed=1)
        assert server.answered == 2
    finally:
        server.stop()
    written = json.loads(out.read_text())

    out = pytester.path / "read.json"
    cached = pytester.runpytest(
        endpoint, "--llm-models=emu/m", "--llm-cache=read", f"--llm-json={out}"
    )
    cached.assert_outcomes(passed=1, failed=1)
    read = json.loads(out.read_text())
    assert scores(read) == scores(written)
    assert [r["cached"] for r in read["results"]] == [True, True]
    assert [r["prompt_tokens"] for r in read["results"]] == [
        r["prompt_tokens"] for r in written["results"]
    ]
    assert server.answered == 2  # nothing reached the (stopped) server
    # and a live run now fails: the server really is down
    down = pytester.runpytest(endpoint, "--llm-models=emu/m")
    assert down.ret == pytest.ExitCode.USAGE_ERROR
    down.stderr.fnmatch_lines(["*emu: endpoint * is not reachable (connection refused)*"])
