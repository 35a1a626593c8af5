"""OpenAI-compatible endpoints (OpenAI, Groq, DeepSeek, vLLM, LM Studio, llama.cpp's server).

One provider instance per endpoint (see :mod:`pytest_llmbench.providers.endpoints`),
named after it: ``openai/gpt-4o-mini``, ``groq/llama-3.1-8b-instant``, ``local/smollm2``
can sit in one run.

- Transport: a plain ``http://`` endpoint that no proxy variable applies to is reached
  over the lean HTTP client (:mod:`pytest_llmbench.providers.wire`: kept-alive
  connections, one write per request, about 0.2 ms of CPU a call where the ``openai``
  client spends about 2 ms, inside the measured latency); everything else (TLS,
  proxies, a redirect met on the way) goes through the official ``openai`` package,
  imported on first use.  ``ProviderSettings.lean_http=False`` sends everything
  through the ``openai`` package.  Both transports send the same requests and fail
  with the same messages.
- Discovery: ``GET /models``; the endpoint's ``models=`` list when it has one (or when
  the endpoint cannot list its models); an unreachable endpoint, a missing or rejected
  key is one :class:`Discovery` problem.
- Generation: one non-streaming ``POST /chat/completions``; token usage from the reply.
  The client's own retries are off (``max_retries=0``); this provider retries a 429
  after the server's ``Retry-After`` (``retry-after-ms``, seconds or an HTTP date) and a
  5xx or a connection error after a doubling backoff, at most ``endpoint.retries``
  times, no single wait above ``endpoint.max_wait_s``.  A timeout is not retried; like
  the ``openai`` client's, it bounds each wait for the server, not the whole call.
  The waits are reported as ``Response.retry_ms`` and never count as latency.
- Structured output: with ``structured=auto`` (the default) a JSON Schema is sent as
  ``response_format: json_schema``; an endpoint that rejects it (an HTTP 400/422/500
  whose error names the response format) gets ``json_object`` with the schema (what
  llama.cpp's server understands), then no response format: the prompt alone.  The
  choice is kept per model for the rest of the run and reported on every result
  (``Response.structured``), which the summary turns into a note.  With a state
  directory (``ProviderSettings.state_dir``) it is also kept between runs, keyed by the
  server's identity (:mod:`pytest_llmbench.providers.capabilities`), so the rejected
  request is made once per server and model.  A rejected request, and the ``GET
  /models`` that reads the server's identity when it was not discovered in this run,
  come before the attempt that answers: ``Response.retry_ms``, never latency.
- Secrets: the API key is read from the environment variable the endpoint names and
  registered with :mod:`pytest_llmbench.providers.redaction`; every message is redacted.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import json
import math
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pytest_llmbench.providers import wire
from pytest_llmbench.providers.base import (
    BuiltinSettings,
    Discovery,
    ModelInfo,
    ProviderError,
    Request,
    Response,
    plain_json,
)
from pytest_llmbench.providers.capabilities import ServerIdentity, StructuredMemory
from pytest_llmbench.providers.deadline import DeadlinePassed, call_within
from pytest_llmbench.providers.endpoints import Endpoint, default_openai_endpoint
from pytest_llmbench.providers.redaction import redact, register_secret

if TYPE_CHECKING:
    import openai

__all__ = ["NO_KEY", "OpenAIProvider", "retry_after_s"]

NO_KEY = "sk-no-key-required"
"""Sent to endpoints configured without ``key_env`` (the client insists on some key)."""
_MAX_DETAIL = 200
_OPENAI_HOST = "api.openai.com"
_DOWNGRADE = {"json_schema": "json_object", "json_object": "prompt"}
_REJECTS_FORMAT = ("response_format", "json_schema", "json_object", "response format")
_NOT_CHAT = (
    "embedding",
    "whisper",
    "tts",
    "dall-e",
    "moderation",
    "davinci",
    "babbage",
    "transcribe",
    "image",
    "audio",
    "realtime",
    "search",
    "sora",
)
"""Names of models ``GET /models`` lists that cannot chat (OpenAI lists them all)."""


def _client_module() -> ModuleType:
    """The ``openai`` package, imported on first use: it takes about a second to import,
    which a run that never needs it (no https endpoint) should not pay."""
    import openai

    return openai


def _one_line(text: object, limit: int = _MAX_DETAIL) -> str:
    line = " ".join(str(text).split())
    if len(line) > limit:
        line = line[: limit - 3].rstrip() + "..."
    return redact(line)


def _seconds(value: float) -> str:
    return f"{value:g} s"


def retry_after_s(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """The wait a 429 asks for: ``retry-after-ms``, else ``Retry-After`` (seconds or HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    value = lowered.get("retry-after")
    if value:
        parsed = email.utils.parsedate_tz(value)
        if parsed is not None:
            when = email.utils.mktime_tz(parsed)
            return max(0.0, when - (time.time() if now is None else now))
    return None


# -- what went wrong, whichever transport carried the request ------------------------


class _HttpError(Exception):
    """An HTTP error reply (status >= 400), read as the ``openai`` client reads it."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str], message: str) -> None:
        super().__init__(message)
        self.status_code = status
        self.body = body
        """The reply's ``error`` object (the reply itself when it has none), or its text."""
        self.headers = headers
        self.message = message
        """``Error code: 429 - <error.message>``, as the client words it."""


class _Unreachable(Exception):
    """No connection, or it broke before the answer (the client's ``APIConnectionError``)."""


class _TimedOut(Exception):
    """No answer within the timeout (the client's ``APITimeoutError``)."""


def _http_error(reply: wire.Reply) -> _HttpError:
    """An error reply from the lean client, as the ``openai`` client would raise it."""
    text = reply.body.decode("utf-8", errors="replace").strip()
    message = f"Error code: {reply.status}"
    body: Any = text
    try:
        body = json.loads(text)
    except ValueError:
        pass
    else:
        error = body.get("error", body) if isinstance(body, Mapping) else None
        detail = error.get("message") if isinstance(error, Mapping) else None
        if isinstance(detail, str) and detail:
            message += f" - {detail}"
    data = body.get("error", body) if isinstance(body, Mapping) else body
    return _HttpError(reply.status, data, dict(reply.headers.items()), message)


@contextlib.contextmanager
def _sdk_errors() -> Iterator[None]:
    """The ``openai`` client's errors, as the ones both transports share."""
    sdk = _client_module()
    try:
        yield
    except sdk.APIStatusError as exc:
        try:
            headers = dict(exc.response.headers.items())
        except Exception:  # a response without headers: nothing to honour
            headers = {}
        raise _HttpError(exc.status_code, exc.body, headers, str(exc.message)) from exc
    except sdk.APITimeoutError as exc:
        raise _TimedOut(str(exc)) from exc
    except sdk.APIConnectionError as exc:
        raise _Unreachable(str(exc)) from exc


def _error_message(exc: _HttpError) -> str:
    """The server's own error text: ``error.message``, ``detail``, else the client's."""
    body: Any = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str) and inner:
            return inner
        if body.get("detail"):
            return str(body["detail"])
    if isinstance(body, str) and body:
        return body
    return str(exc.message)


