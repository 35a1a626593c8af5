"""Changed models: whether a registered model's weights are still the ones the benchmark
measured.

An ``ollama pull`` replaces the weights under the same tag; a GGUF file is swapped; an
endpoint serves another model under the name.  The registry records each benchmarked
model's identity (:attr:`~pytest_llmbench.storage.champions.Evidence.identity`); before a
model's first use in a process the router asks its provider for the identity now
(:func:`~pytest_llmbench.providers.identity.current_identity`: Ollama's ``/api/tags``,
``GET /models``, the file hash) within :data:`CHECK_TIMEOUT_S`, once per process per model
and host, whatever the number of routers.  A check that fails, or an identity not known on
either side, gives no verdict: the call goes on as usual.

A changed model is

- a warning (:class:`ModelChanged`, a ``UserWarning``), once per process per task and
  model, naming the task, the model, the registry's
  identity and the one now, and how to re-benchmark;
- ``model_changed: true`` on the feedback lines of calls to it;
- with ``on_change: fall_over`` in the task's case file, skipped as if its circuit were
  open (outcome ``circuit_open``), until the registry records its identity again (a
  re-benchmark with ``--llm-update-registry``; the router reloaded: ``llmbench serve``
  does so when the file changes).

Pure apart from the provider's check; :class:`IdentityWatch` is shared, like the circuit
breaker, by a router and the routers :meth:`~pytest_llmbench.router.core.Router.reloaded`
makes from it.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_llmbench.providers.base import Provider

if TYPE_CHECKING:
    from pytest_llmbench.storage.champions import RegistryEntry

__all__ = [
    "CHECK_TIMEOUT_S",
    "RERUN",
    "IdentityWatch",
    "ModelChanged",
    "Verdict",
    "changed",
    "forget",
]

CHECK_TIMEOUT_S = 2.0
"""How long the check of one model may take before it gives no verdict."""
RERUN = "re-run the benchmark: pytest evals/ --llm-models=new"

_logger = logging.getLogger("pytest_llmbench.router")


class ModelChanged(UserWarning):
    """A registered model whose weights are not the ones the benchmark measured."""


def changed(recorded: str | None, now: str | None) -> bool | None:
    """Whether the model changed: ``True``/``False``; ``None`` (no verdict) when either
    identity is not known."""
    if not recorded or not now:
        return None
    return recorded != now


def short(identity: str | None) -> str:
    """An identity as a person reads it: ``sha256:`` left out, 12 characters."""
    text = (identity or "-").removeprefix("sha256:")
    return text[:12] if ":" not in text and ";" not in text else text[:40]


@dataclass(frozen=True)
class Verdict:
    """One model of one task: the registry's identity, the one now, what to do."""

    task: str
    model: str
    recorded: str | None
    now: str | None
    on_change: str = "warn"

    @property
    def changed(self) -> bool:
        return changed(self.recorded, self.now) is True

    @property
    def skip(self) -> bool:
        """Whether the call skips the model (changed, and the task says ``fall_over``)."""
        return self.changed and self.on_change == "fall_over"

    def to_dict(self) -> dict[str, object]:
        """For ``/healthz``: the model, ``changed`` (``null``: not known), both identities."""
        return {
            "model": self.model,
            "changed": changed(self.recorded, self.now),
            "registry": self.recorded,
            "now": self.now,
        }

    @property
    def message(self) -> str:
        return (
            f"llmbench: task {self.task}: model {self.model} changed since the benchmark "
            f"(registry {short(self.recorded)}, now {short(self.now)}); {RERUN}"
        )


# Per process: the identity of each (host, model) now, asked once; the warnings given.
_NOW: dict[tuple[str, str], str | None] = {}
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_WARNED: set[tuple[str, str]] = set()
_GUARD = threading.Lock()


def forget() -> None:
    """Forget every identity asked and warning given in this process (tests; a long
    process that wants to check again)."""
    with _GUARD:
        _NOW.clear()
        _LOCKS.clear()
        _WARNED.clear()


class IdentityWatch:
    """The identity check of a router's models (thread-safe).

    :param provider: the provider of a name (the router's, made on first use).
    :param host: where a model runs (part of the once-per-process key).
    :param entries: the registry's entries (their recorded identities).
    :param timeout_s: the bound on one check.
    """

    def __init__(
        self,
        provider: Callable[[str], Provider],
        host: Callable[[str], str],
        entries: Mapping[str, RegistryEntry],
        timeout_s: float = CHECK_TIMEOUT_S,
    ) -> None:
        self._provider = provider
        self._host = host
        self.entries = dict(entries)
        self.timeout_s = timeout_s

    def update(self, entries: Mapping[str, RegistryEntry]) -> None:
        """The registry as it is now (a reloaded router): a re-benchmarked model's
        identity matches again."""
        self.entries = dict(entries)

    def recorded(self, task: str, model: str) -> str | None:
        """The identity the registry records for ``model`` in ``task`` (``None``: none)."""
        entry = self.entries.get(task)
        if entry is None:
            return None
        for evidence in (entry.champion, entry.runner_up):
            if evidence is not None and evidence.model == model:
                return evidence.identity
        return None

    def verdict(self, task: str, model: str, on_change: str = "warn") -> Verdict:
        """``model``'s verdict in ``task`` (the check made on its first use in the
        process); a changed model is warned about once per process."""
        recorded = self.recorded(task, model)
        now = self.now(model) if recorded else None  # nothing to compare: no check
        verdict = Verdict(task, model, recorded, now, on_change)
        if verdict.changed:
            _warn_once(verdict)
        return verdict

    def now(self, model: str) -> str | None:
        """``model``'s identity now: asked on its first use in the process, then kept."""
        try:
            key = (self._host(model), model)
        except Exception:
            return None
        with _GUARD:
            if key in _NOW:
                return _NOW[key]
            lock = _LOCKS.setdefault(key, threading.Lock())
        with lock:  # one check per model; its other first callers wait for it
            with _GUARD:
                if key in _NOW:
                    return _NOW[key]
            found = self._ask(model)
            with _GUARD:
                _NOW[key] = found
            return found

    def _ask(self, model: str) -> str | None:
        from pytest_llmbench.providers.identity import current_identity

        provider_name, _, name = model.partition("/")
        try:
            return current_identity(self._provider(provider_name), name, self.timeout_s)
        except Exception as exc:  # unknown identity: no verdict, the call goes on
            _logger.debug("identity of %s not known: %s", model, exc)
            return None


def _warn_once(verdict: Verdict) -> None:
    key = (verdict.task, verdict.model)
    with _GUARD:
        if key in _WARNED:
            return
        _WARNED.add(key)
    warnings.warn(ModelChanged(verdict.message), stacklevel=2)
