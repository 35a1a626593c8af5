"""The provider protocol: what every model backend implements.

A provider is a small class that lists the models it can serve and answers one
:class:`Request` at a time.  Providers are found through the entry-point group
``pytest_llmbench.providers`` (and the ``pytest_llmbench_register_providers``
hook), so a third party can add one without touching the plugin.

Everything here is plain data: no pytest, no I/O.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.providers.endpoints import Endpoint

__all__ = [
    "DEFAULT_OLLAMA_HOST",
    "FALLBACK_CHAT_FORMAT",
    "BuiltinSettings",
    "Discovery",
    "ModelInfo",
    "ModelNotFound",
    "Provider",
    "ProviderError",
    "ProviderSettings",
    "Request",
    "Response",
]


FALLBACK_CHAT_FORMAT = "llama-2 (fallback)"
"""The ``chat_format`` a result records when llama-cpp-python's ``llama-2`` fallback
rendered its prompt (no template in the GGUF, no known format for the model)."""


def installed(distribution: str) -> str:
    """``name==version`` of an installed distribution (the name alone if it is not)."""
    import importlib.metadata  # about 15 ms: only the fingerprint of a run needs it

    try:
        return f"{distribution}=={importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return distribution


def file_id(path: str) -> str:
    """``path:size:mtime_ns`` of a local file (the path alone if it cannot be read):
    what changes when the file is replaced."""
    try:
        stat = os.stat(path)
    except OSError:
        return path
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain_json(value: Any) -> Any:
    """A deep copy made of plain dicts and lists (a request's schema or extra options,
    which may be read-only mappings or tuples), so that it serialises as JSON."""
    if type(value) in _SCALARS:  # the leaves: no ABC check for them
        return value
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    return value


@dataclass(frozen=True)
class Request:
    """One call to one model.

    ``json_schema`` asks for structured output: the provider constrains the answer
    to that JSON Schema when it can (llama.cpp grammar, Ollama ``format``).
    """

    model: str
    """The provider-local model name (``smollm2-135m``, ``qwen2.5:7b``)."""
    prompt: str
    system: str | None = None
    options: GenerateOptions = field(default_factory=GenerateOptions)
    json_schema: Mapping[str, Any] | None = None
    timeout_s: float = 120.0
    prompt_head: str = ""
    """The start of ``prompt`` that every case of the task shares (the template's fixed
    text before the case's own values; empty when unknown).  A provider may evaluate
    the system text and this head once and reuse that state for every case
    (embedded llama.cpp does); it never changes the answer, so it is no part of the
    request's identity (cache keys leave it out)."""


@dataclass(frozen=True)
class Response:
    """What a provider returns for one request.

    The harness measures wall latency itself; providers fill in what the server
    reports.  All durations are milliseconds; ``None`` means "not reported".
    """

    text: str
    load_ms: float | None = None
    prompt_eval_ms: float | None = None
    eval_ms: float | None = None
    total_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    host: str | None = None
    retry_ms: float | None = None
    """Time spent before the attempt that answered (failed attempts, HTTP 503 and
    Retry-After waits, backoff); the harness leaves it out of the measured latency."""
    retries: int = 0
    """How many failed attempts (HTTP 503, connection reset) came before this answer."""

    @property
    def queue_ms(self) -> float | None:
        """Server time not accounted for by load, prompt eval and eval (never negative)."""
        if self.total_ms is None:
            return None
        rest = (self.load_ms or 0.0) + (self.prompt_eval_ms or 0.0) + (self.eval_ms or 0.0)
        return max(0.0, self.total_ms - rest)

    structured: str | None = None
    """How structured output was asked for, when the provider had to choose
    (``json_schema``, ``json_object``, or ``prompt``: the prompt alone)."""
    chat_format: str | None = None
    """How the messages were rendered into the prompt text, when the provider chose it
    (embedded llama.cpp: ``gguf-template``, ``gemma``, ``llama-2 (fallback)``)."""

    ttft_ms: float | None = None
    """Time to first token, measured by the client: from sending the request (of the
    attempt that answered) to the first chunk with answer text; a load the server
    reports (``load_ms``) still inside it.  ``None``: not streamed."""
    itl_ms: float | None = None
    """Inter-token latency: the mean time between answer chunks after the first (client
    side); ``None``: not streamed, or fewer than two chunks."""

    @property
    def tokens_per_s(self) -> float | None:
        """Generation speed as the server measured it (completion tokens / eval time)."""
        if not self.completion_tokens or not self.eval_ms:
            return None
        return self.completion_tokens / (self.eval_ms / 1000.0)


@dataclass(frozen=True)
class ModelInfo:
    """A model a provider can serve.  ``id`` is the full ``provider/name``."""

    provider: str
    name: str
    size_bytes: int | None = None
    family: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @functools.cached_property  # read a few dozen times per call: made once
    def id(self) -> str:
        return f"{self.provider}/{self.name}"


@dataclass(frozen=True)
class Discovery:
    """The result of asking a provider what it offers.

    ``problem`` is a one-line, user-facing reason when the provider is unusable
    (server unreachable, package not installed); ``models`` is then empty.
    ``hint`` says how to fix it.
    """

    models: tuple[ModelInfo, ...] = ()
    problem: str | None = None
    hint: str | None = None
    notes: tuple[str, ...] = ()
    """One-line remarks while models were found (e.g. one of several hosts is down)."""
    unconfigured: bool = False
    """The provider is simply not set up (no key in the environment): its ``problem`` is
    shown with ``-v`` only, not in every run's header."""


@dataclass(frozen=True)
class ProviderSettings:
    """What every provider gets: the plugin's general options, parsed and validated, and
    the provider's own options (``llm_provider_options``: ``NAME key=value ...``)."""

    timeout_s: float = 120.0
    discovery_timeout_s: float = 3.0
    retries: int = 3
    """Retries after a transient failure (HTTP 503, connection reset); 0 turns them off."""
    retry_backoff_s: float = 0.5
    """The first retry waits this long, each later one twice as long as the one before."""
    options: Mapping[str, str] = field(default_factory=dict)
    """This provider's own options, from ``llm_provider_options`` lines naming it."""


DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
"""Where Ollama listens unless ``--llm-ollama-host`` or ``$OLLAMA_HOST`` says otherwise."""


@dataclass(frozen=True)
class BuiltinSettings(ProviderSettings):
    """The built-in providers' settings besides the general ones.

    Only ``llamacpp``, ``ollama`` and ``openai`` get these; a third-party provider gets
    a plain :class:`ProviderSettings` (:meth:`for_provider`).
    """

    ollama_hosts: tuple[str, ...] = (DEFAULT_OLLAMA_HOST,)
    gguf_models: Mapping[str, str] = field(default_factory=dict)
    """Extra GGUF files for the embedded provider: name -> path."""
    gguf_chat_formats: Mapping[str, str] = field(default_factory=dict)
    """Chat formats set for those GGUF files: name -> llama-cpp-python chat format."""
    openai_endpoints: tuple[Endpoint, ...] = ()
    """OpenAI-compatible endpoints from config; each is a provider of its own."""
    lean_http: bool = True
    """Requests over the lean HTTP client (``providers.wire``) where it can do what the SDK
    client would: Ollama's generation, loads and unloads, and the OpenAI-compatible
    endpoints' chat completions and model listing on plain-http URLs without a proxy."""
    prefix_reuse: bool = True
    """Embedded llama.cpp: evaluate a task's shared prompt prefix once per model and
    restore that state before each case (answers stay the same as without it)."""
    embedded_threads: int | None = None
    """Embedded llama.cpp: CPU threads per model (``--llm-threads``); ``None``: chosen from
    the cores this process and its xdist siblings may use (``llamacpp.choose_threads``)."""
    state_dir: Path | None = None
    """Where providers keep what they learn about servers between runs (the plugin's
    ``.llmbench/`` under the rootdir), e.g. which structured-output format an endpoint
    takes (:mod:`pytest_llmbench.providers.capabilities`); ``None``: nothing is kept."""
    provider_options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Every provider's own options: provider name -> key -> value."""
    stream: bool = True
    """Ask for the answer streamed (Ollama ``stream: true``, OpenAI-compatible SSE with
    usage, embedded llama.cpp token by token) and time its tokens (``Response.ttft_ms``,
    ``itl_ms``); the answer is the same either way."""

    def for_provider(self, name: str) -> ProviderSettings:
        """The settings a third-party provider ``name`` gets: the general ones and its own."""
        general = {f.name: getattr(self, f.name) for f in fields(ProviderSettings)}
        general["options"] = dict(self.provider_options.get(name, {}))
        return ProviderSettings(**general)


class ProviderError(Exception):
    """A call failed for a reason worth one line in the report (timeout, HTTP error, ...).

    The harness turns it into a failed case with this message as the reason; it is
    never shown as a traceback.
    """

    retry_after_s: float | None = None
    """How long the server asked its clients to wait before trying again (its
    ``Retry-After`` on a 429 or 503), when it said so; the router's breaker honours it."""


class ModelNotFound(ProviderError):
    """The server does not have the model (e.g. it was removed after discovery).

    Raised by ``load(name)``; the plugin then skips the model's items with this message.
    """


@runtime_checkable
class Provider(Protocol):
    """The protocol every provider implements.

    A provider class is constructed with one argument, the :class:`ProviderSettings`.
    ``load(name)`` and ``unload(name)`` are optional methods: a provider that has
    them gets a load before a model's first case and an unload after its last.

    ``remote`` is an optional class attribute: ``True`` says the model runs outside
    this process (a server), so the plugin may send the next case's request while it
    records the previous answer (see :mod:`pytest_llmbench.execution.pipeline`); one request is
    still in flight at a time.  Without it (an in-process model such as llama.cpp)
    every call runs on pytest's own thread.
    """

    name: str

    def discover(self) -> Discovery:
        """List the models this provider can serve right now."""
        ...

    def generate(self, request: Request) -> Response:
        """Answer one request.  Raise :class:`ProviderError` on failure."""
        ...