def _error_code(exc: _HttpError) -> str | None:
    body: Any = exc.body
    inner = body.get("error", body) if isinstance(body, Mapping) else None
    code = inner.get("code") if isinstance(inner, Mapping) else None
    return str(code) if code else None


def _connect_reason(exc: BaseException) -> str:
    cause: BaseException | None = exc
    for _ in range(7):
        if cause is None:
            break
        text = str(cause).lower()
        if "refused" in text:
            return "connection refused"
        if "name or service not known" in text or "nodename nor servname" in text:
            return "unknown host name"
        if "temporary failure in name resolution" in text:
            return "host name does not resolve"
        if "unreachable" in text:
            return "network unreachable"
        cause = cause.__cause__ or cause.__context__
    return "cannot connect"


def _get(obj: Any, name: str) -> Any:
    """A field of a reply: a JSON object's key (lean client) or an attribute (``openai``)."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


@dataclass(frozen=True)
class _Attempt:
    """Why an attempt failed and whether (and after how long) to try again."""

    error: ProviderError
    wait_s: float | None
    """Seconds to wait before the next attempt; ``None``: do not retry."""


@dataclass(frozen=True)
class _Listing:
    """A ``GET /models`` reply: its entries and the server's ``Server`` header."""

    entries: list[Any]
    server: str


