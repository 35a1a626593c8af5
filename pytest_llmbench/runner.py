"""One call: build the request, time the provider, score the answer, make the record.

No pytest here: the item in :mod:`collect` passes in the scorer (the hook) and,
when pytest-benchmark is active, a wrapper that records the call through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .cases import Case, Task
from .providers.base import ModelInfo, Provider, ProviderError, Request, Response
from .results import Result
from .scoring import Score

__all__ = [
    "Call",
    "Scorer",
    "Wrapper",
    "answer_ms",
    "build_request",
    "call_provider",
    "make_result",
    "run",
]

Scorer = Callable[[Task, Case, str], Score]
Wrapper = Callable[[Callable[[], Response]], Response]
"""Runs the zero-argument call once and returns its response (pytest-benchmark's pedantic)."""


@dataclass(frozen=True)
class Call:
    """What came back from one provider call."""

    response: Response | None
    latency_ms: float | None
    error: str | None = None


def build_request(task: Task, case: Case, model: ModelInfo, timeout_s: float) -> Request:
    return Request(
        model=model.name,
        prompt=case.prompt,
        system=case.system,
        options=task.options,
        json_schema=task.output.request_schema(),
        timeout_s=timeout_s,
    )


def call_provider(provider: Provider, request: Request, wrapper: Wrapper | None = None) -> Call:
    """Send the request and time it (wall clock); a ProviderError becomes ``Call.error``."""
    timing: dict[str, float] = {}

    def call() -> Response:
        start = time.perf_counter()
        try:
            return provider.generate(request)
        finally:
            timing["ms"] = (time.perf_counter() - start) * 1000.0

    try:
        response = wrapper(call) if wrapper is not None else call()
    except ProviderError as exc:
        return Call(None, timing.get("ms"), str(exc))
    return Call(response, timing.get("ms"))


def make_result(
    task: Task,
    case: Case,
    model: ModelInfo,
    repeat: int,
    call: Call,
    score: Score,
    cold_start_ms: float | None = None,
) -> Result:
    response = call.response
    is_verdict = task.output.kind == "verdict"
    return Result(
        task=task.name,
        case_id=case.id,
        model=model.id,
        repeat=repeat,
        expected=case.expected.describe(),
        got=score.got,
        correct=score.correct and call.error is None,
        reason=score.reason,
        latency_ms=answer_ms(call.latency_ms, response),
        load_ms=response.load_ms if response else None,
        prompt_eval_ms=response.prompt_eval_ms if response else None,
        eval_ms=response.eval_ms if response else None,
        total_ms=response.total_ms if response else None,
        prompt_tokens=response.prompt_tokens if response else None,
        completion_tokens=response.completion_tokens if response else None,
        tokens_per_s=response.tokens_per_s if response else None,
        error=call.error,
        prompt_hash=case.prompt_hash,
        host=response.host if response else None,
        kind=task.output.kind,
        expected_label=case.expected.verdict,
        got_label=score.label,
        pass_label=task.pass_label if is_verdict else None,
        difficulty=case.difficulty,
        wall_ms=call.latency_ms,
        queue_ms=response.queue_ms if response else None,
        cold_start_ms=cold_start_ms,
        retries=response.retries if response else 0,
    )


def answer_ms(wall_ms: float | None, response: Response | None) -> float | None:
    """The warm answer time: wall time minus the load and the retries the call included.

    A model evicted mid-run (another client, a too-small keep-alive) is loaded again
    inside the call; the server reports that as ``load_duration``, which is taken out
    so that a load never counts as answer time.  Never negative.
    """
    if wall_ms is None or response is None:
        return wall_ms
    return max(0.0, wall_ms - (response.load_ms or 0.0) - (response.retry_ms or 0.0))


def run(
    provider: Provider,
    task: Task,
    case: Case,
    model: ModelInfo,
    repeat: int,
    *,
    scorer: Scorer,
    timeout_s: float,
    cold_start_ms: float | None = None,
    wrapper: Wrapper | None = None,
) -> Result:
    """The whole harness for one (task, case, model, repeat)."""
    call = call_provider(provider, build_request(task, case, model, timeout_s), wrapper)
    if call.response is None:
        score = Score(False, "", call.error or "no answer")
    else:
        score = scorer(task, case, call.response.text)
    return make_result(task, case, model, repeat, call, score, cold_start_ms)
