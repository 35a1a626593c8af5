"""The bridge to pytest-benchmark: every model call is recorded through its fixture.

When pytest-benchmark is active (installed, not ``--benchmark-skip``; it turns itself
off under xdist), each case item records its call through the ``benchmark`` fixture,
labelled with task, case, model and repeat, so ``--benchmark-json`` and
``--benchmark-autosave`` hold every call.  A call made on pytest's thread runs inside
``benchmark.pedantic``; a call the pipeline made on its own thread is handed over with
the time the pipeline measured.  A cached answer makes no call and records nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmbench.execution.call import Call, Wrapper
from pytest_llmbench.plugin.compat import replay_timer
from pytest_llmbench.providers.base import Response

if TYPE_CHECKING:
    from pytest_llmbench.plugin.items import CaseItem

__all__ = ["benchmark_wrapper", "record_measured"]


def _active(config: pytest.Config) -> bool:
    if not config.pluginmanager.hasplugin("benchmark"):
        return False
    return not config.getoption("benchmark_skip", default=False)


def _fixture(item: CaseItem, request: pytest.FixtureRequest) -> Any:
    """pytest-benchmark's fixture, labelled with the item's task, case and model."""
    benchmark = request.getfixturevalue("benchmark")
    benchmark.group = item.task.name
    benchmark.extra_info.update(
        {
            "task": item.task.name,
            "case": item.case.id,
            "model": item.model.id,
            "repeat": item.repeat,
        }
    )
    return benchmark


def benchmark_wrapper(item: CaseItem, request: pytest.FixtureRequest) -> Wrapper | None:
    """A wrapper that runs a call through the fixture (``None`` when it is not active).

    The fixture is requested when the call is made, not before: an answer from the
    response cache makes no call, and so records no timing.
    """
    if not _active(item.config):
        return None

    def wrapper(call: Callable[[], Response]) -> Response:
        benchmark = _fixture(item, request)
        response: Response = benchmark.pedantic(call, rounds=1, iterations=1, warmup_rounds=0)
        return response

    return wrapper


def record_measured(item: CaseItem, request: pytest.FixtureRequest, call: Call) -> None:
    """Give the fixture a call the pipeline made and timed on its own thread.

    A failed or cached call records nothing, as on pytest's thread.
    """
    if call.response is None or call.cached or call.latency_ms is None:
        return
    if not _active(item.config):
        return
    benchmark = _fixture(item, request)
    with replay_timer(benchmark, call.latency_ms / 1000.0) as replaying:
        if replaying:
            benchmark.pedantic(_nothing, rounds=1, iterations=1, warmup_rounds=0)


def _nothing() -> None:
    """What pytest-benchmark runs for a call the pipeline already made."""
