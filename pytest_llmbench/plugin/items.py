"""Collection and execution: case file -> task node -> one item per (case, model, repeat)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from _pytest._code.code import ExceptionInfo, TerminalRepr

from pytest_llmbench.cases.model import Case, CaseFileError, Task, load_task
from pytest_llmbench.execution.call import Call, Wrapper, build_request, fetch, finish
from pytest_llmbench.execution.results import Result
from pytest_llmbench.execution.scoring import Score, shorten
from pytest_llmbench.plugin.session import BenchSession, get_bench
from pytest_llmbench.providers.base import ModelInfo, Response
from pytest_llmbench.storage import journal

__all__ = [
    "NEXT_KEY",
    "RESULT_KEY",
    "RESUMED_KEY",
    "CaseFile",
    "CaseItem",
    "TaskNode",
    "junit_properties",
]

RESULT_KEY = pytest.StashKey[Result]()
RESUMED_KEY = pytest.StashKey[journal.Entry]()
"""Set on an item whose result comes from the journal of an interrupted run."""
NEXT_KEY = pytest.StashKey["CaseItem"]()
"""The item pytest runs after this one (set when both are case items)."""


class CaseFile(pytest.File):
    """A YAML case file; yields one :class:`TaskNode`."""

    def collect(self) -> Iterator[TaskNode]:
        bench = get_bench(self.config)
        try:
            display = str(self.path.relative_to(self.config.rootpath))
        except ValueError:
            display = str(self.path)
        task = load_task(self.path, display)
        bench.add_task(task)
        yield TaskNode.from_parent(
            self, name=task.name, task=task, models=bench.models_for(task.name)
        )

    def repr_failure(  # type: ignore[override]
        self, excinfo: ExceptionInfo[BaseException]
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, CaseFileError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


def _run_llm_case(request: pytest.FixtureRequest) -> None:
    """The test function behind every case item."""
    item = request.node
    assert isinstance(item, CaseItem)
    item.run_case(request)


def junit_properties(result: Result) -> list[tuple[str, object]]:
    """What an item's JUnit ``<properties>`` say about its call."""
    properties: list[tuple[str, object]] = [
        ("task", result.task),
        ("case", result.case_id),
        ("model", result.model),
        ("repeat", result.repeat),
        ("expected", result.expected),
        ("got", result.got),
        ("correct", result.correct),
        ("latency_ms", "" if result.latency_ms is None else round(result.latency_ms, 1)),
    ]
    if result.cached:
        properties.append(("cached", True))
    return properties


def _answer(future: Future[Call | None]) -> Call:
    call = future.result()
    if call is None:  # pragma: no cover - a load's future is never an item's
        raise RuntimeError("the pipeline returned no call")
    return call


