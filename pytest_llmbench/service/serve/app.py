"""The ASGI application of ``llmbench serve``, around a :class:`Router`: the two model
endpoints in plain ASGI (the hot path: one read, two writes, no framework work per
request), ``/healthz``, ``/metrics`` and the 404 / 405 answers on Starlette.

Every call goes through :meth:`Router.arun` (or :meth:`Router.arun_prompt` for the chat
endpoint): the router's worker threads make the model calls, the event loop goes on.

* **Errors** are one line with the CLI's wording (``{"error": "..."}``; on the chat
  endpoint OpenAI's ``{"error": {"message", "type", "code"}}``): 400 for a body that is
  not what the endpoint takes or values the template cannot use, 413 for a body over
  1 MiB, 404 for an unknown task,
  401 without the bearer token, 502 when no model answered, 503 + ``Retry-After`` when
  the model has its limit of calls in flight or every circuit is open, 500 for a case
  file that cannot be read.
* **Overhead**: every answer carries ``x-llmbench-overhead-ms``: the time the request
  spent in the service (routing, JSON, the router's own work, the thread hand-over),
  its model calls taken out.
* **Registry reload**: the registry file is watched (``reload_s``); a change loads a new
  router (sharing the breaker, feedback log, connections and threads) which replaces the
  old one in one assignment: a request sees the old registry or the new one, never half.
  A registry that cannot be read leaves the old one serving (one warning line).
* **Concurrency**: at most ``per_model`` requests in flight per model (the first model
  of the task's chain whose circuit is not open); more get 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pytest_llmbench.formatting import one_line
from pytest_llmbench.router import (
    BadValues,
    NoAnswer,
    Router,
    RouterError,
    RouterResult,
    UnknownTask,
)
from pytest_llmbench.router.core import model_verdict
from pytest_llmbench.safety.redaction import redact
from pytest_llmbench.service.serve.metrics import CONTENT_TYPE, Metrics

__all__ = ["MODEL_PREFIX", "Refusal", "Served", "create_app"]

_logger = logging.getLogger("pytest_llmbench.serve")

MODEL_PREFIX = "task:"
"""``model`` of a chat completion names a task: ``task:grading``."""

_OVERHEAD = b"x-llmbench-overhead-ms"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Refusal(Exception):
    """A request answered with an error status and one line."""

    def __init__(
        self, status: int, message: str, *, retry_after: float | None = None, code: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = one_line(redact(message))
        self.retry_after = retry_after
        self.code = code

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        if self.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return headers


class Served:
    """What the application serves: the router (swapped whole on a reload), the limits
    per model and the metrics."""

    def __init__(
        self,
        router: Router,
        *,
        per_model: int = 64,
        reload_s: float = 1.0,
        token: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        if per_model < 1:
            raise ValueError(f"per_model must be at least 1, got {per_model}")
        self.router = router
        self.per_model = per_model
        self.reload_s = reload_s
        self.token = token
        self.metrics = metrics or Metrics()
        self.in_flight: dict[str, int] = {}
        self._seen = _stat(router.registry)
        router.breaker.on_open = self._opened
        self.metrics.watch_shadow(lambda: self.router.shadow)

    def _opened(self, model: str) -> None:
        self.metrics.breaker_opens.labels(model).inc()

    # -- the registry --------------------------------------------------------------

    def reload(self) -> bool:
        """Load the registry again if its file changed; whether the router changed."""
        seen = _stat(self.router.registry)
        if seen == self._seen:
            return False
        self._seen = seen
        try:
            fresh = self.router.reloaded()
        except RouterError as exc:
            self.metrics.reloads.labels("failed").inc()
            _logger.warning(
                "llmbench serve: registry not reloaded (%s); still serving the previous one", exc
            )
            return False
        self.router = fresh  # one assignment: a request has the old router or the new one
        self.metrics.reloads.labels("ok").inc()
        return True

    async def watch(self) -> None:
        """Reload the registry when its file changes, every ``reload_s`` seconds."""
        while True:
            await asyncio.sleep(self.reload_s)
            try:
                await asyncio.to_thread(self.reload)
            except Exception as exc:  # the watcher never stops the service
                _logger.warning("llmbench serve: registry watch failed: %s", one_line(exc))

    def warm(self) -> None:
        """Read every task's case file now (not in the first request); a task that
        cannot be read is said once here, and in each of its answers."""
        router = self.router
        for task in router.tasks():
            try:
                router.task(task)
            except RouterError as exc:
                _logger.warning("llmbench serve: task %s cannot be served: %s", task, exc)
        from pytest_llmbench.execution import call, scoring  # what the first call imports

        del call, scoring

    # -- concurrency -----------------------------------------------------------------

    def enter(self, router: Router, task: str) -> str:
        """Count a request in for the model it goes to; :class:`Refusal` when that model
        has ``per_model`` in flight, or when every model of the task has its circuit open."""
        chain = router.models(task)
        breaker = router.breaker
        model = next((m for m in chain if breaker.allows(m)), None)
        if model is None:
            wait = min(breaker.retry_in(m) for m in chain)
            raise Refusal(
                503,
                f"no model can answer task {task} now: every circuit is open "
                f"({', '.join(chain)}); retry in {wait:.0f} s",
                retry_after=wait,
                code="circuit_open",
            )
        count = self.in_flight.get(model, 0)
        if count >= self.per_model:
            self.metrics.rejected.labels(model).inc()
            raise Refusal(
                503,
                f"{model} has {count} calls in flight, its limit (--concurrency); retry in 1 s",
                retry_after=1,
                code="overloaded",
            )
        self.in_flight[model] = count + 1
        return model

    def leave(self, model: str) -> None:
        self.in_flight[model] -= 1


def _stat(path: os.PathLike[str] | str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


# -- the endpoints ---------------------------------------------------------------------


MAX_BODY = 1024 * 1024
"""The largest request body taken (bytes); a larger one is 413."""


class _Gone(Exception):
    """The client went away before its request was read: nobody to answer."""


async def _body(scope: Scope, receive: Receive) -> dict[str, Any]:
    """The request's JSON object, read from the ASGI ``receive``."""
    declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Refusal(413, f"the request body is larger than {MAX_BODY} bytes")
    message = await receive()
    if message["type"] != "http.request":
        raise _Gone
    raw = message.get("body", b"")
    if message.get("more_body", False):
        chunks = [raw]
        size = len(raw)
        while message.get("more_body", False):
            message = await receive()
            if message["type"] != "http.request":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise Refusal(413, f"the request body is larger than {MAX_BODY} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
    elif len(raw) > MAX_BODY:
        raise Refusal(413, f"the request body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise Refusal(400, f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Refusal(400, f"the request body is a JSON {type(body).__name__}, not an object")
    return body


def _model_ms(result: RouterResult | None, attempts: tuple[Any, ...]) -> float:
    spent = sum(a.latency_ms or 0.0 for a in attempts)
    if result is not None and result.consensus is not None:  # models asked at once
        spent = min(spent, result.consensus.wall_ms)
    return spent


async def _route(
    served: Served,
    state: dict[str, Any],
    task: str,
    call: Callable[[Router], Awaitable[RouterResult]],
) -> RouterResult:
    """One router call with its limits, metrics and errors (as :class:`Refusal`);
    ``state["model_ms"]``: the time its model calls took."""
    router = served.router  # this request's registry, whatever reloads meanwhile
    try:
        model = served.enter(router, task)
    except UnknownTask as exc:
        raise Refusal(404, str(exc), code="model_not_found") from None
    try:
        result = await call(router)
    except NoAnswer as exc:
        served.metrics.attempts(task, exc.attempts)
        state["model_ms"] = _model_ms(None, exc.attempts)
        raise Refusal(502, str(exc), code="no_answer") from None
    except BadValues as exc:
        raise Refusal(400, str(exc), code="bad_values") from None
    except UnknownTask as exc:
        raise Refusal(404, str(exc), code="model_not_found") from None
    except RouterError as exc:
        raise Refusal(500, str(exc), code="task_unavailable") from None
    finally:
        served.leave(model)
    served.metrics.attempts(task, result.attempts)
    state["model_ms"] = _model_ms(result, result.attempts)
    return result


def _task_answer(result: RouterResult) -> dict[str, Any]:
    return {
        "value": result.value,
        "text": result.text,
        "model": result.model,
        "fell_over_from": list(result.fell_over_from),
        "latency_ms": None if result.latency_ms is None else round(result.latency_ms, 3),
        "total_ms": round(result.total_ms, 3),
        "consensus": None if result.consensus is None else result.consensus.to_dict(),
    }


def _vars(body: Mapping[str, Any]) -> dict[str, str]:
    given = body.get("vars", {})
    if not isinstance(given, dict):
        raise Refusal(400, f'"vars" is a JSON {type(given).__name__}, not an object of values')
    values: dict[str, str] = {}
    for name, value in given.items():
        if isinstance(value, (dict, list)) or value is None:
            raise Refusal(400, f'"vars": {name} is not a string or a number')
        values[name] = value if isinstance(value, str) else json.dumps(value)
    return values


def _consensus(body: Mapping[str, Any]) -> bool | None:
    value = body.get("consensus")
    if value is None or isinstance(value, bool):
        return value
    raise Refusal(400, f'"consensus" is {json.dumps(value)}, not true or false')


def create_app(served: Served) -> ASGIApp:
    """The application: the two model endpoints as plain ASGI (no per-request framework
    work: they are the hot path), the rest as Starlette routes, behind the overhead
    header and the token check."""
    metrics = served.metrics

    async def healthz(request: Request) -> Response:
        router = served.router
        breaker = router.breaker
        models = sorted({m for t in router.tasks() for m in router.models(t)})
        champions = await asyncio.to_thread(  # checked once per process, bounded: a thread
            lambda: {
                t: model_verdict(router, t, router.entry(t).champion.model).to_dict()
                for t in router.tasks()
            }
        )
        return JSONResponse(
            {
                "status": "ok",
                "registry": str(router.registry),
                "tasks": {t: router.models(t) for t in router.tasks()},
                "breakers": {m: breaker.state(m) for m in models},
                "champions": champions,
            }
        )

    async def prometheus(request: Request) -> Response:
        return Response(metrics.text(), media_type=CONTENT_TYPE)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        what = "no such endpoint" if status == 404 else "method not allowed"
        return JSONResponse(
            {"error": f"{what}: {request.method} {request.url.path}"},
            status,
            headers=getattr(exc, "headers", None),
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(served.warm)
        watcher = asyncio.create_task(served.watch()) if served.reload_s > 0 else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await asyncio.to_thread(served.router.close)  # calls under way, the log

    app = Starlette(
        routes=[
            # POST is answered by _Front; these routes answer 405 for the other methods
            Route("/v1/tasks/{task}", _not_here, methods=["POST"]),
            Route("/v1/chat/completions", _not_here, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
        ],
        exception_handlers={404: not_found, 405: not_found},
        lifespan=lifespan,
    )
    return _Front(app, served)


async def _not_here(request: Request) -> Response:  # pragma: no cover - _Front answers
    raise AssertionError("POST to a model endpoint is answered before the routes")


_JSON = (b"content-type", b"application/json")
_SSE = (b"content-type", b"text/event-stream; charset=utf-8")
_TASKS = "/v1/tasks/"
_CHAT = "/v1/chat/completions"


def _json(value: Any) -> bytes:
    """``value`` as Starlette's ``JSONResponse`` writes it."""
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


class _Front:
    """Before the routes: the bearer token, and the overhead header on every answer;
    ``POST /v1/tasks/{task}`` and ``POST /v1/chat/completions`` answered here, in plain
    ASGI (one ``receive``, two ``send``, headers built once), the rest by the routes."""

    def __init__(self, app: ASGIApp, served: Served) -> None:
        self.app = app
        self.served = served
        token = served.token
        self._expected = f"Bearer {token}".encode() if token else None
        requests = served.metrics.requests
        self._answered = {
            "tasks": requests.labels("tasks", "200"),
            "chat": requests.labels("chat", "200"),
        }
        self._overhead = served.metrics.overhead

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["model_ms"] = 0.0
        overhead = self._overhead

        async def send_with_overhead(message: Message) -> None:
            if message["type"] == "http.response.start":
                spent = (time.perf_counter() - started) * 1000.0 - state["model_ms"]
                spent = max(0.0, spent)
                overhead.observe(spent / 1000.0)
                message["headers"] = [*message.get("headers", ()), (_OVERHEAD, b"%.3f" % spent)]
            await send(message)

        path: str = scope["path"]
        if self._expected is not None and path != "/healthz":
            given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            if not hmac.compare_digest(given, self._expected):
                refusal = Refusal(
                    401,
                    "unauthorized: this service needs its token (--token-env), sent as a "
                    "bearer in the Authorization header",
                )
                chat = path.startswith("/v1/chat/")
                body = {"error": _openai_error(refusal) if chat else refusal.message}
                response = JSONResponse(body, 401, headers=refusal.headers())
                await response(scope, receive, send_with_overhead)
                return
        if scope["method"] == "POST":
            if path == _CHAT:
                await self._chat(scope, receive, send_with_overhead, state)
                return
            if path.startswith(_TASKS) and "/" not in path[len(_TASKS) :] and path != _TASKS:
                await self._tasks(path[len(_TASKS) :], scope, receive, send_with_overhead, state)
                return
        await self.app(scope, receive, send_with_overhead)

    async def _tasks(
        self, task: str, scope: Scope, receive: Receive, send: Send, state: dict[str, Any]
    ) -> None:
        served = self.served
        try:
            body = await _body(scope, receive)
            values, consensus = _vars(body), _consensus(body)
            result = await _route(
                served,
                state,
                task,
                lambda router: router.arun(task, consensus, variables=values),
            )
        except _Gone:
            return
        except Refusal as refusal:
            served.metrics.requests.labels("tasks", str(refusal.status)).inc()
            await _answer(send, refusal.status, {"error": refusal.message}, refusal.headers())
            return
        self._answered["tasks"].inc()
        await _answer(send, 200, _task_answer(result))

    async def _chat(
        self, scope: Scope, receive: Receive, send: Send, state: dict[str, Any]
    ) -> None:
        served = self.served
        try:
            body = await _body(scope, receive)
            task, prompt, system, stream = _chat_request(body)
            consensus = _consensus(body)
            result = await _route(
                served,
                state,
                task,
                lambda router: router.arun_prompt(task, prompt, system, consensus),
            )
        except _Gone:
            return
        except Refusal as refusal:
            served.metrics.requests.labels("chat", str(refusal.status)).inc()
            error = {"error": _openai_error(refusal)}
            await _answer(send, refusal.status, error, refusal.headers())
            return
        self._answered["chat"].inc()
        if not stream:
            await _answer(send, 200, _completion(result))
            return
        await send({"type": "http.response.start", "status": 200, "headers": [_SSE]})
        for chunk in _chunks(result):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _answer(
    send: Send, status: int, value: Any, headers: Mapping[str, str] | None = None
) -> None:
    """A JSON answer in one start and one body message."""
    body = _json(value)
    head = [(b"content-length", b"%d" % len(body)), _JSON]
    if headers:
        head += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


# -- OpenAI's chat completions ---------------------------------------------------------

_ROLES = ("system", "developer", "user", "assistant", "tool")


def _chat_request(body: Mapping[str, Any]) -> tuple[str, str, str | None, bool]:
    """The task, prompt, system text and whether to stream, from a chat request."""
    model = body.get("model")
    if not isinstance(model, str) or not model.startswith(MODEL_PREFIX):
        raise Refusal(
            404,
            f"model {model!r} is not a task: use model {MODEL_PREFIX}<name> "
            "(GET /healthz lists the tasks)",
            code="model_not_found",
        )
    task = model[len(MODEL_PREFIX) :]
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Refusal(400, '"messages" must be a non-empty list of {"role", "content"}')
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise Refusal(400, f"messages[{i}] has no role of {', '.join(_ROLES)}")
        text = _content(message.get("content"), i)
        if message["role"] in ("system", "developer"):
            system.append(text)
        else:
            turns.append((message["role"], text))
    if not turns or turns[-1][0] != "user":
        raise Refusal(400, "the last message (but system ones) must be the user's")
    if len(turns) == 1:
        prompt = turns[0][1]
    else:  # a conversation: each turn with its role, in order
        prompt = "\n\n".join(f"{role}: {text}" for role, text in turns)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise Refusal(400, f'"stream" is {json.dumps(stream)}, not true or false')
    return task, prompt, "\n\n".join(system) if system else None, stream


def _content(content: Any, index: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: the text ones
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if all(isinstance(p, str) for p in parts) and parts:
            return "".join(str(p) for p in parts)
    raise Refusal(400, f"messages[{index}].content is neither text nor a list of text parts")


def _openai_error(refusal: Refusal) -> dict[str, Any]:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found_error",
        413: "invalid_request_error",
    }
    return {
        "message": refusal.message,
        "type": kinds.get(refusal.status, "server_error"),
        "param": None,
        "code": refusal.code or None,
    }


def _llmbench(result: RouterResult) -> dict[str, Any]:
    return {
        "task": result.task,
        "value": result.value,
        "fell_over_from": list(result.fell_over_from),
        "latency_ms": None if result.latency_ms is None else round(result.latency_ms, 3),
        "total_ms": round(result.total_ms, 3),
    }


def _completion(result: RouterResult) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": result.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "llmbench": _llmbench(result),
    }


def _chunks(result: RouterResult) -> Iterator[bytes]:
    """The answer as server-sent events: the role, the text, the end, ``[DONE]`` (the
    router reads the whole answer before it can fall over, so the text is one chunk)."""
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": result.model,
    }
    deltas: list[tuple[dict[str, Any], str | None]] = [
        ({"role": "assistant", "content": ""}, None),
        ({"content": result.text}, None),
        ({}, "stop"),
    ]
    for delta, finish in deltas:
        chunk = {
            **base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        if finish is not None:
            chunk["llmbench"] = _llmbench(result)
        yield b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"
