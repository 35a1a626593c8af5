"""Collection and execution: case file -> task node -> one item per (case, model, repeat)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest._code.code import ExceptionInfo, TerminalRepr

from .cases import Case, CaseFileError, Task, load_task
from .providers.base import ModelInfo, ProviderError, Request, Response
from .results import Result
from .scoring import Score, shorten
from .session import BenchSession, get_bench

__all__ = ["RESULT_KEY", "CaseFile", "CaseItem", "TaskNode"]

RESULT_KEY = pytest.StashKey[Result]()


class CaseFile(pytest.File):
    """A YAML case file; yields one :class:`TaskNode`."""

    def collect(self) -> Iterator[TaskNode]:
        bench = get_bench(self.config)
        try:
            display = str(self.path.relative_to(self.config.rootpath))
        except ValueError:
            display = str(self.path)
        task = load_task(self.path, display)
        bench.case_counts[task.name] = len(task.cases)
        yield TaskNode.from_parent(self, name=task.name, task=task, models=bench.models())

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
        for model in self.models:
            for case in task.cases:
                case_marks = marks.for_case(case, model)
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
                    for mark in case_marks:
                        item.add_marker(mark)
                    yield item

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.task.line - 1, self.task.name


class _Marks:
    """Markers for the items of one task (tags registered on first use)."""

    def __init__(self, config: pytest.Config, task: Task) -> None:
        self.config = config
        self.task = task
        self.xdist = config.pluginmanager.hasplugin("xdist")

    def for_case(self, case: Case, model: ModelInfo) -> list[pytest.MarkDecorator]:
        marks = [pytest.mark.llmbench, getattr(pytest.mark, case.difficulty)]
        if case.batch is not None:
            marks.append(pytest.mark.batch(n=case.batch))
        for tag in case.tags:
            self.config.addinivalue_line("markers", f"{tag}: case tag (pytest-llmbench)")
            marks.append(getattr(pytest.mark, tag))
            marks.append(pytest.mark.tag(name=tag))
        if self.task.output.kind == "verdict" and case.expected.verdict is not None:
            good = case.expected.verdict == self.task.pass_label
            marks.append(pytest.mark.should_pass if good else pytest.mark.should_fail)
        if self.xdist:
            marks.append(pytest.mark.xdist_group(name=model.id))
        return marks


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
        load_ms = bench.ensure_loaded(self.model)
        response, latency_ms, error = _call(bench, self, request)
        result = self._record(response, latency_ms, load_ms, error)
        self.stash[RESULT_KEY] = result
        self.user_properties.extend(
            [
                ("task", result.task),
                ("case", result.case_id),
                ("model", result.model),
                ("repeat", result.repeat),
                ("expected", result.expected),
                ("got", result.got),
                ("correct", result.correct),
                ("latency_ms", "" if result.latency_ms is None else round(result.latency_ms, 1)),
            ]
        )
        if not result.correct:
            what = result.direction if result.kind == "verdict" else "wrong answer"
            pytest.fail(
                f"{what}: expected {result.expected}, got {shorten(result.got, 200)}"
                f"{' (' + result.reason + ')' if result.reason else ''}",
                pytrace=False,
            )

    def _record(
        self,
        response: Response | None,
        latency_ms: float | None,
        load_ms: float | None,
        error: str | None,
    ) -> Result:
        task, case = self.task, self.case
        if response is None:
            verdict: Score = Score(False, "", error or "no answer")
        else:
            verdict = self.ihook.pytest_llmbench_score(task=task, case=case, answer=response.text)
        return Result(
            task=task.name,
            case_id=case.id,
            model=self.model.id,
            repeat=self.repeat,
            expected=case.expected.describe(),
            got=verdict.got,
            correct=verdict.correct and error is None,
            reason=verdict.reason,
            latency_ms=latency_ms,
            load_ms=load_ms if load_ms is not None else (response.load_ms if response else None),
            prompt_eval_ms=response.prompt_eval_ms if response else None,
            eval_ms=response.eval_ms if response else None,
            total_ms=response.total_ms if response else None,
            prompt_tokens=response.prompt_tokens if response else None,
            completion_tokens=response.completion_tokens if response else None,
            tokens_per_s=response.tokens_per_s if response else None,
            error=error,
            prompt_hash=case.prompt_hash,
            host=response.host if response else None,
            kind=task.output.kind,
            expected_label=case.expected.verdict,
            got_label=verdict.label,
            pass_label=task.pass_label if task.output.kind == "verdict" else None,
            difficulty=case.difficulty,
        )


def _benchmark_fixture(config: pytest.Config, request: pytest.FixtureRequest) -> Any:
    """pytest-benchmark's fixture when that plugin is active (and not skipping), else None."""
    if not config.pluginmanager.hasplugin("benchmark"):
        return None
    if config.getoption("benchmark_skip", default=False):
        return None
    return request.getfixturevalue("benchmark")


def _call(
    bench: BenchSession, item: CaseItem, request: pytest.FixtureRequest
) -> tuple[Response | None, float | None, str | None]:
    """Send the request, timing it; a provider failure becomes an error string."""
    provider = bench.registry.get(item.model.provider)
    task, case = item.task, item.case
    req = Request(
        model=item.model.name,
        prompt=case.prompt,
        system=case.system,
        options=task.options,
        json_schema=task.output.request_schema(),
        timeout_s=bench.options.timeout_s,
    )
    timing: dict[str, float] = {}

    def call() -> Response:
        start = time.perf_counter()
        try:
            return provider.generate(req)
        finally:
            timing["ms"] = (time.perf_counter() - start) * 1000.0

    benchmark = _benchmark_fixture(item.config, request)
    try:
        if benchmark is not None:
            benchmark.group = task.name
            benchmark.extra_info.update(
                {"task": task.name, "case": case.id, "model": item.model.id, "repeat": item.repeat}
            )
            response = benchmark.pedantic(call, rounds=1, iterations=1, warmup_rounds=0)
        else:
            response = call()
    except ProviderError as exc:
        return None, timing.get("ms"), str(exc)
    return response, timing.get("ms"), None