class TaskNode(pytest.Collector):
    """One task: its items, model by model, so one model's cases run together."""

    def __init__(self, *, task: Task, models: list[ModelInfo], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task
        self.models = models

    def collect(self) -> Iterator[CaseItem]:
        bench = get_bench(self.config)
        task = self.task
        repeat = bench.options.repeat or task.repeat
        # One fixture closure for all items of the task: computing it per item would
        # dominate collection time for thousands of items.
        manager = self.session._fixturemanager
        fixtureinfo = manager.getfixtureinfo(self, _run_llm_case, None)  # type: ignore[arg-type]
        marks = _Marks(self.config, task)
        case_marks = {case.id: marks.for_case(case) for case in task.cases}
        for model in self.models:
            model_marks = marks.for_model(model)
            for case in task.cases:
                # What Node.add_marker does, without its per-call checks (20,000 items
                # with 6 markers each spent a quarter of their collection time there).
                item_marks = [(m.name, m, m.mark) for m in (*case_marks[case.id], *model_marks)]
                for index in range(1, repeat + 1):
                    params = f"{model.id}-rep{index}" if repeat > 1 else model.id
                    item = CaseItem.from_parent(
                        self,
                        name=f"{case.id}[{params}]",
                        params=params,
                        callobj=_run_llm_case,
                        fixtureinfo=fixtureinfo,
                        originalname=case.id,
                        task=task,
                        case=case,
                        model=model,
                        repeat=index,
                    )
                    keywords, own = item.keywords, item.own_markers
                    for name, decorator, mark in item_marks:
                        keywords[name] = decorator
                        own.append(mark)
                    yield item

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.task.line - 1, self.task.name


class _Marks:
    """Markers for the items of one task; each case tag is registered as a marker once."""

    def __init__(self, config: pytest.Config, task: Task) -> None:
        self.config = config
        self.task = task
        self.xdist = config.pluginmanager.hasplugin("xdist")
        self._cache: dict[tuple[str, tuple[tuple[str, Any], ...]], pytest.MarkDecorator] = {}

    def for_case(self, case: Case) -> list[pytest.MarkDecorator]:
        marks = [self._mark("llmbench"), self._mark(case.difficulty)]
        if case.batch is not None:
            marks.append(self._mark("batch", n=case.batch))
        registered = self.config.stash.setdefault(_TAGS_KEY, set())
        for tag in case.tags:
            if tag not in registered:
                self.config.addinivalue_line("markers", f"{tag}: case tag (pytest-llmbench)")
                registered.add(tag)
            marks.append(self._mark(tag))
            marks.append(self._mark("tag", name=tag))
        if self.task.output.kind == "verdict" and case.expected.verdict is not None:
            good = case.expected.verdict == self.task.pass_label
            marks.append(self._mark("should_pass" if good else "should_fail"))
        return marks

    def _mark(self, marker: str, **kwargs: Any) -> pytest.MarkDecorator:
        """One MarkDecorator per distinct marker (building them dominates big collections)."""
        key = (marker, tuple(sorted(kwargs.items())))
        if key not in self._cache:
            decorator = getattr(pytest.mark, marker)
            self._cache[key] = decorator(**kwargs) if kwargs else decorator
        return self._cache[key]

    def for_model(self, model: ModelInfo) -> list[pytest.MarkDecorator]:
        # For --llm-dist=xdist --dist loadgroup, once xdist groups again on pytest 9.2
        # (pytest-xdist#1386); by default our scheduler groups by model (scheduler.py).
        return [pytest.mark.xdist_group(name=model.id)] if self.xdist else []


_TAGS_KEY = pytest.StashKey[set[str]]()


class CaseItem(pytest.Function):
    """One (task, case, model, repeat) call."""

    def __init__(
        self, *, task: Task, case: Case, model: ModelInfo, repeat: int, params: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        parent_id = getattr(self.parent, "id", None)
        if parent_id is not None and hasattr(parent_id, "with_params"):
            # pytest >= 9.2 builds ids from originalname + callspec params; ours has no
            # callspec, so give the id its params (model, repeat) the same way.
            self._id = parent_id.child(case.id).with_params(params)
        self.task = task
        self.case = case
        self.model = model
        self.repeat = repeat

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"{self.task.name}::{self.name}"

    def run_case(self, request: pytest.FixtureRequest) -> None:
        bench = get_bench(self.config)
        bench.await_switch(self.model)  # loaded ahead, by the item before
        bench.ensure_loaded(self.model)
        missing = bench.unavailable.get(self.model.id)
        if missing is not None:
            pytest.skip(missing)
        cold = self.model.id in bench.first_call  # the first call after the load
        cold_start_ms = bench.first_call.pop(self.model.id, None)
        call = self._call(bench, request)
        result = finish(
            self.task,
            self.case,
            self.model,
            self.repeat,
            call,
            scorer=self._score,
            cold_start_ms=cold_start_ms,
            prices=bench.options.prices,
        )
        if cold:
            result = dataclasses.replace(result, cold=True)
        self.stash[RESULT_KEY] = result
        self.user_properties.extend(junit_properties(result))
        if not result.correct:
            what = result.direction if result.kind == "verdict" else "wrong answer"
            because = f" ({result.reason})" if result.reason else ""
            pytest.fail(
                f"{what}: expected {result.expected}, got {shorten(result.got, 200)}{because}",
                pytrace=False,
            )

    def _call(self, bench: BenchSession, request: pytest.FixtureRequest) -> Call:
        """This item's answer; a remote model's goes through the pipeline.

        Through the pipeline, the item first makes sure its own request is queued (the
        item before it has usually sent it already), then queues the next item's, then
        waits: the server answers the next request while pytest records this one.
        """
        if not bench.pipelined(self.model):
            return self._fetch(bench, self._benchmark_wrapper(request))()
        future = bench.pipeline.take(self.nodeid)
        if future is None:
            future = bench.pipeline.submit(self.nodeid, self._fetch(bench))
        following = self.stash.get(NEXT_KEY, None)
        if following is not None and following.will_call():
            if following.model.id == self.model.id:
                bench.pipeline.submit(following.nodeid, following._fetch(bench))
            elif bench.pipelined(following.model):
                bench.switch_ahead(self.model, following.model)
                bench.pipeline.submit(following.nodeid, following._fetch(bench))
        call = _answer(future)
        self._record_benchmark(request, call)
        return call

    def _fetch(self, bench: BenchSession, wrapper: Wrapper | None = None) -> Callable[[], Call]:
        """The provider call (or cache lookup) for this item, ready to run on any thread."""
        provider = bench.registry.get(self.model.provider)
        request = build_request(self.task, self.case, self.model, bench.options.timeout_s)
        cache = bench.cache if bench.cache.mode != "off" else None
        model, repeat = self.model, self.repeat

        def call() -> Call:
            missing = bench.unavailable.get(model.id)  # sent ahead, its load failed
            if missing is not None:
                return Call(None, None, missing)
            return fetch(provider, model, request, repeat, wrapper=wrapper, cache=cache)

        return call

    def will_call(self) -> bool:
        """Whether this item will surely make its call when it runs.

        Items with a skip or skipif mark, or resumed from a journal, may not call at all:
        they are not sent ahead (at worst one request would be wasted, never a result).
        """
        if RESUMED_KEY in self.stash:
            return False
        return not any(True for _ in self.iter_markers("skip")) and not any(
            True for _ in self.iter_markers("skipif")
        )

    def _score(self, task: Task, case: Case, answer: str) -> Score:
        score: Score = self.ihook.pytest_llmbench_score(task=task, case=case, answer=answer)
        return score

    def _benchmark_wrapper(self, request: pytest.FixtureRequest) -> Wrapper | None:
        """Record the call through pytest-benchmark's fixture when that plugin is active.

        The fixture is requested when the call is made, not before: an answer from the
        response cache makes no call, and so records no timing.
        """
        if not self._benchmarking():
            return None

        def wrapper(call: Callable[[], Response]) -> Response:
            benchmark = self._benchmark(request)
            response: Response = benchmark.pedantic(call, rounds=1, iterations=1, warmup_rounds=0)
            return response

        return wrapper

    def _record_benchmark(self, request: pytest.FixtureRequest, call: Call) -> None:
        """Give pytest-benchmark a call the pipeline made and timed on its own thread.

        The fixture times what it runs on pytest's thread; here it is handed the time
        the pipeline measured (the same wall time of ``generate`` it would have taken),
        through a timer that replays it.  A failed or cached call records nothing, as
        on pytest's thread.
        """
        if call.response is None or call.cached or call.latency_ms is None:
            return
        if not self._benchmarking():
            return
        benchmark = self._benchmark(request)
        if not hasattr(benchmark, "_timer"):  # pragma: no cover - another pytest-benchmark
            return
        saved = benchmark._timer
        benchmark._timer = _Measured(call.latency_ms / 1000.0)
        try:
            benchmark.pedantic(_nothing, rounds=1, iterations=1, warmup_rounds=0)
        finally:
            benchmark._timer = saved

    def _benchmarking(self) -> bool:
        config = self.config
        if not config.pluginmanager.hasplugin("benchmark"):
            return False
        return not config.getoption("benchmark_skip", default=False)

    def _benchmark(self, request: pytest.FixtureRequest) -> Any:
        """pytest-benchmark's fixture, labelled with this item's task, case and model."""
        benchmark = request.getfixturevalue("benchmark")
        benchmark.group = self.task.name
        benchmark.extra_info.update(
            {
                "task": self.task.name,
                "case": self.case.id,
                "model": self.model.id,
                "repeat": self.repeat,
            }
        )
        return benchmark


class _Measured:
    """A pytest-benchmark timer that replays a duration measured elsewhere (the pipeline)."""

    def __init__(self, seconds: float) -> None:
        self._readings = [0.0, seconds]

    def __call__(self) -> float:
        return self._readings.pop(0) if len(self._readings) > 1 else self._readings[0]

    def __str__(self) -> str:
        return "pytest_llmbench.execution.pipeline (wall time measured on the pipeline thread)"


def _nothing() -> None:
    """What pytest-benchmark runs for a call the pipeline already made."""
