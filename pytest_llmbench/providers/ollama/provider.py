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
:mod:`.discovery`.

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

import contextlib
import socket
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

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
from pytest_llmbench.providers.ollama.discovery import (
    DEFAULT_HOST,
    list_hosts,
    normalize_host,
    outcome,
)
from pytest_llmbench.providers.ollama.errors import failure, transport_errors
from pytest_llmbench.providers.ollama.replies import parse
from pytest_llmbench.providers.transport import (
    HttpStatus,
    Kind,
    TransportError,
    connect_reason,
    one_line,
)
from pytest_llmbench.providers.wire import ChatWire, Redirected, error_text, usable_for

if TYPE_CHECKING:
    import ollama


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


def _ms(ns: int | None) -> float | None:
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


class _HostGone(ProviderError):
    """The host went away during a request (the provider fails over or gives up)."""


def _require_name(name: str) -> None:
    if not name or not name.strip():
        raise ProviderError("no Ollama model name given (expected e.g. ollama/qwen2.5:7b)")


def _close_clients(
    clients: dict[tuple[str, str], ollama.Client], wires: dict[str, ChatWire | None]
) -> None:
    for client in list(clients.values()):
        with contextlib.suppress(Exception):  # closing must never raise
            client.close()  # type: ignore[no-untyped-call]
    clients.clear()
    for wire in list(wires.values()):
        if wire is not None:
            wire.close()


