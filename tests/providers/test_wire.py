"""The lean HTTP client for Ollama's ``/api/chat`` (``providers.wire``), over real HTTP.

Its errors are checked through the provider in ``test_ollama.py`` (every test
there runs on both clients); here: what it sends, how it keeps connections, where it
steps aside for the ``ollama`` client (proxies, TLS, redirects).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.providers.base import BuiltinSettings, Request
from pytest_llmbench.providers.ollama import OllamaProvider
from pytest_llmbench.providers.wire import ChatWire, JsonWire, WireError, usable_for
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

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
    assert lean_body["stream"] is True  # streamed, timed token by token


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


# -- the reply reader, against a server that writes canned bytes -----------------------


class _Canned:
    """A TCP server on loopback that answers each request with the next canned reply."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = list(replies)
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self.replies:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                while self.replies:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if not data:
                        break
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = int(re.search(rb"Content-Length: (\d+)", head)[1])  # type: ignore[index]
                    while len(body) < length:
                        body += conn.recv(65536)
                    reply = self.replies.pop(0)
                    conn.sendall(reply)
                    if not _keeps_alive(reply):
                        break

    def close(self) -> None:
        self._listener.close()


def _keeps_alive(reply: bytes) -> bool:
    head = reply.lower()
    return (
        (b"content-length" in head or b"chunked" in head)
        and b"connection: close" not in head
        and not reply.startswith(b"HTTP/1.0")
    )


def _wire(url: str) -> JsonWire:
    return JsonWire(url, headers={}, timeout_s=5, connect_timeout_s=5)


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        (b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{"ok": true}', b'{"ok": true}'),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'5\r\n{"ok"\r\n7;ext=1\r\n: true}\r\n0\r\nX-Trailer: 1\r\n\r\n',
            b'{"ok": true}',
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
            b"{}",
        ),
    ],
    ids=["content-length", "chunked", "100-continue"],
)
def test_replies_are_read_whole_and_the_connection_kept(raw: bytes, body: bytes) -> None:
    server = _Canned([raw, raw])
    wire = _wire(server.url)
    try:
        first = wire.request("POST", "/api/chat", {"q": 1})
        second = wire.request("POST", "/api/chat", {"q": 2})
    finally:
        wire.close()
        server.close()
    assert (first.status, first.body) == (second.status, second.body) == (200, body)
    assert server.connections == 1  # kept alive: the body was read to its end, no further


def test_a_reply_without_length_ends_with_its_connection_and_headers_ignore_case() -> None:
    raw = b"HTTP/1.0 503 Busy\r\nRetry-After: 2\r\nServer: x\r\nServer: y\r\n\r\nbusy, try later"
    server = _Canned([raw, raw])
    wire = _wire(server.url)
    try:
        first = wire.request("POST", "/api/chat", {})
        second = wire.request("POST", "/api/chat", {})
    finally:
        wire.close()
        server.close()
    assert (first.status, first.body) == (503, b"busy, try later")
    assert first.headers["retry-after"] == first.headers.get("RETRY-AFTER") == "2"
    assert first.headers["server"] == "x, y"
    assert second.body == first.body
    assert server.connections == 2  # the first connection ended with its reply


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "Server disconnected without sending a response."),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "not an HTTP status line: b'SSH-2.0-OpenSSH_9.6\\r\\n'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "closed after 2 of 10 bytes"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}", "Content-Length '-1'"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size b'zz'"),
    ],
    ids=["nothing", "not-http", "short-body", "bad-length", "bad-chunk"],
)
def test_a_broken_reply_is_one_clear_error(raw: bytes, message: str) -> None:
    server = _Canned([raw])  # b"": the request read, the connection closed
    wire = _wire(server.url)
    try:
        with pytest.raises(WireError) as caught:
            wire.request("POST", "/api/chat", {})
    finally:
        wire.close()
        server.close()
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        # chunked: a line split over two chunks, two lines in one, CRLF line ends
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\ndata\r\n9\r\n: a\r\n\r\nb\n\r\n2\r\nc\n\r\n0\r\n\r\n",
        # Content-Length
        b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\ndata: a\r\nb\nc\n",
        # the body ends with the connection
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ndata: a\nb\nc",
    ],
    ids=["chunked", "content-length", "until-close"],
)
def test_a_streamed_body_comes_line_by_line(raw: bytes) -> None:
    server = _Canned([raw])
    lines: list[bytes] = []
    try:
        reply = _wire(server.url).request("POST", "/x", {"a": 1}, on_line=lines.append)
    finally:
        server.close()
    assert (reply.status, reply.body) == (200, b"")
    assert [line for line in lines if line] == [b"data: a", b"b", b"c"]


def test_a_streamed_error_reply_is_read_whole() -> None:
    raw = b'HTTP/1.1 404 Not Found\r\nContent-Length: 16\r\n\r\n{"error": "no"}\n'
    server = _Canned([raw])
    lines: list[bytes] = []
    try:
        reply = _wire(server.url).request("POST", "/x", {}, on_line=lines.append)
    finally:
        server.close()
    assert (reply.status, reply.body, lines) == (404, b'{"error": "no"}\n', [])


def test_what_on_line_raises_ends_the_request_as_it_is() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbad\n"
    server = _Canned([raw])

    def refuse(line: bytes) -> None:
        raise json.JSONDecodeError("not JSON", line.decode(), 0)

    try:
        with pytest.raises(json.JSONDecodeError):
            _wire(server.url).request("POST", "/x", {}, on_line=refuse)
    finally:
        server.close()
