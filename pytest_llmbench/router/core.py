"""The task router: production calls to each task's champion, as the benchmark made them.

:meth:`Router.run` fills the task's prompt from its case file (the template, system
text, options and output spec the benchmark used), sends it to the task's champion
through the same provider and request the benchmark built, and reads the answer the
way the benchmark did (:func:`~pytest_llmbench.execution.scoring.parse_answer`).  On
an error, a timeout or an answer it cannot read it falls over to the runner-up, then
to the registry's ``fallbacks:`` for the task.  A circuit breaker skips a model that
failed several times in a row, for a cool-down.  With consensus, several models
answer and their agreement decides (:mod:`pytest_llmbench.analysis.consensus`).
Every model call appends a line to the feedback log (:mod:`pytest_llmbench.storage.feedback`).

Here: :class:`Router` (the registry and case files, sync and async calls); one model's
call and the fall-over are :mod:`~pytest_llmbench.router.calls`, consensus
:mod:`~pytest_llmbench.router.consensus`, the feedback lines
:mod:`~pytest_llmbench.router.bookkeeping`, the answers and errors
:mod:`~pytest_llmbench.router.results`.

Importing this module imports neither pytest nor any provider SDK nor jsonschema: the
case file is loaded, and a provider made, on first use.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import functools
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbench.providers.base import BuiltinSettings, Provider
from pytest_llmbench.providers.resolve import settings_from
from pytest_llmbench.router import bookkeeping
from pytest_llmbench.router.breaker import DEFAULT_COOL_DOWN_S, DEFAULT_FAILURES, CircuitBreaker
from pytest_llmbench.router.calls import ModelCalls
from pytest_llmbench.router.consensus import consensus
from pytest_llmbench.router.identity import IdentityWatch, Verdict
from pytest_llmbench.router.results import (
    Attempt,
    BadValues,
    RouterError,
    RouterResult,
    UnknownTask,
)
from pytest_llmbench.router.shadow import ShadowChecks, ShadowOptions
from pytest_llmbench.storage.champions import (
    DEFAULT_REGISTRY,
    RegistryEntry,
    RegistryError,
    find_registry,
    load_registry,
)
from pytest_llmbench.storage.feedback import FeedbackLog, feedback_path

if TYPE_CHECKING:
    import asyncio

    from pytest_llmbench.cases.records import Case, Task

__all__ = ["Router", "default_settings", "model_verdict"]


def _read_entries(file: Path) -> dict[str, RegistryEntry]:
    """The entries of a registry file; :class:`RouterError` when there are none."""
    if not file.is_file():
        raise RouterError(
            f"no registry at {file}; write one with pytest --llm-update-registry={file}"
        )
    try:
        entries = load_registry(file)
    except RegistryError as exc:
        raise RouterError(str(exc)) from None
    if not entries:
        raise RouterError(
            f"registry {file} has no task; a benchmark run with --llm-update-registry "
            "records each task whose champion it found"
        )
    return dict(entries)


class _Pool:
    """The threads of :meth:`Router.arun`, made on first use (shared by reloaded routers).

    A queue of calls and a loop callback per answer: the hand-over ``run_in_executor``
    makes with two futures chained through callbacks costs about three times the CPU
    (0.05 against 0.015 ms a call), a cost paid on every request of ``llmbench serve``.
    A call the caller stopped waiting for still runs to its end (its feedback is written).
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()

    def _submit(self, job: _Job) -> None:
        with self._lock:
            self._jobs.put(job)
            if self._idle.acquire(timeout=0) or len(self._threads) >= self.workers:
                return
            thread = threading.Thread(
                target=self._work, name=f"llmbench_{len(self._threads)}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
            _at_exit(self)

    def _work(self) -> None:
        jobs, idle = self._jobs, self._idle
        while True:
            job = jobs.get()
            if job is None:
                return
            call, future, loop = job
            try:
                result: Any = call()
            except BaseException as exc:  # handed to the awaiting task, raised there
                outcome: tuple[Any, BaseException | None] = (None, exc)
            else:
                outcome = (result, None)
            del job, call
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for it
                loop.call_soon_threadsafe(_settle, future, *outcome)
            del future, loop, outcome
            idle.release()

    def shutdown(self) -> None:
        """Wait for the calls queued and under way; the threads end (new calls make new)."""
        with self._lock:
            threads, self._threads = self._threads, []
            for _ in threads:
                self._jobs.put(None)
            self._idle = threading.Semaphore(0)
        for thread in threads:
            thread.join()

    async def call(self, call: Callable[[], RouterResult]) -> RouterResult:
        """``call`` made on one of the threads (the event loop goes on meanwhile)."""
        import asyncio

        loop = asyncio.get_running_loop()
        future: asyncio.Future[RouterResult] = loop.create_future()
        self._submit((call, future, loop))
        return await future


_Job = tuple[Callable[[], Any], "asyncio.Future[Any]", "asyncio.AbstractEventLoop"]


_POOLS: weakref.WeakSet[_Pool] = weakref.WeakSet()
_EXIT_HOOKED = threading.Event()


def _at_exit(pool: _Pool) -> None:
    """At the end of the process, the calls under way finish before the feedback log is
    written out (the threads are daemons: idle ones never hold the process up).  Hooked
    at the first thread, after the log's own hook, so it runs before it."""
    _POOLS.add(pool)
    if not _EXIT_HOOKED.is_set():
        _EXIT_HOOKED.set()
        atexit.register(_finish_all)


def _finish_all() -> None:
    for pool in list(_POOLS):
        pool.shutdown()


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def default_settings(
    timeout_s: float = 120.0, ollama_hosts: Sequence[str] = (), endpoints: Sequence[str] = ()
) -> BuiltinSettings:
    """Provider settings for production calls: the Ollama hosts given, else
    ``$OLLAMA_HOST``, else the local server; OpenAI-compatible ``endpoints``
    (``NAME=URL [key_env=VAR] [models=a,b]``); ``timeout_s`` per call."""
    return settings_from(timeout_s, ollama_hosts, endpoints=endpoints)


class Router(AbstractContextManager["Router"]):
    """Answers production calls with each task's registered models.

    Usually made with :meth:`from_registry`::

        from pytest_llmbench import Router

        router = Router.from_registry("llmbench-registry.yaml")
        answer = router.run("grading", posting=posting, summary=summary)
        answer.value, answer.model, answer.fell_over_from

    :param registry: the registry file (case files it records are relative to it).
    :param entries: its entries (:func:`~pytest_llmbench.storage.champions.load_registry`).
    :param evals: a directory to find a task's case file in, by its ``task:`` name; it
        wins over the file the registry records.  Without either, ``evals/`` beside the
        registry is searched.
    :param providers: providers to use instead of those installed (by ``name``); others
        are made from the entry points on first use.
    :param settings: for the providers made here (hosts, timeout, retries, endpoints);
        default :func:`default_settings`.
    :param feedback: the feedback log; ``None``: ``.llmbench/feedback.jsonl`` beside the
        registry; ``False``: none.
    :param failures: consecutive failures that open a model's circuit (default 3).
    :param cool_down_s: how long an open circuit skips the model (default 60 s).
    :param clock: monotonic seconds, for the circuit breaker (injectable for tests).
    :param concurrent: ask the first two models of a consensus at once when they sit on
        different hosts.
    :param workers: threads that make the calls of :meth:`arun` (each keeps its own
        kept-alive connection per host); at most this many async calls wait on models at once.
    :param allowed_roots: directories outside the registry's project that a registry's
        ``case_file`` may name (``llmbench run --allowed-root``); elsewhere it is refused.
    :param shadow: shadow checks over what the case files' ``shadow:`` say
        (:class:`~pytest_llmbench.router.shadow.ShadowOptions`, or a rate for every task);
        see :mod:`pytest_llmbench.router.shadow`.

    Safe to share between threads and tasks: the breaker, the feedback log and the
    providers are shared behind locks.  The feedback log is buffered: :meth:`flush`
    writes it, :meth:`close` (or ``with Router... as router:``) too, as does the end
    of the process.
    """

    def __init__(
        self,
        registry: Path,
        entries: Mapping[str, RegistryEntry],
        *,
        evals: str | os.PathLike[str] | None = None,
        providers: Iterable[Provider] = (),
        settings: BuiltinSettings | None = None,
        feedback: str | os.PathLike[str] | bool | None = None,
        failures: int = DEFAULT_FAILURES,
        cool_down_s: float = DEFAULT_COOL_DOWN_S,
        clock: Callable[[], float] = time.monotonic,
        concurrent: bool = True,
        workers: int = 32,
        allowed_roots: Iterable[str | os.PathLike[str]] = (),
        shadow: ShadowOptions | float | None = None,
    ) -> None:
        self.registry = Path(registry)
        self.entries = dict(entries)
        self.evals = Path(evals) if evals is not None else None
        self.allowed_roots = tuple(Path(p) for p in allowed_roots)
        self.settings = settings or default_settings()
        self.breaker = CircuitBreaker(failures, cool_down_s, clock)
        self._calls = ModelCalls(self.settings, self.breaker, providers)
        self._calls.identity = IdentityWatch(self._calls.provider, self._calls.host, self.entries)
        self.concurrent = concurrent
        if feedback is None or feedback is True:
            self.feedback: FeedbackLog | None = FeedbackLog(feedback_path(self.registry))
        elif feedback is False:
            self.feedback = None
        else:
            self.feedback = FeedbackLog(Path(feedback))
        self._tasks: dict[str, Task] = {}
        self._lock = threading.Lock()
        self._pool = _Pool(workers)
        if not isinstance(shadow, ShadowOptions):
            shadow = ShadowOptions(rate=None if shadow is None else float(shadow))
        self.shadow = ShadowChecks(self._calls, shadow)
        """The shadow checks (``sampled``, ``checked``, ``dropped``, ``pending``)."""

    @classmethod
    def from_registry(
        cls,
        path: str | os.PathLike[str] | None = None,
        evals: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> Router:
        """A router on a registry file (default: ``llmbench-registry.yaml`` in the working
        directory or the nearest parent that has one); ``options`` as for :class:`Router`.

        :raises RouterError: when there is no registry, it cannot be read, or it is empty.
        """
        file = Path(path) if path is not None else find_registry()
        if file is None:
            raise RouterError(
                f"no {DEFAULT_REGISTRY} in {Path.cwd()} or its parents; "
                "write one with pytest --llm-update-registry"
            )
        return cls(file, _read_entries(file), evals=evals, **options)

    def reloaded(self) -> Router:
        """A router on the registry file as it is now, sharing this one's breaker,
        feedback log, providers (their connections) and threads; this one is left as it
        was (calls in flight finish with it).

        :raises RouterError: as :meth:`from_registry` (this router goes on serving).
        """
        fresh = copy.copy(self)
        fresh.entries = dict(_read_entries(self.registry))
        if fresh._calls.identity is not None:  # shared: a re-benchmarked model matches again
            fresh._calls.identity.update(fresh.entries)
        fresh._tasks = {}  # case files are read again too
        return fresh

    # -- what it knows -----------------------------------------------------------

    def tasks(self) -> list[str]:
        return sorted(self.entries)

    def entry(self, task: str) -> RegistryEntry:
        try:
            return self.entries[task]
        except KeyError:
            known = ", ".join(self.tasks()) or "none"
            raise UnknownTask(
                f"task {task!r} is not in registry {self.registry} (tasks: {known})"
            ) from None

    def models(self, task: str) -> list[str]:
        """The models a call of ``task`` tries, in order: champion, runner-up, fallbacks."""
        return self.entry(task).chain

    def case_file(self, task: str) -> Path:
        """Where ``task``'s case file is (see ``evals`` in :class:`Router`)."""
        from pytest_llmbench.cases.load import find_case_file

        entry = self.entry(task)
        if self.evals is not None:
            found = find_case_file(self.evals, task)
            if found is not None:
                return found
        recorded = entry.case_path(self.registry)
        if recorded is not None and recorded.is_file():
            return recorded_case_file(self.registry, task, recorded, self.allowed_roots)
        if self.evals is None and recorded is None:
            found = find_case_file(self.registry.parent / "evals", task)
            if found is not None:
                return found
        where = [f"the registry records {recorded} (not found)" if recorded else ""]
        where.append(f"no case file in {self.evals} has task: {task}" if self.evals else "")
        said = "; ".join(w for w in where if w) or "the registry records no case_file"
        raise RouterError(
            f"no case file for task {task}: {said}; pass evals= (llmbench run --evals DIR) "
            "or re-run the benchmark with --llm-update-registry"
        )

    def task(self, name: str) -> Task:
        """The task as its case file defines it (loaded once)."""
        from pytest_llmbench.cases.load import load_task
        from pytest_llmbench.cases.problems import CaseFileError

        with self._lock:
            if name in self._tasks:
                return self._tasks[name]
        path = self.case_file(name)
        try:
            task = load_task(path)
        except CaseFileError as exc:
            raise RouterError(str(exc)) from None
        except OSError as exc:
            raise RouterError(f"cannot read case file {path}: {exc.strerror}") from None
        if task.name != name:
            raise RouterError(f"case file {path} is task {task.name!r}, not {name!r}")
        with self._lock:
            self._tasks[name] = task
        return task

    # -- calls -------------------------------------------------------------------

    def run(
        self,
        task: str,
        /,
        consensus: bool | None = None,
        *,
        variables: Mapping[str, Any] | None = None,
        **values: Any,
    ) -> RouterResult:
        """Answer one call of ``task`` with its template filled with the values.

        :param consensus: ask several models and let their agreement decide; ``None``:
            when the case file declares ``consensus:``.
        :param variables: template values (for names that clash with the parameters);
            the keyword arguments are added to them.
        :raises RouterError: for an unknown task, bad values or no case file;
            :class:`NoAnswer` when no model answered.
        """
        from pytest_llmbench.cases.templates import TemplateError

        spec = self.task(task)
        given = {
            k: v if isinstance(v, str) else str(v)
            for k, v in {**(variables or {}), **values}.items()
        }
        try:
            case = spec.fill(given)
        except TemplateError as exc:
            raise BadValues(str(exc)) from None
        return _answer(self, spec, case, consensus, given)

    def run_prompt(
        self,
        task: str,
        /,
        prompt: str,
        system: str | None = None,
        consensus: bool | None = None,
    ) -> RouterResult:
        """Answer ``prompt`` (instead of the task's filled template) with the task's
        models, options and output format: what ``/v1/chat/completions`` of
        ``llmbench serve`` sends.  ``system``: the task's own when its template needs no
        value it lacks, else none.
        """
        spec = self.task(task)
        if system is None and spec.system_template is not None:
            from pytest_llmbench.cases.templates import TemplateError, render

            try:
                system = render(spec.system_template, spec.variables)
            except TemplateError:
                system = None
        case = spec.prompted(prompt, system)
        return _answer(self, spec, case, consensus, None)

    async def arun(
        self,
        task: str,
        /,
        consensus: bool | None = None,
        *,
        variables: Mapping[str, Any] | None = None,
        **values: Any,
    ) -> RouterResult:
        """:meth:`run`, awaitable: the call is made on one of the router's ``workers``
        threads (the event loop goes on meanwhile); same answer, same fall-overs, breaker,
        consensus and feedback.  Cancelling the await does not stop a call under way (its
        feedback is still written)."""
        return await self._pool.call(
            functools.partial(self.run, task, consensus, variables=variables, **values)
        )

    async def arun_prompt(
        self,
        task: str,
        /,
        prompt: str,
        system: str | None = None,
        consensus: bool | None = None,
    ) -> RouterResult:
        """:meth:`run_prompt`, awaitable (as :meth:`arun`)."""
        return await self._pool.call(
            functools.partial(self.run_prompt, task, prompt, system, consensus)
        )

    def flush(self) -> None:
        """Write the feedback log's buffered lines now."""
        bookkeeping.flush(self.feedback)

    def close(self) -> None:
        """Wait for the async calls under way and (at most the shadow options' ``wait_s``,
        default 10 s) for the shadow checks pending, write the feedback log and close it."""
        self._pool.shutdown()
        self.shadow.close()
        bookkeeping.close(self.feedback)

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _answer(
    router: Router,
    spec: Task,
    case: Case,
    consensus: bool | None,
    inputs: Mapping[str, str] | None,
) -> RouterResult:
    """``case`` of ``spec`` routed through ``router``'s chain (consensus: the case file's
    choice unless given), with its shadow check and its ``inputs`` for capture."""
    return _route(
        router._calls,
        router.feedback,
        router.models(spec.name),
        spec,
        case,
        use_consensus=spec.consensus is not None if consensus is None else consensus,
        concurrent=router.concurrent,
        after=functools.partial(router.shadow.after_call, inputs=inputs, chain_of=router.models),
    )


def _route(
    calls: ModelCalls,
    feedback: FeedbackLog | None,
    chain: list[str],
    spec: Task,
    case: Case,
    *,
    use_consensus: bool,
    concurrent: bool,
    after: Callable[..., None],
) -> RouterResult:
    """One router call along ``chain``, handed to ``after`` (the shadow checks, which write
    its feedback lines: an exhausted chain's too)."""
    started = time.perf_counter()
    attempts: list[Attempt] = []
    result: RouterResult | None = None
    try:
        if use_consensus:
            result = consensus(calls, spec, case, chain, attempts, started, concurrent=concurrent)
        else:
            result = calls.first_answer(spec, case, chain, attempts, started)
    finally:  # an exhausted chain is logged too
        after(feedback, spec, case, chain, attempts, result)
    return result


def model_verdict(router: Router, task: str, model: str) -> Verdict:
    """Whether ``model`` changed since ``task``'s benchmark in ``router``'s registry
    (checked once per process; see :mod:`~pytest_llmbench.router.identity`)."""
    spec = router.task(task) if task in router._tasks else None
    on_change = spec.on_change if spec is not None else "warn"
    calls = router._calls
    watch = calls.identity or IdentityWatch(calls.provider, calls.host, {})
    return watch.verdict(task, model, on_change)


def recorded_case_file(registry: Path, task: str, path: Path, allowed: Sequence[Path]) -> Path:
    """The ``case_file`` a registry records for ``task``, when it is inside the registry's
    project or under one of the ``allowed`` roots (a registry is shared, its case file
    path is no more trusted than a case file's ``{file:}``).

    :raises RouterError: in one line, naming the path and what to do.
    """
    from pytest_llmbench.safety.confinement import Confinement, OutsideRoot, default_root

    try:
        return Confinement(default_root(registry), allowed).check(path)
    except OutsideRoot as exc:
        why = str(exc).replace(
            "list a trusted directory in the ini option llm_allowed_file_roots",
            "pass allowed_roots= (llmbench run --allowed-root DIR)",
        )
        raise RouterError(
            f"case_file {path} of task {task} in registry {registry}: {why}"
        ) from None
