"""The pipeline: a remote model's next request is sent while pytest records an answer.

Unit tests of :class:`pytest_llmbench.execution.pipeline.Pipeline`, then whole runs: against the
emulated Ollama server (real HTTP), where the order of what the server receives and of
what pytest reports shows whether the server was kept busy, and with the scripted
provider for the cases the pipeline must stay out of (in-process models,
pytest-benchmark, skipped and resumed items, ``-x``).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from pytest_llmbench.plugin.session import get_bench
from pytest_llmbench.providers.scripted import ScriptedProvider
from tests.support.casedata import NO_LLAMACPP, ollama_run_args, right_answer, verdict_yaml
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

# -- whole runs against the emulated Ollama server --------------------------------------

MODELS = ("qwen2.5:7b", "llama3.2:3b")
CASES = 6
SCORE_S = 0.15
"""Scoring is made slow, so that "sent during the previous item" is not a race."""

SLOW_SCORING = (
    NO_LLAMACPP
    + f"""
import json, time

import pytest

from pytest_llmbench.execution.scoring import Score

REPORTED = []


@pytest.hookimpl(tryfirst=True)
def pytest_llmbench_score(task, case, answer):
    time.sleep({SCORE_S})
    got = json.loads(answer)["verdict"]
    return Score(got == case.expected.verdict, got, "", label=got)


def pytest_runtest_logreport(report):
    if report.when == "call":
        REPORTED.append((report.nodeid, time.perf_counter()))


def pytest_sessionfinish(session):
    with open("reported.json", "w") as f:
        json.dump(REPORTED, f)
