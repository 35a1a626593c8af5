"""One model's call in a router call: the provider and host of a model, the request
built and the answer read as the benchmark does, the circuit breaker asked before and
told after, and the fall-over along a task's chain of models.

:class:`ModelCalls` is shared by a router and the routers :meth:`Router.reloaded
<pytest_llmbench.router.core.Router.reloaded>` makes from it: its providers (their
connections) behind a lock, and the breaker, which has its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from pytest_llmbench.formatting import one_line
from pytest_llmbench.providers.base import BuiltinSettings, ModelInfo, Provider, ProviderError
from pytest_llmbench.providers.registry import ProviderRegistry, make_provider
from pytest_llmbench.router.breaker import CircuitBreaker
from pytest_llmbench.router.identity import IdentityWatch
from pytest_llmbench.router.results import Attempt, RouterResult, answer, no_answer, timed_out
from pytest_llmbench.safety.redaction import redact

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pytest_llmbench.cases.records import Case, Task

__all__ = ["SKIPPED", "ModelCalls"]

SKIPPED = "skipped: model changed since the benchmark (on_change: fall_over); re-benchmark it"


class ModelCalls:
    """The calls to the models of a router (safe to share between threads).

    :param settings: for the providers made here (hosts, timeout, retries, endpoints).
    :param breaker: the circuit breaker of the router's models.
    :param providers: providers to use instead of those installed (by ``name``); others
        are made from the entry points on first use.
    """

    def __init__(
        self, settings: BuiltinSettings, breaker: CircuitBreaker, providers: Iterable[Provider]
    ) -> None:
        self.settings = settings
        self.breaker = breaker
        self._providers = ProviderRegistry(settings)
        for provider in providers:
            self._providers.add(provider)
        self._lock = threading.Lock()
        self.identity: IdentityWatch | None = None
        """Whether a model changed since the benchmark (:mod:`~pytest_llmbench.router.identity`)."""

    def first_answer(
        self, task: Task, case: Case, chain: list[str], attempts: list[Attempt], started: float
    ) -> RouterResult:
        """The answer of the first model of ``chain`` that answers (each try appended to
        ``attempts``); :class:`~pytest_llmbench.router.results.NoAnswer` when none does."""
        for attempt in self.attempts(task, case, chain):
            attempts.append(attempt)
            if attempt.ok:
                return answer(task, attempt, attempts, started, attempt.fell_over_from)
        raise no_answer(task.name, attempts)

    def attempts(self, task: Task, case: Case, chain: list[str]) -> Iterator[Attempt]:
        """Each model of the chain asked in turn (skipped while its circuit is open)."""
        failed: list[str] = []
        for model in chain:
            attempt = self.attempt(task, case, model, tuple(failed))
            if attempt.outcome != "circuit_open" and not attempt.ok:
                failed.append(model)
            yield attempt

    def attempt(self, task: Task, case: Case, model: str, failed: tuple[str, ...]) -> Attempt:
        """``model`` asked unless its circuit is open; the breaker told how it went."""
        if not self.breaker.allows(model):
            wait = self.breaker.retry_in(model)
            return Attempt(
                model,
                "circuit_open",
                detail=f"skipped: circuit open, tried again in {wait:.0f} s",
                fell_over_from=failed,
            )
        verdict = self.identity.verdict(task.name, model, task.on_change) if self.identity else None
        if verdict is not None and verdict.skip:
            return Attempt(
                model, "circuit_open", detail=SKIPPED, fell_over_from=failed, changed=True
            )
        changed = verdict is not None and verdict.changed
        attempt = replace(self.ask(task, case, model), fell_over_from=failed, changed=changed)
        self.breaker.record(model, attempt.ok, retry_after_s=attempt.retry_after_s)
        return attempt

    def ask(self, task: Task, case: Case, model: str) -> Attempt:
        """One call, built and read exactly as the benchmark builds and reads it."""
        from pytest_llmbench.execution.call import build_request, call_provider
        from pytest_llmbench.execution.scoring import parse_answer

        provider_name, _, name = model.partition("/")
        try:
            provider = self.provider(provider_name)
            request = build_request(
                task, case, ModelInfo(provider_name, name), self.settings.timeout_s
            )
            call = call_provider(provider, request)
        except Exception as exc:  # a provider that breaks must not break production
            detail = (
                redact(str(exc))
                if isinstance(exc, ProviderError)
                else (f"{type(exc).__name__}: {redact(str(exc))}")
            )
            return Attempt(model, "error", detail=one_line(detail))
        if call.response is None:
            detail = call.error or "no answer"
            outcome = "timeout" if timed_out(detail) else "error"
            return Attempt(
                model,
                outcome,
                call.latency_ms,
                one_line(detail),
                retry_after_s=call.retry_after_s,
            )
        text = call.response.text
        value, problem = parse_answer(task.output, text)
        if problem:
            return Attempt(model, "unparseable", call.latency_ms, problem, text)
        return Attempt(model, "ok", call.latency_ms, "", text, value)

    def provider(self, name: str) -> Provider:
        """The provider ``name``, made from its entry point on first use."""
        with self._lock:
            if name not in self._providers:
                made = make_provider(name, self.settings)
                if made is None:
                    raise ProviderError(f"no provider {name!r} is installed")
                self._providers.add(made)
            return self._providers.get(name)

    def host(self, model: str) -> str:
        """Where a model runs: its server for a remote provider, else this process."""
        provider_name, _, name = model.partition("/")
        try:
            provider = self.provider(provider_name)
        except Exception:
            return f"unknown:{provider_name}"
        if not getattr(provider, "remote", False):
            return "local"
        host_for = getattr(provider, "host_for", None)
        if callable(host_for):
            try:
                return str(host_for(name))
            except Exception:
                return provider_name
        return provider_name
