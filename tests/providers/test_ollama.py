"""The Ollama provider against an emulated Ollama server: real HTTP on loopback.

The emulator (tests/support/ollama_emulator.py) speaks Ollama's recorded wire protocol; these
tests go through the official ``ollama`` client inside :class:`OllamaProvider`, so
what is checked is what would go over the wire to a real server.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import ollama
import pydantic
import pytest

from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.providers.base import (
    BuiltinSettings,
    Discovery,
    ModelInfo,
    ModelNotFound,
    Provider,
    ProviderError,
    Request,
)
from pytest_llmbench.providers.ollama import KEEP_ALIVE, OllamaProvider, normalize_host
from pytest_llmbench.providers.ollama import replies as ollama_replies
from tests.support.clock import FakeClock
from tests.support.ollama_emulator import (
    FIXTURES,
    EmulatedModel,
    OllamaEmulator,
    example_for_schema,
    load_shape,
)

MODEL = "qwen2.5:7b"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["PASS", "FAIL"]}},
    "required": ["verdict"],
}

ProviderFactory = Callable[..., OllamaProvider]


@pytest.fixture
def srv() -> Iterator[OllamaEmulator]:
    models = [
        EmulatedModel(
            MODEL, size=4_683_087_332, family="qwen2", capabilities=("completion", "tools")
        ),
        EmulatedModel("llama3.2:3b", family="llama", parameter_size="3.2B"),
        EmulatedModel("nomic-embed-text", family="nomic-bert", capabilities=("embedding",)),
    ]
    with OllamaEmulator(models=models) as server:
        yield server
    assert server.errors == []


@pytest.fixture(params=["lean-http", "ollama-client"])
def make_provider(request: pytest.FixtureRequest) -> Iterator[ProviderFactory]:
    """Providers whose generation goes through the lean HTTP client, or the ollama client.

    Every behaviour (errors, retries, timeouts, dead hosts) must be the same on both.
    """
    made: list[OllamaProvider] = []
    lean_http = request.param == "lean-http"

    def make(
        *hosts: str,
        timeout_s: float = 5.0,
        discovery_timeout_s: float = 2.0,
        retries: int = 3,
        retry_backoff_s: float = 0.01,
    ) -> OllamaProvider:
        settings = BuiltinSettings(
            ollama_hosts=hosts,
            timeout_s=timeout_s,
            discovery_timeout_s=discovery_timeout_s,
            retries=retries,
            retry_backoff_s=retry_backoff_s,
            lean_http=lean_http,
        )
        provider = OllamaProvider(settings)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def connections() -> Iterator[list[Any]]:
    """The addresses this process connects a socket to inside the block."""
    tried: list[Any] = []
    real = socket.socket.connect

    def connect(self: Any, address: Any) -> None:
        tried.append(address)
        real(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    try:
        yield tried
    finally:
        socket.socket.connect = real  # type: ignore[method-assign]


def provider_error(call: Callable[[], object]) -> str:
    """The message of the ProviderError ``call`` raises; it must be one clean line."""
    with pytest.raises(ProviderError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    assert "Traceback" not in message
    assert len(message) < 300
    return message


# -- the recorded shapes and the emulator's protocol ------------------------------------


@pytest.mark.parametrize(
    ("shape", "parse"),
    [
        ("tags.json", ollama.ListResponse.model_validate),
        ("show.json", ollama.ShowResponse.model_validate),
        ("ps.json", ollama.ProcessResponse.model_validate),
        ("chat.json", ollama.ChatResponse.model_validate),
        ("chat_load.json", ollama.ChatResponse.model_validate),
        ("generate.json", ollama.GenerateResponse.model_validate),
        ("generate_load.json", ollama.GenerateResponse.model_validate),
    ],
)
def test_recorded_shapes_parse_with_the_official_client(
    shape: str, parse: Callable[[Any], object]
) -> None:
    parse(load_shape(shape))


def test_recorded_stream_shapes_end_with_the_timing_line() -> None:
    for name, parse in [
        ("chat_stream.ndjson", ollama.ChatResponse.model_validate),
        ("generate_stream.ndjson", ollama.GenerateResponse.model_validate),
    ]:
        lines = load_shape(name)
        assert [line["done"] for line in lines] == [False, True]
        for line in lines:
            parse(line)
        assert all(isinstance(lines[-1][k], int) for k in ("total_duration", "eval_count"))
    errors = list(FIXTURES.glob("error_*.json"))
    assert errors
    for path in errors:
        assert list(json.loads(path.read_text())) == ["error"]


def _fields(value: Any) -> Any:
    """A reply as plain data: the lean reading's namespaces and the ollama client's
    pydantic objects alike (timestamps left out: the lean reading keeps the text)."""
    if isinstance(value, SimpleNamespace):
        value = vars(value)
    elif isinstance(value, pydantic.BaseModel):
        value = {name: getattr(value, name) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {k: _fields(v) for k, v in value.items() if k not in ("modified_at", "expires_at")}
    if isinstance(value, (list, tuple)):
        return [_fields(item) for item in value]
    return value


@pytest.mark.parametrize(
    ("shape", "kind"),
    [
        ("tags.json", "ListResponse"),
        ("show.json", "ShowResponse"),
        ("chat.json", "ChatResponse"),
        ("chat_load.json", "ChatResponse"),
        ("generate.json", "GenerateResponse"),
        ("generate_load.json", "GenerateResponse"),
    ],
)
def test_the_lean_reading_of_a_reply_is_the_ollama_clients(shape: str, kind: str) -> None:
    # Read without importing ollama (a namespace, not the pydantic type), to the same values.
    lean = ollama_replies.parse(kind, load_shape(shape))
    official = getattr(ollama, kind)(**load_shape(shape))
    assert isinstance(lean, SimpleNamespace)
    official_fields = _fields(official)
    assert {k: official_fields[k] for k in _fields(lean)} == _fields(lean)


@pytest.mark.parametrize(
    ("kind", "change", "outcome"),
    [
        ("ChatResponse", {"eval_count": "12"}, 12),  # pydantic coerces: its value wins
        ("ChatResponse", {"eval_count": 1.5}, pydantic.ValidationError),
        ("ChatResponse", {"message": None}, pydantic.ValidationError),
        ("ChatResponse", {"message": {"content": "x"}}, pydantic.ValidationError),  # no role
        ("ChatResponse", {"logprobs": [{"token": "a", "logprob": -0.1}]}, 12),
        ("ListResponse", {"models": [{"model": "a", "modified_at": "yesterday"}]}, None),
        ("ListResponse", {"models": [{"model": "a", "modified_at": "2025-02-30T10:00:00Z"}]}, None),
        ("ShowResponse", {"model_info": "?"}, pydantic.ValidationError),
    ],
)
def test_a_reply_the_lean_reading_does_not_take_goes_to_the_ollama_type(
    kind: str, change: dict[str, Any], outcome: Any
) -> None:
    shape = {"ChatResponse": "chat.json", "ListResponse": "tags.json", "ShowResponse": "show.json"}
    data = {**load_shape(shape[kind]), **change}
    if isinstance(outcome, type):
        with pytest.raises(outcome):
            ollama_replies.parse(kind, data)
        return
    if kind == "ListResponse":  # a date pydantic refuses: its error, as on the client
        with pytest.raises(pydantic.ValidationError):
            ollama_replies.parse(kind, data)
        return
    reply = ollama_replies.parse(kind, data)
    assert isinstance(reply, getattr(ollama, kind))
    assert reply.eval_count == outcome


def test_a_reply_that_is_not_an_object_fails_as_on_the_client() -> None:
    with pytest.raises(TypeError):
        ollama_replies.parse("ChatResponse", [1, 2, 3])


def test_emulator_speaks_ollamas_http_protocol(srv: OllamaEmulator) -> None:
    with httpx.Client(base_url=srv.url, timeout=5) as http:
        root = http.get("/")
        assert (root.status_code, root.text) == (200, "Ollama is running")
        assert http.get("/api/version").json() == {"version": srv.version}
        assert http.get("/api/nope").status_code == 404
        assert http.get("/api/chat").status_code == 405

        tags = http.get("/api/tags").json()["models"]
        assert [m["name"] for m in tags] == [MODEL, "llama3.2:3b", "nomic-embed-text:latest"]
        assert tags[0]["model"] == MODEL
        assert tags[0]["size"] == 4_683_087_332
        assert tags[0]["details"]["family"] == "qwen2"

        shown = http.post("/api/show", json={"model": MODEL}).json()
        assert shown["capabilities"] == ["completion", "tools"]
        assert shown["model_info"]["general.architecture"] == "qwen2"
        assert shown["model_info"]["qwen2.context_length"] == 32768

        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": False}
        reply = http.post("/api/chat", json=body)
        assert reply.headers["content-type"].startswith("application/json")
        data = reply.json()
        assert data["done"] is True
        assert data["done_reason"] == "stop"
        assert data["message"]["role"] == "assistant"
        assert RFC3339.match(data["created_at"])
        for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
            assert isinstance(data[key], int)
            assert data[key] > 0

        streamed = http.post("/api/chat", json={**body, "stream": True})
        assert streamed.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in streamed.text.splitlines()]
        assert all(not line["done"] for line in lines[:-1])
        assert lines[-1]["done"] is True
        assert lines[-1]["message"]["content"] == ""
        assert "".join(line["message"]["content"] for line in lines) == data["message"]["content"]
        assert lines[-1]["eval_count"] == len(lines) - 1

        assert http.get("/api/ps").json()["models"][0]["name"] == MODEL

        missing = http.post("/api/chat", json={**body, "model": "nope:1b"})
        assert (missing.status_code, missing.json()) == (
            404,
            {"error": "model 'nope:1b' not found"},
        )
        no_model = http.post("/api/chat", json={"messages": []})
        assert (no_model.status_code, no_model.json()) == (400, {"error": "model is required"})
        no_body = http.post("/api/chat", content=b"")
        assert (no_body.status_code, no_body.json()) == (400, {"error": "missing request body"})
        bad_format = http.post("/api/chat", json={**body, "format": "yaml"})
        assert bad_format.status_code == 400
        assert "invalid format" in bad_format.json()["error"]
        bad_option = http.post("/api/chat", json={**body, "options": {"num_predict": "many"}})
        assert bad_option.status_code == 500
        assert bad_option.json() == {"error": 'option "num_predict" must be of type integer'}
        embed_only = http.post("/api/chat", json={**body, "model": "nomic-embed-text"})
        assert embed_only.json() == {"error": '"nomic-embed-text" does not support chat'}


def test_emulator_streams_through_the_official_client(srv: OllamaEmulator) -> None:
    srv.answer = lambda model, messages, fmt, options: "one two three four"
    with ollama.Client(host=srv.url, timeout=5) as client:
        parts = list(
            client.chat(model=MODEL, messages=[{"role": "user", "content": "count"}], stream=True)
        )
        generated = list(client.generate(model=MODEL, prompt="count", stream=True))
    assert "".join(p.message.content or "" for p in parts) == "one two three four"
    assert parts[-1].done
    assert parts[-1].eval_count == 4
    assert parts[-1].done_reason == "stop"
    assert "".join(g.response or "" for g in generated) == "one two three four"
    assert generated[-1].context


# -- discovery -----------------------------------------------------------------------


def test_discover_lists_models_with_sizes_families_and_host(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    provider = make_provider(srv.url)
    assert isinstance(provider, Provider)
    found = provider.discover()
    assert found.problem is None
    by_name = {m.name: m for m in found.models}
    # sorted by name: the same order for every run and every xdist worker
    assert list(by_name) == ["llama3.2:3b", "nomic-embed-text:latest", MODEL]
    qwen = by_name[MODEL]
    assert qwen.id == f"ollama/{MODEL}"
    assert qwen.provider == "ollama"
    assert qwen.size_bytes == 4_683_087_332
    assert qwen.family == "qwen2"
    assert qwen.details["host"] == srv.url
    assert qwen.details["parameter_size"] == "7.0B"
    assert qwen.details["quantization_level"] == "Q4_K_M"
    assert qwen.details["families"] == ["qwen2"]
    assert qwen.details["digest"] == srv.models[MODEL].digest
    assert qwen.details["capabilities"] == ["completion", "tools"]
    assert qwen.details["context_length"] == 32768
    assert by_name["nomic-embed-text:latest"].details["capabilities"] == ["embedding"]
    assert by_name["llama3.2:3b"].family == "llama"
    assert srv.path_hits["/api/tags"] == 1
    assert srv.path_hits["/api/show"] == 3


def by_name(found: Discovery) -> dict[str, ModelInfo]:
    return {m.name: m for m in found.models}


def test_discover_across_hosts_lists_each_model_once_on_the_least_busy_host(
    make_provider: ProviderFactory, dead_url: str
) -> None:
    with (
        OllamaEmulator(models=[MODEL, "llama3.2:3b"]) as first,
        OllamaEmulator(models=["llama3.2:3b", "gemma3:270m"]) as second,
    ):
        provider = make_provider(dead_url, first.url, second.url)
        found = provider.discover()
        assert found.problem is None  # one host down is not a problem while others answer
        hosts = {m.name: m.details["host"] for m in found.models}
        assert hosts == {MODEL: first.url, "llama3.2:3b": first.url, "gemma3:270m": second.url}
        assert provider.host_for("gemma3:270m") == second.url

        reply = provider.generate(Request(model="gemma3:270m", prompt="hi"))
        assert reply.host == second.url
        provider.generate(Request(model="llama3.2:3b", prompt="hi"))
        assert (first.requests, second.requests) == ({"llama3.2:3b": 1}, {"gemma3:270m": 1})
        # both hosts serve one model of their own: the shared one goes to the first
        assert by_name(found)["llama3.2:3b"].details["hosts"] == [first.url, second.url]


def test_a_model_on_several_hosts_goes_to_the_host_with_fewer_models(
    make_provider: ProviderFactory,
) -> None:
    with (
        OllamaEmulator(models=[MODEL, "llama3.2:3b", "phi3:mini"]) as first,
        OllamaEmulator(models=["llama3.2:3b", "phi3:mini"]) as second,
    ):
        provider = make_provider(first.url, second.url)
        found = by_name(provider.discover())
        # qwen is only on the first host; of the two shared ones (by name), llama goes
        # to the second (it serves nothing yet), phi3 to the first (one each, first wins)
        assert {name: m.details["host"] for name, m in found.items()} == {
            MODEL: first.url,
            "llama3.2:3b": second.url,
            "phi3:mini": first.url,
        }
        assert provider.generate(Request(model="llama3.2:3b", prompt="hi")).host == second.url
        assert second.requests == {"llama3.2:3b": 1}


def test_generate_on_several_hosts_finds_the_model_without_an_explicit_discover(
    make_provider: ProviderFactory,
) -> None:
    with OllamaEmulator(models=[MODEL]) as first, OllamaEmulator(models=["phi3:mini"]) as second:
        provider = make_provider(first.url, second.url)
        assert provider.generate(Request(model="phi3:mini", prompt="hi")).host == second.url


def test_discover_when_no_host_answers_gives_one_line_and_a_hint(
    make_provider: ProviderFactory, dead_url: str
) -> None:
    found = make_provider(dead_url).discover()
    assert found.models == ()
    assert found.problem == f"Ollama is not reachable at {dead_url} (connection refused)"
    assert found.hint is not None
    assert "`ollama serve`" in found.hint
    assert "--llm-ollama-host" in found.hint
    assert "OLLAMA_HOST" in found.hint


@pytest.mark.deadline
def test_discover_times_out_on_a_hanging_host(make_provider: ProviderFactory) -> None:
    with OllamaEmulator(models=[MODEL]) as srv:
        srv.hang_next(path="/api/tags")
        started = time.monotonic()
        found = make_provider(srv.url, discovery_timeout_s=0.2).discover()
        assert time.monotonic() - started < 2
    assert found.problem == f"Ollama is not reachable at {srv.url} (no answer within 0.2 s)"


def test_discover_reports_an_empty_or_broken_server(make_provider: ProviderFactory) -> None:
    with OllamaEmulator(models=[]) as empty:
        found = make_provider(empty.url).discover()
        assert found.problem == f"Ollama at {empty.url} has no models"
        assert found.hint is not None
        assert "ollama pull" in found.hint
    with OllamaEmulator(models=[MODEL]) as broken:
        broken.fail_next(status=500, path="/api/tags")
        found = make_provider(broken.url).discover()
        assert found.models == ()
        assert found.problem is not None
        assert f"{broken.url} (HTTP 500: llama runner process has terminated" in found.problem


def test_discover_survives_a_failing_show(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    srv.fail_next(status=500, path="/api/show")
    found = make_provider(srv.url).discover()
    by_name = {m.name: m for m in found.models}
    assert list(by_name) == ["llama3.2:3b", "nomic-embed-text:latest", MODEL]
    assert "capabilities" not in by_name[MODEL].details  # the first /api/show failed
    assert by_name["llama3.2:3b"].details["capabilities"] == ["completion"]


# -- generation ----------------------------------------------------------------------


def test_generate_maps_server_nanoseconds_to_milliseconds_exactly(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    srv.answer = lambda model, messages, fmt, options: "PASS"
    srv.timings = {
        "total_duration": 2_254_970_291,
        "load_duration": 574_751_416,
        "prompt_eval_count": 34,
        "prompt_eval_duration": 1_502_000_000,
        "eval_count": 12,
        "eval_duration": 175_000_000,
    }
    reply = make_provider(srv.url).generate(Request(model=MODEL, prompt="Grade it"))
    assert reply.text == "PASS"
    assert reply.total_ms == 2254.970291
    assert reply.load_ms == 574.751416
    assert reply.prompt_eval_ms == 1502.0
    assert reply.eval_ms == 175.0
    assert reply.prompt_tokens == 34
    assert reply.completion_tokens == 12
    assert reply.tokens_per_s == pytest.approx(12 / 0.175)
    assert reply.host == srv.url


def test_generate_reports_what_the_server_measured(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    srv.latency_s = 0.05
    srv.load_latency_s = 0.08
    srv.answer = lambda model, messages, fmt, options: "a b c d e"
    provider = make_provider(srv.url)

    cold = provider.generate(Request(model=MODEL, prompt="one two three"))
    sent = srv.last_reply
    assert cold.load_ms == sent["load_duration"] / 1e6
    assert cold.eval_ms == sent["eval_duration"] / 1e6
    assert cold.total_ms == sent["total_duration"] / 1e6
    assert cold.prompt_eval_ms == sent["prompt_eval_duration"] / 1e6
    assert cold.load_ms is not None
    assert cold.load_ms >= 80
    assert cold.eval_ms is not None
    assert cold.eval_ms >= 50
    assert cold.total_ms is not None
    # durations in ns converted to ms: equal sums may differ in the last bit
    assert cold.total_ms >= cold.load_ms + cold.eval_ms - 1e-9
    assert cold.completion_tokens == 5
    assert cold.prompt_tokens == sent["prompt_eval_count"] == 4 + 3

    warm = provider.generate(Request(model=MODEL, prompt="again"))
    assert warm.load_ms is not None
    assert warm.load_ms < 50
    assert srv.loads == {MODEL: 1}
    assert srv.requests == {MODEL: 2}


def test_generate_sends_messages_options_and_format_over_the_wire(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    seen: list[tuple[str, list[dict[str, Any]], Any, dict[str, Any]]] = []

    def answer(
        model: str, messages: list[dict[str, Any]], fmt: Any, options: dict[str, Any]
    ) -> str:
        seen.append((model, messages, fmt, options))
        return json.dumps(example_for_schema(fmt))

    srv.answer = answer
    options = GenerateOptions(
        temperature=0.2, seed=7, max_tokens=64, top_p=0.9, top_k=40, extra={"num_ctx": 8192}
    )
    request = Request(
        model=MODEL,
        prompt="Is this summary faithful?",
        system="You are a strict grader.",
        options=options,
        json_schema=VERDICT_SCHEMA,
    )
    reply = make_provider(srv.url).generate(request)

    body = srv.last_request
    assert srv.received[-1].path == "/api/chat"
    assert body["model"] == MODEL
    assert body["stream"] is True  # streamed: the answer timed token by token
    assert body["messages"] == [
        {"role": "system", "content": "You are a strict grader."},
        {"role": "user", "content": "Is this summary faithful?"},
    ]
    assert body["options"] == {
        "temperature": 0.2,
        "seed": 7,
        "num_predict": 64,
        "top_p": 0.9,
        "top_k": 40,
        "num_ctx": 8192,
    }
    assert body["format"] == VERDICT_SCHEMA
    assert seen == [(MODEL, body["messages"], VERDICT_SCHEMA, body["options"])]
    assert json.loads(reply.text) == {"verdict": "PASS"}


def test_generate_leaves_out_what_is_not_set(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    options = GenerateOptions(temperature=0.0, seed=None, max_tokens=None, extra={"stop": None})
    make_provider(srv.url).generate(Request(model=MODEL, prompt="hi", options=options))
    body = srv.last_request
    assert body["options"] == {"temperature": 0.0}
    assert "format" not in body
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_max_tokens_reaches_the_server_as_num_predict(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    srv.answer = lambda model, messages, fmt, options: "word " * 50
    options = GenerateOptions(max_tokens=8)
    reply = make_provider(srv.url).generate(Request(model=MODEL, prompt="ramble", options=options))
    assert reply.completion_tokens == 8
    assert reply.text == ("word " * 8).rstrip()
    assert srv.last_reply["done_reason"] == "length"


def test_missing_metrics_become_none(srv: OllamaEmulator, make_provider: ProviderFactory) -> None:
    # Ollama leaves out zero metrics (Go omitempty), e.g. prompt_eval_count on a cached prompt.
    srv.omit_fields = {
        "prompt_eval_count",
        "prompt_eval_duration",
        "load_duration",
        "eval_duration",
    }
    reply = make_provider(srv.url).generate(Request(model=MODEL, prompt="hi"))
    assert reply.text
    assert reply.prompt_tokens is None
    assert reply.prompt_eval_ms is None
    assert reply.load_ms is None
    assert reply.eval_ms is None
    assert reply.tokens_per_s is None
    assert reply.total_ms is not None
    assert reply.completion_tokens is not None


# -- errors ----------------------------------------------------------------------------


@pytest.mark.deadline
def test_timeout_is_honoured(srv: OllamaEmulator, make_provider: ProviderFactory) -> None:
    srv.hang_next(path="/api/chat")
    provider = make_provider(srv.url, timeout_s=0.3)
    started = time.monotonic()
    message = provider_error(lambda: provider.generate(Request(model=MODEL, prompt="hi")))
    assert time.monotonic() - started < 2
    assert message == f"no answer from ollama/{MODEL} within 0.3 s"
    # the provider is still usable once the server answers again
    assert provider.generate(Request(model=MODEL, prompt="hi")).text


def test_unreachable_server_names_the_url_and_ollama_serve(
    make_provider: ProviderFactory, dead_url: str
) -> None:
    provider = make_provider(dead_url)
    message = provider_error(lambda: provider.generate(Request(model=MODEL, prompt="hi")))
    assert message == (
        f"Ollama is not reachable at {dead_url} (connection refused): start it with `ollama serve`"
    )
    assert provider_error(lambda: provider.load(MODEL)) == message


def test_unknown_model_says_how_to_pull_it(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    provider = make_provider(srv.url)
    message = provider_error(lambda: provider.generate(Request(model="mistral:7b", prompt="hi")))
    assert message == (
        f"model 'mistral:7b' not found on {srv.url}: pull it with `ollama pull mistral:7b`"
    )
    assert srv.received[-1].path == "/api/chat"


@pytest.mark.parametrize(
    ("status", "server_text"),
    [
        (500, "llama runner process has terminated: exit status 2"),
        (503, "server busy, please try again.  maximum pending requests exceeded"),
        (400, 'invalid format: expected "json" or a valid JSON schema'),
    ],
)
def test_http_errors_carry_status_and_server_text(
    srv: OllamaEmulator, make_provider: ProviderFactory, status: int, server_text: str
) -> None:
    srv.fail_next(status=status)
    provider = make_provider(srv.url, retries=0)
    message = provider_error(lambda: provider.generate(Request(model=MODEL, prompt="hi")))
    assert message == (
        f"ollama at {srv.url} answered HTTP {status} to generate ollama/{MODEL}: "
        + " ".join(server_text.split())
    )


def test_multi_line_server_errors_become_one_line(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    srv.fail_next(status=500, error="CUDA error: out of memory\n  current device: 0\n" + "x" * 500)
    provider = make_provider(srv.url)
    message = provider_error(lambda: provider.generate(Request(model=MODEL, prompt="hi")))
    assert "CUDA error: out of memory current device: 0" in message
    assert message.endswith("...")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"model": "qwen2.5:7b", "created_at": ', "not JSON"),
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b'{"model": "qwen2.5:7b", "done": true}', "message: Field required"),
        (b"[1, 2, 3]", "TypeError"),
    ],
)
def test_malformed_replies_are_reported(
    srv: OllamaEmulator, make_provider: ProviderFactory, body: bytes, reason: str
) -> None:
    srv.malformed_next(body=body)
    provider = make_provider(srv.url)
    message = provider_error(lambda: provider.generate(Request(model=MODEL, prompt="hi")))
    assert message.startswith(
        f"malformed reply from ollama at {srv.url} to generate ollama/{MODEL}"
    )
    assert reason in message


def test_dropped_connection_and_dying_server(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    provider = make_provider(srv.url, retries=0)
    srv.drop_next(path="/api/chat")
    message = provider_error(lambda: provider.generate(Request(model=MODEL, prompt="hi")))
    assert message == (
        f"ollama at {srv.url} closed the connection during generate of ollama/{MODEL} "
        "(did the server stop or crash?)"
    )
    assert provider.generate(Request(model=MODEL, prompt="hi")).text  # next one is fine

    srv.die_next(path="/api/chat")
    message = provider_error(lambda: provider.generate(Request(model=MODEL, prompt="hi")))
    assert not srv.alive
    gone = (
        f"ollama at {srv.url} stopped answering (connection refused); "
        "requests to it fail at once until it accepts connections again"
    )
    assert message == gone  # the cut request, then a probe refused: the server is gone
    assert provider_error(lambda: provider.generate(Request(model=MODEL, prompt="hi"))) == gone


def test_a_server_that_went_away_is_used_again_as_soon_as_it_listens(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    provider = make_provider(srv.url, retries=0)
    ask = Request(model=MODEL, prompt="hi")
    assert provider.generate(ask).text
    srv.die()
    gone = (
        f"ollama at {srv.url} stopped answering (connection refused); "
        "requests to it fail at once until it accepts connections again"
    )
    assert provider_error(lambda: provider.generate(ask)) == gone
    chats = srv.path_hits["/api/chat"]
    assert provider_error(lambda: provider.generate(ask)) == gone  # probed: still refused
    srv.revive()  # restarted: the next request's probe connects, and the request goes out
    assert provider.generate(ask).text
    assert provider.generate(ask).text
    assert srv.path_hits["/api/chat"] == chats + 2
    assert srv.loads[MODEL] == 2  # the restarted server loaded the model again


def test_a_model_that_cannot_chat_is_refused_with_the_servers_reason(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    provider = make_provider(srv.url)
    message = provider_error(
        lambda: provider.generate(Request(model="nomic-embed-text", prompt="hi"))
    )
    assert message.endswith(
        'HTTP 400 to generate ollama/nomic-embed-text: "nomic-embed-text" does not support chat'
    )


def test_an_empty_model_name_is_refused_before_anything_is_sent(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    provider = make_provider(srv.url)
    message = provider_error(lambda: provider.generate(Request(model="", prompt="hi")))
    assert message == "no Ollama model name given (expected e.g. ollama/qwen2.5:7b)"
    assert provider_error(lambda: provider.load(" ")) == message
    assert srv.received == []


def test_an_unclosed_provider_closes_its_connections_when_collected(
    srv: OllamaEmulator,
) -> None:
    provider = OllamaProvider(BuiltinSettings(ollama_hosts=(srv.url,)))
    assert provider.discover().models
    assert provider.generate(Request(model=MODEL, prompt="hi")).text
    del provider
    gc.collect()  # an unclosed socket would warn here, and warnings are errors


# -- load / unload ---------------------------------------------------------------------


def test_load_and_unload(srv: OllamaEmulator, make_provider: ProviderFactory) -> None:
    srv.load_latency_s = 0.1
    provider = make_provider(srv.url)
    load_ms = provider.load(MODEL)
    assert load_ms is not None
    assert 100 <= load_ms < 2000
    assert srv.last_request == {
        "model": MODEL,
        "prompt": "",
        "stream": False,
        "keep_alive": KEEP_ALIVE,
    }
    assert list(srv.resident) == [MODEL]
    assert srv.loads == {MODEL: 1}

    reply = provider.generate(Request(model=MODEL, prompt="hi"))
    assert reply.load_ms is not None
    assert reply.load_ms < 50

    provider.unload(MODEL)
    assert srv.last_request == {"model": MODEL, "prompt": "", "keep_alive": 0, "stream": False}
    assert srv.resident == ()
    assert srv.unloads == {MODEL: 1}

    message = provider_error(lambda: provider.load("mistral:7b"))
    assert "pull it with `ollama pull mistral:7b`" in message


def test_switching_models_charges_a_load_per_switch(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    srv.load_latency_s = 0.03
    srv.resident_slots = 1
    provider = make_provider(srv.url)
    loads = [
        provider.generate(Request(model=name, prompt="hi")).load_ms
        for name in (MODEL, MODEL, "llama3.2:3b", MODEL)
    ]
    assert [ms is not None and ms >= 30 for ms in loads] == [True, False, True, True]
    assert srv.loads == {MODEL: 2, "llama3.2:3b": 1}
    assert srv.evictions == {MODEL: 1, "llama3.2:3b": 1}
    assert srv.resident == (MODEL,)


# -- hosts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", "http://127.0.0.1:11434"),
        ("localhost", "http://localhost:11434"),
        ("127.0.0.1:9999", "http://127.0.0.1:9999"),
        ("http://gpu-box:11434/", "http://gpu-box:11434"),
        ("https://ollama.example.com", "https://ollama.example.com"),
        ("http://[::1]:11434", "http://[::1]:11434"),
        ("  HTTP://Box:8080/ollama/ ", "http://box:8080/ollama"),
    ],
)
def test_normalize_host(given: str, expected: str) -> None:
    assert normalize_host(given) == expected


def test_hosts_are_normalized_and_deduplicated() -> None:
    provider = OllamaProvider(
        BuiltinSettings(ollama_hosts=("localhost:11434", "http://localhost:11434/", "gpu:1"))
    )
    with provider:
        assert provider.hosts == ("http://localhost:11434", "http://gpu:1")


# -- production scale: keep-alive, runner options, retries, dead hosts ------------------


def test_every_request_asks_to_keep_the_model_loaded(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    provider = make_provider(srv.url)
    provider.load(MODEL)
    provider.generate(Request(model=MODEL, prompt="hi"))
    provider.unload(MODEL)
    keep = [body.get("keep_alive") for body in srv.bodies("/api/generate")]
    keep += [body.get("keep_alive") for body in srv.bodies("/api/chat")]
    assert keep == [KEEP_ALIVE, 0, KEEP_ALIVE]


def test_runner_options_that_change_mid_run_are_refused(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    provider = make_provider(srv.url)
    first = GenerateOptions(max_tokens=8, extra={"num_ctx": 4096})
    provider.generate(Request(model=MODEL, prompt="hi", options=first))
    # sampling options may change freely: they never make Ollama reload
    provider.generate(
        Request(model=MODEL, prompt="hi", options=GenerateOptions(max_tokens=64, extra=first.extra))
    )
    other = GenerateOptions(extra={"num_ctx": 8192})
    message = provider_error(
        lambda: provider.generate(Request(model=MODEL, prompt="x", options=other))
    )
    assert message == (
        f"runner options of ollama/{MODEL} changed mid-run (num_ctx=4096 -> num_ctx=8192); "
        "Ollama would reload the model: use the same ones for every request"
    )
    assert srv.requests[MODEL] == 2
    assert srv.loads[MODEL] == 1


def test_a_busy_server_is_retried_with_backoff(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    srv.fail_next(2, status=503, path="/api/chat")
    provider = make_provider(srv.url, retry_backoff_s=0.05)
    reply = provider.generate(Request(model=MODEL, prompt="hi"))
    assert reply.text
    assert reply.retries == 2
    assert reply.retry_ms is not None
    assert reply.retry_ms >= 150  # 0.05 s, then 0.1 s
    assert srv.path_hits["/api/chat"] == 3


def test_retries_are_bounded(srv: OllamaEmulator, make_provider: ProviderFactory) -> None:
    srv.fail_next(10, status=503, path="/api/chat")
    provider = make_provider(srv.url, retries=2)
    message = provider_error(lambda: provider.generate(Request(model=MODEL, prompt="hi")))
    assert message == (
        f"ollama at {srv.url} answered HTTP 503 to generate ollama/{MODEL}: "
        "server busy, please try again. maximum pending requests exceeded (after 3 attempts)"
    )
    assert srv.path_hits["/api/chat"] == 3


def test_a_reset_connection_is_retried(srv: OllamaEmulator, make_provider: ProviderFactory) -> None:
    srv.drop_next(path="/api/chat")
    reply = make_provider(srv.url).generate(Request(model=MODEL, prompt="hi"))
    assert reply.text
    assert reply.retries == 1
    assert srv.requests[MODEL] == 1


def test_other_http_errors_are_not_retried(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    srv.fail_next(status=500, path="/api/chat")
    provider_error(lambda: make_provider(srv.url).generate(Request(model=MODEL, prompt="hi")))
    assert srv.path_hits["/api/chat"] == 1


def test_a_server_that_dies_mid_run_fails_the_rest_at_once(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    provider = make_provider(srv.url, retry_backoff_s=0.01)
    assert provider.generate(Request(model=MODEL, prompt="hi")).text
    srv.die_next(path="/api/chat")
    gone = (
        f"ollama at {srv.url} stopped answering (connection refused); "
        "requests to it fail at once until it accepts connections again"
    )
    # the cut connection is retried, the retry is refused: gone
    assert provider_error(lambda: provider.generate(Request(model=MODEL, prompt="hi"))) == gone
    with connections() as tried:
        for call in (
            lambda: provider.generate(Request(model=MODEL, prompt="hi")),
            lambda: provider.load(MODEL),
            lambda: provider.unload(MODEL),
        ):
            assert provider_error(call) == gone
    assert len(tried) <= 3  # at most one refused connect per call: no retry, no backoff


@pytest.mark.deadline
def test_timeout_is_a_deadline_for_the_whole_call_on_both_transports(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    provider = make_provider(srv.url, timeout_s=0.5, retries=0)
    ask = Request(model=MODEL, prompt="hi")
    assert provider.generate(ask).text
    srv.trickle_next(1, seconds=0.05, path="/api/chat")  # each read well within 0.5 s
    started = time.perf_counter()
    message = provider_error(lambda: provider.generate(ask))
    assert time.perf_counter() - started < 5.0  # not the ~15 s the trickle takes
    assert message == f"no answer from ollama/{MODEL} within 0.5 s"
    assert provider.generate(ask).text  # the next call is served as usual


def test_a_model_on_two_hosts_fails_over_when_its_host_goes_away(
    make_provider: ProviderFactory,
) -> None:
    with OllamaEmulator(models=[MODEL]) as a, OllamaEmulator(models=[MODEL]) as b:
        provider = make_provider(a.url, b.url, retries=0)
        ask = Request(model=MODEL, prompt="hi")
        assert provider.generate(ask).host == a.url
        a.die_after(0, path="/api/chat")  # the next request reaches a, which crashes
        moved = provider.generate(ask)
        assert (moved.host, moved.retries) == (b.url, 1)
        assert moved.retry_ms is not None  # the lost attempt is kept out of the latency
        assert provider.host_for(MODEL) == b.url
        assert provider.generate(ask).host == b.url
        a.revive()  # the model stays where it is now served: no reload back and forth
        assert provider.generate(ask).host == b.url
        assert (a.path_hits["/api/chat"], b.path_hits["/api/chat"]) == (2, 3)
        provider.unload(MODEL)
        assert (a.unloads[MODEL], b.unloads[MODEL]) == (0, 1)


def test_a_model_whose_host_is_gone_at_load_time_is_loaded_on_another(
    make_provider: ProviderFactory,
) -> None:
    with OllamaEmulator(models=[MODEL]) as a, OllamaEmulator(models=[MODEL]) as b:
        provider = make_provider(a.url, b.url, retries=0)
        provider.discover()
        a.die()
        assert provider.load(MODEL) is not None
        assert (a.loads[MODEL], b.loads[MODEL]) == (0, 1)
        assert provider.generate(Request(model=MODEL, prompt="hi")).host == b.url


def test_with_every_host_of_a_model_gone_it_fails_fast_with_one_reason(
    make_provider: ProviderFactory,
) -> None:
    with OllamaEmulator(models=[MODEL]) as a, OllamaEmulator(models=["llama3.2:3b"]) as b:
        provider = make_provider(a.url, b.url, retries=0)
        ask = Request(model=MODEL, prompt="hi")
        assert provider.generate(ask).host == a.url
        a.die()
        gone = (
            f"ollama at {a.url} stopped answering (connection refused); "
            "requests to it fail at once until it accepts connections again"
        )
        with connections() as tried:
            for _ in range(3):
                assert provider_error(lambda: provider.generate(ask)) == gone
        # fast: at most one refused connect per call, no retry; b does not have the model
        assert len(tried) <= 3
        assert b.path_hits["/api/chat"] == 0  # b does not have the model
        assert provider.generate(Request(model="llama3.2:3b", prompt="hi")).host == b.url


def test_a_host_never_reached_is_not_reported_as_gone(
    make_provider: ProviderFactory, dead_url: str
) -> None:
    provider = make_provider(dead_url)
    message = provider_error(lambda: provider.generate(Request(model=MODEL, prompt="hi")))
    assert message == (
        f"Ollama is not reachable at {dead_url} (connection refused): start it with `ollama serve`"
    )


def test_loading_a_missing_model_raises_model_not_found(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    with pytest.raises(ModelNotFound, match=r"^model 'gone:1b' not found on .*ollama pull gone:1b"):
        make_provider(srv.url).load("gone:1b")


def test_discover_notes_a_host_that_is_down_while_others_answer(
    srv: OllamaEmulator, make_provider: ProviderFactory, dead_url: str
) -> None:
    found = make_provider(srv.url, dead_url).discover()
    assert len(found.models) == 3
    assert found.problem is None
    assert found.notes == (f"Ollama is not reachable at {dead_url} (connection refused)",)


def test_queue_time_is_what_the_server_total_leaves(
    srv: OllamaEmulator, make_provider: ProviderFactory
) -> None:
    srv.timings = {
        "total_duration": 1_000_000_000,
        "load_duration": 100_000_000,
        "prompt_eval_duration": 200_000_000,
        "eval_duration": 300_000_000,
    }
    reply = make_provider(srv.url).generate(Request(model=MODEL, prompt="hi"))
    assert reply.queue_ms == 400.0
    srv.timings["total_duration"] = 500_000_000  # inconsistent server figures: never negative
    assert make_provider(srv.url).generate(Request(model=MODEL, prompt="hi")).queue_ms == 0.0


def test_scripted_durations_on_a_fake_clock_are_the_measured_latency_without_a_sleep(
    fake_clock: FakeClock, make_provider: ProviderFactory
) -> None:
    """An hour of scripted time, measured exactly and reported in the timing fields (a real
    sleep would leave the fake clock where it was, and the test would take the hour)."""
    from pytest_llmbench.execution.call import answer_ms, call_provider

    model = EmulatedModel(MODEL, latency_s=3000.0, load_latency_s=500.0)
    with OllamaEmulator(models=[model], prompt_latency_s=100.0, clock=fake_clock) as srv:
        call = call_provider(make_provider(srv.url), Request(model=MODEL, prompt="hi"))
    assert call.response is not None
    assert call.latency_ms == pytest.approx(3_600_000.0)
    assert call.response.load_ms == pytest.approx(500_000.0)
    assert call.response.eval_ms == pytest.approx(3_000_000.0)
    assert answer_ms(call.latency_ms, call.response) == pytest.approx(3_100_000.0)