"""
)


@pytest.fixture
def server() -> Any:
    srv = OllamaEmulator(
        models=[EmulatedModel(m) for m in MODELS],
        answer=right_answer,
        resident_slots=1,
        load_latency_s=0.05,
        latency_s=0.02,
    )
    with srv:
        yield srv
    assert srv.errors == []


def _run(pytester: pytest.Pytester, srv: OllamaEmulator, *args: str) -> pytest.RunResult:
    pytester.makeconftest(SLOW_SCORING)
    (pytester.mkdir("evals") / "grading.yaml").write_text(verdict_yaml(cases=CASES))
    return pytester.runpytest_subprocess(*ollama_run_args(srv.url), "--llm-json=out.json", *args)


def _chats(srv: OllamaEmulator) -> list[str]:
    return [r.body["messages"][-1]["content"] for r in srv.received if r.path == "/api/chat"]


def _reported(pytester: pytest.Pytester) -> dict[str, float]:
    data = json.loads((pytester.path / "reported.json").read_text())
    return {nodeid.split("::")[-1]: at for nodeid, at in data}


def test_the_next_request_reaches_the_server_while_pytest_records_the_answer(
    pytester: pytest.Pytester, server: OllamaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    result = _run(pytester, server)
    result.assert_outcomes(passed=len(MODELS) * CASES)
    reported = _reported(pytester)
    received = [r for r in server.received if r.path in ("/api/chat", "/api/generate")]
    for model in MODELS:
        chats = [r for r in received if r.path == "/api/chat" and r.body["model"] == model]
        assert len(chats) == CASES
        for i in range(1, CASES):
            # Case i+1's request arrived before pytest had reported case i (it was
            # scoring for 0.15 s): the server did not wait for pytest.
            assert chats[i].at < reported[f"CASE_{i:02d}[ollama/{model}]"]
    # One model at a time all the same: the first model's requests, its unload, then
    # the second model's load and requests; the server loaded each model once.
    order = [(r.path, r.body["model"], r.body.get("keep_alive")) for r in received]
    first, second = MODELS if order[0][1] == MODELS[0] else MODELS[::-1]
    assert order == [
        ("/api/generate", first, "30m"),
        *[("/api/chat", first, "30m")] * CASES,
        ("/api/generate", first, 0),
        ("/api/generate", second, "30m"),
        *[("/api/chat", second, "30m")] * CASES,
        ("/api/generate", second, 0),
    ]
    # The switch too: the first model unloaded, the second loaded and its first case
    # sent while pytest was still scoring the first model's last case.
    switch = [r for r in received if r.path == "/api/generate"][1:3]
    last_case = reported[f"CASE_{CASES:02d}[ollama/{first}]"]
    assert [(r.body["model"], r.body["keep_alive"]) for r in switch] == [
        (first, 0),
        (second, "30m"),
    ]
    assert switch[1].at < last_case
    first_of_second = next(
        r for r in received if r.path == "/api/chat" and r.body["model"] == second
    )
    assert first_of_second.at < last_case
    assert server.loads == dict.fromkeys(MODELS, 1)
    assert server.evictions == {}
    assert server.max_concurrent == 1  # never two requests in flight
    # Each call is timed on its own: the latency is the answer's 20 ms, never the
    # 150 ms pytest spent scoring the previous case while this one was answered.
    records = json.loads((pytester.path / "out.json").read_text())["results"]
    assert len(records) == len(MODELS) * CASES
    assert all(r["latency_ms"] < SCORE_S * 1000 / 2 for r in records)
    # The load went ahead too, and is still each model's cold start, on its first case.
    for model in MODELS:
        mine = [r for r in records if r["model"] == f"ollama/{model}"]
        assert mine[0]["cold"] is True
        assert mine[0]["cold_start_ms"] >= 50  # the emulated 0.05 s load
        assert all(r["cold_start_ms"] is None and not r["cold"] for r in mine[1:])


def test_prefetch_off_sends_each_request_after_the_previous_item_is_done(
    pytester: pytest.Pytester, server: OllamaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    result = _run(pytester, server, "--llm-prefetch=off")
    result.assert_outcomes(passed=len(MODELS) * CASES)
    reported = _reported(pytester)
    for model in MODELS:
        chats = [r for r in server.received if r.path == "/api/chat" and r.body["model"] == model]
        for i in range(1, CASES):
            assert chats[i].at > reported[f"CASE_{i:02d}[ollama/{model}]"]


def test_a_stopped_run_sends_at_most_one_request_ahead_and_records_no_unrun_case(
    pytester: pytest.Pytester, server: OllamaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    server.answer = lambda model, messages, fmt, options: json.dumps({"verdict": "PASS"})
    result = _run(pytester, server, "-x")
    # CASE_01 (PASS) passes, CASE_02 (expects FAIL) fails and stops the run.
    result.assert_outcomes(passed=1, failed=1)
    assert len(_chats(server)) <= 3  # the two cases run, and at most one sent ahead
    records = json.loads((pytester.path / "out.json").read_text())["results"]
    assert [r["case_id"] for r in records] == ["CASE_01", "CASE_02"]
    # The model was unloaded all the same.
    assert sum(server.unloads.values()) == 1


# -- where the pipeline stays out ---------------------------------------------------------

THREADS = (
    NO_LLAMACPP
    + """
import json, threading

import pytest

from pytest_llmbench.providers.scripted import ScriptedProvider

THREADS = {}


def verdict(request):
    THREADS[request.prompt] = threading.current_thread().name
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("server", {"m": verdict}, {"m": 0.03}, remote=True))
    registry.add(ScriptedProvider("local", {"m": verdict}))


def pytest_collection_modifyitems(items):
    for item in items:
        if "CASE_03" in item.nodeid:
            item.add_marker(pytest.mark.skip(reason="skipped by the test"))


def pytest_sessionfinish(session):
    with open("threads.json", "w") as f:
        json.dump(THREADS, f)
