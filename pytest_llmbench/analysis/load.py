"""The load phase's figures and the champion at load (pure: results in, figures out).

After the correctness sweep, each qualified model of a task with ``load:`` (or under
``--llm-load``) answers the task's cases again with ``concurrency`` requests in flight
(:mod:`pytest_llmbench.execution.load` runs them).  Per model, over the requests it was
sent and the wall time ``T`` from the first send to the last answer:

- throughput = requests / T; tokens/s = completion tokens / T;
- p50 / p95 / p99: of the end-to-end times of the requests that got an answer;
- error rate = requests with an error (timeout, connection, HTTP) / requests;
- **goodput** = requests that *meet the SLO* / T, where a request meets it when its
  answer is correct, it has no error, its end-to-end time is at most ``slo.p95_ms`` and
  its time to first token at most ``slo.ttft_ms`` (each limit only when the task sets
  it, TTFT only where the result has one).  Without an SLO, goodput counts the correct
  answers: it is the throughput of right answers.

A model with a wrong answer or an error under load is *flagged*: it is disqualified for
the task (the champion must be right on every answer, under load too).  The champion at
load is the qualified model that is not flagged with the best goodput; equal goodput
goes to the lower p95 under load.  The serial figures stay as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pytest_llmbench.analysis.at_load import LoadStanding, TaskLoad
from pytest_llmbench.analysis.ranking import ModelStanding, TaskRanking
from pytest_llmbench.analysis.stats import percentile
from pytest_llmbench.execution.load import LoadRun
from pytest_llmbench.execution.results import Result

__all__ = [
    "LoadSettings",
    "LoadStanding",
    "TaskLoad",
    "load_settings",
    "load_standing",
    "meets_slo",
    "rank_at_load",
    "task_load",
]

GOODPUT_TIE = 1e-9
"""Goodputs closer than this (requests/s) are equal: the lower p95 under load wins."""


@dataclass(frozen=True)
class LoadSettings:
    """One task's load phase: how many in flight, how many requests, the SLO."""

    concurrency: int
    requests: int
    slo_p95_ms: float | None = None
    slo_ttft_ms: float | None = None


def load_settings(
    declared: Mapping[str, Any] | None, concurrency: int | None, cases: int
) -> LoadSettings | None:
    """A task's load phase from its ``load:`` (plain data) and ``--llm-load`` (which sets
    the concurrency of every task); ``None`` when neither asks for one.  Requests default
    to 4 x concurrency, and never fewer than the task's cases."""
    declared = declared or {}
    if concurrency is None and not declared:
        return None
    inflight = int(concurrency or declared.get("concurrency") or 1)
    requests = declared.get("requests")
    count = int(requests) if requests else max(4 * inflight, cases)
    return LoadSettings(inflight, count, declared.get("slo_p95_ms"), declared.get("slo_ttft_ms"))


def _ttft(result: Result) -> float | None:
    value = getattr(result, "ttft_ms", None)  # streamed timings, where a provider reports them
    return float(value) if isinstance(value, int | float) else None


def meets_slo(result: Result, settings: LoadSettings) -> bool:
    """Whether one answer under load counts towards goodput (see the module's docstring)."""
    if result.error is not None or not result.correct or result.latency_ms is None:
        return False
    if settings.slo_p95_ms is not None and result.latency_ms > settings.slo_p95_ms:
        return False
    ttft = _ttft(result)
    return not (
        settings.slo_ttft_ms is not None and ttft is not None and ttft > settings.slo_ttft_ms
    )


def load_standing(run: LoadRun, settings: LoadSettings) -> LoadStanding:
    """One model's figures from its load run."""
    results = run.results
    requests = len(results)
    errors = sum(1 for r in results if r.error is not None)
    wrong = sum(1 for r in results if r.error is None and not r.correct)
    times = [r.latency_ms for r in results if r.error is None and r.latency_ms is not None]
    ttfts = [t for r in results if r.error is None and (t := _ttft(r)) is not None]
    good = sum(1 for r in results if meets_slo(r, settings))
    wall = run.wall_s
    per_s = (lambda n: n / wall) if wall > 0 and requests else (lambda n: None)
    tokens = sum(r.completion_tokens or 0 for r in results if r.error is None)
    flag = None
    if run.skipped is None and (errors or wrong):
        parts = [f"{n} {what}" for n, what in ((wrong, "wrong"), (errors, "failed")) if n]
        flag = f"{' and '.join(parts)} of {requests} answers under load"
    return LoadStanding(
        model=run.model,
        requests=requests,
        errors=errors,
        wrong=wrong,
        wall_s=wall,
        throughput_rps=per_s(requests),
        tokens_per_s=per_s(tokens) if tokens else None,
        p50_ms=percentile(times, 50),
        p95_ms=percentile(times, 95),
        p99_ms=percentile(times, 99),
        ttft_p95_ms=percentile(ttfts, 95),
        good=good,
        goodput_rps=per_s(good),
        flag=flag,
        skipped=run.skipped,
    )


def _order(standing: LoadStanding) -> tuple[float, float]:
    goodput = standing.goodput_rps or 0.0
    return (-round(goodput / GOODPUT_TIE) * GOODPUT_TIE, standing.p95_ms or float("inf"))


def task_load(runs: Sequence[LoadRun], settings: LoadSettings) -> TaskLoad:
    """The task's load figures, the models in order (best goodput first)."""
    standings = [load_standing(run, settings) for run in runs]
    eligible = sorted((s for s in standings if s.eligible), key=_order)
    others = [s for s in standings if not s.eligible]
    return TaskLoad(
        concurrency=settings.concurrency,
        requests=settings.requests,
        slo_p95_ms=settings.slo_p95_ms,
        slo_ttft_ms=settings.slo_ttft_ms,
        standings=(*eligible, *others),
        champion=eligible[0].model if eligible else None,
    )


def rank_at_load(ranking: TaskRanking, load: TaskLoad) -> TaskRanking:
    """The task's ranking with the load phase: the qualified models in goodput order
    (those not run under load after them, in their serial order), a flagged model
    disqualified, and the load figures kept in ``at_load``."""
    position = {s.model: i for i, s in enumerate(load.standings) if s.eligible}
    qualified: list[ModelStanding] = []
    disqualified: list[ModelStanding] = []
    for standing in ranking.standings:
        at_load = load.standing(standing.model)
        if standing.qualified and at_load is not None and at_load.flag is not None:
            disqualified.append(
                replace(standing, qualified=False, status=f"flagged: {at_load.flag}")
            )
        elif standing.qualified:
            qualified.append(standing)
        else:
            disqualified.append(standing)
    qualified.sort(key=lambda s: position.get(s.model, len(position)))
    labelled = [
        replace(s, status=("champion", "runner-up")[i] if i < 2 else "qualified")
        for i, s in enumerate(qualified)
    ]
    notes = tuple(
        f"{s.model}: not run under load ({s.skipped})" for s in load.standings if s.skipped
    )
    return replace(
        ranking,
        standings=(*labelled, *disqualified),
        notes=(*ranking.notes, *notes),
        at_load=load,
    )
