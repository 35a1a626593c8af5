"""The plugin against an emulated Ollama: discovery, selection rules, scheduling, timings,
failures.

Every run here goes through pytest (pytester, in process) and the official ``ollama``
client to the emulator (tests/support/ollama_emulator.py): real HTTP on loopback, Ollama's
recorded reply shapes, one resident-model slot that charges a load on every switch.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.casedata import NO_LLAMACPP, right_answer, verdict_yaml
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

CASES = 10
MODELS = ("gemma3:1b", "llama3.2:3b", "qwen2.5:7b")
"""The chat models the emulated server has, in the (name) order the plugin runs them."""
SERVER_MODELS = [
    EmulatedModel("qwen2.5:7b", size=4_683_087_332, family="qwen2"),
    EmulatedModel("llama3.2:3b", family="llama"),
    EmulatedModel("gemma3:1b", family="gemma3", capabilities=("completion", "vision")),
    EmulatedModel("nomic-embed-text", family="nomic-bert", capabilities=("embedding",)),
    EmulatedModel("qwen2.5-coder:7b", family="qwen2", capabilities=("completion", "insert")),
]


WITH_FAKE = """
from pytest_llmbench.providers.scripted import ScriptedProvider


def by_posting(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(NoLlamaCpp())
    registry.add(ScriptedProvider("fake", {"right": by_posting}))
"""


@pytest.fixture
def srv() -> Iterator[OllamaEmulator]:
    with OllamaEmulator(
        models=SERVER_MODELS,
        answer=right_answer,
        resident_slots=1,
        load_latency_s=0.05,
        latency_s=0.002,
    ) as server:
        yield server
    assert server.errors == []


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """One task of 10 verdict cases; the embedded provider stubbed out (no real inference)."""
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    pytester.makeconftest(NO_LLAMACPP)
    evals = pytester.mkdir("evals")
    (evals / "grading.yaml").write_text(verdict_yaml(cases=CASES))
    pytester.makeini("[pytest]\nllm_retry_backoff = 0.01\n")
    return pytester


@pytest.fixture
def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def run(project: pytest.Pytester, srv_url: str, *args: str, **kwargs: Any) -> pytest.RunResult:
    return project.runpytest(
        "evals",
        f"--llm-ollama-host={srv_url}",
        "--llm-json=out.json",
        "-p",
        "no:benchmark",
        "-p",
        "no:cacheprovider",
        "-rs",
        *args,
        **kwargs,
    )


def results(project: pytest.Pytester) -> list[dict[str, Any]]:
    doc = json.loads((project.path / "out.json").read_text())
    found: list[dict[str, Any]] = doc["results"]
    return found


# -- acceptance 1: discovery, rules, scheduling, timings ---------------------------------


def test_three_models_ten_cases_three_loads_rules_in_the_header(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    srv.load_latency_s = 0.3
    srv.latency_s = 0.005
    result = run(project, srv.url, "--llm-models=ollama")
    result.assert_outcomes(passed=30)
    result.stdout.fnmatch_lines(
        [
            "llmbench: 3 model(s): ollama/gemma3:1b, ollama/llama3.2:3b, ollama/qwen2.5:7b",
            "llmbench: left out 2 model(s):",
            "  ollama/nomic-embed-text:latest: embedding-only",
            "  ollama/qwen2.5-coder:7b: code-only (name matches *coder*)",
        ]
    )
    # one load per model: never a switch back and forth
    assert srv.loads == {f"{m}": 1 for m in MODELS}
    assert srv.evictions == {}
    assert srv.unloads == {f"{m}": 1 for m in MODELS}
    assert srv.requests == {f"{m}": CASES for m in MODELS}
    assert srv.resident == ()

    records = results(project)
    assert len(records) == 30
    for model in MODELS:
        mine = [r for r in records if r["model"] == f"ollama/{model}"]
        assert [r["case_id"] for r in mine] == [f"CASE_{i:02d}" for i in range(1, CASES + 1)]
        # the cold start is recorded once, separately, and is not answer time
        assert mine[0]["cold_start_ms"] is not None
        assert mine[0]["cold_start_ms"] >= 300
        assert all(r["cold_start_ms"] is None for r in mine[1:])
        assert all(r["latency_ms"] < 300 for r in mine)
        assert all(r["prompt_eval_ms"] is not None and r["eval_ms"] >= 5 for r in mine)
        assert all(r["queue_ms"] is not None and r["tokens_per_s"] for r in mine)
    doc = json.loads((project.path / "out.json").read_text())
    ranking = doc["tasks"]["grading"]["ranking"]
    assert len(ranking) == 3
    assert all(s["mean_ms"] < 300 for s in ranking)


def test_requests_to_one_model_go_load_cases_unload(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    # a second task with other generation options: sampling options never make Ollama
    # reload, and no runner option (num_ctx...) is ever sent
    (project.path / "evals" / "other.yaml").write_text(verdict_yaml("other", 3, max_tokens=64))
    result = run(project, srv.url, "--llm-models=ollama/qwen2.5:7b,ollama/llama3.2:3b")
    result.assert_outcomes(passed=26)
    assert srv.loads == {"qwen2.5:7b": 1, "llama3.2:3b": 1}
    calls = [
        (r.path, r.body["model"], "keep_alive" in r.body and r.body["keep_alive"])
        for r in srv.received
        if r.path in ("/api/generate", "/api/chat")
    ]
    for index, model in enumerate(("qwen2.5:7b", "llama3.2:3b")):
        mine = calls[index * 15 : (index + 1) * 15]
        assert mine[0] == ("/api/generate", model, "30m")  # load, kept 30 min after each use
        assert mine[1:14] == [("/api/chat", model, "30m")] * 13
        assert mine[14] == ("/api/generate", model, 0)  # unload
    chats = [r.body for r in srv.received if r.path == "/api/chat"]
    assert all(set(body["options"]) == {"temperature", "seed", "num_predict"} for body in chats)


def test_xdist_workers_collect_the_same_order_whatever_the_server_lists_first(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    """The server lists its models in another order for each worker; xdist refuses to run
    when workers collect different ids or orders, so passing means they agreed.

    (Keeping one model's items on one worker: tests/plugin/test_xdist.py.)
    """
    srv.rotate_tags = True
    srv.resident_slots = None  # two workers at once: room for both, no thrash to measure
    result = project.runpytest_subprocess(
        "evals",
        f"--llm-ollama-host={srv.url}",
        "--llm-models=ollama",
        "--llm-json=out.json",
        "-p",
        "no:benchmark",
        "-n",
        "2",
    )
    result.assert_outcomes(passed=30)
    assert srv.path_hits["/api/tags"] >= 2
    assert len(results(project)) == 30


def test_keep_loaded_leaves_the_last_model_in_memory(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    result = run(project, srv.url, "--llm-models=ollama", "--llm-keep-loaded")
    result.assert_outcomes(passed=30)
    assert srv.unloads == {}
    assert srv.resident == ("qwen2.5:7b",)
    assert srv.loads == {f"{m}": 1 for m in MODELS}


def test_a_model_evicted_mid_run_is_reloaded_and_the_load_is_not_latency(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    """Another client loads a model (excluded here) in the middle of qwen's cases."""
    srv.load_latency_s = 0.3

    def answer(model: str, messages: list[dict[str, Any]], fmt: Any, opts: Any) -> str:
        if "posting 5" in messages[-1]["content"]:
            srv.load_model("llama3.2:3b")  # evicts qwen: its next request loads it again
        return right_answer(model, messages, fmt, opts)

    srv.answer = answer
    result = run(project, srv.url, "--llm-models=ollama", "--llm-exclude=llama*,gemma*")
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(
        [
            "  ollama/gemma3:1b: excluded by --llm-exclude 'gemma*'",
            "  ollama/llama3.2:3b: excluded by --llm-exclude 'llama*'",
        ]
    )
    assert srv.loads["qwen2.5:7b"] == 2
    after = next(r for r in results(project) if r["case_id"] == "CASE_06")
    assert after["load_ms"] >= 300
    assert after["wall_ms"] >= 300
    assert after["latency_ms"] < 300
    assert after["latency_ms"] == pytest.approx(after["wall_ms"] - after["load_ms"])


def test_max_size_and_explicit_names(project: pytest.Pytester, srv: OllamaEmulator) -> None:
    result = run(
        project,
        srv.url,
        "--llm-models=ollama,ollama/qwen2.5-coder:7b",
        "--llm-max-size=4GB",
        "--collect-only",
        "-q",
    )
    result.stdout.fnmatch_lines(
        [
            "llmbench: 3 model(s): ollama/gemma3:1b, ollama/llama3.2:3b, ollama/qwen2.5-coder:7b",
            "llmbench: left out 2 model(s):",
            "  ollama/nomic-embed-text:latest: embedding-only",
            "  ollama/qwen2.5:7b: over --llm-max-size 4GB (4.7 GB)",
        ]
    )


def test_a_bad_max_size_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("evals", "--llm-max-size=8 gigs")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--llm-max-size: expected a size such as 8GB, 500MB or 7.5G, got '8 gigs'*"]
    )
    assert "Traceback" not in result.stderr.str()


def test_every_model_left_out_is_a_usage_error(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    result = run(project, srv.url, "--llm-models=ollama/*coder*,ollama/nomic*")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: no model left to benchmark: the selection rules left out every model:",
            "  ollama/qwen2.5-coder:7b: code-only (name matches *coder*)",
            "  ollama/nomic-embed-text:latest: embedding-only",
        ]
    )


