"""The provider registry: the providers of one run, by name, found through entry points."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import entry_points

from pytest_llmbench.providers.base import (
    Discovery,
    Provider,
    ProviderSettings,
)
from pytest_llmbench.providers.redaction import redact

__all__ = ["ENTRY_POINT_GROUP", "ProviderRegistry", "entry_point_providers", "make_provider"]

ENTRY_POINT_GROUP = "pytest_llmbench.providers"


def entry_point_providers(settings: ProviderSettings) -> Iterator[Provider]:
    """Instantiate every provider advertised in the entry-point group."""
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        cls = ep.load()
        yield cls(settings)


def make_provider(name: str, settings: ProviderSettings) -> Provider | None:
    """The one provider called ``name``, its SDK imported now and no other's.

    An OpenAI-compatible endpoint of that name in ``settings`` first, else the
    entry point of that name; ``None`` when there is neither.
    """
    for endpoint in settings.openai_endpoints:
        if endpoint.name == name:
            from pytest_llmbench.providers.openai import OpenAIProvider

            return OpenAIProvider(settings, endpoint)
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        cls = ep.load()
        provider: Provider = cls(settings)
        return provider
    return None


class ProviderRegistry:
    """The providers of one session, by name, with their (cached) discovery."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self._providers: dict[str, Provider] = {}
        self._discovery: dict[str, Discovery] = {}

    def add(self, provider: Provider) -> None:
        self._providers[provider.name] = provider
        self._discovery.pop(provider.name, None)

    def names(self) -> list[str]:
        return sorted(self._providers)

    def get(self, name: str) -> Provider:
        return self._providers[name]

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def discover(self, name: str) -> Discovery:
        """Ask one provider for its models (once per session)."""
        if name not in self._discovery:
            try:
                found = self._providers[name].discover()
            except Exception as exc:  # a third-party provider must not break the run
                found = Discovery(problem=redact(f"{name}: model discovery failed: {exc}"))
            self._discovery[name] = found
        return self._discovery[name]