class OpenAIProvider:
    """Models of one OpenAI-compatible endpoint (``remote``: served outside this process).

    Constructed with the settings alone (the entry point), it serves the ``openai``
    endpoint: the one configured under that name, else the OpenAI API with the key
    from ``$OPENAI_API_KEY`` (not offered when that is not set).
    ``sleep`` is for tests (waits are real sleeps otherwise).
    """

    remote = True

    def __init__(
        self,
        settings: BuiltinSettings,
        endpoint: Endpoint | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if endpoint is None:
            configured = {e.name: e for e in settings.openai_endpoints}
            endpoint = configured.get("openai") or default_openai_endpoint()
        self.settings = settings
        self.endpoint = endpoint
        self.name = endpoint.name
        self._sleep = sleep
        self._lock = threading.Lock()
        self._clients: dict[str, openai.OpenAI] = {}
        self._lean = settings.lean_http and wire.usable_for(endpoint.base_url)
        """Whether requests go over the lean client (until a redirect says otherwise)."""
        self._wire: wire.JsonWire | None = None
        self._structured: dict[str, str] = {}
        self._memory = StructuredMemory(settings.state_dir)
        self._identities: dict[str, ServerIdentity] | None = None
        """Per model, the server's identity from ``GET /models`` (``None``: not read yet)."""
        self._server = ""
        """The ``Server`` header of the endpoint's ``GET /models`` reply."""
        register_secret(endpoint.api_key())

    # -- clients -----------------------------------------------------------------

    def _key(self) -> str:
        if self.endpoint.key_env is None:
            return NO_KEY
        key = self.endpoint.api_key()
        if key is None:
            raise ProviderError(self._missing_key())
        register_secret(key)
        return key

    def _missing_key(self) -> str:
        return f"{self.name}: ${self.endpoint.key_env} is not set (the endpoint's API key)"

    def _client(self, purpose: str) -> openai.OpenAI:
        """One ``openai`` client per purpose (``discover`` or ``generate``), made on first use."""
        key = self._key()
        with self._lock:
            client = self._clients.get(purpose)
            if client is None:
                timeout = (
                    self.settings.discovery_timeout_s
                    if purpose == "discover"
                    else self.settings.timeout_s
                )
                module = _client_module()
                headers: dict[str, Any] = {}
                if urllib.parse.urlsplit(self.endpoint.base_url).hostname != _OPENAI_HOST:
                    # The client adds $OPENAI_ORG_ID / $OPENAI_PROJECT_ID to every request:
                    # OpenAI's account names are nobody else's business.
                    headers = {
                        "OpenAI-Organization": module.Omit(),
                        "OpenAI-Project": module.Omit(),
                    }
                client = module.OpenAI(
                    base_url=self.endpoint.base_url,
                    api_key=key,
                    timeout=timeout,
                    max_retries=0,
                    default_headers=headers or None,
                )
                self._clients[purpose] = client
            return client

    def _abandon(self, client: openai.OpenAI) -> None:
        """Close a client whose call passed its deadline (a new one serves the next call)."""
        with self._lock:
            if self._clients.get("generate") is client:
                del self._clients["generate"]
        with contextlib.suppress(Exception):  # closing must never raise
            client.close()

    def _lean_wire(self) -> wire.JsonWire | None:
        """The lean client for this endpoint (``None``: requests go through ``openai``)."""
        if not self._lean:
            return None
        if self._wire is not None:
            return self._wire
        key = self._key()
        with self._lock:
            if self._wire is None and self._lean:
                headers = {
                    "Accept": "application/json",
                    "User-Agent": wire.USER_AGENT,
                    "Authorization": f"Bearer {key}",
                }
                self._wire = wire.JsonWire(
                    self.endpoint.base_url,
                    headers=headers,
                    timeout_s=float(self.settings.timeout_s),
                    connect_timeout_s=math.inf,  # as the openai client: the request's timeout
                )
            return self._wire

    def _redirected(self) -> None:
        """The endpoint redirects: the ``openai`` client (which follows) takes over."""
        with self._lock:
            self._lean = False
            lean, self._wire = self._wire, None
        if lean is not None:
            lean.close()

    def _send(self, method: str, path: str, body: Any, timeout_s: float) -> Any:
        """One request over the lean client; the reply's JSON (shared errors on failure)."""
        lean = self._lean_wire()
        assert lean is not None
        try:
            reply = lean.request(method, path, body, timeout_s=timeout_s)
        except (wire.ConnectTimedOut, wire.ReadTimedOut, wire.WriteTimedOut) as exc:
            raise _TimedOut(str(exc)) from exc
        except wire.WireError as exc:
            raise _Unreachable(str(exc)) from exc
        if reply.status in wire.REDIRECTS:
            raise wire.Redirected(f"HTTP {reply.status} to {reply.headers.get('Location')}")
        if reply.status >= 400:
            raise _http_error(reply)
        return _Reply(reply.json(), reply.headers.get("Server") or "")

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                try:
                    client.close()
                except Exception:  # closing must never raise
                    continue
            self._clients.clear()
            lean, self._wire = self._wire, None
        if lean is not None:
            lean.close()

    # -- discovery ---------------------------------------------------------------

    def discover(self) -> Discovery:
        endpoint = self.endpoint
        url = endpoint.base_url
        if endpoint.key_env is not None and endpoint.api_key() is None:
            return Discovery(
                problem=f"${endpoint.key_env} is not set",
                hint=f"set {endpoint.key_env} in the environment to use {url}",
                unconfigured=endpoint == default_openai_endpoint(),  # not set up
            )
        configured = self._configured()
        try:
            listing = self._list_models()
            ids = [str(_get(m, "id")) for m in listing.entries if _get(m, "id")]
            info = {str(_get(m, "id")): m for m in listing.entries if _get(m, "id")}
        except _TimedOut:
            return Discovery(
                problem=f"endpoint {url} did not answer GET /models within "
                f"{_seconds(self.settings.discovery_timeout_s)}",
                hint="start the server, or fix the URL in llm_openai_endpoints / --llm-endpoint",
            )
        except _Unreachable as exc:
            return Discovery(
                problem=f"endpoint {url} is not reachable ({_connect_reason(exc)})",
                hint="start the server, or fix the URL in llm_openai_endpoints / --llm-endpoint",
            )
        except _HttpError as exc:
            status = exc.status_code
            if status in (401, 403):
                return Discovery(
                    problem=f"endpoint {url} rejected the API key from ${endpoint.key_env} "
                    f"(HTTP {status}: {_one_line(_error_message(exc), 120)})",
                    hint=f"check {endpoint.key_env}",
                )
            if configured:
                return Discovery(configured)
            return Discovery(
                problem=f"endpoint {url} does not list its models "
                f"(GET /models: HTTP {status}: {_one_line(_error_message(exc), 120)})",
                hint=f"name them in the endpoint line: {self.name} = {url} models=a,b",
            )
        except (ValueError, TypeError, AttributeError) as exc:
            if configured:
                return Discovery(configured)
            return Discovery(
                problem=f"endpoint {url} sent a malformed model list: {_one_line(exc, 120)}",
                hint=f"name the models in the endpoint line: {self.name} = {url} models=a,b",
            )
        except Exception as exc:  # anything else: one line, never a traceback
            return Discovery(
                problem=f"GET {url}/models failed: {type(exc).__name__}: {_one_line(exc, 120)}"
            )
        self._learn_identities(listing)
        if configured:
            return Discovery(
                tuple(self._with_listing(m, info.get(m.name), url) for m in configured)
            )
        chat = [i for i in ids if not any(word in i.lower() for word in _NOT_CHAT)]
        if not chat:
            return Discovery(problem=f"endpoint {url} lists no chat models")
        return Discovery(
            tuple(self._with_listing(ModelInfo(self.name, i), info[i], url) for i in chat)
        )

    def _list_models(self) -> _Listing:
        """``GET /models`` over either transport (the shared errors on failure)."""
        timeout = float(self.settings.discovery_timeout_s)
        if self._lean_wire() is not None:
            try:
                reply = self._send("GET", "/models", None, timeout)
            except wire.Redirected:
                self._redirected()
            else:
                entries = _get(reply.json, "data")
                if not isinstance(entries, list):
                    raise TypeError("the reply has no 'data' list")
                return _Listing(entries, reply.server)
        with _sdk_errors():
            raw = self._client("discover").models.with_raw_response.list()
            page = raw.parse()
            return _Listing(list(page.data), raw.headers.get("server") or "")

    def _configured(self) -> tuple[ModelInfo, ...]:
        return tuple(
            ModelInfo(self.name, m, details={"endpoint": self.endpoint.base_url})
            for m in self.endpoint.models
        )

    @staticmethod
    def _with_listing(model: ModelInfo, listed: Any, url: str) -> ModelInfo:
        details: dict[str, Any] = {"endpoint": url, "listed": listed is not None}
        if listed is not None:
            owned_by = _get(listed, "owned_by")
            if owned_by:
                details["owned_by"] = str(owned_by)
        return ModelInfo(model.provider, model.name, details=details)

    # -- structured output: what the server takes, remembered --------------------

    def _learn_identities(self, listing: _Listing) -> None:
        identities: dict[str, ServerIdentity] = {}
        for entry in listing.entries:
            model = _get(entry, "id")
            if model:
                owned_by = _get(entry, "owned_by")
                identities[str(model)] = ServerIdentity(
                    self.endpoint.base_url, str(model), listing.server, str(owned_by or "")
                )
        self._identities = identities
        self._server = listing.server

    def _identity(self, model: str) -> ServerIdentity | None:
        """Who serves ``model`` here; ``GET /models`` once if discovery did not run.

        ``None`` when the listing cannot be had (the endpoint is down: the request
        itself will say so).  A model the listing lacks is known by the header alone.
        """
        if self._identities is None:
            try:
                self._learn_identities(self._list_models())
            except _HttpError as exc:
                server = str(exc.headers.get("server") or exc.headers.get("Server") or "")
                self._identities, self._server = {}, server
            except Exception:  # unreachable, malformed: nothing to go by
                return None
        identity = self._identities.get(model) if self._identities is not None else None
        return identity or ServerIdentity(self.endpoint.base_url, model, self._server)

    def structured_mode(self, model: str) -> str:
        """What this provider will send for a request with a schema: the current choice."""
        mode = self.endpoint.structured
        if mode == "none":
            return "prompt"
        if mode != "auto":
            return mode
        with self._lock:
            current = self._structured.get(model)
        if current is not None:
            return current
        remembered = None
        if self._memory.knows(self.endpoint.base_url, model):
            identity = self._identity(model)
            remembered = self._memory.recall(identity) if identity is not None else None
        with self._lock:
            return self._structured.setdefault(model, remembered or "json_schema")

    def _downgrade(self, model: str, tried: str, why: str) -> str | None:
        """After ``tried`` was rejected: the next mode to try (``auto`` only), else ``None``.

        The new choice is remembered for this server (see the module doc)."""
        if self.endpoint.structured != "auto":
            return None
        following = _DOWNGRADE.get(tried)
        if following is None:
            return None
        with self._lock:
            current = self._structured.get(model, "json_schema")
            changed = _rank(current) < _rank(following)
            if changed:
                self._structured[model] = following
            chosen = self._structured[model]
        if changed and self._memory.path is not None:
            identity = self._identity(model)
            if identity is not None:
                self._memory.remember(identity, chosen, f"{tried} rejected: {why}")
        return chosen

    # -- generation --------------------------------------------------------------

    def generate(self, request: Request) -> Response:
        """Answer one request; retries per the endpoint's settings (see the module doc)."""
        if not request.model.strip():
            raise ProviderError(f"no model name given (expected e.g. {self.name}/gpt-4o-mini)")
        lean = self._lean_wire()
        client = self._client("generate") if lean is None else None
        started = time.perf_counter()
        retries = 0
        while True:
            mode = self.structured_mode(request.model) if request.json_schema is not None else None
            attempt_started = time.perf_counter()
            try:
                arguments = self._arguments(request, mode)
                if client is None:
                    completion: Any = self._send(
                        "POST", "/chat/completions", _body(arguments), request.timeout_s
                    ).json
                else:
                    create = functools.partial(
                        client.chat.completions.create, **arguments, timeout=request.timeout_s
                    )
                    with _sdk_errors():
                        # The SDK (httpx) times out each read, not the call: the deadline
                        # is here.
                        completion = call_within(
                            request.timeout_s,
                            create,
                            abandon=functools.partial(self._abandon, client),
                        )
            except wire.Redirected:
                self._redirected()
                client = self._client("generate")
                continue
            except _HttpError as exc:
                if mode in _DOWNGRADE and _rejects_format(exc):
                    detail = _one_line(_error_message(exc), 120)
                    why = f"HTTP {exc.status_code}: {detail}"
                    downgraded = self._downgrade(request.model, mode, why)
                    if downgraded is not None and downgraded != mode:
                        continue
                    raise ProviderError(
                        f"{self.endpoint.base_url} rejected the {mode} response format for "
                        f"{self.name}/{request.model} ({why}); set structured=auto or none "
                        f"on endpoint {self.name}"
                    ) from None
                failed = self._status_failure(exc, request, retries)
            except (_TimedOut, DeadlinePassed):
                raise ProviderError(
                    f"no answer from {self.name}/{request.model} within "
                    f"{_seconds(request.timeout_s)} ({self.endpoint.base_url})"
                ) from None
            except _Unreachable as exc:
                failed = self._connection_failure(exc, retries)
            except Exception as exc:  # anything else (a client bug, a broken reply): one line
                raise ProviderError(
                    f"{self.name}/{request.model} at {self.endpoint.base_url} failed: "
                    f"{type(exc).__name__}: {_one_line(exc, 160)}"
                ) from None
            else:
                return self._response(completion, request, mode, attempt_started - started, retries)
            if failed.wait_s is None:
                raise failed.error from None
            retries += 1
            self._sleep(failed.wait_s)

    def _arguments(self, request: Request, mode: str | None) -> dict[str, Any]:
        """The ``openai`` client's arguments for ``request`` (see :func:`_body` for the wire)."""
        messages: list[dict[str, str]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        options = request.options
        arguments: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "temperature": options.temperature,
        }
        if options.seed is not None:
            arguments["seed"] = options.seed
        if options.max_tokens is not None:
            arguments["max_tokens"] = options.max_tokens
        if options.top_p is not None:
            arguments["top_p"] = options.top_p
        extra: dict[str, Any] = {}
        if options.top_k is not None:
            extra["top_k"] = options.top_k  # not in OpenAI's API; vLLM and llama.cpp take it
        extra.update(plain_json(options.extra))
        if extra:
            arguments["extra_body"] = extra
        schema = plain_json(request.json_schema) if request.json_schema is not None else None
        if schema is not None and mode == "json_schema":
            arguments["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": False},
            }
        elif schema is not None and mode == "json_object":
            arguments["response_format"] = {"type": "json_object", "schema": schema}
        return arguments

    def _response(
        self,
        completion: Any,
        request: Request,
        mode: str | None,
        waited_s: float,
        retries: int = 0,
    ) -> Response:
        try:
            message = _get(_get(completion, "choices")[0], "message")
            if message is None:
                raise AttributeError("message")
            text = _get(message, "content") or ""
        except (AttributeError, IndexError, TypeError, KeyError):
            raise ProviderError(
                f"malformed reply from {self.endpoint.base_url} to {self.name}/{request.model}: "
                "no choices[0].message"
            ) from None
        usage = _get(completion, "usage")
        structured = None
        if mode is not None and self.endpoint.structured == "auto" and mode != "json_schema":
            structured = mode
        return Response(
            text=str(text),
            prompt_tokens=_int(_get(usage, "prompt_tokens")),
            completion_tokens=_int(_get(usage, "completion_tokens")),
            host=self.endpoint.base_url,
            structured=structured,
            retry_ms=waited_s * 1000.0 if waited_s > 0.0005 else None,
            retries=retries,
        )

    # -- failures ----------------------------------------------------------------

    def _status_failure(self, exc: _HttpError, request: Request, retries: int) -> _Attempt:
        status = exc.status_code
        detail = _one_line(_error_message(exc)) or "(no error text)"
        where = f"{self.name}/{request.model}"
        url = self.endpoint.base_url
        left = retries < self.endpoint.retries
        attempts = f" after {retries + 1} attempts" if retries else ""
        if status == 429 and _error_code(exc) == "insufficient_quota":
            # OpenAI's "You exceeded your current quota": waiting will not help
            return _Attempt(
                ProviderError(f"{url} refused {where}: out of quota (HTTP 429): {detail}"), None
            )
        if status == 429:
            wait = retry_after_s(exc.headers)
            if wait is None:
                wait = self._backoff(retries)
            if left and wait <= self.endpoint.max_wait_s:
                return _Attempt(ProviderError(detail), wait)
            why = (
                f"; it asks to retry after {_seconds(wait)}, more than max_wait "
                f"{_seconds(self.endpoint.max_wait_s)}"
                if left
                else ""
            )
            return _Attempt(
                ProviderError(
                    f"rate limited by {url} (HTTP 429){attempts} for {where}{why}: {detail}"
                ),
                None,
            )
        if status in (401, 403):
            return _Attempt(
                ProviderError(
                    f"{url} rejected the API key from ${self.endpoint.key_env} "
                    f"(HTTP {status}) for {where}: {detail}"
                ),
                None,
            )
        if status == 404:
            return _Attempt(
                ProviderError(f"model '{request.model}' not found at {url} (HTTP 404): {detail}"),
                None,
            )
        if status >= 500:
            wait = self._backoff(retries)
            if left and wait <= self.endpoint.max_wait_s:
                return _Attempt(ProviderError(detail), wait)
            return _Attempt(
                ProviderError(f"{url} answered HTTP {status}{attempts} for {where}: {detail}"),
                None,
            )
        return _Attempt(ProviderError(f"{url} answered HTTP {status} for {where}: {detail}"), None)

    def _connection_failure(self, exc: _Unreachable, retries: int) -> _Attempt:
        wait = self._backoff(retries)
        if retries < self.endpoint.retries and wait <= self.endpoint.max_wait_s:
            return _Attempt(ProviderError(str(exc)), wait)
        attempts = f" after {retries + 1} attempts" if retries else ""
        return _Attempt(
            ProviderError(
                f"endpoint {self.endpoint.base_url} is not reachable ({_connect_reason(exc)})"
                f"{attempts}: start the server or fix the endpoint's URL"
            ),
            None,
        )

    def _backoff(self, retries: int) -> float:
        return float(self.endpoint.backoff_s * (2**retries))


@dataclass(frozen=True)
class _Reply:
    """A successful reply over the lean client: its JSON and its ``Server`` header."""

    json: Any
    server: str


def _body(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body the ``openai`` client sends for ``arguments`` (``extra_body`` merged in)."""
    body = {k: v for k, v in arguments.items() if k != "extra_body"}
    body.update(arguments.get("extra_body") or {})
    return body


def _rank(mode: str) -> int:
    return ("json_schema", "json_object", "prompt").index(mode)


def _rejects_format(exc: _HttpError) -> bool:
    """An error that says the endpoint does not take the response format we sent."""
    if exc.status_code not in (400, 422, 500, 501):
        return False
    text = _error_message(exc).lower()
    param = exc.body.get("error", {}) if isinstance(exc.body, Mapping) else {}
    if isinstance(param, Mapping) and param.get("param") == "response_format":
        return True
    return any(word in text for word in _REJECTS_FORMAT)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
