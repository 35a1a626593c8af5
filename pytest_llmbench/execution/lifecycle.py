"""Which models are loaded in this process, and the calls sent ahead for them.

:class:`ModelLifecycle` loads a model before its first case and unloads it after its
last (unless ``--llm-keep-loaded``); for a remote model it queues the next call, and
the switch to the next model, on the :class:`~pytest_llmbench.execution.pipeline.Pipeline`.
It knows the run only through plain values: the providers, the models the selection
resolved, the response cache and :class:`LifecycleSettings`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass

from pytest_llmbench.execution.cache import ResponseCache
from pytest_llmbench.execution.call import Call
from pytest_llmbench.execution.pipeline import Pipeline, worth_sending_ahead
from pytest_llmbench.providers.base import ModelInfo, ModelNotFound, ProviderError
from pytest_llmbench.providers.registry import ProviderRegistry

__all__ = ["LifecycleSettings", "ModelLifecycle", "Planned", "call_in_turn"]


@dataclass(frozen=True)
class LifecycleSettings:
    """What loading, unloading and sending ahead depend on (from the run's options)."""

    keep_loaded: bool = False
    prefetch: bool = True
    timeout_s: float | None = None


_NOT_LOADED = object()


class ModelLifecycle:
    """Which models are loaded in this process, and the calls sent ahead for them."""

    def __init__(
        self,
        providers: Callable[[], ProviderRegistry],
        resolved: Callable[[], Mapping[str, ModelInfo]],
        cache: ResponseCache,
        settings: LifecycleSettings,
    ) -> None:
        self._providers = providers
        self._resolved = resolved
        self.options = settings
        self.cache = cache
        self.loaded: dict[str, float | None] = {}
        """Models loaded in this process (and not unloaded since): id -> cold start ms."""
        self.unavailable: dict[str, str] = {}
        """Models the server does not have: id -> the reason their items are skipped."""
        self.loads: list[str] = []
        """Every model this process loaded, in order (an xdist worker reports it)."""
        self.pipeline: Pipeline[Call | None] = Pipeline()
        """Calls to remote models, one at a time, the next sent before pytest is done."""
        self.first_call: dict[str, float | None] = {}
        """Models loaded whose first call is still to come: id -> load ms (the cold start)."""
        self._switches: dict[str, tuple[str, Future[Call | None]]] = {}
        """Model id -> its load (and the previous model's unload) queued on the pipeline."""
        self._handed_over: set[str] = set()
        """Models whose unload the pipeline does (pytest's thread must not)."""
        self._last_answer_ms: dict[str, float | None] = {}
        """Model id -> the wall time of its last call made now (``None``: from the cache)."""
        self._lock = threading.Lock()

    def answered(self, model: ModelInfo, call: Call) -> None:
        """Note how long ``model``'s last call took (it decides :meth:`sends_ahead`)."""
        if call.cached:
            self._last_answer_ms[model.id] = 0.0  # a local lookup: nothing to overlap
        elif call.error is None:
            self._last_answer_ms[model.id] = call.latency_ms

    def sends_ahead(self, model: ModelInfo) -> bool:
        """Whether ``model``'s calls go through the pipeline now (see the pipeline module:
        a model answering in under 2 ms is called inline)."""
        return self.pipelined(model) and worth_sending_ahead(self._last_answer_ms.get(model.id))

    def ensure_loaded(self, model: ModelInfo) -> None:
        """Load a model before its first case in this process; its load time goes to
        ``first_call`` (the cold start of the model's first result).

        A model the server does not have goes into ``unavailable`` (its items are
        skipped); any other load failure is left for the first call to report.
        """
        if model.id in self.loaded or model.id in self.unavailable:
            return
        if self.cache.offline:  # answers come from the cache: nothing to load
            self.loaded[model.id] = None
            self.first_call[model.id] = None
            return
        provider = self._providers().get(model.provider)
        load = getattr(provider, "load", None)
        load_ms: float | None = None
        if callable(load):
            try:
                load_ms = load(model.name)
            except ModelNotFound as exc:
                self.unavailable[model.id] = str(exc)
                return
            except ProviderError:
                load_ms = None  # the call itself says what is wrong, as a failed case
        self.loaded[model.id] = load_ms
        self.first_call[model.id] = load_ms
        self.loads.append(model.id)

    def cold_start(self, model: ModelInfo) -> tuple[bool, float | None]:
        """Whether this is ``model``'s first call since its load, and the load's ms
        (the cold start of its first result); asked once per call."""
        cold = model.id in self.first_call
        return cold, self.first_call.pop(model.id, None)

    def release(self, model: ModelInfo) -> None:
        """Unload a model after its last case here (unless ``--llm-keep-loaded``).

        Nothing to do when the pipeline unloads it (see :meth:`switch_ahead`).
        An unload that fails (server gone) is ignored: nothing is left to free.
        """
        with self._lock:
            if model.id in self._handed_over:
                return
        self._release(model)

    def _release(self, model: ModelInfo) -> None:
        if self.options.keep_loaded or self.loaded.pop(model.id, _NOT_LOADED) is _NOT_LOADED:
            return
        if self.cache.offline:  # nothing was loaded: the answers came from the cache
            return
        provider = self._providers().get(model.provider)
        unload = getattr(provider, "unload", None)
        if callable(unload):
            with contextlib.suppress(ProviderError):
                unload(model.name)

    def switch_ahead(self, current: ModelInfo, following: ModelInfo) -> None:
        """Queue on the pipeline: unload ``current`` after its last call, load ``following``.

        The item before a model switch calls this before it waits for its own answer,
        so the server goes from one model's last answer to the next model's load, and
        on to its first case, without waiting for pytest; one request at a time all
        the same.  The next model's first item waits for it (:meth:`await_switch`).
        """
        with self._lock:
            self._handed_over.add(current.id)

        def job() -> None:
            try:
                self._release(current)
            finally:
                with self._lock:
                    self._handed_over.discard(current.id)
            self.ensure_loaded(following)

        key = f"switch:{current.id}->{following.id}"
        self._switches[following.id] = (key, self.pipeline.submit(key, job))

    def await_switch(self, model: ModelInfo) -> None:
        """Wait for a load of ``model`` queued by :meth:`switch_ahead` (if there is one)."""
        queued = self._switches.pop(model.id, None)
        if queued is not None:
            key, future = queued
            self.pipeline.take(key)
            self.pipeline.wait(future)

    def pipelined(self, model: ModelInfo) -> bool:
        """Whether this model's calls go through the pipeline (a remote model, prefetch on)."""
        if not self.options.prefetch:
            return False
        provider = self._providers().get(model.provider)
        return getattr(provider, "remote", False) is True

    def release_all(self) -> None:
        """Unload every model still loaded (a run stopped early: ``-x``, Ctrl-C).

        A request sent ahead for an item that will not run is cancelled first (one
        already on the wire is left to end on its own: the worker is not waited for).
        """
        self.pipeline.close()
        for _, future in list(self._switches.values()):  # a load on its way: let it land
            with contextlib.suppress(Exception):  # cancelled, failed or too slow
                future.result(timeout=self.options.timeout_s)
        self._switches.clear()
        with self._lock:  # a switch cancelled before it started unloads nothing itself
            self._handed_over.clear()
        models = self._resolved()
        for model_id in list(self.loaded):
            if model_id in models:
                self.release(models[model_id])


@dataclass(frozen=True)
class Planned:
    """A call the pipeline may send: its key (the item's node id), its model, and how to
    make it (built only when it is made or sent)."""

    key: str
    model: ModelInfo
    fetch: Callable[[], Callable[[], Call]]


def call_in_turn(
    lifecycle: ModelLifecycle, own: Planned, following: Callable[[], Planned | None]
) -> Call:
    """An item's answer; a remote model's goes through the pipeline.

    Through the pipeline, the item first makes sure its own request is queued (the
    item before it has usually sent it already), then queues the next item's, then
    waits: the server answers the next request while pytest records this one.  A
    model whose last answer took under 2 ms is called inline instead (see
    ``execution/pipeline.py``).  ``following`` gives the next item's call when it may
    be sent ahead (``None``: it may not call, or may not need to).
    """
    if not lifecycle.pipelined(own.model):
        return own.fetch()()
    pipeline = lifecycle.pipeline
    future = pipeline.take(own.key)
    inline = future is None and not lifecycle.sends_ahead(own.model)
    if inline:  # a model answering in no time: the thread would cost more than it saves
        call = own.fetch()()
    elif future is None:
        future = pipeline.submit(own.key, own.fetch())
    ahead = following()
    if ahead is not None:
        if ahead.model.id == own.model.id:
            if lifecycle.sends_ahead(own.model):
                pipeline.submit(ahead.key, ahead.fetch())
        elif lifecycle.pipelined(ahead.model):
            lifecycle.switch_ahead(own.model, ahead.model)
            pipeline.submit(ahead.key, ahead.fetch())
    if not inline:
        assert future is not None
        answer = pipeline.wait(future)
        if answer is None:  # pragma: no cover - a load's future is never an item's
            raise RuntimeError("the pipeline returned no call")
        call = answer
    lifecycle.answered(own.model, call)
    return call
