"""The private pytest and pytest-benchmark APIs the plugin uses, and only here.

Each has no public equivalent that does the same job; each is guarded so that a
version without it degrades to the public behaviour, and names the version it was
checked against.  When upgrading pytest or pytest-benchmark, check these first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    # Only the return type of ``Collector.repr_failure`` (checked with pytest 9.2.0).
    from _pytest._code.code import TerminalRepr as TerminalRepr

__all__ = ["TerminalRepr", "fixture_info", "replay_timer", "set_item_id"]


def fixture_info(node: pytest.Collector, function: Callable[..., object]) -> Any:
    """The fixture closure of ``function`` as collected under ``node``, computed once.

    ``pytest.Function`` computes it per item when not given one: for thousands of items
    that dominates collection, so a task computes it once for all its items through the
    session's fixture manager (``Session._fixturemanager.getfixtureinfo``, pytest 9.2.0).
    ``None`` (pytest computes it per item) where that is not there.
    """
    manager = getattr(node.session, "_fixturemanager", None)
    if manager is None:  # pragma: no cover - another pytest
        return None
    return manager.getfixtureinfo(node, function, None)


def set_item_id(item: pytest.Item, name: str, params: str) -> None:
    """Give a case item the id pytest >= 9.2 builds from ``originalname`` and its params.

    pytest 9.2.0 builds structured node ids (``Item._id``, from the parent's
    ``id.child(...).with_params(...)``) from a callspec our items do not have; without
    this, ``[model]`` would be missing from ids in ``--lf`` and ``-k`` matching.
    Earlier pytest versions build the id from the name, which already has it.
    """
    parent_id = getattr(item.parent, "id", None)
    if parent_id is not None and hasattr(parent_id, "with_params"):
        item._id = parent_id.child(name).with_params(params)


@contextmanager
def replay_timer(benchmark: Any, seconds: float) -> Iterator[bool]:
    """Make pytest-benchmark's fixture record ``seconds`` for the next thing it times.

    The pipeline times a call on its own thread; the fixture times what it runs on
    pytest's.  pytest-benchmark 5.3.1 reads its clock through ``BenchmarkFixture._timer``;
    replacing it for one ``pedantic`` call replays the measured duration.  Yields
    ``False`` (records nothing) on a pytest-benchmark without it.
    """
    if not hasattr(benchmark, "_timer"):  # pragma: no cover - another pytest-benchmark
        yield False
        return
    saved = benchmark._timer
    benchmark._timer = _Measured(seconds)
    try:
        yield True
    finally:
        benchmark._timer = saved


class _Measured:
    """A pytest-benchmark timer that replays a duration measured elsewhere (the pipeline)."""

    def __init__(self, seconds: float) -> None:
        self._readings = [0.0, seconds]

    def __call__(self) -> float:
        return self._readings.pop(0) if len(self._readings) > 1 else self._readings[0]

    def __str__(self) -> str:
        return "pytest_llmbench.execution.pipeline (wall time measured on the pipeline thread)"
