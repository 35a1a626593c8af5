"""The bridge to pytest-benchmark: every model call is recorded, quietly.

When pytest-benchmark is active (installed, not ``--benchmark-skip`` nor
``--benchmark-disable``; it turns itself off under xdist), each case item's call is
added to pytest-benchmark's session as one round, labelled with task, case, model and
repeat, so ``--benchmark-json`` and ``--benchmark-autosave`` hold every call.  The
time recorded is the call's own latency as the plugin measured it (the figure the
ranking uses), on pytest's thread or on the pipeline's.  A cached or failed answer
records nothing.

The record is made without the ``benchmark`` fixture (a fixture and a ``pedantic``
round per item cost about 0.4 ms each): :class:`BenchmarkRecorder` appends
pytest-benchmark's own record type (``stats.Metadata``) to its session.

pytest-benchmark's terminal table leaves the case items out (thousands of rows after
the ranking), unless ``--llm-benchmark-table``; other benchmarks keep their table.
"""

from __future__ import annotations

from typing import Any, Protocol

import pytest

from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.execution.call import Call
from pytest_llmbench.plugin.compat import benchmark_session, hide_from_table
from pytest_llmbench.providers.base import ModelInfo

__all__ = ["RECORDER_KEY", "BenchmarkRecorder", "CaseItem", "QuietBenchmarkTable", "record_call"]

_OPTIONS = (
    "disable_gc",
    "timer",
    "min_rounds",
    "max_time",
    "min_time",
    "precision",
    "confidence",
    "warmup",
)
"""The options pytest-benchmark's record keeps (as its fixture would give them)."""


class CaseItem(Protocol):
    """What the record reads of a case item (``plugin.items.CaseItem``)."""

    @property
    def name(self) -> str: ...
    @property
    def nodeid(self) -> str: ...
    @property
    def config(self) -> pytest.Config: ...

    task: Task
    case: Case
    model: ModelInfo
    repeat: int


class _Labels:
    """What pytest-benchmark's record reads of its fixture, for one case item."""

    __slots__ = ("extra_info", "fullname", "group", "name")
    cprofile_stats = None
    param = None
    params = None
    has_error = False

    def __init__(self, item: CaseItem) -> None:
        self.name = item.name
        self.fullname = item.nodeid
        self.group = item.task.name
        self.extra_info = {
            "task": item.task.name,
            "case": item.case.id,
            "model": item.model.id,
            "repeat": item.repeat,
        }


class BenchmarkRecorder:
    """Adds each call to pytest-benchmark's session (``None`` session: not active)."""

    def __init__(self, config: pytest.Config) -> None:
        session = benchmark_session(config)
        active = session is not None and not getattr(session, "disabled", True)
        active = active and not config.getoption("benchmark_skip", default=False)
        # Kept only where a record is read: saved (--benchmark-json, --benchmark-save,
        # --benchmark-autosave) or shown (--llm-benchmark-table).
        wanted = config.getoption("llm_benchmark_table") or any(
            getattr(session, name, None) for name in ("json", "save", "autosave")
        )
        self.session: Any = session if active and wanted else None
        self._options: dict[str, Any] = {}
        if self.session is not None:
            given = dict(getattr(self.session, "options", {}))
            self._options = {key: given.get(key) for key in _OPTIONS}

    def record(self, item: CaseItem, call: Call) -> None:
        if self.session is None or call.response is None or call.cached:
            return
        if call.latency_ms is None:
            return
        from pytest_benchmark.stats import Metadata

        # pytest-benchmark 5.x's record: Metadata(fixture, iterations, options), update(s).
        record = Metadata(_Labels(item), iterations=1, options=self._options)  # type: ignore[no-untyped-call]
        record.update(call.latency_ms / 1000.0)  # type: ignore[no-untyped-call]
        self.session.benchmarks.append(record)


RECORDER_KEY = pytest.StashKey[BenchmarkRecorder]()


def record_call(item: CaseItem, call: Call) -> None:
    """Record ``call`` for pytest-benchmark (nothing when it is not active)."""
    config = item.config
    recorder = config.stash.get(RECORDER_KEY, None)
    if recorder is None:
        recorder = config.stash[RECORDER_KEY] = BenchmarkRecorder(config)
    recorder.record(item, call)


class QuietBenchmarkTable:
    """Leaves the case items' rows out of pytest-benchmark's terminal table.

    Registered only when pytest-benchmark is there and ``--llm-benchmark-table`` is not
    given.  The saved and ``--benchmark-json`` data keep every row (they are written
    before the table is made); the table's statistics are not even computed for the
    case items (``--benchmark-compare-fail`` then checks only the other benchmarks).
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        recorder = self.config.stash.get(RECORDER_KEY, None)
        if recorder is None:
            recorder = self.config.stash[RECORDER_KEY] = BenchmarkRecorder(self.config)
        if recorder.session is not None:
            hide_from_table(recorder.session, _is_case_record)


def _is_case_record(record: Any) -> bool:
    return isinstance(getattr(record, "fixture", None), _Labels)
