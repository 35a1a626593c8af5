"""Which models an OpenAI-compatible endpoint serves: ``GET /models`` and the endpoint's
configured ``models=`` list, and what to say when neither gives any.

The endpoint's ``models=`` list wins when it has one (a model the listing has gets its
``owned_by``); else the listed models that can chat (OpenAI lists every model it has).
An unreachable endpoint, a missing or rejected key is one :class:`Discovery` problem.
"""

from __future__ import annotations

from typing import Any

from pytest_llmbench.providers.base import Discovery, ModelInfo
from pytest_llmbench.providers.capabilities import ServerIdentity
from pytest_llmbench.providers.endpoints import Endpoint, default_openai_endpoint
from pytest_llmbench.providers.identity import listed_identity
from pytest_llmbench.providers.openai.replies import Listing, get
from pytest_llmbench.providers.transport import (
    TIMEOUTS,
    HttpStatus,
    TransportError,
    connect_reason,
    one_line,
    seconds,
)

__all__ = [
    "NOT_CHAT",
    "configured_models",
    "identities",
    "listed_models",
    "listing_problem",
    "missing_key",
]

NOT_CHAT = (
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

_START_HINT = "start the server, or fix the URL in llm_openai_endpoints / --llm-endpoint"


def missing_key(endpoint: Endpoint) -> Discovery | None:
    """The problem when the endpoint's API key is not set (``None``: it is, or none is due)."""
    if endpoint.key_env is None or endpoint.api_key() is not None:
        return None
    return Discovery(
        problem=f"${endpoint.key_env} is not set",
        hint=f"set {endpoint.key_env} in the environment to use {endpoint.base_url}",
        unconfigured=endpoint == default_openai_endpoint(),  # not set up
    )


def configured_models(endpoint: Endpoint) -> tuple[ModelInfo, ...]:
    """The endpoint's ``models=`` list."""
    return tuple(
        ModelInfo(endpoint.name, m, details={"endpoint": endpoint.base_url})
        for m in endpoint.models
    )


def listed_models(
    listing: Listing, endpoint: Endpoint, configured: tuple[ModelInfo, ...]
) -> Discovery:
    """The models to offer after ``GET /models`` answered with ``listing``."""
    url = endpoint.base_url
    ids = [str(get(m, "id")) for m in listing.entries if get(m, "id")]
    info = {str(get(m, "id")): m for m in listing.entries if get(m, "id")}
    if configured:
        return Discovery(tuple(_with_listing(m, info.get(m.name), url) for m in configured))
    chat = [i for i in ids if not any(word in i.lower() for word in NOT_CHAT)]
    if not chat:
        return Discovery(problem=f"endpoint {url} lists no chat models")
    return Discovery(tuple(_with_listing(ModelInfo(endpoint.name, i), info[i], url) for i in chat))


def listing_problem(
    exc: Exception, endpoint: Endpoint, configured: tuple[ModelInfo, ...], timeout_s: float
) -> Discovery:
    """What to say when ``GET /models`` failed with ``exc`` (the configured models, when
    the endpoint answered but cannot list its models)."""
    url = endpoint.base_url
    if isinstance(exc, HttpStatus):
        status = exc.status
        if status in (401, 403):
            return Discovery(
                problem=f"endpoint {url} rejected the API key from ${endpoint.key_env} "
                f"(HTTP {status}: {one_line(exc.error, 120)})",
                hint=f"check {endpoint.key_env}",
            )
        if configured:
            return Discovery(configured)
        return Discovery(
            problem=f"endpoint {url} does not list its models "
            f"(GET /models: HTTP {status}: {one_line(exc.error, 120)})",
            hint=f"name them in the endpoint line: {endpoint.name} = {url} models=a,b",
        )
    if isinstance(exc, TransportError) and exc.kind in TIMEOUTS:
        return Discovery(
            problem=f"endpoint {url} did not answer GET /models within {seconds(timeout_s)}",
            hint=_START_HINT,
        )
    if isinstance(exc, TransportError):
        return Discovery(
            problem=f"endpoint {url} is not reachable ({connect_reason(exc, detail=False)})",
            hint=_START_HINT,
        )
    if isinstance(exc, (ValueError, TypeError, AttributeError)):
        if configured:
            return Discovery(configured)
        return Discovery(
            problem=f"endpoint {url} sent a malformed model list: {one_line(exc, 120)}",
            hint=f"name the models in the endpoint line: {endpoint.name} = {url} models=a,b",
        )
    # anything else: one line, never a traceback
    return Discovery(problem=f"GET {url}/models failed: {type(exc).__name__}: {one_line(exc, 120)}")


def identities(listing: Listing, base_url: str) -> dict[str, ServerIdentity]:
    """Per listed model, the server's identity (:mod:`~pytest_llmbench.providers.capabilities`)."""
    found: dict[str, ServerIdentity] = {}
    for entry in listing.entries:
        model = get(entry, "id")
        if model:
            owned_by = get(entry, "owned_by")
            found[str(model)] = ServerIdentity(
                base_url, str(model), listing.server, str(owned_by or "")
            )
    return found


def _with_listing(model: ModelInfo, listed: Any, url: str) -> ModelInfo:
    details: dict[str, Any] = {"endpoint": url, "listed": listed is not None}
    if listed is not None:
        owned_by = get(listed, "owned_by")
        if owned_by:
            details["owned_by"] = str(owned_by)
        identity = listed_identity(listed)
        if identity:
            details["identity"] = identity  # recorded in the registry (see .identity)
    return ModelInfo(model.provider, model.name, details=details)
