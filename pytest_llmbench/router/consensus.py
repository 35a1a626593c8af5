"""A consensus call: several models of a task's chain answer and their agreement
decides (:mod:`pytest_llmbench.analysis.consensus`).  The first two models that may be
called are asked at once when they sit on different hosts."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from pytest_llmbench.router.calls import ModelCalls
from pytest_llmbench.router.results import (
    Attempt,
    ConsensusDetails,
    RouterResult,
    answer,
    no_answer,
)

if TYPE_CHECKING:
    from pytest_llmbench.analysis.consensus import Decision, Vote
    from pytest_llmbench.cases.records import Case, ConsensusSpec, Task

__all__ = ["consensus"]


def consensus(
    calls: ModelCalls,
    task: Task,
    case: Case,
    chain: list[str],
    attempts: list[Attempt],
    started: float,
    *,
    concurrent: bool,
) -> RouterResult:
    """The answer the models of ``chain`` agree on (each try appended to ``attempts``);
    without agreement, the top model's answer, flagged; :class:`NoAnswer
    <pytest_llmbench.router.results.NoAnswer>` when no model answered.

    :param concurrent: ask the first two models at once when they sit on different hosts.
    """
    from pytest_llmbench.analysis.consensus import Vote, decide
    from pytest_llmbench.cases.records import ConsensusSpec

    spec: ConsensusSpec = task.consensus or ConsensusSpec()
    answered: list[Attempt] = []
    failed: list[str] = []
    pending = list(chain)

    def take(batch: list[Attempt]) -> None:
        for attempt in batch:
            attempts.append(attempt)
            if attempt.ok:
                answered.append(attempt)
            elif attempt.outcome != "circuit_open":
                failed.append(attempt.model)

    # The first two models that may be called are asked at once when they sit apart;
    # the models before them are skipped by their circuits (and logged as such).
    first = [m for m in pending if calls.breaker.allows(m)][:2]
    if len(first) == 2 and concurrent and calls.host(first[0]) != calls.host(first[1]):
        upto = pending.index(first[1]) + 1
        head, pending = pending[:upto], pending[upto:]
        take([calls.attempt(task, case, m, ()) for m in head if m not in first])
        with ThreadPoolExecutor(2, thread_name_prefix="llmbench-consensus") as pool:
            futures = [pool.submit(calls.attempt, task, case, m, ()) for m in first]
            take([f.result() for f in futures])
    while True:
        votes: list[Vote] = [Vote(a.value) for a in answered]
        decision: Decision = decide(
            votes, task.output.kind, spec.agree, spec.models, final=not pending
        )
        if not decision.pending:
            break
        take([calls.attempt(task, case, pending.pop(0), tuple(failed))])
    if decision.chosen is None:
        raise no_answer(task.name, attempts)
    details = ConsensusDetails(
        accepted=decision.consensus,
        agreed=tuple(answered[i].model for i in decision.agreed),
        similarity=decision.similarity,
        answers={a.model: a.value for a in answered},
        threshold=spec.agree,
        calls_ms=sum(a.latency_ms or 0.0 for a in attempts),
        wall_ms=(time.perf_counter() - started) * 1000.0,
    )
    chosen = answered[decision.chosen]
    return answer(task, chosen, attempts, started, tuple(failed), details)
