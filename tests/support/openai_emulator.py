"""An emulated OpenAI-compatible endpoint: real HTTP on loopback, the chat API's wire shapes.

Use it as a context manager (or from a fixture)::

    with OpenAIEmulator(models=["gpt-4o-mini"]) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="sk-...")
        ...
        assert srv.chat_requests == 1

What it speaks: ``GET /v1/models`` and ``POST /v1/chat/completions``, non-streamed or
streamed (Server-Sent Events, one chunk per token, usage in the last chunk).
The reply shapes are data: ``fixtures/openai/*.json`` were recorded from
``python -m llama_cpp.server`` (models, chat completion, its HTTP 500 for a
``json_schema`` response format) or are OpenAI's documented error objects (429, 401,
400 for an unsupported response format); every reply is such a shape with its values
replaced, so the emulator cannot invent a field the recorded shapes lack.

Configurable: the models (``list_models=False``: ``GET /models`` is 404), what identifies
the server (its ``Server`` header, ``server_header``, and the models' ``owned_by``), the answer
(``answer(model, messages, response_format) -> str``), which response formats are
accepted (``formats``) and how a rejection looks (``reject_style``: ``openai`` 400 or
``llamacpp`` 500), a required API key (``require_key``; a wrong one is 401), a server
that echoes the request's Authorization header in its errors (``echo_auth``), and
failure injection: :meth:`fail_next` (status, headers such as ``Retry-After``),
:meth:`hang_next` (answer late), :meth:`stop` (the server goes away).

Counters: ``chat_requests`` (every POST to chat/completions, answered or not),
``answered``, ``model_listings``; ``received`` keeps every request (path, headers,
JSON body); ``errors`` keeps exceptions raised inside the emulator itself.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.clock import FakeClock
from tests.support.slots import Slots

__all__ = ["FIXTURES", "AnswerFn", "Failure", "OpenAIEmulator", "ReceivedRequest", "load_shape"]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "openai"

AnswerFn = Callable[[str, list[dict[str, Any]], Any], str]
"""``answer(model, messages, response_format) -> str``."""


def load_shape(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _default_answer(model: str, messages: list[dict[str, Any]], response_format: Any) -> str:
    if isinstance(response_format, Mapping) and response_format.get("type") != "text":
        return json.dumps({"answer": "ok"})
    return "ok"


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Failure:
    """One injected failure: an HTTP status with an error body and headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class OpenAIEmulator:
    def __init__(
        self,
        models: Iterable[str] = ("smollm2",),
        *,
        answer: AnswerFn = _default_answer,
        formats: Iterable[str] = ("text", "json_schema", "json_object"),
        reject_style: str = "openai",
        list_models: bool = True,
        require_key: str | None = None,
        echo_auth: bool = False,
        latency_s: float = 0.0,
        server_header: str = "openai-emulator",
        owned_by: str = "me",
        clock: FakeClock | None = None,
        slots: Mapping[str, int] | None = None,
        service_s: Mapping[str, float] | None = None,
        prompt_latency_s: float | Mapping[str, float] = 0.0,
        token_latency_s: float | Mapping[str, float] = 0.0,
        timings: bool = False,
        refuse: Iterable[str] = (),
    ) -> None:
        """``latency_s``: each chat answer's time, slept, or with ``clock`` (a
        :class:`~tests.support.clock.FakeClock`) the clock advanced by it, no sleep.

        ``slots``: per model, how many requests it serves at once (llama.cpp's server
        ``--parallel``); the others queue, first come first served.  ``service_s``: per
        model, each answer's time in its slot (instead of ``latency_s``).  Queueing is
        real time: concurrent requests on a fake clock would add their times up.

        A streamed request (``stream: true``) is answered with Server-Sent Events, one
        chunk per token (words with their leading space), after ``prompt_latency_s``
        (reading the prompt) and one ``token_latency_s`` per token, each a number or per
        model name; the usage comes in a last chunk when ``stream_options`` asks for it,
        with llama.cpp's server ``timings`` (prefill and generation ms) when ``timings``.
        With ``clock``, the chunks go out in step with the client (each is timed on the
        clock before it moves on)."""
        self.slots = dict(slots or {})
        self.service_s = dict(service_s or {})
        self._slots = {name: Slots(n) for name, n in self.slots.items()}
        self.clock = clock
        self.prompt_latency_s = prompt_latency_s
        self.token_latency_s = token_latency_s
        self.timings = timings
        self.refuse = set(refuse)
        """Request keys answered with OpenAI's 400 for an unknown argument (an older
        server's ``stream_options``, or ``stream``)."""
        self.streamed = 0
        self.models = list(models)
        self.server_header = server_header
        self.owned_by = owned_by
        self.answer = answer
        self.formats = set(formats)
        self.reject_style = reject_style
        self.list_models = list_models
        self.require_key = require_key
        self.echo_auth = echo_auth
        self.latency_s = latency_s
        self.received: list[ReceivedRequest] = []
        self.errors: list[BaseException] = []
        self.chat_requests = 0
        self.answered = 0
        self.model_listings = 0
        self._failures: list[Failure] = []
        self._hangs: list[float] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAIEmulator:
        emulator = self

        class Handler(_Handler):
            owner = emulator

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self.port = server.server_address[1]
        self._stopped.clear()
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering: the port is closed (connection refused from now on)."""
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAIEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- failure injection -------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """The next ``times`` chat requests get ``status`` (429: the recorded rate-limit body)."""
        if body is None:
            shape = {429: "error_rate_limit.json", 401: "error_invalid_api_key.json"}.get(status)
            if shape is not None:
                body = load_shape(shape)
            else:
                body = _error(f"emulated HTTP {status}", "server_error" if status >= 500 else "")
        with self._lock:
            for _ in range(times):
                self._failures.append(Failure(status, copy.deepcopy(body), dict(headers or {})))

    def hang_next(self, seconds: float) -> None:
        """The next chat request is answered only after ``seconds``."""
        with self._lock:
            self._hangs.append(seconds)

    def _next_failure(self) -> Failure | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _next_hang(self) -> float:
        with self._lock:
            return self._hangs.pop(0) if self._hangs else 0.0

    # -- replies -----------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any) -> Failure:
        """The reply to one request, as (status, JSON body, headers)."""
        with self._lock:
            self.received.append(ReceivedRequest(method, path, headers, body))
        auth = headers.get("authorization", "")
        if self.require_key is not None and auth != f"Bearer {self.require_key}":
            reply = load_shape("error_invalid_api_key.json")
            if self.echo_auth:
                reply["error"]["message"] += f" (received Authorization: {auth})"
            return Failure(401, reply)
        if method == "GET" and path == "/v1/models":
            if not self.list_models:
                return Failure(404, {"detail": "Not Found"})
            with self._lock:
                self.model_listings += 1
            shape = load_shape("models.json")
            entry = shape["data"][0]
            shape["data"] = [
                {**entry, "id": name, "owned_by": self.owned_by} for name in self.models
            ]
            return Failure(200, shape)
        if method == "POST" and path == "/v1/chat/completions":
            return self._chat(headers, body)
        return Failure(404, {"detail": "Not Found"})

    def _streamed(self, model: str, text: str, body: dict[str, Any]) -> Streamed:
        """The SSE events of a streamed answer, each with the time before it."""
        prefill_s = _scripted(self.prompt_latency_s, model)
        per_token = _scripted(self.token_latency_s, model)
        tokens = _tokens(text)
        created = int(time.time())
        ident = f"chatcmpl-{uuid.uuid4()}"
        events: list[tuple[float, bytes, str]] = []
        for i, token in enumerate(tokens):
            chunk = load_shape("chat_chunk.json")
            chunk.update({"id": ident, "created": created, "model": model})
            chunk["choices"][0]["delta"] = {"content": token}
            if i == 0:
                chunk["choices"][0]["delta"]["role"] = "assistant"
            if i == len(tokens) - 1:
                chunk["choices"][0]["finish_reason"] = "stop"
            events.append(((prefill_s if i == 0 else 0.0) + per_token, _event(chunk), token))
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            last = load_shape("chat_chunk_usage.json")
            last.update({"id": ident, "created": created, "model": model})
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
            last["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(tokens),
                "total_tokens": prompt_tokens + len(tokens),
            }
            if self.timings:
                last["timings"] = {
                    "prompt_n": prompt_tokens,
                    "prompt_ms": prefill_s * 1000.0,
                    "predicted_n": len(tokens),
                    "predicted_ms": per_token * len(tokens) * 1000.0,
                }
            events.append((0.0, _event(last), ""))
        events.append((0.0, b"data: [DONE]\n\n", ""))
        with self._lock:
            self.answered += 1
            self.streamed += 1
        return Streamed(200, None, {}, events)

    def _chat(self, headers: dict[str, str], body: Any) -> Failure:
        with self._lock:
            self.chat_requests += 1
        hang = self._next_hang()
        if hang:
            self._stopped.wait(hang)
        failure = self._next_failure()
        if failure is not None:
            if self.echo_auth and isinstance(failure.body, dict) and "error" in failure.body:
                failure.body["error"]["message"] += (
                    f" (request headers: authorization: {headers.get('authorization', '')})"
                )
            return failure
        if not isinstance(body, dict) or "messages" not in body or "model" not in body:
            return Failure(400, _error("'messages' and 'model' are required", ""))
        refused = sorted(key for key in self.refuse if key in body)
        if refused:
            reply = _error(f"Unrecognized request argument supplied: {refused[0]}", "")
            reply["error"]["param"] = refused[0]
            return Failure(400, reply)
        response_format = body.get("response_format")
        kind = response_format.get("type") if isinstance(response_format, dict) else "text"
        if kind not in self.formats:
            if self.reject_style == "llamacpp":
                reply = load_shape("error_response_format_llamacpp.json")
                reply["error"]["message"] = reply["error"]["message"].replace("json_schema", kind)
                return Failure(500, reply)
            reply = load_shape("error_response_format.json")
            reply["error"]["message"] = reply["error"]["message"].replace("json_schema", kind)
            return Failure(400, reply)
        model = str(body["model"])
        slot = self._slots.get(model)
        if slot is not None:
            slot.acquire()  # queued until one of the model's slots is free
        try:
            latency = self.service_s.get(model, self.latency_s)
            if latency and self.clock is not None:
                self.clock.advance(latency)
            elif latency:
                time.sleep(latency)
        finally:
            if slot is not None:
                slot.release()
        text = self.answer(model, body["messages"], response_format)
        if body.get("stream") is True:
            return self._streamed(model, text, body)
        shape = load_shape("chat.json")
        shape["id"] = f"chatcmpl-{uuid.uuid4()}"
        shape["created"] = int(time.time())
        shape["model"] = model
        shape["choices"][0]["message"]["content"] = text
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion_tokens = max(1, len(text.split()))
        shape["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        with self._lock:
            self.answered += 1
        return Failure(200, shape)


def _scripted(value: float | Mapping[str, float], model: str) -> float:
    return float(value.get(model, 0.0)) if isinstance(value, Mapping) else float(value)


def _tokens(text: str) -> list[str]:
    """Words with their leading whitespace: the emulator's tokens."""
    return re.findall(r"\s*\S+|\s+$", text) or [text]


