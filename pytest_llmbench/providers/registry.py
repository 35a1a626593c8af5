"""The provider registry: the providers of one run, by name, found through entry points."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points

from pytest_llmbench.providers.base import (
    BuiltinSettings,
    Discovery,
    Provider,
    ProviderSettings,
)
from pytest_llmbench.safety.redaction import redact

__all__ = [
    "ENTRY_POINT_GROUP",
    "ProviderRegistry",
    "entry_point_providers",
    "make_provider",
    "register_entry_points",
]

ENTRY_POINT_GROUP = "pytest_llmbench.providers"


def entry_point_providers(settings: BuiltinSettings) -> Iterator[Provider]:
    """Instantiate every provider advertised in the entry-point group.

    The built-in providers (this package's) get the built-in settings; any other gets
    only the general settings and its own options (:meth:`BuiltinSettings.for_provider`).
    """
    for ep in _provider_entry_points():
        yield _instantiate(ep, settings)


def register_entry_points(registry: ProviderRegistry) -> None:
    """Add every provider of the entry-point group that ``registry`` has no provider of
    that name for, as :func:`entry_point_providers` makes them.

    A built-in provider (this package's, its name its entry point's) is added deferred:
    its module is imported when the run first asks for it, so a run of Ollama models
    imports neither the embedded nor the OpenAI-compatible provider.  Any other is made
    now (its name is known only from the instance)."""
    for ep in _provider_entry_points():
        if not _builtin(ep):
            provider = _instantiate(ep, registry.settings)
            if provider.name not in registry:
                registry.add(provider)
        elif ep.name not in registry:
            registry.add_deferred(ep.name, functools.partial(_instantiate, ep, registry.settings))


@functools.cache
def _provider_entry_points() -> tuple[EntryPoint, ...]:
    """The group's entry points by name, read once a process (every installed
    distribution's metadata is scanned for them)."""
    return tuple(sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name))


def _builtin(ep: EntryPoint) -> bool:
    return ep.value.startswith(f"{__package__}.")


def _instantiate(ep: EntryPoint, settings: BuiltinSettings) -> Provider:
    """The entry point's provider: a built-in one (this package's) gets the built-in
    settings, any other only the general settings and its own options."""
    cls = ep.load()
    provider: Provider = cls(settings if _builtin(ep) else settings.for_provider(ep.name))
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
    for ep in _provider_entry_points():
        if ep.name == name:
            return _instantiate(ep, settings)
    return None


class ProviderRegistry:
    """The providers of one session, by name, with their (cached) discovery."""

    def __init__(self, settings: BuiltinSettings) -> None:
        self.settings = settings
        """The built-in providers' settings (a third-party provider takes
        :meth:`settings_for` its name)."""
        self._providers: dict[str, Provider] = {}
        self._deferred: dict[str, Callable[[], Provider]] = {}
        self._discovery: dict[str, Discovery] = {}

    def settings_for(self, name: str) -> ProviderSettings:
        """What a third-party provider called ``name`` gets: the general settings and its
        own ``llm_provider_options``, not the built-in providers' settings."""
        return self.settings.for_provider(name)

    def add(self, provider: Provider) -> None:
        self._providers[provider.name] = provider
        self._deferred.pop(provider.name, None)
        self._discovery.pop(provider.name, None)

    def add_deferred(self, name: str, make: Callable[[], Provider]) -> None:
        """Add the provider ``name`` that ``make()`` makes when it is first asked for."""
        self._providers.pop(name, None)
        self._deferred[name] = make
        self._discovery.pop(name, None)

    def names(self) -> list[str]:
        return sorted({*self._providers, *self._deferred})

    def get(self, name: str) -> Provider:
        if name in self._deferred:
            self._providers[name] = self._deferred.pop(name)()
        return self._providers[name]

    def __contains__(self, name: object) -> bool:
        return name in self._providers or name in self._deferred

    def discover(self, name: str) -> Discovery:
        """Ask one provider for its models (once per session)."""
        if name not in self._discovery:
            try:
                found = self.get(name).discover()
            except Exception as exc:  # a third-party provider must not break the run
                found = Discovery(problem=redact(f"{name}: model discovery failed: {exc}"))
            self._discovery[name] = found
        return self._discovery[name]
