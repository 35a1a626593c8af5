"""One call: build the request, time the provider, score the answer, make the record.

No pytest here: the case item (:mod:`pytest_llmbench.plugin.items`) runs
:func:`prepared_call` (:func:`build_request`, then :func:`fetch` on any thread) and
:func:`finish`, passing in the scorer (the hook) and, when pytest-benchmark is active, a
wrapper that records the call through it; and, when ``--llm-cache`` is on, the response
cache (a cached answer is scored like a live one, but its result is marked ``cached``
and carries no timing).
Every string that reaches the result record is redacted (API keys, Authorization).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.execution.cache import NOT_CACHED, ResponseCache
from pytest_llmbench.execution.prices import PriceTable, call_cost
from pytest_llmbench.execution.results import Result, call_error
from pytest_llmbench.execution.scoring import Score
from pytest_llmbench.providers.base import ModelInfo, Provider, ProviderError, Request, Response
from pytest_llmbench.safety.redaction import redact

__all__ = [
    "Call",
    "Scorer",
    "Wrapper",
    "answer_ms",
    "build_request",
    "cached_call",
    "call_provider",
    "fetch",
    "finish",
    "first_token_ms",
    "make_result",
    "prepared_call",
    "prompt_head",
]

Scorer = Callable[[Task, Case, str], Score]
Wrapper = Callable[[Callable[[], Response]], Response]
"""Runs the zero-argument call once and returns its response (pytest-benchmark's pedantic)."""

clock: Callable[[], float] = time.perf_counter
"""The call timer (seconds).  Tests put a fake clock here that emulated servers advance
by their scripted durations, so that a measured latency does not depend on real sleeps."""


@dataclass(frozen=True)
class Call:
    """What came back from one provider call (or from the cache)."""

    response: Response | None
    latency_ms: float | None
    """Wall time of the call; ``None`` for a cached answer."""
    error: str | None = None
    cached: bool = False
    retry_after_s: float | None = None
    """The wait the server asked for with its error (``ProviderError.retry_after_s``)."""


def build_request(task: Task, case: Case, model: ModelInfo, timeout_s: float) -> Request:
    return Request(
        model=model.name,
        prompt=case.prompt,
        system=case.system,
        options=task.options,
        json_schema=task.output.request_schema(),
        timeout_s=timeout_s,
        prompt_head=prompt_head(task),
    )


_HEADS: dict[int, tuple[Task, str]] = {}
"""``prompt_head`` by task (the task is kept with it, so its id is not reused)."""


def prompt_head(task: Task) -> str:
    """The text every case's prompt of ``task`` starts with: their longest common prefix.

    It is the template's fixed head (and whatever the first values share), the same
    whichever cases are selected or run first: it is computed from all of the task's
    cases, once per task.
    """
    known = _HEADS.get(id(task))
    if known is not None and known[0] is task:
        return known[1]
    prompts = [case.prompt for case in task.cases]
    head = ""
    if prompts:  # the common prefix of all is that of the first and last in sort order
        first, last = min(prompts), max(prompts)
        size = next(
            (i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), len(first)
        )
        head = first[:size]
    _HEADS[id(task)] = (task, head)
    return head


def call_provider(provider: Provider, request: Request, wrapper: Wrapper | None = None) -> Call:
    """Send the request and time it (wall clock); a ProviderError becomes ``Call.error``."""
    timing: dict[str, float] = {}

    def call() -> Response:
        start = clock()
        try:
            return provider.generate(request)
        finally:
            timing["ms"] = (clock() - start) * 1000.0

    try:
        response = wrapper(call) if wrapper is not None else call()
    except ProviderError as exc:
        return Call(None, timing.get("ms"), redact(str(exc)), retry_after_s=exc.retry_after_s)
    return Call(response, timing.get("ms"))


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


def answer_ms(wall_ms: float | None, response: Response | None) -> float | None:
    """The warm answer time: wall time minus the load and the retries the call included.

    A model evicted mid-run (another client, a too-small keep-alive) is loaded again
    inside the call; the server reports that as ``load_duration``, which is taken out
    so that a load never counts as answer time.  Time spent on failed attempts,
    Retry-After and backoff waits (``Response.retry_ms``) is taken out too.  Never negative.
    """
    if wall_ms is None or response is None:
        return wall_ms
    return max(0.0, wall_ms - (response.load_ms or 0.0) - (response.retry_ms or 0.0))


def make_result(
    task: Task,
    case: Case,
    model: ModelInfo,
    repeat: int,
    call: Call,
    score: Score,
    cold_start_ms: float | None = None,
    prices: PriceTable | None = None,
) -> Result:
    response = call.response
    is_verdict = task.output.kind == "verdict"
    # A cached answer was not timed now: no latency, no server timings, no cost.
    timed = response if response is not None and not call.cached else None
    cost = None
    if prices is not None and timed is not None:
        cost = call_cost(prices, model.id, timed.prompt_tokens, timed.completion_tokens)
    return Result(
        task=task.name,
        case_id=case.id,
        model=model.id,
        repeat=repeat,
        expected=case.expected.describe(),
        got=redact(score.got),
        correct=score.correct and call.error is None,
        reason=redact(score.reason),
        latency_ms=None if call.cached else answer_ms(call.latency_ms, response),
        load_ms=timed.load_ms if timed else None,
        prompt_eval_ms=timed.prompt_eval_ms if timed else None,
        eval_ms=timed.eval_ms if timed else None,
        total_ms=timed.total_ms if timed else None,
        prompt_tokens=response.prompt_tokens if response else None,
        completion_tokens=response.completion_tokens if response else None,
        tokens_per_s=timed.tokens_per_s if timed else None,
        error=redact(call_error(call.error)) if call.error else None,
        prompt_hash=case.prompt_hash,
        host=response.host if response else None,
        kind=task.output.kind,
        expected_label=case.expected.verdict,
        got_label=score.label,
        pass_label=task.pass_label if is_verdict else None,
        difficulty=case.difficulty,
        wall_ms=None if call.cached else call.latency_ms,
        queue_ms=timed.queue_ms if timed else None,
        cold_start_ms=cold_start_ms,
        retries=timed.retries if timed else 0,
        cached=call.cached,
        cost_usd=cost,
        structured=response.structured if response else None,
        chat_format=response.chat_format if response else None,
        prompt_version=case.prompt_version,
        prompt_version_hash=case.prompt_version_hash,
        score=score.score if call.error is None else 0.0,
        parts=score.parts if call.error is None else (),
        ttft_ms=first_token_ms(timed),
        itl_ms=timed.itl_ms if timed else None,
    )


def first_token_ms(response: Response | None) -> float | None:
    """The time to first token of a timed answer, a load the server reported inside the
    call taken out (as from the latency, :func:`answer_ms`); never negative."""
    if response is None or response.ttft_ms is None:
        return None
    return max(0.0, response.ttft_ms - (response.load_ms or 0.0))


def fetch(
    provider: Provider,
    model: ModelInfo,
    request: Request,
    repeat: int,
    *,
    wrapper: Wrapper | None = None,
    cache: ResponseCache | None = None,
) -> Call:
    """The answer to one request: from the cache when it has it, else timed from the provider.

    Safe to run on another thread (the pipeline's): it touches no pytest state.
    """
    call = cached_call(cache, model, request, repeat) if cache is not None else None
    if call is None:
        call = call_provider(provider, request, wrapper)
        if cache is not None and cache.writes and call.response is not None:
            cache.store(model, request, call.response, call.latency_ms, repeat)
    return call


def prepared_call(
    provider: Provider,
    task: Task,
    case: Case,
    model: ModelInfo,
    repeat: int,
    *,
    timeout_s: float,
    cache: ResponseCache | None,
    unavailable: Mapping[str, str],
    wrapper: Wrapper | None = None,
) -> Callable[[], Call]:
    """One item's provider call (or cache lookup), ready to run on any thread.

    ``unavailable`` is read when the call runs: a model whose load failed after its
    call was sent ahead answers with the reason instead.
    """
    request = build_request(task, case, model, timeout_s)

    def call() -> Call:
        missing = unavailable.get(model.id)  # sent ahead, its load failed
        if missing is not None:
            return Call(None, None, missing)
        return fetch(provider, model, request, repeat, wrapper=wrapper, cache=cache)

    return call


def finish(
    task: Task,
    case: Case,
    model: ModelInfo,
    repeat: int,
    call: Call,
    *,
    scorer: Scorer,
    cold_start_ms: float | None = None,
    prices: PriceTable | None = None,
) -> Result:
    """Score the answer and make the result record."""
    if call.response is None:
        score = Score(False, "", call.error or "no answer")
    else:
        score = scorer(task, case, call.response.text)
    return make_result(task, case, model, repeat, call, score, cold_start_ms, prices)
