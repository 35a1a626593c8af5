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
- Generation: one ``POST /chat/completions``, streamed (``stream: true`` with
  ``stream_options: {include_usage: true}``; ``settings.stream`` off: not streamed):
  the answer's chunks are timed as they arrive (time to first token, time between
  tokens, :mod:`.streamed`), the usage comes in the last chunk, and llama.cpp's server's
  ``timings`` give the prefill and generation times.  An endpoint that refuses
  ``stream_options`` (HTTP 400/422 naming it) is streamed without it, one that refuses
  ``stream`` is asked for whole answers, for the rest of the run.
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
  registered with :mod:`pytest_llmbench.safety.redaction`; every message is redacted.
- Failures: both transports' are the transport taxonomy's
  (:mod:`pytest_llmbench.providers.transport`); :mod:`.errors` words them, discovery's
  problems are in :mod:`.discovery`, reading replies in :mod:`.replies`, the structured
  output choice in :mod:`.structured`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_llmbench.providers import wire
from pytest_llmbench.providers.base import (
    BuiltinSettings,
    Discovery,
    ProviderError,
    Request,
    Response,
)
from pytest_llmbench.providers.capabilities import StructuredMemory
from pytest_llmbench.providers.deadline import call_within
from pytest_llmbench.providers.endpoints import Endpoint, default_openai_endpoint
from pytest_llmbench.providers.openai.discovery import (
    configured_models,
    listed_models,
    listing_problem,
    missing_key,
)
from pytest_llmbench.providers.openai.errors import (
    client_module,
    connection_failure,
    rejects_format,
    rejects_streaming,
    sdk_errors,
    status_error,
    status_failure,
)
from pytest_llmbench.providers.openai.replies import (
    Listing,
    Reply,
    answer,
    chat_arguments,
    listing,
    request_body,
)
from pytest_llmbench.providers.openai.streamed import (
    STREAM_OPTIONS,
    CompletionStream,
    server_timings,
)
from pytest_llmbench.providers.openai.structured import DOWNGRADE, StructuredChoice
from pytest_llmbench.providers.streaming import TokenTimer
from pytest_llmbench.providers.transport import (
    TIMEOUTS,
    HttpStatus,
    TransportError,
    one_line,
    seconds,
)
from pytest_llmbench.safety.redaction import register_secret

if TYPE_CHECKING:
    import openai

__all__ = ["NO_KEY", "OpenAIProvider"]