def test_models_from_a_file(project: pytest.Pytester, srv: OllamaEmulator) -> None:
    (project.path / "models.txt").write_text("# candidates\nollama/llama3.2:3b\nollama/gemma3\n")
    srv.add_model(EmulatedModel("gemma3", family="gemma3"))
    result = run(project, srv.url, "--llm-models=@models.txt", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["llmbench: 2 model(s): ollama/llama3.2:3b, ollama/gemma3:latest", "20 tests collected*"]
    )


# -- acceptance 2: failures --------------------------------------------------------------


def test_unreachable_ollama_at_start_the_run_goes_on_with_other_providers(
    project: pytest.Pytester, dead_url: str
) -> None:
    project.makeconftest(NO_LLAMACPP + WITH_FAKE)
    result = run(project, dead_url, "--llm-models=all")
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(
        [
            "llmbench: 1 model(s): fake/right",
            f"llmbench: ollama left out: Ollama is not reachable at {dead_url} "
            "(connection refused) (start it with `ollama serve`, or point --llm-ollama-host "
            "/ OLLAMA_HOST at a running server)",
        ]
    )
    assert len(results(project)) == 10


@pytest.mark.parametrize("spec", ["all", "ollama", "ollama/qwen2.5:7b"])
def test_unreachable_ollama_and_nothing_else_is_a_usage_error(
    project: pytest.Pytester, dead_url: str, spec: str
) -> None:
    result = run(project, dead_url, f"--llm-models={spec}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    error = result.stderr.str()
    assert f"Ollama is not reachable at {dead_url} (connection refused)" in error
    assert "`ollama serve`" in error
    assert "Traceback" not in error


def test_a_host_down_among_several_is_named_in_the_header(
    project: pytest.Pytester, srv: OllamaEmulator, dead_url: str
) -> None:
    result = run(
        project, srv.url, f"--llm-ollama-host={dead_url}", "--collect-only", "-q", "-k", "qwen"
    )
    result.stdout.fnmatch_lines(
        [f"llmbench: ollama: Ollama is not reachable at {dead_url} (connection refused)"]
    )


class _RemoveAfterCollection:
    """``ollama rm`` between discovery and the run."""

    def __init__(self, srv: OllamaEmulator, name: str) -> None:
        self.srv = srv
        self.name = name

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.srv.remove_model(self.name)


def test_a_model_not_found_has_its_items_skipped_with_the_reason(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    result = run(
        project,
        srv.url,
        "--llm-models=ollama",
        plugins=[_RemoveAfterCollection(srv, "llama3.2:3b")],
    )
    result.assert_outcomes(passed=20, skipped=10)
    result.stdout.fnmatch_lines(
        [
            f"SKIPPED [[]10[]] evals/grading.yaml:*: model 'llama3.2:3b' not found on {srv.url}: "
            "pull it with `ollama pull llama3.2:3b`"
        ]
    )
    loads = [b for b in srv.bodies("/api/generate") if b["model"] == "llama3.2:3b"]
    assert len(loads) == 1  # checked once, then the rest is skipped without asking
    records = results(project)
    assert {r["model"] for r in records} == {"ollama/gemma3:1b", "ollama/qwen2.5:7b"}
    assert len(records) == 20


def test_busy_server_and_reset_connections_are_retried(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    srv.fail_next(2, status=503, path="/api/chat")
    srv.drop_next(path="/api/generate")  # the first load
    result = run(project, srv.url, "--llm-models=ollama/qwen2.5:7b")
    result.assert_outcomes(passed=10)
    first = results(project)[0]
    assert first["retries"] == 2
    assert first["wall_ms"] >= 30  # 10 ms, then 20 ms of backoff
    assert first["latency_ms"] < first["wall_ms"] - 25  # the retries are not answer time
    assert srv.loads == {"qwen2.5:7b": 1}


def test_retries_are_bounded_then_the_case_fails_and_the_run_goes_on(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    srv.fail_next(4, status=503, path="/api/chat")  # the first try and 3 retries
    result = run(project, srv.url, "--llm-models=ollama/qwen2.5:7b")
    result.assert_outcomes(passed=9, failed=1)
    result.stdout.fnmatch_lines(
        [
            "_*grading::CASE_01[[]ollama/qwen2.5:7b[]] _*",
            "call error, not a wrong answer: "
            f"ollama at {srv.url} answered HTTP 503 to generate "
            "ollama/qwen2.5:7b: server busy, please try again. maximum pending requests "
            "exceeded (after 4 attempts)",
        ]
    )
    records = results(project)
    assert len(records) == 10
    assert sum(r["correct"] for r in records) == 9


def test_a_timeout_fails_that_case_and_the_run_goes_on(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    srv.hang_next(path="/api/chat")
    result = run(project, srv.url, "--llm-models=ollama/qwen2.5:7b", "--llm-timeout=0.5")
    result.assert_outcomes(passed=9, failed=1)
    result.stdout.fnmatch_lines(
        [
            "_*grading::CASE_01[[]ollama/qwen2.5:7b[]] _*",
            "call error, not a wrong answer: timed out: no answer from ollama/qwen2.5:7b "
            "within 0.5 s; the machine's load average was * on * cores",
        ]
    )
    records = results(project)
    assert [r["correct"] for r in records] == [False] + [True] * 9
    assert records[0]["error"].startswith(
        "timed out: no answer from ollama/qwen2.5:7b within 0.5 s; the machine's load average was "
    )


@pytest.mark.deadline
def test_a_server_that_dies_mid_run_fails_the_rest_fast_and_keeps_what_finished(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    answered = []

    def answer(model: str, messages: list[dict[str, Any]], fmt: Any, opts: Any) -> str:
        answered.append(model)
        if len(answered) == 15:
            srv.die_next(path="/api/chat")  # the 16th case finds the server gone
        return right_answer(model, messages, fmt, opts)

    srv.answer = answer
    started = time.perf_counter()
    result = run(project, srv.url, "--llm-models=ollama", "--llm-timeout=60")
    elapsed = time.perf_counter() - started
    result.assert_outcomes(passed=15, failed=15)
    gone = (
        f"ollama at {srv.url} stopped answering (connection refused); "
        "requests to it fail at once until it accepts connections again"
    )
    result.stdout.fnmatch_lines(
        [
            "_*grading::CASE_06[[]ollama/llama3.2:3b[]] _*",
            f"call error, not a wrong answer: {gone}",
        ]
    )
    assert elapsed < 20  # not 15 x 60 s
    records = results(project)
    assert len(records) == 30
    assert [r["correct"] for r in records] == [True] * 15 + [False] * 15
    assert {r["error"] for r in records[15:]} == {gone}
    assert all(r["latency_ms"] is not None for r in records[:15])
    doc = json.loads((project.path / "out.json").read_text())
    assert doc["tasks"]["grading"]["champion"] == "ollama/gemma3:1b"
    result.stdout.fnmatch_lines(["Champion:  ollama/gemma3:1b (10/10 correct*"])


def test_the_json_report_is_written_when_the_run_stops_early(
    project: pytest.Pytester, srv: OllamaEmulator
) -> None:
    srv.fail_next(4, status=503, path="/api/chat")
    result = run(project, srv.url, "--llm-models=ollama", "-x")
    result.assert_outcomes(failed=1)
    assert len(results(project)) == 1
    assert srv.unloads == {"gemma3:1b": 1}  # released at the end of the session
    assert srv.resident == ()


def test_config_files_set_the_rules(
    project: pytest.Pytester, srv: OllamaEmulator, tmp_path: Path
) -> None:
    project.makeini(
        "[pytest]\n"
        "llm_exclude = gemma*\n"
        "llm_max_size = 4.5GB\n"
        "llm_code_patterns =\n    nothing*\n"
        "llm_vision_patterns =\n    llama3*\n"
    )
    result = run(project, srv.url, "--llm-models=ollama", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "llmbench: 1 model(s): ollama/qwen2.5-coder:7b",
            "llmbench: left out 4 model(s):",
            "  ollama/gemma3:1b: excluded by --llm-exclude 'gemma*'",
            "  ollama/llama3.2:3b: vision-only (name matches llama3*)",
            "  ollama/nomic-embed-text:latest: embedding-only",
            "  ollama/qwen2.5:7b: over --llm-max-size 4.5GB (4.7 GB)",
        ]
    )
