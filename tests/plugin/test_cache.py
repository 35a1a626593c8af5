"""The response cache: keys, files, --llm-cache modes, and cached results kept out of timing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.analysis.notes import annotate, run_notes
from pytest_llmbench.analysis.ranking import rank_strict
from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.execution.cache import ResponseCache, cache_key
from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.base import ModelInfo, Request, Response
from tests.support import factories
from tests.support.casedata import COMPANY_TASK
from tests.support.openai_emulator import OpenAIEmulator

MODEL = ModelInfo("ollama", "qwen2.5:7b", details={"digest": "sha256:abc"})
REQUEST = Request(
    model="qwen2.5:7b",
    prompt="Grade this.",
    system="Be strict.",
    options=GenerateOptions(temperature=0.0, seed=42, max_tokens=64),
    json_schema={"type": "object"},
    timeout_s=120.0,
)


# -- keys and files ------------------------------------------------------------------


def test_key_is_stable_and_ignores_the_timeout() -> None:
    assert cache_key(MODEL, REQUEST) == cache_key(MODEL, replace(REQUEST, timeout_s=5.0))
    assert len(cache_key(MODEL, REQUEST)) == 64


def test_each_repeat_has_its_own_key() -> None:
    keys = {cache_key(MODEL, REQUEST, "0.1.0", repeat) for repeat in (1, 2, 3)}
    assert len(keys) == 3
    assert cache_key(MODEL, REQUEST, "0.1.0", 1) == cache_key(MODEL, REQUEST, "0.1.0")


@pytest.mark.parametrize(
    ("model", "request_", "version"),
    [
        (replace(MODEL, provider="other"), REQUEST, "0.1.0"),
        (replace(MODEL, name="llama3.2:3b"), REQUEST, "0.1.0"),
        (replace(MODEL, details={"digest": "sha256:def"}), REQUEST, "0.1.0"),
        (MODEL, replace(REQUEST, prompt="Grade that."), "0.1.0"),
        (MODEL, replace(REQUEST, system=None), "0.1.0"),
        (MODEL, replace(REQUEST, options=GenerateOptions(seed=43, max_tokens=64)), "0.1.0"),
        (MODEL, replace(REQUEST, options=GenerateOptions(extra={"num_ctx": 4096})), "0.1.0"),
        (MODEL, replace(REQUEST, json_schema=None), "0.1.0"),
        (MODEL, REQUEST, "0.2.0"),
    ],
)
def test_key_changes_with_everything_that_changes_the_answer(
    model: ModelInfo, request_: Request, version: str
) -> None:
    assert cache_key(model, request_, version) != cache_key(MODEL, REQUEST, "0.1.0")


def test_put_then_get_round_trips_the_response(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "readwrite")
    response = Response(
        text='{"verdict": "PASS"}', eval_ms=12.5, prompt_tokens=40, completion_tokens=5
    )
    path = cache.put(MODEL, REQUEST, response, latency_ms=99.0)
    assert path.parent.parent == tmp_path
    entry = cache.get(MODEL, REQUEST)
    assert entry is not None
    assert entry.response == response
    assert entry.latency_ms == 99.0
    assert entry.digest == "sha256:abc"
    assert cache.get(replace(MODEL, details={}), REQUEST) is None
    stored = json.loads(path.read_text())
    assert stored["request"]["prompt"] == "Grade this."
    assert "timeout_s" not in json.dumps(stored["request"])
    assert list(tmp_path.rglob("*.part")) == []


def test_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "read")
    path = cache.put(MODEL, REQUEST, Response(text="x"), None)
    path.write_text("{not json")
    assert cache.get(MODEL, REQUEST) is None


def test_read_mode_discovery_lists_the_cached_models(tmp_path: Path) -> None:
    writer = ResponseCache(tmp_path, "write")
    writer.put(MODEL, REQUEST, Response(text="x"), None)
    writer.put(replace(MODEL, name="a:1b", details={}), REQUEST, Response(text="x"), None)
    old = ResponseCache(tmp_path, "write", version="0.0.1")
    old.put(replace(MODEL, name="stale:1b"), REQUEST, Response(text="x"), None)
    found = ResponseCache(tmp_path, "read").discovery("ollama")
    assert [m.name for m in found.models] == ["a:1b", "qwen2.5:7b"]
    assert found.models[1].details["digest"] == "sha256:abc"
    empty = ResponseCache(tmp_path, "read").discovery("llamacpp")
    assert empty.models == ()
    assert empty.problem == f"no cached answers in {tmp_path}"


def test_bad_mode_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="off, read, write, readwrite"):
        ResponseCache(tmp_path, "sometimes")


# -- cached latencies stay out of the ranking ---------------------------------------------


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


def test_cached_latencies_are_excluded_from_ranking() -> None:
    results = [
        # a cached record that (wrongly) carries a latency must still not count
        result("p/fast-but-cached", "A", 1.0, cached=True),
        result("p/fast-but-cached", "B", 1.0, cached=True),
        result("p/mixed", "A", 300.0),
        result("p/mixed", "B", 5.0, cached=True),
        result("p/timed", "A", 200.0),
        result("p/timed", "B", 200.0),
    ]
    ranking = rank_strict("t", results)
    by_model = {s.model: s for s in ranking.standings}
    assert by_model["p/mixed"].mean_ms == 300.0
    assert by_model["p/fast-but-cached"].mean_ms is None
    assert by_model["p/fast-but-cached"].tokens_per_s is None
    # timed models first, fastest first; the all-cached model has no timing and comes last
    assert [s.model for s in ranking.qualified] == ["p/timed", "p/mixed", "p/fast-but-cached"]
    assert ranking.champion is not None
    assert ranking.champion.model == "p/timed"


def test_notes_say_what_came_from_the_cache() -> None:
    results = [
        result("p/cached", "A", None, cached=True),
        result("p/mixed", "A", 300.0),
        result("p/mixed", "B", None, cached=True),
    ]
    assert run_notes(results) == [
        "answers from the response cache (not timed, latency not ranked): "
        "p/cached 1 of 1, p/mixed 1 of 2",
        "no timing (cached): p/cached, ranked after the timed models",
    ]
    every = [result("p/a", "A", None, cached=True), result("p/b", "A", None, cached=True)]
    annotated = annotate(rank_strict("t", every), every)
    assert annotated.notes == (
        "all 2 answers came from the response cache: no timing (cached), "
        "so qualified models are listed by name, not by speed",
    )
    plain = rank_strict("t", [result("p/a", "A", 5.0)])
    assert annotate(plain, [result("p/a", "A", 5.0)]) is plain


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
            "error: expected FAIL, got  (not in the response cache (--llm-cache=read); "
            "record it with --llm-cache=write or readwrite)",
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
