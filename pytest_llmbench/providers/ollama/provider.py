"""The Ollama provider: models served by one or more Ollama servers.

It speaks Ollama's API (``/api/tags`` and ``/api/show`` for discovery, ``/api/chat``
for generation, empty ``/api/generate`` requests to load and unload) and reports the
server's own timing fields, converted from nanoseconds to milliseconds.  On plain
``http://`` hosts with no proxy the requests go over the lean client of
:mod:`~pytest_llmbench.providers.wire` and the replies are read by :mod:`.replies`;
elsewhere (https, a proxy, a redirect) through the official ``ollama`` client.  That
client (with httpx and pydantic, about 0.2 s of CPU to import) is imported only when a
host needs it: a run on a local Ollama, or one where no Ollama answers, never imports it.

Every failure a user can cause or meet (server down, model not pulled, timeout,
HTTP error, garbage reply) is read as the transport taxonomy
(:mod:`pytest_llmbench.providers.transport`, :mod:`.errors`) and becomes a
:class:`ProviderError` or a :class:`Discovery` problem with one line that names the URL
and says what to do (:mod:`.errors`).  Discovery's listing and its problems are in
:mod:`.discovery`, the HTTP clients in :mod:`.clients`, the hosts' states (which serves
each model, which went away) in :mod:`.hosts`.

Behaviour at scale (many models, one GPU):

* every request asks the server to keep the model loaded (``keep_alive``), so a slow
  case never lets it expire; ``unload()`` sends ``keep_alive: 0``;
* runner options (``num_ctx``...) must stay the same for every request to one model,
  as a change makes Ollama reload it; a request that changes them is refused;
* HTTP 503 (server busy) and a connection reset are retried with exponential backoff
  (``settings.retries``, ``settings.retry_backoff_s``); the time spent on them is
  reported as ``Response.retry_ms`` and kept out of the latency;
* a host that answered before and now refuses connections (or cuts a request and
  then refuses one) has gone away.  A model that other hosts serve too moves to one of
  them that answers, the request that failed included (failover: each result names
  the host that answered it); a model served only there fails at once, without
  waiting.  Before each later request a gone host is probed with a short TCP connect
  (``PROBE_TIMEOUT_S``): a restarted server is used again as soon as it listens;
* a model the server does not have raises :class:`ModelNotFound`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pytest_llmbench.providers.base import (
    BuiltinSettings,
    Discovery,
    ProviderError,
    Request,
    Response,
    plain_json,
)
from pytest_llmbench.providers.deadline import call_within
from pytest_llmbench.providers.hosts import assign_hosts
from pytest_llmbench.providers.ollama.clients import Clients
from pytest_llmbench.providers.ollama.discovery import (
    DEFAULT_HOST,
    list_hosts,
    normalize_host,
    outcome,
)
from pytest_llmbench.providers.ollama.errors import failure, transport_errors
from pytest_llmbench.providers.ollama.hosts import HostGone, HostStates
from pytest_llmbench.providers.ollama.replies import parse
from pytest_llmbench.providers.ollama.streamed import ChatStream, Streamed
from pytest_llmbench.providers.transport import (
    HttpStatus,
    Kind,
    TransportError,
    connect_reason,
)
from pytest_llmbench.providers.wire import Redirected, error_text

__all__ = ["KEEP_ALIVE", "PROBE_TIMEOUT_S", "RUNNER_OPTIONS", "OllamaProvider"]

KEEP_ALIVE = "30m"
"""How long the server keeps a model loaded after each request of ours."""
PROBE_TIMEOUT_S = 0.5
"""How long the connect that probes a host that went away may take (at most)."""
RUNNER_OPTIONS = frozenset(
    {
        "num_ctx",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "low_vram",
        "f16_kv",
        "logits_all",
        "vocab_only",
        "use_mmap",
        "use_mlock",
        "num_thread",
        "numa",
    }
)
"""Options that shape the loaded runner: a change between requests makes Ollama reload."""
_T = TypeVar("_T")


def _ms_from_ns(ns: int | None) -> float | None:
    """Nanoseconds (as Ollama reports them) to milliseconds; ``None`` stays ``None``."""
    if ns is None:
        return None
    return ns / 1_000_000


def _kind(exc: BaseException) -> Kind | None:
    return exc.kind if isinstance(exc, TransportError) else None


def _is_transient(exc: BaseException) -> bool:
    """Worth another try: HTTP 503 (server busy) or a connection closed without an answer."""
    if isinstance(exc, HttpStatus):
        return exc.status == 503
    return _kind(exc) is Kind.CUT


def _require_name(name: str) -> None:
    if not name or not name.strip():
        raise ProviderError("no Ollama model name given (expected e.g. ollama/qwen2.5:7b)")


class OllamaProvider:
    """Models served by Ollama, on one or more hosts.

    ``discover()`` asks every host in ``settings.ollama_hosts`` for its models; a
    model found on several hosts is listed once and served by the one of them that
    serves the fewest models (ties: the first), so that xdist workers spread over
    the hosts keep every host busy (``details["host"]``; ``details["hosts"]`` lists
    every host that has it).  ``generate()`` sends one ``/api/chat`` request to the
    model's host, streamed (``settings.stream``: the answer's chunks timed as they arrive,
    :mod:`.streamed`).  ``load()``/``unload()`` send the empty requests Ollama documents
    for loading a model into memory and dropping it (``keep_alive: 0``).

    Generation uses ``settings.timeout_s`` as a deadline for the whole call (connecting:
    at most ``settings.discovery_timeout_s``); discovery uses ``settings.discovery_timeout_s``.
    The HTTP clients are made on first use and kept; ``close()`` (or leaving a
    ``with`` block) closes them, and so does garbage collection or interpreter exit.
    """

    name = "ollama"
    remote = True
    """The models run in the server: the next request may be sent while pytest records."""

    def __init__(self, settings: BuiltinSettings) -> None:
        self.settings = settings
        hosts: list[str] = []
        for raw in settings.ollama_hosts or (DEFAULT_HOST,):
            host = normalize_host(raw)
            if host not in hosts:
                hosts.append(host)
        self.hosts: tuple[str, ...] = tuple(hosts)
        self._states = HostStates(min(PROBE_TIMEOUT_S, float(settings.discovery_timeout_s)))
        self._clients = Clients(settings)
        self._runner_options: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connections (the provider stays usable: they reopen on demand)."""
        self._clients.close()

    def __enter__(self) -> OllamaProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _sender(
        self, host: str, endpoint: str, payload: Mapping[str, Any], kind: str
    ) -> Callable[[], Any]:
        """``send()`` for :meth:`_request`: ``POST /api/<endpoint>`` with ``payload``.

        Over the lean client when ``host`` has one, else through the ollama client's
        method of that name with the same arguments: one request, two transports.  The
        reply reads as the ollama client's reply type ``kind`` (``ChatResponse``...)
        would (:func:`~.replies.parse`), so a reply of the wrong shape fails the same way
        on both; the ollama client is made (and imported) only when used.  Failures are
        the transport taxonomy's (:func:`~.errors.transport_errors`).
        """
        clients = self._clients
        wire = clients.wire(host)

        streamed = payload.get("stream") is True

        def send() -> Any:
            with transport_errors():
                if wire is not None:
                    try:
                        if streamed:  # each attempt timed from its own request
                            stream = ChatStream()
                            wire.stream_post(f"/api/{endpoint}", payload, stream.line)
                            return stream.reply()
                        return parse(kind, wire.post(f"/api/{endpoint}", payload))
                    except Redirected:  # the ollama client follows redirects: let it
                        clients.drop_wire(host, wire)
                client = clients.client(host, "generate")

                def call() -> Any:
                    if not streamed:
                        return getattr(client, endpoint)(**payload)
                    stream = ChatStream()
                    try:
                        for chunk in getattr(client, endpoint)(**payload):
                            stream.chunk(chunk)
                    except AttributeError as exc:  # the client's .get() on a line not an object
                        raise TypeError(f"a stream line that is not a JSON object: {exc}") from exc
                    return stream.reply()

                # httpx times out each read, not the call: the deadline is kept here.
                return call_within(
                    float(self.settings.timeout_s),
                    call,
                    abandon=lambda: clients.abandon(host, client),
                )

        return send

    # -- discovery ---------------------------------------------------------------

    def host_for(self, model: str) -> str:
        """The host that serves ``model`` (the first host when it is not known)."""
        host = self._states.host_of(model)
        if host is None and len(self.hosts) > 1 and not self._states.discovered:
            self.discover()
            host = self._states.host_of(model)
        return host or self.hosts[0]

    def _discovery_call(
        self, host: str, path: str, payload: Mapping[str, Any] | None, kind: str
    ) -> Any:
        """``GET /api/tags`` (no ``payload``) or ``POST /api/show`` on ``host``, read as
        the ollama client's reply type ``kind``.

        Over the lean client when it serves ``host``, else (or after a redirect)
        through the ollama client; failures are the transport taxonomy's.
        """
        with transport_errors():
            wire = self._clients.wire(host)
            if wire is not None:
                method = "GET" if payload is None else "POST"
                timeout_s = float(self.settings.discovery_timeout_s)
                try:
                    reply = wire.reply(method, path, payload, timeout_s=timeout_s)
                except Redirected:  # the ollama client follows redirects: let it
                    self._clients.drop_wire(host, wire)
                else:
                    if reply.status >= 400:
                        raise HttpStatus(reply.status, error_text(reply))
                    return parse(kind, reply.json())
            client = self._clients.client(host, "discover")
            return client.list() if payload is None else client.show(payload["model"])

    def discover(self) -> Discovery:
        """List the models on every host; a model on several hosts counts once (see class doc).

        Over the lean client (plain http), a host that does not answer costs no import:
        ``ollama`` (with httpx and pydantic) is imported only for a host it cannot serve.
        """
        found = list_hosts(
            self.hosts,
            self._discovery_call,
            timeout_s=self.settings.discovery_timeout_s,
            answered=self._states.answered,
        )
        # A model on several hosts is served by one: the one serving the fewest models.
        chosen = self._states.assign(assign_hosts(found.presence, self.hosts), found.presence)
        return outcome(found, chosen)

    # -- generation --------------------------------------------------------------

    def generate(self, request: Request) -> Response:
        """Answer one request with a ``/api/chat`` call (streamed unless ``settings.stream``
        is off: the same answer and timing fields, plus the client's ``ttft_ms``/``itl_ms``)."""
        _require_name(request.model)
        messages: list[dict[str, str]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        fmt = plain_json(request.json_schema) if request.json_schema is not None else None
        options = self._options(request)
        self._check_runner_options(request.model, options)

        payload: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "tools": [],  # what the ollama client sends when given none
            "stream": getattr(self.settings, "stream", True),
            "options": options,
            "keep_alive": KEEP_ALIVE,
        }
        if fmt is not None:
            payload["format"] = fmt
        reply, host, retries, retry_ms = self._call(
            request.model, "generate", "chat", payload, "ChatResponse"
        )
        timer = None
        if isinstance(reply, Streamed):
            reply, timer = reply.reply, reply.timer
        text = reply.message.content
        return Response(
            text=text or "",
            load_ms=_ms_from_ns(reply.load_duration),
            prompt_eval_ms=_ms_from_ns(reply.prompt_eval_duration),
            eval_ms=_ms_from_ns(reply.eval_duration),
            total_ms=_ms_from_ns(reply.total_duration),
            prompt_tokens=reply.prompt_eval_count,
            completion_tokens=reply.eval_count,
            host=host,
            retry_ms=retry_ms,
            retries=retries,
            ttft_ms=timer.ttft_ms if timer is not None else None,
            itl_ms=timer.itl_ms if timer is not None else None,
        )

    @staticmethod
    def _options(request: Request) -> dict[str, Any]:
        """Provider-neutral options -> Ollama's ``options`` (``None`` means: not sent)."""
        o = request.options
        mapped: dict[str, Any] = {
            "temperature": o.temperature,
            "seed": o.seed,
            "num_predict": o.max_tokens,
            "top_p": o.top_p,
            "top_k": o.top_k,
        }
        mapped.update(plain_json(o.extra))
        return {k: v for k, v in mapped.items() if v is not None}

    def _check_runner_options(self, model: str, options: Mapping[str, Any]) -> None:
        """Refuse runner options that differ from the first request's to this model."""
        runner = {k: v for k, v in options.items() if k in RUNNER_OPTIONS}
        with self._lock:
            pinned = self._runner_options.setdefault(model, runner)
        if runner != pinned:
            changed = sorted(k for k in {*runner, *pinned} if runner.get(k) != pinned.get(k))
            was = ", ".join(f"{k}={pinned.get(k)}" for k in changed)
            now = ", ".join(f"{k}={runner.get(k)}" for k in changed)
            raise ProviderError(
                f"runner options of ollama/{model} changed mid-run ({was} -> {now}); "
                "Ollama would reload the model: use the same ones for every request"
            )

    # -- requests: retries, failover, gone hosts -----------------------------------

    def _call(
        self,
        model: str,
        action: str,
        endpoint: str,
        payload: Mapping[str, Any],
        kind: str,
        *,
        failover: bool = True,
    ) -> tuple[Any, str, int, float | None]:
        """``POST /api/<endpoint>`` for ``model`` on a host that answers.

        The reply, the host that gave it, the failed attempts before it (retries and
        failovers) and the ms they took (``None``: nothing was lost).  A host that goes
        away during the call hands the request to another host of the model
        (``failover``); with none left, the call fails with the gone host's message.
        """
        started = time.perf_counter()
        host, probed = self._states.live_host(model, self.host_for(model), failover)
        moves = 0
        while True:
            attempt_started = time.perf_counter()
            send = self._sender(host, endpoint, payload, kind)
            try:
                reply, retries, retry_ms = self._request(host, model, action, send)
            except HostGone as gone:
                other = self._states.move(model, host) if failover else None
                if other is None:
                    raise ProviderError(str(gone)) from None
                host, moves = other, moves + 1
                continue
            lost = (attempt_started - started) * 1000.0 + retry_ms
            detoured = probed or moves or retries
            return reply, host, retries + moves, lost if detoured else None

    def _request(
        self, host: str, model: str, action: str, send: Callable[[], _T]
    ) -> tuple[_T, int, float]:
        """``send()`` with retries; the reply, the retries and the ms they took.

        Raises :class:`~.hosts.HostGone` when ``host``, which answered before, refuses the
        connection, or cut the request and refuses a probe: it went away.
        """
        retries = max(0, int(self.settings.retries))
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt_started = time.perf_counter()
            try:
                reply = send()
            except Exception as exc:
                if self._states.has_answered(host):
                    connect = _kind(exc) in (Kind.CONNECT, Kind.CONNECT_TIMEOUT)
                    gone = connect_reason(exc) if connect else None
                    if gone is None and _kind(exc) is Kind.CUT:
                        gone = self._states.unreachable(host)  # cut: crashed, or this one?
                    if gone is not None:
                        raise self._states.went_away(host, gone) from None
                if attempt < retries and _is_transient(exc):
                    time.sleep(max(0.0, self.settings.retry_backoff_s) * 2**attempt)
                    attempt += 1
                    continue
                error = failure(
                    exc,
                    host=host,
                    model=model,
                    action=action,
                    timeout_s=self.settings.timeout_s,
                    connect_s=self.settings.discovery_timeout_s,
                )
                if attempt:
                    error = type(error)(f"{error} (after {attempt + 1} attempts)")
                raise error from None
            self._states.answered(host)  # back (if it had gone): later requests go on
            return reply, attempt, (attempt_started - started) * 1000.0

    # -- load / unload -----------------------------------------------------------

    def load(self, name: str) -> float | None:
        """Load ``name`` into memory (an empty ``/api/generate``); the load time in ms.

        The load time is the server's ``load_duration`` when it reports one; Ollama's
        reply to an empty request has none, so then it is the wall time of the call.
        """
        _require_name(name)
        payload = {"model": name, "prompt": "", "stream": False, "keep_alive": KEEP_ALIVE}
        started = time.perf_counter()
        reply, _, _, retry_ms = self._call(name, "load", "generate", payload, "GenerateResponse")
        elapsed_ms = (time.perf_counter() - started) * 1000.0 - (retry_ms or 0.0)
        reported = _ms_from_ns(reply.load_duration)
        return reported if reported is not None else elapsed_ms

    def unload(self, name: str) -> None:
        """Drop ``name`` from memory (an empty ``/api/generate`` with ``keep_alive: 0``)."""
        _require_name(name)
        payload = {"model": name, "prompt": "", "stream": False, "keep_alive": 0}
        # Where the model is now; never moved for an unload (no other host has it loaded).
        self._call(name, "unload", "generate", payload, "GenerateResponse", failover=False)