class OllamaProvider:
    """Models served by Ollama, on one or more hosts.

    ``discover()`` asks every host in ``settings.ollama_hosts`` for its models; a
    model found on several hosts is listed once and served by the one of them that
    serves the fewest models (ties: the first), so that xdist workers spread over
    the hosts keep every host busy (``details["host"]``; ``details["hosts"]`` lists
    every host that has it).  ``generate()`` sends one non-streaming ``/api/chat`` request to the
    model's host.  ``load()``/``unload()`` send the empty requests Ollama documents
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
        self._model_hosts: dict[str, str] = {}
        self._discovered = False
        self._answered: set[str] = set()
        """Hosts that answered at least once (so a refused connection means "went away")."""
        self._gone: dict[str, str] = {}
        """Hosts that went away mid-run -> the message their models' requests fail with
        (when no other host serves the model); probed again before each request."""
        self._presence: dict[str, tuple[str, ...]] = {}
        """Model -> every host that has it (discovery): where it can fail over to."""
        self.probe_timeout_s = min(PROBE_TIMEOUT_S, float(settings.discovery_timeout_s))
        self._runner_options: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], ollama.Client] = {}
        self._wires: dict[str, ChatWire | None] = {}
        """Per host, the lean client for generation (``None``: the ollama client does it)."""
        self._finalizer = weakref.finalize(self, _close_clients, self._clients, self._wires)

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connections (the provider stays usable: they reopen on demand)."""
        with self._lock:
            _close_clients(self._clients, self._wires)

    def __enter__(self) -> OllamaProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _client(self, host: str, purpose: str) -> ollama.Client:
        """The cached client for one host; ``purpose`` is ``"generate"`` or ``"discover"``."""
        import httpx
        import ollama

        key = (host, purpose)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                discovery = float(self.settings.discovery_timeout_s)
                if purpose == "discover":
                    timeout = httpx.Timeout(discovery)
                else:
                    total = float(self.settings.timeout_s)
                    timeout = httpx.Timeout(total, connect=min(total, discovery))
                # Plain http needs no TLS: verify=False spares httpx loading the CA
                # bundle (~60 ms per client) for a context it would never use.
                plain = host.startswith("http://")
                client = ollama.Client(host=host, timeout=timeout, verify=not plain)
                self._clients[key] = client
            return client

    def _wire(self, host: str) -> ChatWire | None:
        """The lean client for ``host`` (``None``: use the ollama client)."""
        with self._lock:
            if host not in self._wires:
                usable = self.settings.lean_http and usable_for(host)
                self._wires[host] = (
                    ChatWire(
                        host,
                        timeout_s=float(self.settings.timeout_s),
                        connect_timeout_s=float(self.settings.discovery_timeout_s),
                    )
                    if usable
                    else None
                )
            return self._wires[host]

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
        wire = self._wire(host)

        def send() -> Any:
            with transport_errors():
                if wire is not None:
                    try:
                        return parse(kind, wire.post(f"/api/{endpoint}", payload))
                    except Redirected:  # the ollama client follows redirects: let it
                        self._drop_wire(host, wire)
                client = self._client(host, "generate")
                # httpx times out each read, not the call: the deadline is kept here.
                return call_within(
                    float(self.settings.timeout_s),
                    lambda: getattr(client, endpoint)(**payload),
                    abandon=lambda: self._abandon(host, client),
                )

        return send

    def _drop_wire(self, host: str, wire: ChatWire) -> None:
        """``host`` redirects: the ollama client (which follows redirects) takes it over."""
        with self._lock:
            self._wires[host] = None
        wire.close()

    def _abandon(self, host: str, client: ollama.Client) -> None:
        """Close a client whose call passed its deadline (a new one serves the next call)."""
        with self._lock:
            if self._clients.get((host, "generate")) is client:
                del self._clients[(host, "generate")]
        with contextlib.suppress(Exception):  # closing must never raise
            client.close()  # type: ignore[no-untyped-call]

    # -- discovery ---------------------------------------------------------------

    def host_for(self, model: str) -> str:
        """The host that serves ``model`` (the first host when it is not known)."""
        host = self._model_hosts.get(model)
        if host is None and len(self.hosts) > 1 and not self._discovered:
            self.discover()
            host = self._model_hosts.get(model)
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
            wire = self._wire(host)
            if wire is not None:
                method = "GET" if payload is None else "POST"
                timeout_s = float(self.settings.discovery_timeout_s)
                try:
                    reply = wire.reply(method, path, payload, timeout_s=timeout_s)
                except Redirected:  # the ollama client follows redirects: let it
                    self._drop_wire(host, wire)
                else:
                    if reply.status >= 400:
                        raise HttpStatus(reply.status, error_text(reply))
                    return parse(kind, reply.json())
            client = self._client(host, "discover")
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
            answered=self._mark_answered,
        )
        # A model on several hosts is served by one: the one serving the fewest models.
        chosen = assign_hosts(found.presence, self.hosts)
        with self._lock:
            for name, host in chosen.items():
                self._model_hosts.setdefault(name, host)
                self._presence[name] = tuple(found.presence[name])
            self._discovered = True
            chosen = {name: self._model_hosts[name] for name in chosen}
        return outcome(found, chosen)

    def _mark_answered(self, host: str) -> None:
        with self._lock:
            self._answered.add(host)

    # -- generation --------------------------------------------------------------

    def generate(self, request: Request) -> Response:
        """Answer one request with a non-streaming ``/api/chat`` call."""
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
            "stream": False,
            "options": options,
            "keep_alive": KEEP_ALIVE,
        }
        if fmt is not None:
            payload["format"] = fmt
        reply, host, retries, retry_ms = self._call(
            request.model, "generate", "chat", payload, "ChatResponse"
        )
        text = reply.message.content
        return Response(
            text=text or "",
            load_ms=_ms(reply.load_duration),
            prompt_eval_ms=_ms(reply.prompt_eval_duration),
            eval_ms=_ms(reply.eval_duration),
            total_ms=_ms(reply.total_duration),
            prompt_tokens=reply.prompt_eval_count,
            completion_tokens=reply.eval_count,
            host=host,
            retry_ms=retry_ms,
            retries=retries,
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
        host, probed = self._live_host(model, failover)
        moves = 0
        while True:
            attempt_started = time.perf_counter()
            send = self._sender(host, endpoint, payload, kind)
            try:
                reply, retries, retry_ms = self._request(host, model, action, send)
            except _HostGone as gone:
                other = self._move(model, host) if failover else None
                if other is None:
                    raise ProviderError(str(gone)) from None
                host, moves = other, moves + 1
                continue
            lost = (attempt_started - started) * 1000.0 + retry_ms
            detoured = probed or moves or retries
            return reply, host, retries + moves, lost if detoured else None

    def _live_host(self, model: str, failover: bool) -> tuple[str, bool]:
        """The host to send ``model``'s next request to, and whether a gone one was probed.

        Its own host, unless that went away and still refuses connections: then (with
        ``failover``) another host of the model that answers; none: the gone message.
        """
        host = self.host_for(model)
        with self._lock:
            message = self._gone.get(host)
        if message is None:
            return host, False
        if self._unreachable(host) is None:
            return host, True
        other = self._move(model, host) if failover else None
        if other is None:
            raise ProviderError(message)
        return other, True

    def _move(self, model: str, gone: str) -> str | None:
        """Serve ``model`` from another of its hosts that answers (``None``: none does)."""
        with self._lock:
            candidates = [h for h in self._presence.get(model, ()) if h != gone]
            down = set(self._gone)
        for host in candidates:
            if host not in down or self._unreachable(host) is None:
                with self._lock:
                    self._model_hosts[model] = host
                return host
        return None

    def _unreachable(self, host: str) -> str | None:
        """Why ``host`` accepts no TCP connection now (within ``probe_timeout_s``), or ``None``.

        A host that went away and accepts one is back (a restarted server): used again.
        """
        split = urllib.parse.urlsplit(host)
        default = 443 if split.scheme == "https" else 80
        try:
            address = (split.hostname or "127.0.0.1", split.port or default)
            with socket.create_connection(address, timeout=self.probe_timeout_s):
                pass
        except TimeoutError:
            return "connection timed out"
        except ConnectionRefusedError:
            return "connection refused"
        except (OSError, ValueError) as exc:
            return f"cannot connect: {one_line(exc, 80)}"
        with self._lock:
            self._gone.pop(host, None)
        return None

    def _request(
        self, host: str, model: str, action: str, send: Callable[[], _T]
    ) -> tuple[_T, int, float]:
        """``send()`` with retries; the reply, the retries and the ms they took.

        Raises :class:`_HostGone` when ``host``, which answered before, refuses the
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
                if self._has_answered(host):
                    connect = _kind(exc) in (Kind.CONNECT, Kind.CONNECT_TIMEOUT)
                    gone = connect_reason(exc) if connect else None
                    if gone is None and _kind(exc) is Kind.CUT:
                        gone = self._unreachable(host)  # cut: crashed, or just this one?
                    if gone is not None:
                        raise self._went_away(host, gone) from None
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
            with self._lock:
                self._answered.add(host)
                self._gone.pop(host, None)  # back (if it had gone): later requests go on
            return reply, attempt, (attempt_started - started) * 1000.0

    def _has_answered(self, host: str) -> bool:
        with self._lock:
            return host in self._answered

    def _went_away(self, host: str, reason: str) -> _HostGone:
        """Mark ``host`` gone: its models move elsewhere or fail at once with this message."""
        message = (
            f"ollama at {host} went away mid-run ({reason}); "
            "its remaining cases fail without waiting"
        )
        with self._lock:
            return _HostGone(self._gone.setdefault(host, message))

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
        reported = _ms(reply.load_duration)
        return reported if reported is not None else elapsed_ms

    def unload(self, name: str) -> None:
        """Drop ``name`` from memory (an empty ``/api/generate`` with ``keep_alive: 0``)."""
        _require_name(name)
        payload = {"model": name, "prompt": "", "stream": False, "keep_alive": 0}
        # Where the model is now; never moved for an unload (no other host has it loaded).
        self._call(name, "unload", "generate", payload, "GenerateResponse", failover=False)