logger = logging.getLogger(__name__)
NO_KEY = "sk-no-key-required"
"""Sent to endpoints configured without ``key_env`` (the client insists on some key)."""
_OPENAI_HOST = "api.openai.com"


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
        self._streaming = (bool(getattr(settings, "stream", True)), True)
        """(stream the answers, ask for the usage in the last chunk): both until the
        endpoint refuses them (:meth:`_refused_streaming`)."""
        self._lean = settings.lean_http and wire.usable_for(endpoint.base_url)
        """Whether requests go over the lean client (until a redirect says otherwise)."""
        self._wire: wire.JsonWire | None = None
        self._structured = StructuredChoice(
            endpoint, StructuredMemory(settings.state_dir), self._list_models
        )
        register_secret(endpoint.api_key())

    # -- clients -----------------------------------------------------------------

    def _key(self) -> str:
        if self.endpoint.key_env is None:
            return NO_KEY
        key = self.endpoint.api_key()
        if key is None:
            raise ProviderError(
                f"{self.name}: ${self.endpoint.key_env} is not set (the endpoint's API key)"
            )
        register_secret(key)
        return key

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
                module = client_module()
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

    def _send(self, method: str, path: str, body: Any, timeout_s: float) -> Reply:
        """One request over the lean client; the reply's JSON (the transport taxonomy's
        errors on failure: the lean client's own, an error status as :class:`HttpStatus`)."""
        lean = self._lean_wire()
        assert lean is not None
        reply = lean.request(method, path, body, timeout_s=timeout_s)
        if reply.status in wire.REDIRECTS:
            raise wire.Redirected(f"HTTP {reply.status} to {reply.headers.get('Location')}")
        if reply.status >= 400:
            raise status_error(reply)
        return Reply(reply.json(), reply.headers.get("Server") or "")

    def _stream(self, body: Any, timeout_s: float, on_line: Callable[[bytes], None]) -> None:
        """``POST /chat/completions`` over the lean client, the reply's lines handed to
        ``on_line`` as they arrive (errors as :meth:`_send`'s)."""
        lean = self._lean_wire()
        assert lean is not None
        reply = lean.request(
            "POST", "/chat/completions", body, timeout_s=timeout_s, on_line=on_line
        )
        if reply.status in wire.REDIRECTS:
            raise wire.Redirected(f"HTTP {reply.status} to {reply.headers.get('Location')}")
        if reply.status >= 400:
            raise status_error(reply)

    def _refused_streaming(self, usage: bool, exc: HttpStatus) -> None:
        """The endpoint refused ``stream_options`` (older servers): stream without it (the
        usage may then be missing); refused ``stream`` itself: answers come whole, untimed.
        Kept for the rest of the run; the refused request counts as a retry's time."""
        with self._lock:
            self._streaming = (True, False) if usage else (False, False)
        logger.info(
            "%s: %s refused %s (HTTP %s: %s)",
            self.name,
            self.endpoint.base_url,
            "stream_options" if usage else "streaming",
            exc.status,
            one_line(exc.error, 120),
        )

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
        """The endpoint's models (see :mod:`.discovery`)."""
        endpoint = self.endpoint
        problem = missing_key(endpoint)
        if problem is not None:
            return problem
        configured = configured_models(endpoint)
        try:
            found = self._list_models()
        except Exception as exc:  # one line, never a traceback
            return listing_problem(exc, endpoint, configured, self.settings.discovery_timeout_s)
        self._structured.learn(found)
        return listed_models(found, endpoint, configured)

    def _list_models(self) -> Listing:
        """``GET /models`` over either transport (the transport taxonomy's errors on failure)."""
        timeout = float(self.settings.discovery_timeout_s)
        if self._lean_wire() is not None:
            try:
                reply = self._send("GET", "/models", None, timeout)
            except wire.Redirected:
                self._redirected()
            else:
                return listing(reply)
        with sdk_errors():
            raw = self._client("discover").models.with_raw_response.list()
            page = raw.parse()
            return Listing(list(page.data), raw.headers.get("server") or "")

    def structured_mode(self, model: str) -> str:
        """What this provider will send for a request with a schema: the current choice."""
        return self._structured.mode(model)

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
            streamed, usage = self._streaming
            mode = self.structured_mode(request.model) if request.json_schema is not None else None
            attempt_started = time.perf_counter()
            timer: TokenTimer | None = None
            try:
                arguments = chat_arguments(request, mode)
                if streamed:
                    arguments["stream"] = True
                    if usage:
                        arguments["stream_options"] = dict(STREAM_OPTIONS)
                if client is None and streamed:
                    stream = CompletionStream()  # each attempt timed from its own request
                    self._stream(request_body(arguments), request.timeout_s, stream.line)
                    completion: Any = stream.completion()
                    timer = stream.timer
                elif client is None:
                    completion = self._send(
                        "POST", "/chat/completions", request_body(arguments), request.timeout_s
                    ).json
                else:
                    create = functools.partial(
                        client.chat.completions.create, **arguments, timeout=request.timeout_s
                    )
                    if streamed:
                        stream = CompletionStream()
                        create = functools.partial(_consume, create, stream)
                        timer = stream.timer
                    with sdk_errors():
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
            except HttpStatus as exc:
                if streamed and rejects_streaming(exc):
                    self._refused_streaming(usage, exc)
                    continue
                if mode in DOWNGRADE and rejects_format(exc):
                    detail = one_line(exc.error, 120)
                    why = f"HTTP {exc.status}: {detail}"
                    downgraded = self._structured.downgrade(request.model, mode, why)
                    if downgraded is not None and downgraded != mode:
                        continue
                    raise ProviderError(
                        f"{self.endpoint.base_url} rejected the {mode} response format for "
                        f"{self.name}/{request.model} ({why}); set structured=auto or none "
                        f"on endpoint {self.name}"
                    ) from None
                failed = status_failure(
                    exc, endpoint=self.endpoint, model=request.model, retries=retries
                )
            except TransportError as exc:
                if exc.kind in TIMEOUTS:
                    raise ProviderError(
                        f"no answer from {self.name}/{request.model} within "
                        f"{seconds(request.timeout_s)} ({self.endpoint.base_url})"
                    ) from None
                failed = connection_failure(exc, endpoint=self.endpoint, retries=retries)
            except Exception as exc:  # anything else (a client bug, a broken reply): one line
                raise ProviderError(
                    f"{self.name}/{request.model} at {self.endpoint.base_url} failed: "
                    f"{type(exc).__name__}: {one_line(exc, 160)}"
                ) from None
            else:
                return self._response(
                    completion, request, mode, attempt_started - started, retries, timer
                )
            if failed.wait_s is None:
                raise failed.error from None
            retries += 1
            self._sleep(failed.wait_s)

    def _response(
        self,
        completion: Any,
        request: Request,
        mode: str | None,
        waited_s: float,
        retries: int = 0,
        timer: TokenTimer | None = None,
    ) -> Response:
        read = answer(completion)
        if read is None:
            raise ProviderError(
                f"malformed reply from {self.endpoint.base_url} to {self.name}/{request.model}: "
                "no choices[0].message"
            )
        prefill_ms, generation_ms = server_timings(completion)
        structured = None
        if mode is not None and self.endpoint.structured == "auto" and mode != "json_schema":
            structured = mode
        return Response(
            text=read.text,
            prompt_tokens=read.prompt_tokens,
            completion_tokens=read.completion_tokens,
            host=self.endpoint.base_url,
            structured=structured,
            retry_ms=waited_s * 1000.0 if waited_s > 0.0005 else None,
            retries=retries,
            prompt_eval_ms=prefill_ms,
            eval_ms=generation_ms,
            ttft_ms=timer.ttft_ms if timer is not None else None,
            itl_ms=timer.itl_ms if timer is not None else None,
        )


def _consume(create: Callable[[], Any], stream: CompletionStream) -> Any:
    """The ``openai`` client's streamed completion read whole (each chunk timed as it
    comes), as the completion it makes."""
    for chunk in create():
        stream.chunk(chunk)
    return stream.completion()
