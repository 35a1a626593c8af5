"""One call: build the request, time the provider, score the answer, make the record.

No pytest here: the item in :mod:`collect` passes in the scorer (the hook) and,
when pytest-benchmark is active, a wrapper that records the call through it; and,
when ``--llm-cache`` is on, the response cache (a cached answer is scored like a
live one, but its result is marked ``cached`` and carries no timing).
Every string that reaches the result record is redacted (API keys, Authorization).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .cache import NOT_CACHED, ResponseCache
from .cases import Case, Task
from .pricing import PriceTable
from .providers.base import ModelInfo, Provider, ProviderError, Request, Response
from .redaction import redact
from .results import Result
from .scoring import Score

__all__ = [
    "Call",
    "Scorer",
    "Wrapper",
    "build_request",
    "cached_call",
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
    cached: bool = False


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
    """Send the request and time it (wall clock); a ProviderError becomes ``Call.error``.

    Time the provider spent before the attempt that answered (``Response.retry_ms``:
    rate-limit and backoff waits) is left out of the latency.
    """
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
        return Call(None, timing.get("ms"), redact(str(exc)))
    latency = timing.get("ms")
    if latency is not None and response.retry_ms:
        latency = max(0.0, latency - response.retry_ms)
    return Call(response, latency)


def cached_call(
    cache: ResponseCache, model: ModelInfo, request: Request, repeat: int = 1
) -> Call | None:
    """The answer from the cache, if the mode reads it; a miss in ``read`` mode is an error."""
    if not cache.reads:
        return None
    entry = cache.get(model, request, repeat)
    if entry is not None:
        return Call(entry.response, None, cached=True)
    if cache.offline:
        return Call(None, None, f"{NOT_CACHED}; record it with --llm-cache=write or readwrite")
    return None


def make_result(
    task: Task,
    case: Case,
    model: ModelInfo,
    repeat: int,
    call: Call,
    score: Score,
    load_ms: float | None = None,
    prices: PriceTable | None = None,
) -> Result:
    response = call.response
    is_verdict = task.output.kind == "verdict"
    if load_ms is None and response is not None:
        load_ms = response.load_ms
    timed = response if response is not None and not call.cached else None
    cost = None
    if prices is not None and timed is not None:
        cost = prices.cost(model.id, timed.prompt_tokens, timed.completion_tokens)
    return Result(
        task=task.name,
        case_id=case.id,
        model=model.id,
        repeat=repeat,
        expected=case.expected.describe(),
        got=redact(score.got),
        correct=score.correct and call.error is None,
        reason=redact(score.reason),
        latency_ms=None if call.cached else call.latency_ms,
        load_ms=None if call.cached else load_ms,
        prompt_eval_ms=timed.prompt_eval_ms if timed else None,
        eval_ms=timed.eval_ms if timed else None,
        total_ms=timed.total_ms if timed else None,
        prompt_tokens=response.prompt_tokens if response else None,
        completion_tokens=response.completion_tokens if response else None,
        tokens_per_s=timed.tokens_per_s if timed else None,
        error=redact(call.error) if call.error else None,
        prompt_hash=case.prompt_hash,
        host=response.host if response else None,
        kind=task.output.kind,
        expected_label=case.expected.verdict,
        got_label=score.label,
        pass_label=task.pass_label if is_verdict else None,
        difficulty=case.difficulty,
        cached=call.cached,
        cost_usd=cost,
        structured=response.structured if response else None,
    )


def run(
    provider: Provider,
    task: Task,
    case: Case,
    model: ModelInfo,
    repeat: int,
    *,
    scorer: Scorer,
    timeout_s: float,
    load_ms: float | None = None,
    wrapper: Wrapper | None = None,
    cache: ResponseCache | None = None,
    prices: PriceTable | None = None,
) -> Result:
    """The whole harness for one (task, case, model, repeat)."""
    request = build_request(task, case, model, timeout_s)
    call = cached_call(cache, model, request, repeat) if cache is not None else None
    if call is None:
        call = call_provider(provider, request, wrapper)
        if cache is not None and cache.writes and call.response is not None:
            cache.put(model, request, call.response, call.latency_ms, repeat)
    if call.response is None:
        score = Score(False, "", call.error or "no answer")
    else:
        score = scorer(task, case, call.response.text)
    return make_result(task, case, model, repeat, call, score, load_ms, prices)
