"""A task's cases on one model without pytest: the benchmark's call, timing and scoring.

For the ``llmbench`` subcommands (``ab``, ``optimize``): each case goes through
:func:`~pytest_llmbench.execution.call.build_request`,
:func:`~pytest_llmbench.execution.call.fetch` and
:func:`~pytest_llmbench.execution.call.finish`, exactly as a case item does, and is
scored by :func:`~pytest_llmbench.execution.scoring.score` (the default scoring hook).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.execution.call import Scorer, build_request, fetch, finish
from pytest_llmbench.execution.prices import PriceTable
from pytest_llmbench.execution.results import Result
from pytest_llmbench.execution.scoring import score
from pytest_llmbench.providers.base import ModelInfo, Provider

__all__ = ["run_cases"]


def run_cases(
    task: Task,
    cases: Iterable[Case],
    provider: Provider,
    model: ModelInfo,
    *,
    repeat: int = 1,
    timeout_s: float = 120.0,
    scorer: Scorer = score,
    prices: PriceTable | None = None,
    cold: bool = False,
) -> list[Result]:
    """One result per (case, repeat), in order.  ``cold``: the first call follows a load
    (its latency is kept apart by the statistics, as in the benchmark)."""
    results: list[Result] = []
    for case in cases:
        request = build_request(task, case, model, timeout_s)
        for index in range(1, repeat + 1):
            call = fetch(provider, model, request, index)
            result = finish(task, case, model, index, call, scorer=scorer, prices=prices)
            if cold and not results:
                result = dataclasses.replace(result, cold=True)
            results.append(result)
    return results
