"""Collection and execution: case file -> task node -> one item per (case, model, repeat)."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmbench.analysis.elimination import QueuedRun, skip_reason
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.problems import CaseFileError, Problem
from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.cases.versions import item_params, selected_versions
from pytest_llmbench.execution.call import Call, finish, prepared_call
from pytest_llmbench.execution.gcpause import collector_paused
from pytest_llmbench.execution.lifecycle import Planned, call_in_turn
from pytest_llmbench.execution.results import Result
from pytest_llmbench.execution.scoring import Score, failure_message
from pytest_llmbench.plugin.benchmark import record_call
from pytest_llmbench.plugin.compat import fixture_info, set_item_id
from pytest_llmbench.plugin.options import allowed_file_roots
from pytest_llmbench.plugin.session import BenchSession, get_bench
from pytest_llmbench.plugin.warnings import LLMBenchWarning

if TYPE_CHECKING:
    from pytest_llmbench.plugin.compat import TerminalRepr
from pytest_llmbench.providers.base import FALLBACK_CHAT_FORMAT, ModelInfo
from pytest_llmbench.reporting.junit import junit_properties
from pytest_llmbench.safety.sanitising import shown
from pytest_llmbench.storage import journal

__all__ = [
    "ELIMINATED_KEY",
    "NEXT_KEY",
    "RESULT_KEY",
    "RESUMED_KEY",
    "CaseFile",
    "CaseItem",
    "TaskNode",
    "deselect_unchanged",
    "elimination_reason",
    "order_for_elimination",
]

RESULT_KEY = pytest.StashKey[Result]()
RESUMED_KEY = pytest.StashKey[journal.Entry]()
"""Set on an item whose result comes from the journal of an interrupted run."""
ELIMINATED_KEY = pytest.StashKey[str]()
"""Set on an item skipped because its model was eliminated (the reason)."""
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
        with collector_paused():  # the file's records live as long as the run
            task = load_task(
                self.path,
                display,
                root=self.config.rootpath,
                allowed_roots=allowed_file_roots(self.config),
            )
        first = self.config.stash.setdefault(_TASK_FILES_KEY, {}).setdefault(task.name, display)
        if first != display:
            problem = f"task {task.name!r} is already defined in {first}; rename one of them"
            raise CaseFileError(display, [Problem(task.line, "task", problem)])
        bench.add_task(task)
        with collector_paused():  # the first file: the providers' modules and discovery
            models = bench.catalogue.models_for(task)
        yield TaskNode.from_parent(self, name=task.name, task=task, models=models)

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, CaseFileError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


def _run_llm_case() -> None:
    """The function behind every case item (its fixtures: autouse ones only).

    :meth:`CaseItem.runtest` runs the case itself: asking for ``request`` to find the
    item would cost every item a fixture definition of its own.
    """


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
        fixtureinfo = fixture_info(self, _run_llm_case)
        marks = _Marks(self.config, task)
        case_marks = {case.id: marks.for_case(case) for case in task.cases}
        versions = selected_versions(task, bench.options.prompt_versions)
        for model in self.models:
            model_marks = marks.for_model(model)
            for version, cases in versions:
                for case in cases:
                    # What Node.add_marker does, without its per-call checks (20,000 items
                    # with 6 markers each spent a quarter of their collection time there).
                    item_marks = [(m.name, m, m.mark) for m in (*case_marks[case.id], *model_marks)]
                    for index in range(1, repeat + 1):
                        params = item_params(model.id, version, index, repeat)
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
_TASK_FILES_KEY = pytest.StashKey[dict[str, str]]()
"""Task name -> the case file that defined it first (task names are unique)."""


class CaseItem(pytest.Function):
    """One (task, case, model, repeat) call."""

    def __init__(
        self, *, task: Task, case: Case, model: ModelInfo, repeat: int, params: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        set_item_id(self, case.id, params)
        self.task = task
        self.case = case
        self.model = model
        self.repeat = repeat

    @property
    def candidate(self) -> str:
        """What the ranking ranks: the model, or ``provider/model@v2`` with prompt versions."""
        version = self.case.prompt_version
        return f"{self.model.id}@{version}" if version else self.model.id

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"{self.task.name}::{self.name}"

    def runtest(self) -> None:
        self.run_case()

    def run_case(self) -> None:
        bench = get_bench(self.config)
        lifecycle = bench.lifecycle
        lifecycle.await_switch(self.model)  # loaded ahead, by the item before
        eliminated = elimination_reason(self, bench)
        if eliminated is not None:  # a wrong run already ruled the model out of this task
            lifecycle.pipeline.take(self.nodeid)  # sent ahead before that run was scored
            self.stash[ELIMINATED_KEY] = eliminated
            pytest.skip(eliminated)
        lifecycle.ensure_loaded(self.model)
        missing = lifecycle.unavailable.get(self.model.id)
        if missing is not None:
            pytest.skip(missing)
        cold, cold_start_ms = lifecycle.cold_start(self.model)  # the first call after the load
        call = self._call(bench)
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
        bench.queue_judging(self.task, self.case, result, call)  # judged after the candidates
        self.stash[RESULT_KEY] = result
        self.user_properties.extend(junit_properties(result))
        if result.chat_format == FALLBACK_CHAT_FORMAT and bench.first_guess(self.model):
            warnings.warn(
                LLMBenchWarning(
                    f"{self.model.id}: no chat template in the GGUF and no known format for "
                    "the model; prompts use llama-cpp-python's fallback llama-2 [INST] format, "
                    "which may not be this model's (set one with --llm-gguf "
                    "'NAME=PATH chat_format=FORMAT')"
                ),
                stacklevel=1,
            )
        if not result.correct:
            message = failure_message(result)
            if bench.options.fail_on == "champion":
                pytest.xfail(shown(message))  # shown as "x": only a task without a champion fails
            pytest.fail(shown(message), pytrace=False)

    def _call(self, bench: BenchSession) -> Call:
        """This item's answer (:func:`~pytest_llmbench.execution.lifecycle.call_in_turn`)."""

        def following() -> Planned | None:
            after = self.stash.get(NEXT_KEY, None)
            if after is None or not after.will_call() or may_eliminate(self, after, bench):
                return None
            return after._planned(bench)

        call = call_in_turn(bench.lifecycle, self._planned(bench), following)
        record_call(self, call)
        return call

    def _planned(self, bench: BenchSession) -> Planned:
        """This item's call, for the pipeline (its request built when it is sent)."""
        cache = bench.cache if bench.cache.mode != "off" else None

        def fetch() -> Callable[[], Call]:
            return prepared_call(
                bench.catalogue.providers.get(self.model.provider),
                self.task,
                self.case,
                self.model,
                self.repeat,
                timeout_s=bench.options.timeout_s,
                cache=cache,
                unavailable=bench.lifecycle.unavailable,
            )

        return Planned(self.nodeid, self.model, fetch)

    def will_call(self) -> bool:
        """Whether this item will surely make its call when it runs.

        Items with a skip or skipif mark, resumed from a journal or eliminated may not
        call at all: they are not sent ahead (at worst one request would be wasted,
        never a result).
        """
        if RESUMED_KEY in self.stash:
            return False
        if elimination_reason(self, get_bench(self.config)) is not None:
            return False
        marked = self.__dict__.get("_skip_marked")
        if marked is None:  # marks do not change once the run has begun: looked up once
            marked = any(mark.name in ("skip", "skipif") for mark in self.iter_markers())
            self._skip_marked = marked
        return not marked

    def _score(self, task: Task, case: Case, answer: str) -> Score:
        score: Score = self.ihook.pytest_llmbench_score(task=task, case=case, answer=answer)
        return score