@dataclass
class Streamed(Failure):
    """A streamed answer: the events to send, each after its scripted time."""

    events: list[tuple[float, bytes, str]] = field(default_factory=list)
    """(seconds to wait before it, the event's bytes, the token it carries or "")."""


def _error(message: str, kind: str) -> dict[str, Any]:
    shape = load_shape("error_rate_limit.json")
    shape["error"].update({"message": message, "type": kind or "invalid_request_error"})
    shape["error"]["code"] = None
    return dict(shape)


def _event(chunk: Any) -> bytes:
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode("utf-8") + b"\n\n"


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIEmulator
    protocol_version = "HTTP/1.1"
    sys_version = ""
    # Headers and body go out in two writes; without TCP_NODELAY the second waits for
    # the client's delayed ACK (~40 ms per reply on a kept-alive connection).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        """The ``Server`` header: the emulator's ``server_header``."""
        return self.owner.server_header

    def _serve(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body: Any = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = self.owner.handle(method, self.path, headers, body)
        except Exception as exc:  # the emulator's own bug: answer 500 and keep it
            self.owner.errors.append(exc)
            reply = Failure(500, _error(f"emulator error: {exc}", "server_error"))
        if isinstance(reply, Streamed):
            self._stream(reply)
            return
        data = json.dumps(reply.body).encode("utf-8")
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout) before the answer
            pass

    def _stream(self, reply: Streamed) -> None:
        owner = self.owner
        clock = owner.clock
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            for wait_s, event, text in reply.events:
                if clock is not None:
                    clock.advance(wait_s)
                elif wait_s:
                    time.sleep(wait_s)
                seen = clock.reads() if clock is not None else 0
                self.wfile.write(f"{len(event):x}\r\n".encode("ascii") + event + b"\r\n")
                self.wfile.flush()
                if clock is not None and text:  # the client times it before time moves on
                    clock.await_read(seen)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:  # the client gave up
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")
