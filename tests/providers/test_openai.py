"""The openai provider against an emulated OpenAI-compatible endpoint (real HTTP on loopback).

Every test runs on both transports (``[lean-http]``: the lean HTTP client of
``providers.wire``; ``[openai-client]``: the official ``openai`` client): every behaviour
(requests, errors, retries, timeouts, structured-output fallback) must be the same.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.providers.base import BuiltinSettings, ProviderError, Request, Response
from pytest_llmbench.providers.endpoints import Endpoint
from pytest_llmbench.providers.openai import OpenAIProvider, retry_after_s
from tests.support.casedata import COMPANY_TASK
from tests.support.openai_emulator import OpenAIEmulator

TRANSPORT = {"lean_http": True}
"""The transport of the running test (set by the ``transport`` fixture)."""
SCHEMA = {"type": "object", "properties": {"company": {"type": "string"}}, "required": ["company"]}
KEY = "sk-emulated-0123456789abcdef"


@pytest.fixture(autouse=True, params=["lean-http", "openai-client"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs every test on the lean HTTP client and on the openai client."""
    monkeypatch.setitem(TRANSPORT, "lean_http", request.param == "lean-http")
    return str(request.param)


def settings(**values: Any) -> BuiltinSettings:
    """Provider settings for the transport of the running test."""
    return BuiltinSettings(lean_http=TRANSPORT["lean_http"], **values)


def plugin_args(*args: str) -> list[str]:
    """Plugin options for the transport of the running test (the ini switch covers both)."""
    lean = [] if TRANSPORT["lean_http"] else ["-o", "llm_ollama_lean_http=false"]
    return [*args, *lean]


@pytest.fixture
def server() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(models=["gpt-4o-mini", "text-embedding-3-small", "whisper-1"]) as srv:
        yield srv
    assert srv.errors == []