# -- --llm-eliminate and --llm-changed-since: the order and choice of items -----------


def order_for_elimination(items: list[pytest.Item], bench: BenchSession) -> None:
    """Sort ``items`` in place in elimination order (``analysis.elimination``): each
    (model, task, prompt version) group's items round by round, likeliest misses first."""
    from pytest_llmbench.storage.history import known_failure_rates

    rates = known_failure_rates(bench.options.history_read, sorted(bench.ledger.case_counts))
    runs = [
        QueuedRun(it.model.id, it.task, it.case, it.repeat) if isinstance(it, CaseItem) else None
        for it in items
    ]
    order = bench.eliminator.order(runs, rates)
    items[:] = [items[i] for i in order]


def elimination_reason(item: CaseItem, bench: BenchSession) -> str | None:
    """Why ``item`` is skipped (its model had a wrong run of its strict task), or ``None``."""
    if not bench.options.eliminate:
        return None
    task, candidate, policy = item.task.name, item.candidate, bench.options.rank_policy
    why = skip_reason(bench.eliminator, bench.ledger, task, candidate, policy)
    return why or bench.racer.skip_reason(task, candidate, item.case.id)  # raced out: repeats


def may_eliminate(item: CaseItem, following: CaseItem, bench: BenchSession) -> bool:
    """Whether ``following`` (same model and task) might be eliminated by ``item``, a case
    the history has the model wrong on: then it is not sent ahead (nor its request wasted)."""
    task, same = item.task.name, following.candidate == item.candidate
    same = same and following.task.name == task and bench.options.eliminate
    return same and bench.eliminator.may_eliminate(task, item.case.id, item.model.id)


def deselect_unchanged(
    config: pytest.Config, items: list[pytest.Item], ref: str
) -> tuple[list[str], list[str]]:
    """``--llm-changed-since REF``: deselect the tasks whose sources did not change;
    (the tasks kept, the tasks deselected)."""
    from pytest_llmbench.storage import git

    sources: dict[str, tuple[Path, ...]] = {}
    for item in items:
        if isinstance(item, CaseItem):
            sources.setdefault(item.task.name, item.task.sources)
    try:
        changed_files = git.changed_files(config.rootpath, ref)
    except git.GitError as exc:
        raise pytest.UsageError(str(exc)) from None
    changed = set(git.changed_tasks(sources, changed_files))
    drop = [it for it in items if isinstance(it, CaseItem) and it.task.name not in changed]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [it for it in items if not isinstance(it, CaseItem) or it.task.name in changed]
    return [t for t in sources if t in changed], [t for t in sources if t not in changed]
