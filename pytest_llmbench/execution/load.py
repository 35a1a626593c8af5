"""The load phase: a task's cases replayed with N requests in flight per model.

After the correctness sweep (and the judges), :func:`pytest_llmbench.analysis.run.finish_run`
asks :class:`LoadPhase` to run each qualified model of a task that declares ``load:``
(or of every task under ``--llm-load``); :mod:`pytest_llmbench.analysis.load` turns
what comes back into throughput, percentiles, goodput and the champion at load.

Per model: the model is loaded once (on its host, as for its cases), then ``requests``
requests go out from ``concurrency`` threads, each taking the next case in turn (case 1,
2, ..., n, 1, 2, ...), so that ``concurrency`` requests are in flight from the first
send to the last answer.  Requests go through the provider as the cases did (the lean
HTTP transport where it serves), never through the response cache (a cached answer
measures nothing), timed on the wall clock (:data:`clock`).  Each answer is scored like
a case's; the scoring runs on the calling thread after the requests, so a scorer (the
plugin's hook) is never called from two threads at once.

Embedded models are not run under load: one process serves one request at a time
(``llama.cpp``'s threads are shared by every request), so their figures under load would
be those of a queue; serve the GGUF with llama.cpp's server (``--parallel N``) and
benchmark it as an OpenAI-compatible endpoint to measure it at concurrency.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.execution.cache import ResponseCache
from pytest_llmbench.execution.call import Call, Scorer, build_request, call_provider, finish
from pytest_llmbench.execution.catalogue import ModelCatalogue
from pytest_llmbench.execution.lifecycle import ModelLifecycle
from pytest_llmbench.execution.prices import PriceTable
from pytest_llmbench.execution.results import Result

__all__ = ["EMBEDDED", "LoadPhase", "LoadRun", "clock", "replay"]

clock: Callable[[], float] = time.perf_counter
"""The load phase's wall clock (seconds): from the first send to the last answer."""

EMBEDDED = (
    "an embedded model serves one request at a time in this process; serve it with "
    "llama.cpp's server (--parallel N) to measure it under load"
)


@dataclass(frozen=True)
class LoadRun:
    """What the load phase got of one model: its answers (scored) and the wall time."""

    model: str
    results: tuple[Result, ...] = ()
    wall_s: float = 0.0
    skipped: str | None = None
    """Why the model was not run under load (an embedded model, its load failed)."""


def replay(
    send: Callable[[Case], Call], cases: list[Case], requests: int, concurrency: int
) -> tuple[list[tuple[Case, Call]], float]:
    """``requests`` calls of ``send``, the cases in turn, ``concurrency`` in flight at a
    time; the calls in the order sent, and the wall time in seconds."""
    plan = [cases[i % len(cases)] for i in range(requests)]
    start = clock()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        calls = list(pool.map(send, plan))
    return list(zip(plan, calls, strict=True)), clock() - start


class _RunOptions(Protocol):
    @property
    def timeout_s(self) -> float: ...
    @property
    def load_concurrency(self) -> int | None: ...
    @property
    def prices(self) -> PriceTable | None: ...


class _Ledger(Protocol):
    @property
    def tasks(self) -> Mapping[str, Task]: ...


class _Run(Protocol):
    """What :meth:`LoadPhase.of` reads of a run (the plugin's ``BenchSession``)."""

    @property
    def config(self) -> Any: ...
    @property
    def catalogue(self) -> ModelCatalogue: ...
    @property
    def lifecycle(self) -> ModelLifecycle: ...
    @property
    def cache(self) -> ResponseCache: ...
    @property
    def ledger(self) -> _Ledger: ...
    @property
    def options(self) -> _RunOptions: ...


class LoadPhase:
    """The run's load phase: its catalogue's models, loaded and released by its
    lifecycle, answers scored by ``scorer`` (the plugin's ``pytest_llmbench_score``)."""

    def __init__(
        self,
        catalogue: ModelCatalogue,
        lifecycle: ModelLifecycle,
        tasks: Mapping[str, Task],
        scorer: Scorer,
        *,
        timeout_s: float,
        concurrency: int | None = None,
        prices: PriceTable | None = None,
        read_task: Callable[[Path], Task] | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.lifecycle = lifecycle
        self.tasks = dict(tasks)
        self.scorer = scorer
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        """``--llm-load``: requests in flight for every task (``None``: each task's ``load:``)."""
        self.prices = prices
        self.read_task = read_task
        """Reads a case file whose task was collected by another process (xdist)."""

    @classmethod
    def of(cls, run: _Run) -> LoadPhase | None:
        """The load phase of a pytest run (``None`` offline: nothing may be called)."""
        if run.cache.offline:
            return None
        hook = run.config.hook

        def scorer(task: Task, case: Case, answer: str) -> Any:
            return hook.pytest_llmbench_score(task=task, case=case, answer=answer)

        options = run.options
        return cls(
            run.catalogue,
            run.lifecycle,
            run.ledger.tasks,
            scorer,
            timeout_s=options.timeout_s,
            concurrency=options.load_concurrency,
            prices=options.prices,
            read_task=load_task,
        )

    def task(self, name: str, case_file: str | None) -> Task | None:
        """The task, collected here or read again from its case file."""
        task = self.tasks.get(name)
        if task is None and case_file is not None and self.read_task is not None:
            try:
                task = self.read_task(Path(case_file))
            except Exception:  # changed or gone since collection: no load phase for it
                return None
            self.tasks[name] = task
        return task if task is not None and task.name == name else None

    def run(
        self,
        task: Task,
        candidate: str,
        prompt_version: str,
        concurrency: int,
        requests: int,
    ) -> LoadRun:
        """One model's load run (``candidate``: ``provider/model``, or ``...@v2`` with
        prompt versions, whose cases are then that version's)."""
        model_id = candidate.removesuffix(f"@{prompt_version}") if prompt_version else candidate
        model = self.catalogue.find_model(model_id)
        if model is None:
            return LoadRun(candidate, skipped="not available")
        if model.provider == "llamacpp":
            return LoadRun(candidate, skipped=EMBEDDED)
        cases = [c for c in task.cases if c.prompt_version == prompt_version] or list(task.cases)
        if not cases:
            return LoadRun(candidate, skipped="no cases")
        self.lifecycle.ensure_loaded(model)
        missing = self.lifecycle.unavailable.get(model.id)
        if missing is not None:
            return LoadRun(candidate, skipped=missing)
        provider = self.catalogue.providers.get(model.provider)
        try:
            calls, wall_s = replay(
                lambda case: call_provider(
                    provider, build_request(task, case, model, self.timeout_s)
                ),
                cases,
                requests,
                concurrency,
            )
        finally:
            self.lifecycle.release(model)
            self.lifecycle.cold_start(model)  # the load phase's load is no case's cold start
        results = tuple(
            finish(task, case, model, 1, call, scorer=self.scorer, prices=self.prices)
            for case, call in calls
        )
        return LoadRun(candidate, results, wall_s)