"""
)


def _threads(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, str]]:
    pytester.makeconftest(THREADS)
    evals = pytester.path / "evals"
    evals.mkdir(exist_ok=True)
    (evals / "grading.yaml").write_text(verdict_yaml(cases=CASES))
    result = pytester.runpytest_subprocess("evals", "-p", "no:cacheprovider", *args)
    data = json.loads((pytester.path / "threads.json").read_text())
    # prompts read "Posting: GOOD posting 3 ...": key them by the case number
    return result, {k.split()[3]: v for k, v in data.items()}


def test_remote_models_use_the_pipeline_in_process_models_do_not(
    pytester: pytest.Pytester,
) -> None:
    result, threads = _threads(pytester, "--llm-models=server/m", "-p", "no:benchmark")
    result.assert_outcomes(passed=CASES - 1, skipped=1)
    assert "3" not in threads  # the skipped case was never sent ahead
    assert set(threads.values()) == {"llmbench-pipeline"}

    result, threads = _threads(pytester, "--llm-models=local/m", "-p", "no:benchmark")
    result.assert_outcomes(passed=CASES - 1, skipped=1)
    assert set(threads.values()) == {"MainThread"}


def test_pytest_benchmark_records_the_calls_the_pipeline_made(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_benchmark")
    result, threads = _threads(
        pytester, "--llm-models=server/m", "--benchmark-json=bench.json", "--llm-json=out.json"
    )
    result.assert_outcomes(passed=CASES - 1, skipped=1)
    assert set(threads.values()) == {"llmbench-pipeline"}
    # One pytest-benchmark record per call made (not the skipped case), holding the very
    # wall time the plugin measured (each call sleeps 0.03 s).
    records = json.loads((pytester.path / "out.json").read_text())["results"]
    walls = {r["case_id"]: r["wall_ms"] / 1000 for r in records}
    timed = {
        b["extra_info"]["case"]: b["stats"]["min"]
        for b in json.loads((pytester.path / "bench.json").read_text())["benchmarks"]
    }
    assert set(timed) == set(walls) == {f"CASE_{i:02d}" for i in (1, 2, 4, 5, 6)}
    for case, seconds in timed.items():
        assert seconds == pytest.approx(walls[case], abs=1e-6)
        assert seconds >= 0.03


def test_a_run_stopped_at_a_model_switch_leaves_no_model_loaded(
    pytester: pytest.Pytester, server: OllamaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    first, second = sorted(MODELS)  # models run in name order

    def answer(model: str, messages: list[dict[str, Any]], fmt: Any, options: Any) -> str:
        if model == first and f"posting {CASES}" in messages[-1]["content"]:
            return json.dumps({"verdict": "PASS"})  # the first model's last case: wrong
        return right_answer(model, messages, fmt, options)

    server.answer = answer
    result = _run(pytester, server, "-x")
    result.assert_outcomes(passed=CASES - 1, failed=1)
    # The switch had gone ahead (unload, load, first case of the next model); the stop
    # unloaded what it had loaded: nothing stays in the server's memory.
    assert server.resident == ()
    assert server.loads[second] <= 1
    assert server.requests[second] <= 1
    records = json.loads((pytester.path / "out.json").read_text())["results"]
    assert {r["model"] for r in records} == {f"ollama/{first}"}


def test_a_switch_cancelled_before_it_started_still_unloads_the_model(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        NO_LLAMACPP
        + """
from pytest_llmbench.providers.scripted import ScriptedProvider

SERVER = ScriptedProvider("server", {"a": str, "b": str}, remote=True)


def pytest_llmbench_register_providers(registry, config):
    registry.add(SERVER)
"""
    )
    config = pytester.parseconfigure(str(pytester.path), "--llm-models=server/a,server/b")
    bench = get_bench(config)
    a, b = bench.catalogue.models()
    server = bench.catalogue.providers.get("server")
    assert isinstance(server, ScriptedProvider)
    lifecycle = bench.lifecycle
    lifecycle.ensure_loaded(a)
    busy = threading.Event()

    def occupied() -> None:  # the request in flight when the run stops
        busy.wait(5)

    lifecycle.pipeline.submit("busy", occupied)
    lifecycle.switch_ahead(a, b)  # queued behind the busy job: unload a, load b
    lifecycle.release(a)  # pytest's teardown of a's last item: the pipeline does it
    assert server.unloads == []
    lifecycle.release_all()  # the run stops: the switch is cancelled before it started
    busy.set()
    assert server.unloads == ["a"]
    assert server.loads == ["a"]  # b was never loaded
