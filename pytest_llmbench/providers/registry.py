"""The provider registry: the providers of one run, by name, found through entry points."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint, entry_points

from pytest_llmbench.providers.base import (
    BuiltinSettings,
    Discovery,
    Provider,
    ProviderSettings,
)
from pytest_llmbench.safety.redaction import redact

__all__ = ["ENTRY_POINT_GROUP", "ProviderRegistry", "entry_point_providers", "make_provider"]

ENTRY_POINT_GROUP = "pytest_llmbench.providers"


def entry_point_providers(settings: BuiltinSettings) -> Iterator[Provider]:
    """Instantiate every provider advertised in the entry-point group.

    The built-in providers (this package's) get the built-in settings; any other gets
    only the general settings and its own options (:meth:`BuiltinSettings.for_provider`).
    """
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        yield _instantiate(ep, settings)


def _instantiate(ep: EntryPoint, settings: BuiltinSettings) -> Provider:
    """The entry point's provider: a built-in one (this package's) gets the built-in
    settings, any other only the general settings and its own options."""
    cls = ep.load()
    builtin = ep.value.startswith(f"{__package__}.")
    provider: Provider = cls(settings if builtin else settings.for_provider(ep.name))
    return provider


def make_provider(name: str, settings: BuiltinSettings) -> Provider | None:
    """The one provider called ``name``, its SDK imported now and no other's.

    An OpenAI-compatible endpoint of that name in ``settings`` first, else the
    entry point of that name; ``None`` when there is neither.
    """
    for endpoint in settings.openai_endpoints:
        if endpoint.name == name:
            from pytest_llmbench.providers.openai import OpenAIProvider

            return OpenAIProvider(settings, endpoint)
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        return _instantiate(ep, settings)
    return None


class ProviderRegistry:
    """The providers of one session, by name, with their (cached) discovery."""

    def __init__(self, settings: BuiltinSettings) -> None:
        self.settings = settings
        """The built-in providers' settings (a third-party provider takes
        :meth:`settings_for` its name)."""
        self._providers: dict[str, Provider] = {}
        self._discovery: dict[str, Discovery] = {}

    def settings_for(self, name: str) -> ProviderSettings:
        """What a third-party provider called ``name`` gets: the general settings and its
        own ``llm_provider_options``, not the built-in providers' settings."""
        return self.settings.for_provider(name)

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