class Sleeps:
    """Records the waits instead of sleeping them (the retry tests stay fast)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def provider(
    url: str,
    *,
    sleep: Sleeps | None = None,
    timeout_s: float = 10.0,
    state_dir: Path | None = None,
    **endpoint: Any,
) -> OpenAIProvider:
    # A generous discovery timeout: on a busy machine (the suite under -n) the openai
    # client's first GET /models can take seconds, and a listing that times out leaves
    # a server without its identity, which some tests count on.
    return OpenAIProvider(
        settings(timeout_s=timeout_s, discovery_timeout_s=10.0, state_dir=state_dir),
        Endpoint(name="local", base_url=url, **endpoint),
        sleep=sleep or Sleeps(),
    )


def request(schema: dict[str, Any] | None = None, timeout_s: float = 10.0) -> Request:
    return Request(
        model="gpt-4o-mini",
        prompt="Acme is hiring. Which company? Answer as JSON.",
        system="You extract facts.",
        options=GenerateOptions(temperature=0.0, seed=7, max_tokens=32, top_k=20),
        json_schema=schema,
        timeout_s=timeout_s,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- discovery ---------------------------------------------------------------------


def test_discovery_lists_chat_models_from_get_models(server: OpenAIEmulator) -> None:
    found = provider(server.url).discover()
    assert found.problem is None
    assert [m.id for m in found.models] == ["local/gpt-4o-mini"]
    assert found.models[0].details["endpoint"] == server.url


def test_configured_models_are_offered_in_their_order(server: OpenAIEmulator) -> None:
    found = provider(server.url, models=("b-model", "gpt-4o-mini")).discover()
    assert [m.name for m in found.models] == ["b-model", "gpt-4o-mini"]
    assert [m.details["listed"] for m in found.models] == [False, True]


def test_endpoint_without_model_listing_uses_configured_models() -> None:
    with OpenAIEmulator(list_models=False) as srv:
        assert provider(srv.url, models=("smollm2",)).discover().models[0].id == "local/smollm2"
        found = provider(srv.url).discover()
    assert found.models == ()
    assert found.problem is not None
    assert "does not list its models (GET /models: HTTP 404" in found.problem
    assert found.hint == f"name them in the endpoint line: local = {srv.url} models=a,b"


def test_unreachable_endpoint_is_one_discovery_problem() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    found = provider(url, models=("smollm2",)).discover()
    assert found.models == ()
    assert found.problem == f"endpoint {url} is not reachable (connection refused)"
    assert found.hint is not None
    assert "\n" not in found.problem


def test_missing_key_is_a_discovery_problem_without_a_call(
    server: OpenAIEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMBENCH_TEST_KEY", raising=False)
    found = provider(server.url, key_env="LLMBENCH_TEST_KEY").discover()
    assert found.problem == "$LLMBENCH_TEST_KEY is not set"
    assert server.received == []


def test_default_openai_endpoint_is_not_offered_without_a_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    default = OpenAIProvider(settings())
    assert default.name == "openai"
    assert default.endpoint.base_url == "https://api.openai.com/v1"
    assert default.discover().problem == "$OPENAI_API_KEY is not set"


def test_rejected_key_is_a_discovery_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBENCH_TEST_KEY", "sk-wrong-key-0000")
    with OpenAIEmulator(require_key=KEY) as srv:
        found = provider(srv.url, key_env="LLMBENCH_TEST_KEY").discover()
    assert found.problem is not None
    assert "rejected the API key from $LLMBENCH_TEST_KEY (HTTP 401" in found.problem


# -- generation --------------------------------------------------------------------


def test_generate_sends_the_chat_request_and_reads_usage(
    server: OpenAIEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMBENCH_TEST_KEY", KEY)
    server.require_key = KEY
    server.answer = lambda model, messages, fmt: '{"company": "Acme"}'
    response = provider(server.url, key_env="LLMBENCH_TEST_KEY").generate(request(SCHEMA))
    assert response.text == '{"company": "Acme"}'
    assert response.prompt_tokens == 11  # the emulator counts words: 3 + 8
    assert response.completion_tokens == 2
    assert response.host == server.url
    assert response.structured is None  # json_schema, as asked
    assert response.retry_ms is None
    sent = server.received[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    body = sent.body
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [
        {"role": "system", "content": "You extract facts."},
        {"role": "user", "content": "Acme is hiring. Which company? Answer as JSON."},
    ]
    assert (body["temperature"], body["seed"], body["max_tokens"], body["top_k"]) == (
        0.0,
        7,
        32,
        20,
    )
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": False},
    }
    # streamed, the usage in the last chunk: the only change to the request body
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})


def test_endpoint_without_key_env_never_sends_the_openai_key(
    server: OpenAIEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    provider(server.url).generate(request())
    assert server.received[-1].headers["authorization"] == "Bearer sk-no-key-required"
    assert "response_format" not in server.received[-1].body


def test_unknown_model_is_one_line() -> None:
    with OpenAIEmulator() as srv:
        srv.fail_next(404, body={"error": {"message": "The model `nope` does not exist"}})
        with pytest.raises(ProviderError) as info:
            provider(srv.url).generate(request())
    assert str(info.value) == (
        f"model 'gpt-4o-mini' not found at {srv.url} (HTTP 404): The model `nope` does not exist"
    )


# -- the two transports ------------------------------------------------------------------


def test_each_transport_is_the_one_asked_for(server: OpenAIEmulator, transport: str) -> None:
    p = provider(server.url)
    p.discover()
    p.generate(request())
    p.close()
    agents = {r.headers["user-agent"].split("/")[0] for r in server.received}
    assert agents == {"pytest-llmbench" if transport == "lean-http" else "OpenAI"}


def test_both_transports_send_the_same_request(server: OpenAIEmulator) -> None:
    extra = GenerateOptions(temperature=0.2, seed=7, max_tokens=8, top_p=0.9, extra={"min_p": 0.1})
    for lean in (True, False):
        p = OpenAIProvider(
            BuiltinSettings(lean_http=lean), Endpoint(name="local", base_url=server.url)
        )
        p.generate(dataclasses.replace(request(SCHEMA), options=extra))
        p.close()
    lean_body, client_body = (r.body for r in server.received)
    assert lean_body == client_body
    assert lean_body["min_p"] == 0.1
    assert lean_body["top_p"] == 0.9


class _Redirector(BaseHTTPRequestHandler):
    """Answers everything with a redirect to ``target`` (the emulator)."""

    protocol_version = "HTTP/1.1"
    target = ""
    agents: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _redirect(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        type(self).agents.append(self.headers.get("User-Agent", ""))
        self.send_response(307)
        self.send_header("Location", self.target + self.path.removeprefix("/v1"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _redirect


def test_a_redirect_hands_the_endpoint_over_to_the_openai_client(server: OpenAIEmulator) -> None:
    class Redirector(_Redirector):
        target = server.url
        agents: ClassVar[list[str]] = []

    redirector = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    redirector.daemon_threads = True
    threading.Thread(target=redirector.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{redirector.server_address[1]}/v1"
        p = provider(url)
        assert p.generate(request()).text == "ok"
        assert p.generate(request()).text == "ok"
        p.close()
    finally:
        redirector.shutdown()
        redirector.server_close()
    assert server.chat_requests == 2  # both answered by the server redirected to
    if TRANSPORT["lean_http"]:  # the lean client met the redirect once, then stepped aside
        assert Redirector.agents[0].startswith("pytest-llmbench/")
    assert all(agent.startswith("OpenAI/") for agent in Redirector.agents[-2:])


def test_a_proxy_or_tls_leaves_the_endpoint_to_the_openai_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert provider("https://api.example.com/v1")._lean_wire() is None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.com:3128")
    assert provider("http://gpu-box:8080/v1")._lean_wire() is None
    monkeypatch.setenv("NO_PROXY", "gpu-box")
    assert (provider("http://gpu-box:8080/v1")._lean_wire() is not None) is TRANSPORT["lean_http"]


# -- 429, 5xx, connection errors and timeouts ----------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"Retry-After": "soon"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_header(headers: dict[str, str] | None, expected: float | None) -> None:
    assert retry_after_s(headers) == expected


def test_retry_after_http_date() -> None:
    now = time.time()
    header = email.utils.formatdate(now + 30, usegmt=True)
    wait = retry_after_s({"Retry-After": header}, now=now)
    assert wait is not None
    assert 29 <= wait <= 31


def test_429_waits_for_retry_after_then_answers(server: OpenAIEmulator) -> None:
    server.fail_next(429, times=2, headers={"Retry-After": "3"})
    sleeps = Sleeps()
    response = provider(server.url, sleep=sleeps, retries=2).generate(request())
    assert response.text == "ok"
    assert sleeps.waits == [3.0, 3.0]
    assert server.chat_requests == 3
    assert response.retry_ms is not None  # the failed attempts are not latency


def test_429_with_a_real_wait_is_left_out_of_latency(server: OpenAIEmulator) -> None:
    from pytest_llmbench.execution.call import answer_ms, call_provider

    server.fail_next(429, headers={"Retry-After": "0.4"})
    real = OpenAIProvider(
        settings(timeout_s=5.0),
        Endpoint(name="local", base_url=server.url, retries=1),
    )
    started = time.perf_counter()
    call = call_provider(real, request())
    wall_ms = (time.perf_counter() - started) * 1000.0
    assert call.error is None
    assert wall_ms >= 400
    assert call.response is not None
    assert call.response.retry_ms is not None
    assert call.response.retry_ms >= 400
    # the ranking latency (Result.latency_ms) leaves the wait out
    latency = answer_ms(call.latency_ms, call.response)
    assert latency is not None
    assert latency < wall_ms - 350


def test_429_retries_are_bounded(server: OpenAIEmulator) -> None:
    server.fail_next(429, times=5, headers={"retry-after-ms": "10"})
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as info:
        provider(server.url, sleep=sleeps, retries=2).generate(request())
    assert server.chat_requests == 3
    assert sleeps.waits == [0.01, 0.01]
    message = str(info.value)
    assert message.startswith(
        f"rate limited by {server.url} (HTTP 429) after 3 attempts for local/gpt-4o-mini: "
        "Rate limit reached for gpt-4o-mini"
    )
    assert "\n" not in message


def test_429_asking_for_more_than_max_wait_fails_at_once(server: OpenAIEmulator) -> None:
    server.fail_next(429, headers={"Retry-After": "120"})
    sleeps = Sleeps()
    with pytest.raises(ProviderError, match=r"retry after 120 s, more than max_wait 60 s"):
        provider(server.url, sleep=sleeps).generate(request())
    assert sleeps.waits == []
    assert server.chat_requests == 1


def test_429_out_of_quota_is_not_retried(server: OpenAIEmulator) -> None:
    quota = {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing "
            "details.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
    server.fail_next(429, times=3, body=quota, headers={"Retry-After": "1"})
    sleeps = Sleeps()
    with pytest.raises(ProviderError, match=r"out of quota \(HTTP 429\): You exceeded"):
        provider(server.url, sleep=sleeps).generate(request())
    assert sleeps.waits == []
    assert server.chat_requests == 1


def test_429_without_retry_after_backs_off(server: OpenAIEmulator) -> None:
    server.fail_next(429, times=2)
    sleeps = Sleeps()
    provider(server.url, sleep=sleeps, backoff_s=0.5).generate(request())
    assert sleeps.waits == [0.5, 1.0]


def test_server_errors_back_off_then_fail(server: OpenAIEmulator) -> None:
    server.fail_next(503, times=3)
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as info:
        provider(server.url, sleep=sleeps, retries=2, backoff_s=0.25).generate(request())
    assert sleeps.waits == [0.25, 0.5]
    assert str(info.value) == (
        f"{server.url} answered HTTP 503 after 3 attempts for local/gpt-4o-mini: emulated HTTP 503"
    )


def test_client_errors_are_not_retried(server: OpenAIEmulator) -> None:
    server.fail_next(400, body={"error": {"message": "max_tokens is too large"}})
    with pytest.raises(ProviderError, match=r"HTTP 400 for local/gpt-4o-mini: max_tokens is too"):
        provider(server.url).generate(request())
    assert server.chat_requests == 1


def test_connection_refused_is_retried_then_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as info:
        provider(url, sleep=sleeps, retries=1, backoff_s=0.1).generate(request())
    assert sleeps.waits == [0.1]
    assert str(info.value) == (
        f"endpoint {url} is not reachable (connection refused) after 2 attempts: "
        "start the server or fix the endpoint's URL"
    )


@pytest.mark.deadline
def test_timeout_is_one_line_and_not_retried(server: OpenAIEmulator) -> None:
    server.hang_next(5.0)
    sleeps = Sleeps()
    started = time.perf_counter()
    with pytest.raises(ProviderError) as info:
        provider(server.url, sleep=sleeps).generate(request(timeout_s=0.5))
    elapsed = time.perf_counter() - started
    assert str(info.value) == f"no answer from local/gpt-4o-mini within 0.5 s ({server.url})"
    assert 0.4 < elapsed < 3.0
    assert sleeps.waits == []
    assert server.chat_requests == 1


# -- structured output -----------------------------------------------------------------


@pytest.mark.parametrize("style", ["openai", "llamacpp"])
def test_rejected_json_schema_falls_back_to_json_object(style: str) -> None:
    with OpenAIEmulator(formats=("text", "json_object"), reject_style=style) as srv:
        p = provider(srv.url)
        first = p.generate(request(SCHEMA))
        second = p.generate(request(SCHEMA))
    assert first.structured == second.structured == "json_object"
    assert first.retry_ms is not None  # the rejected attempt is not latency
    sent = [r.body.get("response_format", {}).get("type") for r in srv.received]
    assert sent == ["json_schema", "json_object", "json_object"]
    assert srv.received[-1].body["response_format"]["schema"] == SCHEMA


def test_endpoint_without_any_response_format_gets_the_prompt_alone() -> None:
    with OpenAIEmulator(formats=("text",), reject_style="llamacpp") as srv:
        p = provider(srv.url)
        response = p.generate(request(SCHEMA))
        p.generate(request(SCHEMA))
    assert response.structured == "prompt"
    assert [r.body.get("response_format", {}).get("type") for r in srv.received] == [
        "json_schema",
        "json_object",
        None,
        None,
    ]


def test_fixed_json_schema_mode_does_not_fall_back() -> None:
    with OpenAIEmulator(formats=("text",)) as srv:
        with pytest.raises(ProviderError, match=r"rejected the json_schema response format"):
            provider(srv.url, structured="json_schema").generate(request(SCHEMA))
        assert srv.chat_requests == 1


def test_structured_none_sends_no_response_format(server: OpenAIEmulator) -> None:
    response = provider(server.url, structured="none").generate(request(SCHEMA))
    assert "response_format" not in server.received[-1].body
    assert response.structured is None  # as configured, nothing to note


def formats_sent(srv: OpenAIEmulator) -> list[str | None]:
    """The response format of every chat request the emulator received, in order."""
    return [
        r.body.get("response_format", {}).get("type")
        for r in srv.received
        if r.path == "/v1/chat/completions"
    ]


def test_a_slow_rejected_probe_is_not_latency() -> None:
    from pytest_llmbench.execution.call import answer_ms, call_provider

    with OpenAIEmulator(formats=("text", "json_object"), reject_style="llamacpp") as srv:
        srv.hang_next(0.3)  # the json_schema probe is rejected after 0.3 s
        probed = provider(srv.url)
        call = call_provider(probed, request(SCHEMA))
        probed.close()
    assert call.response is not None
    assert call.response.structured == "json_object"
    assert call.latency_ms is not None
    assert call.latency_ms >= 300
    latency = answer_ms(call.latency_ms, call.response)
    assert latency is not None
    assert latency < call.latency_ms - 250


# -- structured output remembered between runs ------------------------------------------


def test_a_rejected_json_schema_is_asked_once_across_runs(tmp_path: Path) -> None:
    with OpenAIEmulator(
        models=["gpt-4o-mini"], formats=("text", "json_object"), reject_style="llamacpp"
    ) as srv:
        for _ in range(2):  # two runs: two providers, one state directory
            run = provider(srv.url, state_dir=tmp_path)
            assert run.generate(request(SCHEMA)).structured == "json_object"
            assert run.generate(request(SCHEMA)).structured == "json_object"
            run.close()
    assert formats_sent(srv) == ["json_schema", "json_object", "json_object"] + ["json_object"] * 2
    (entry,) = json.loads((tmp_path / "structured-output.json").read_text())["servers"].values()
    assert (entry["base_url"], entry["model"], entry["mode"]) == (
        srv.url,
        "gpt-4o-mini",
        "json_object",
    )
    assert (entry["server"], entry["owned_by"]) == ("openai-emulator", "me")
    assert entry["reason"].startswith("json_schema rejected: HTTP 500: ")


def one_run(url: str, state_dir: Path | None) -> Response:
    """One request with a schema from a new provider (a new run), closed afterwards."""
    run = provider(url, state_dir=state_dir)
    try:
        return run.generate(request(SCHEMA))
    finally:
        run.close()


def test_the_prompt_alone_is_remembered_too(tmp_path: Path) -> None:
    with OpenAIEmulator(formats=("text",), reject_style="llamacpp") as srv:
        for _ in range(2):
            assert one_run(srv.url, tmp_path).structured == "prompt"
    assert formats_sent(srv) == ["json_schema", "json_object", None, None]


def test_another_server_behind_the_same_url_is_asked_again(tmp_path: Path) -> None:
    with OpenAIEmulator(
        models=["gpt-4o-mini"], formats=("text", "json_object"), reject_style="llamacpp"
    ) as srv:
        one_run(srv.url, tmp_path)
        srv.server_header = "llama.cpp"  # another program now answers at this URL
        one_run(srv.url, tmp_path)
        srv.owned_by = "llamacpp"  # and another version of it
        one_run(srv.url, tmp_path)
        one_run(srv.url, tmp_path)
    assert formats_sent(srv).count("json_schema") == 3
    doc = json.loads((tmp_path / "structured-output.json").read_text())
    assert len(doc["servers"]) == 3


def test_without_a_state_directory_each_run_asks_again() -> None:
    with OpenAIEmulator(formats=("text", "json_object"), reject_style="llamacpp") as srv:
        for _ in range(2):
            one_run(srv.url, None)
    assert formats_sent(srv).count("json_schema") == 2
    assert [r.path for r in srv.received if r.method == "GET"] == []


def test_an_unreadable_memory_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "structured-output.json").write_text("{not json")
    with OpenAIEmulator(formats=("text", "json_object"), reject_style="llamacpp") as srv:
        response = one_run(srv.url, tmp_path)
    assert response.structured == "json_object"
    assert json.loads((tmp_path / "structured-output.json").read_text())["servers"]


# -- through the plugin -------------------------------------------------------------------


def company_answer(model: str, messages: list[dict[str, Any]], fmt: Any) -> str:
    text = messages[-1]["content"]
    return json.dumps({"company": "Acme" if "Acme" in text else "Globex"})


def test_two_endpoints_sit_in_one_run_and_fallback_is_noted(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMBENCH_GROQ_KEY", KEY)
    (pytester.path / "company.yaml").write_text(COMPANY_TASK)
    with (
        OpenAIEmulator(models=["llama-3.1-8b-instant"], answer=company_answer) as groq,
        OpenAIEmulator(
            models=["smollm2"], answer=company_answer, formats=("text",), require_key=None
        ) as local,
    ):
        groq.require_key = KEY
        pytester.makeini(
            f"""
            [pytest]
            llm_openai_endpoints =
                groq = {groq.url} key_env=LLMBENCH_GROQ_KEY
            llm_prices =
                groq/* = 0.05 0.08
            """
        )
        out = pytester.path / "bench.json"
        result = pytester.runpytest(
            *plugin_args(
                f"--llm-endpoint=local={local.url} models=smollm2",
                "--llm-models=groq,local",
                f"--llm-json={out}",
                "-p",
                "no:benchmark",
            )
        )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "llmbench: 2 model(s): groq/llama-3.1-8b-instant, local/smollm2",
            "Note: local/smollm2: the endpoint takes no structured-output response format; "
            "answers were asked for by the prompt alone",
        ]
    )
    doc = json.loads(out.read_text())
    assert doc["tasks"]["company"]["notes"] == [
        "local/smollm2: the endpoint takes no structured-output response format; "
        "answers were asked for by the prompt alone"
    ]
    by_model: dict[str, list[dict[str, Any]]] = {}
    for record in doc["results"]:
        by_model.setdefault(record["model"], []).append(record)
    for record in by_model["groq/llama-3.1-8b-instant"]:
        assert record["structured"] is None
        assert record["prompt_tokens"] > 0
        assert record["completion_tokens"] == 2
        expected_cost = (record["prompt_tokens"] * 0.05 + 2 * 0.08) / 1e6
        assert record["cost_usd"] == pytest.approx(expected_cost)
    for record in by_model["local/smollm2"]:
        assert record["structured"] == "prompt"
        assert record["cost_usd"] is None


def test_two_runs_probe_the_llamacpp_like_endpoint_once(pytester: pytest.Pytester) -> None:
    (pytester.path / "company.yaml").write_text(COMPANY_TASK)
    with OpenAIEmulator(
        models=["smollm2"],
        answer=company_answer,
        formats=("text", "json_object"),
        reject_style="llamacpp",
    ) as srv:
        for _ in range(2):
            result = pytester.runpytest(
                *plugin_args(f"--llm-endpoint=local={srv.url}", "--llm-models=local/smollm2"),
                "-p",
                "no:benchmark",
            )
            result.assert_outcomes(passed=2)
            result.stdout.fnmatch_lines(["Note: local/smollm2: *json_object*"])
    assert formats_sent(srv) == ["json_schema", "json_object", "json_object"] + ["json_object"] * 2
    remembered = pytester.path / ".llmbench" / "structured-output.json"
    assert json.loads(remembered.read_text())["servers"]


def test_429_through_the_plugin_is_retried_and_reported(pytester: pytest.Pytester) -> None:
    (pytester.path / "company.yaml").write_text(COMPANY_TASK)
    with OpenAIEmulator(models=["m"], answer=company_answer) as srv:
        srv.fail_next(429, times=1, headers={"Retry-After": "0.2"})
        ok = pytester.runpytest(
            *plugin_args(
                f"--llm-endpoint=rl={srv.url} retries=1", "--llm-models=rl/m", "-p", "no:benchmark"
            )
        )
        ok.assert_outcomes(passed=2)
        srv.fail_next(429, times=3, headers={"Retry-After": "0.05"})
        failed = pytester.runpytest(
            *plugin_args(
                f"--llm-endpoint=rl={srv.url} retries=1",
                "--llm-models=rl/m",
                "-p",
                "no:benchmark",
                "-k",
                "COMPANY_001",
            )
        )
    failed.assert_outcomes(failed=1, deselected=1)
    failed.stdout.fnmatch_lines(
        [f"*rate limited by {srv.url} (HTTP 429) after 2 attempts for rl/m: Rate limit reached*"]
    )
    assert "Traceback" not in failed.stdout.str()


def test_timeout_through_the_plugin_is_a_failed_case(pytester: pytest.Pytester) -> None:
    (pytester.path / "company.yaml").write_text(COMPANY_TASK)
    with OpenAIEmulator(models=["m"], answer=company_answer) as srv:
        srv.hang_next(5.0)
        result = pytester.runpytest(
            *plugin_args(
                f"--llm-endpoint=slow={srv.url}",
                "--llm-models=slow/m",
                "--llm-timeout=0.5",
                "-p",
                "no:benchmark",
            )
        )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no answer from slow/m within 0.5 s*",
            "  slow/m (1/2): error on COMPANY_001; a call error, not a wrong answer: timed out:*",
        ]
    )


def test_openai_account_names_from_the_environment_stay_with_openai(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The openai client sends $OPENAI_ORG_ID and $OPENAI_PROJECT_ID with every request;
    # a Groq, vLLM or local endpoint has no business seeing them.
    monkeypatch.setenv("OPENAI_ORG_ID", "org-acme-private")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-acme-private")
    with OpenAIEmulator(models=["gpt-4o-mini"], require_key=None) as srv:
        local = provider(srv.url)
        local.discover()
        local.generate(request())
        local.close()
        assert len(srv.received) >= 2
        for seen in srv.received:
            names = {name.lower() for name in seen.headers}
            assert not names & {"openai-organization", "openai-project"}


def test_openai_results_record_their_retries() -> None:
    with OpenAIEmulator(models=["gpt-4o-mini"]) as server:
        server.fail_next(503, times=2)
        response = provider(server.url, sleep=Sleeps(), retries=3).generate(request())
    assert response.text == "ok"
    assert response.retries == 2
