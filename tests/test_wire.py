"""The lean HTTP client for Ollama's ``/api/chat`` (``providers.wire``), over real HTTP.

Its errors are checked through the provider in ``test_ollama_provider.py`` (every test
there runs on both clients); here: what it sends, how it keeps connections, where it
steps aside for the ``ollama`` client (proxies, TLS, redirects).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from ollama_emulator import EmulatedModel, OllamaEmulator

from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.providers.base import BuiltinSettings, Request
from pytest_llmbench.providers.ollama import OllamaProvider
from pytest_llmbench.providers.wire import ChatWire, usable_for

MODEL = "qwen2.5:7b"
REPLY = {
    "model": MODEL,
    "created_at": "2026-11-23T10:00:00.000000001Z",
    "message": {"role": "assistant", "content": "fine"},
    "done": True,
    "done_reason": "stop",
    "total_duration": 5_000_000,
    "eval_count": 1,
    "eval_duration": 4_000_000,
}


class _Recorder(BaseHTTPRequestHandler):
    """Answers every POST with REPLY (or what the server is told), and records it."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length))
        srv = self.server
        headers = {k.lower(): v for k, v in self.headers.items()}
        srv.seen.append((self.path, self.client_address[1], headers, body))
        if srv.redirect_to:
            self.send_response(307)
            self.send_header("Location", srv.redirect_to + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps(REPLY).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if srv.close_after_reply:
            # Closed while idle, without announcing it (as a server's idle timeout does).
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.seen: list[tuple[str, int, dict[str, str], Any]] = []
        self.redirect_to = ""
        self.close_after_reply = False
        self.closed = threading.Semaphore(0)
        """Released each time the server has closed a connection."""

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.release()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def recorder() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def wires() -> Iterator[list[ChatWire]]:
    made: list[ChatWire] = []
    yield made
    for wire in made:
        wire.close()


@pytest.fixture
def make_wire(wires: list[ChatWire]) -> Any:
    def make(url: str) -> ChatWire:
        wire = ChatWire(url, timeout_s=5.0, connect_timeout_s=2.0)
        wires.append(wire)
        return wire

    return make


def test_requests_share_one_kept_alive_connection(recorder: _Server, make_wire: Any) -> None:
    wire = make_wire(recorder.url)
    replies = [wire.post("/api/chat", {"model": MODEL, "messages": []}) for _ in range(5)]
    assert replies == [REPLY] * 5
    assert len({port for _, port, _, _ in recorder.seen}) == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_without_an_error(
    recorder: _Server, make_wire: Any
) -> None:
    recorder.close_after_reply = True
    wire = make_wire(recorder.url)
    for _ in range(3):
        assert wire.post("/api/chat", {"model": MODEL, "messages": []}) == REPLY
        assert recorder.closed.acquire(timeout=5)  # closed before the next request
    assert len({port for _, port, _, _ in recorder.seen}) == 3


def test_a_path_prefix_in_the_host_is_kept(recorder: _Server, make_wire: Any) -> None:
    wire = make_wire(recorder.url + "/ollama")
    wire.post("/api/chat", {"model": MODEL, "messages": []})
    path, _, headers, _ = recorder.seen[-1]
    assert path == "/ollama/api/chat"
    assert headers["host"] == recorder.url.removeprefix("http://")
    assert headers["content-type"] == "application/json"


def test_the_api_key_is_sent_as_the_ollama_client_sends_it(
    recorder: _Server, make_wire: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-test-123")
    make_wire(recorder.url).post("/api/chat", {"model": MODEL, "messages": []})
    assert recorder.seen[-1][2]["authorization"] == "Bearer sk-test-123"


@pytest.mark.parametrize(
    ("host", "env", "usable"),
    [
        ("http://127.0.0.1:11434", {}, True),
        ("https://ollama.example.com", {}, False),  # TLS: the ollama client (httpx)
        ("http://gpu-box:11434", {"HTTP_PROXY": "http://proxy:3128"}, False),
        ("http://gpu-box:11434", {"http_proxy": "http://proxy:3128", "no_proxy": "gpu-box"}, True),
    ],
)
def test_proxies_and_tls_are_left_to_the_ollama_client(
    monkeypatch: pytest.MonkeyPatch, host: str, env: dict[str, str], usable: bool
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert usable_for(host) is usable


def _request() -> Request:
    return Request(
        model=MODEL,
        prompt="Posting: GOOD one",
        system="You grade postings.",
        options=GenerateOptions(temperature=0, seed=42, max_tokens=16, extra={"num_ctx": 4096}),
        json_schema={"type": "object", "properties": {"verdict": {"enum": ["PASS", "FAIL"]}}},
    )


def test_both_clients_send_the_same_request() -> None:
    bodies = []
    with OllamaEmulator(models=[EmulatedModel(MODEL)]) as srv:
        for lean in (True, False):
            settings = BuiltinSettings(ollama_hosts=(srv.url,), timeout_s=5.0, lean_http=lean)
            with OllamaProvider(settings) as provider:
                provider.generate(_request())
            bodies.append(srv.last_request)
    lean_body, client_body = bodies
    assert lean_body == client_body
    assert lean_body["options"] == {
        "temperature": 0,
        "seed": 42,
        "num_predict": 16,
        "num_ctx": 4096,
    }
    assert lean_body["format"]["properties"]["verdict"]["enum"] == ["PASS", "FAIL"]
    assert lean_body["stream"] is False


def test_loads_and_unloads_are_the_same_requests_on_both_clients() -> None:
    seen = []
    with OllamaEmulator(models=[EmulatedModel(MODEL)], resident_slots=1) as srv:
        for lean in (True, False):
            settings = BuiltinSettings(ollama_hosts=(srv.url,), timeout_s=5.0, lean_http=lean)
            with OllamaProvider(settings) as provider:
                assert provider.load(MODEL) is not None
                loaded = srv.resident
                provider.unload(MODEL)
                assert (loaded, srv.resident) == ((MODEL,), ())
            seen.append([r.body for r in srv.received if r.path == "/api/generate"][-2:])
    assert seen[0] == seen[1]
    assert [body["keep_alive"] for body in seen[0]] == ["30m", 0]


def test_a_redirect_hands_the_host_over_to_the_ollama_client(recorder: _Server) -> None:
    with OllamaEmulator(models=[EmulatedModel(MODEL)]) as srv:
        recorder.redirect_to = srv.url
        settings = BuiltinSettings(ollama_hosts=(recorder.url,), timeout_s=5.0)
        with OllamaProvider(settings) as provider:
            first = provider.generate(_request())
            second = provider.generate(_request())
        assert first.text
        assert second.text
        assert srv.requests[MODEL] == 2  # both answered by the server redirected to
    # The lean client met the redirect once; the ollama client (which follows
    # redirects) was asked for both answers.
    agents = [headers["user-agent"] for _, _, headers, _ in recorder.seen]
    assert agents[0].startswith("pytest-llmbench/")
    assert all(agent.startswith("ollama-python/") for agent in agents[1:])
    assert len(agents) == 3
