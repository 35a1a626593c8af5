"""A scripted provider, for testing hooks, checks and case files without a model.

Register it from a ``conftest.py``::

    from pytest_llmbench.providers.scripted import ScriptedProvider

    def pytest_llmbench_register_providers(registry, config):
        registry.add(ScriptedProvider("fake", {
            "always-pass": lambda request: '{"verdict": "PASS"}',
        }))

then run ``pytest evals/ --llm-models=fake``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pytest_llmbench.providers.base import Discovery, ModelInfo, ProviderError, Request, Response

__all__ = ["Answer", "ScriptedProvider"]

Answer = Callable[[Request], str]
"""Returns the answer text for a request; may raise :class:`ProviderError`."""


@dataclass
class ScriptedProvider:
    """Answers with a function per model; optional fixed latency per model (seconds).

    ``remote=True`` makes it behave like a server-backed provider: the plugin sends the
    next case's request ahead, on its pipeline thread (see
    :mod:`pytest_llmbench.execution.pipeline`).
    """

    name: str
    answers: Mapping[str, Answer]
    latency_s: Mapping[str, float] = field(default_factory=dict)
    remote: bool = False
    calls: list[tuple[str, Request]] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    unloads: list[str] = field(default_factory=list)

    def discover(self) -> Discovery:
        return Discovery(tuple(ModelInfo(self.name, m) for m in self.answers))

    def load(self, name: str) -> float | None:
        self.loads.append(name)
        return 0.0

    def unload(self, name: str) -> None:
        self.unloads.append(name)

    def generate(self, request: Request) -> Response:
        self.calls.append((request.model, request))
        try:
            answer = self.answers[request.model]
        except KeyError:
            raise ProviderError(f"model {request.model!r} not found") from None
        delay = self.latency_s.get(request.model, 0.0)
        if delay:
            time.sleep(delay)
        text = answer(request)
        return Response(
            text=text, completion_tokens=len(text.split()) or None, eval_ms=delay * 1000.0 or None
        )
