"""Models by id without pytest: ``ollama/qwen2.5:7b`` -> (its provider, its ModelInfo).

For the ``llmbench`` subcommands that call models themselves (``ab``, ``optimize``):
the same providers the plugin uses, found through the same entry-point group, asked
what they offer, and the model loaded before its first call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from pytest_llmbench.providers.base import (
    DEFAULT_OLLAMA_HOST,
    BuiltinSettings,
    ModelInfo,
    Provider,
    ProviderError,
)
from pytest_llmbench.providers.endpoints import parse_endpoint
from pytest_llmbench.providers.registry import make_provider

__all__ = ["Resolved", "resolve_models", "settings_from"]

Resolved = tuple[Provider, ModelInfo]


def settings_from(
    timeout_s: float = 120.0,
    ollama_hosts: Sequence[str] | None = None,
    gguf: Sequence[str] | None = None,
    endpoints: Sequence[str] | None = None,
) -> BuiltinSettings:
    """Provider settings outside pytest (the router, ``llmbench`` commands): the Ollama
    hosts given, else ``$OLLAMA_HOST``, else the local server; ``NAME=PATH`` GGUF files
    for the embedded provider; OpenAI-compatible endpoints as ``--llm-endpoint`` takes
    them (``NAME=URL [key_env=VAR] [models=a,b]``; :class:`EndpointError` names a bad
    one); the timeout of one call."""
    env = os.environ.get("OLLAMA_HOST", "").strip()
    hosts = tuple(ollama_hosts or ()) or ((env,) if env else (DEFAULT_OLLAMA_HOST,))
    files = dict(spec.partition("=")[::2] for spec in gguf or ())
    return BuiltinSettings(
        ollama_hosts=hosts,
        timeout_s=timeout_s,
        gguf_models=files,
        openai_endpoints=tuple(parse_endpoint(line) for line in endpoints or ()),
    )


def _provider(name: str, settings: BuiltinSettings) -> Provider:
    provider = make_provider(name, settings)
    if provider is None:
        raise ProviderError(f"unknown provider {name!r} (a model is named provider/name)")
    return provider


def resolve_models(
    ids: Sequence[str],
    settings: BuiltinSettings | None = None,
    providers: Mapping[str, Provider] | None = None,
) -> list[Resolved]:
    """Each model id's provider and model, loaded; ``ProviderError`` with one clear line
    when a provider is unknown or unusable or does not offer the model.

    ``providers``: provider instances to use by name (tests: a scripted provider).
    """
    settings = settings or BuiltinSettings()
    made: dict[str, Provider] = dict(providers or {})
    found: list[Resolved] = []
    for model_id in ids:
        name, slash, model = model_id.partition("/")
        if not slash or not model:
            raise ProviderError(f"{model_id!r}: a model is named provider/name")
        if name not in made:
            made[name] = _provider(name, settings)
        provider = made[name]
        discovery = provider.discover()
        if discovery.problem:
            hint = f" ({discovery.hint})" if discovery.hint else ""
            raise ProviderError(f"{model_id}: {discovery.problem}{hint}")
        info = next((m for m in discovery.models if m.id == model_id), None)
        if info is None:
            offered = ", ".join(m.id for m in discovery.models[:10]) or "none"
            raise ProviderError(f"{model_id}: not offered by {name} (offered: {offered})")
        load = getattr(provider, "load", None)
        if load is not None:
            load(info.name)
        found.append((provider, info))
    return found
