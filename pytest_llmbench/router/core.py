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

Importing this module imports neither pytest nor any provider SDK nor jsonschema: the
case file is loaded, and a provider made, on first use.
"""

from __future__ import annotations

import copy
import datetime as _dt
import functools
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbench.formatting import one_line
from pytest_llmbench.providers.base import BuiltinSettings, ModelInfo, Provider, ProviderError
from pytest_llmbench.providers.registry import ProviderRegistry, make_provider
from pytest_llmbench.providers.resolve import settings_from
from pytest_llmbench.router.breaker import DEFAULT_COOL_DOWN_S, DEFAULT_FAILURES, CircuitBreaker
from pytest_llmbench.safety.redaction import redact
from pytest_llmbench.storage.champions import (
    DEFAULT_REGISTRY,
    RegistryEntry,
    RegistryError,
    find_registry,
    load_registry,
)
from pytest_llmbench.storage.feedback import FeedbackLog, FeedbackRecord, feedback_path

if TYPE_CHECKING:
    from pytest_llmbench.analysis.consensus import Decision, Vote
    from pytest_llmbench.cases.records import Case, ConsensusSpec, Task

__all__ = [
    "Attempt",
    "BadValues",
    "ConsensusDetails",
    "NoAnswer",
    "Router",
    "RouterError",
    "RouterResult",
    "UnknownTask",
    "default_settings",
    "timed_out",
]

_logger = logging.getLogger("pytest_llmbench.router")
_warned = threading.Event()
_warned_lock = threading.Lock()


def _warn_once(message: str) -> None:
    """Log a bookkeeping failure once per process (the router's calls go on)."""
    with _warned_lock:
        if _warned.is_set():
            return
        _warned.set()
    _logger.warning("%s", message)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {redact(str(exc))}"


_TIMEOUT = re.compile(r"timed? ?out|no answer .* within", re.IGNORECASE)
_TIMEOUT_SPAN = 500
"""How much of an error message is searched for a timeout (characters)."""


def timed_out(detail: str) -> bool:
    """Whether a provider's error says the call timed out (it says so near its start:
    a bounded search, whatever the length of the message)."""
    return _TIMEOUT.search(detail[:_TIMEOUT_SPAN]) is not None


class RouterError(Exception):
    """A router that cannot serve a call: no registry, an unknown task, no case file, bad
    variables, or no model that answered.  ``str()`` is the one-line message."""


class UnknownTask(RouterError):
    """The registry has no such task."""


class BadValues(RouterError):
    """The values do not fill the task's template (one missing, one it does not use)."""


class NoAnswer(RouterError):
    """Every model of the task failed (or was skipped by its circuit breaker)."""

    def __init__(self, message: str, attempts: tuple[Attempt, ...]) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class Attempt:
    """One model asked (or skipped) in one router call."""

    model: str
    outcome: str
    """``ok``, ``error``, ``timeout``, ``unparseable`` or ``circuit_open`` (not called)."""
    latency_ms: float | None = None
    """Wall time of the call, as the caller waited for it."""
    detail: str = ""
    """What went wrong (one line)."""
    text: str = ""
    """The raw answer (when there was one)."""
    value: Any = None
    """The answer as the benchmark reads it (label, JSON value, text) when ``ok``."""
    fell_over_from: tuple[str, ...] = ()
    """The models that failed before this one in the same call."""
    retry_after_s: float | None = None
    """The wait the model's server asked for with its error (``Retry-After``)."""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True)
class ConsensusDetails:
    """How a consensus call decided."""

    accepted: bool
    """Two models agreed; ``False``: no agreement, the top model's answer is flagged."""
    agreed: tuple[str, ...]
    """The two models that agreed (empty without agreement)."""
    similarity: float | None
    """Of the agreeing pair; without agreement, the highest of the pairs compared."""
    answers: Mapping[str, Any]
    """Every usable answer, by model, in the order they were asked."""
    threshold: float
    calls_ms: float
    """The calls added up (what they cost one after the other)."""
    wall_ms: float
    """How long the consensus took (less than ``calls_ms`` when two ran at once)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "agreed": list(self.agreed),
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "models": list(self.answers),
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class RouterResult:
    """The answer of one router call."""

    task: str
    text: str
    """The model's raw answer."""
    value: Any
    """The answer as the benchmark reads it: the label (verdict), the JSON value (json),
    the text (text)."""
    model: str
    """The model whose answer this is."""
    latency_ms: float | None
    """That model's call."""
    total_ms: float
    """The whole router call: fall-overs and consensus included."""
    fell_over_from: tuple[str, ...]
    """Models that failed before an answer came (in order)."""
    attempts: tuple[Attempt, ...]
    consensus: ConsensusDetails | None = None
    """Set for a consensus call."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "model": self.model,
            "answer": self.value,
            "text": self.text,
            "latency_ms": _round(self.latency_ms),
            "total_ms": _round(self.total_ms),
            "fell_over_from": list(self.fell_over_from),
            "attempts": [
                {
                    "model": a.model,
                    "outcome": a.outcome,
                    "latency_ms": _round(a.latency_ms),
                    "detail": a.detail,
                }
                for a in self.attempts
            ],
            "consensus": None if self.consensus is None else self.consensus.to_dict(),
        }


def _answer(
    task: Task,
    chosen: Attempt,
    attempts: list[Attempt],
    started: float,
    fell_over_from: tuple[str, ...],
    consensus: ConsensusDetails | None = None,
) -> RouterResult:
    return RouterResult(
        task=task.name,
        text=chosen.text,
        value=chosen.value,
        model=chosen.model,
        latency_ms=chosen.latency_ms,
        total_ms=(time.perf_counter() - started) * 1000.0,
        fell_over_from=fell_over_from,
        attempts=tuple(attempts),
        consensus=consensus,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


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
    """The threads of :meth:`Router.arun`, made on first use (shared by reloaded routers)."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="llmbench")
            return self._executor

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


def default_settings(
    timeout_s: float = 120.0, ollama_hosts: Sequence[str] = (), endpoints: Sequence[str] = ()
) -> BuiltinSettings:
    """Provider settings for production calls: the Ollama hosts given, else
    ``$OLLAMA_HOST``, else the local server; OpenAI-compatible ``endpoints``
    (``NAME=URL [key_env=VAR] [models=a,b]``); ``timeout_s`` per call."""
    return settings_from(timeout_s, ollama_hosts, endpoints=endpoints)


class Router:
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
    ) -> None:
        self.registry = Path(registry)
        self.entries = dict(entries)
        self.evals = Path(evals) if evals is not None else None
        self.settings = settings or default_settings()
        self.breaker = CircuitBreaker(failures, cool_down_s, clock)
        self.concurrent = concurrent
        if feedback is None or feedback is True:
            self.feedback: FeedbackLog | None = FeedbackLog(feedback_path(self.registry))
        elif feedback is False:
            self.feedback = None
        else:
            self.feedback = FeedbackLog(Path(feedback))
        self._providers = ProviderRegistry(self.settings)
        for provider in providers:
            self._providers.add(provider)
        self._tasks: dict[str, Task] = {}
        self._lock = threading.Lock()
        self._pool = _Pool(workers)

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
            return recorded
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
        return self._route(spec, case, consensus)

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
        return self._route(spec, case, consensus)

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
        return await self._in_pool(
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
        return await self._in_pool(
            functools.partial(self.run_prompt, task, prompt, system, consensus)
        )

    async def _in_pool(self, call: Callable[[], RouterResult]) -> RouterResult:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(self._pool.executor(), call)

    def flush(self) -> None:
        """Write the feedback log's buffered lines now."""
        if self.feedback is not None:
            try:
                self.feedback.flush()
            except OSError as exc:
                _warn_once(
                    f"llmbench: cannot write the feedback log {self.feedback.path} ({_why(exc)})"
                )

    def close(self) -> None:
        """Wait for the async calls under way, write the feedback log and close it."""
        self._pool.shutdown()
        if self.feedback is not None:
            try:
                self.feedback.close()
            except OSError as exc:
                _warn_once(
                    f"llmbench: cannot write the feedback log {self.feedback.path} ({_why(exc)})"
                )

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _route(self, spec: Task, case: Case, consensus: bool | None) -> RouterResult:
        chain = self.models(spec.name)
        use_consensus = spec.consensus is not None if consensus is None else consensus
        started = time.perf_counter()
        attempts: list[Attempt] = []
        result: RouterResult | None = None
        try:
            if use_consensus:
                result = self._consensus(spec, case, chain, attempts, started)
            else:
                result = self._first_answer(spec, case, chain, attempts, started)
        finally:  # an exhausted chain is logged too
            self._log(spec.name, attempts, result.consensus if result is not None else None)
        return result

    def _first_answer(
        self, task: Task, case: Case, chain: list[str], attempts: list[Attempt], started: float
    ) -> RouterResult:
        for attempt in self._attempts(task, case, chain):
            attempts.append(attempt)
            if attempt.ok:
                return _answer(task, attempt, attempts, started, attempt.fell_over_from)
        raise self._no_answer(task.name, attempts)

    def _attempts(self, task: Task, case: Case, chain: list[str]) -> Iterator[Attempt]:
        """Each model of the chain asked in turn (skipped while its circuit is open)."""
        failed: list[str] = []
        for model in chain:
            attempt = self._try(task, case, model, tuple(failed))
            if attempt.outcome != "circuit_open" and not attempt.ok:
                failed.append(model)
            yield attempt

    def _try(self, task: Task, case: Case, model: str, failed: tuple[str, ...]) -> Attempt:
        if not self.breaker.allows(model):
            wait = self.breaker.retry_in(model)
            return Attempt(
                model,
                "circuit_open",
                detail=f"skipped: circuit open, tried again in {wait:.0f} s",
                fell_over_from=failed,
            )
        attempt = replace(self._ask(task, case, model), fell_over_from=failed)
        self.breaker.record(model, attempt.ok, retry_after_s=attempt.retry_after_s)
        return attempt

    def _ask(self, task: Task, case: Case, model: str) -> Attempt:
        """One call, built and read exactly as the benchmark builds and reads it."""
        from pytest_llmbench.execution.call import build_request, call_provider
        from pytest_llmbench.execution.scoring import parse_answer

        provider_name, _, name = model.partition("/")
        try:
            provider = self._provider(provider_name)
            request = build_request(
                task, case, ModelInfo(provider_name, name), self.settings.timeout_s
            )
            call = call_provider(provider, request)
        except Exception as exc:  # a provider that breaks must not break production
            detail = (
                redact(str(exc))
                if isinstance(exc, ProviderError)
                else (f"{type(exc).__name__}: {redact(str(exc))}")
            )
            return Attempt(model, "error", detail=one_line(detail))
        if call.response is None:
            detail = call.error or "no answer"
            outcome = "timeout" if timed_out(detail) else "error"
            return Attempt(
                model,
                outcome,
                call.latency_ms,
                one_line(detail),
                retry_after_s=call.retry_after_s,
            )
        text = call.response.text
        value, problem = parse_answer(task.output, text)
        if problem:
            return Attempt(model, "unparseable", call.latency_ms, problem, text)
        return Attempt(model, "ok", call.latency_ms, "", text, value)

    def _provider(self, name: str) -> Provider:
        with self._lock:
            if name not in self._providers:
                made = make_provider(name, self.settings)
                if made is None:
                    raise ProviderError(f"no provider {name!r} is installed")
                self._providers.add(made)
            return self._providers.get(name)

    def _host(self, model: str) -> str:
        """Where a model runs: its server for a remote provider, else this process."""
        provider_name, _, name = model.partition("/")
        try:
            provider = self._provider(provider_name)
        except Exception:
            return f"unknown:{provider_name}"
        if not getattr(provider, "remote", False):
            return "local"
        host_for = getattr(provider, "host_for", None)
        if callable(host_for):
            try:
                return str(host_for(name))
            except Exception:
                return provider_name
        return provider_name

    # -- consensus ---------------------------------------------------------------

    def _consensus(
        self, task: Task, case: Case, chain: list[str], attempts: list[Attempt], started: float
    ) -> RouterResult:
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
        first = [m for m in pending if self.breaker.allows(m)][:2]
        if len(first) == 2 and self.concurrent and self._host(first[0]) != self._host(first[1]):
            upto = pending.index(first[1]) + 1
            head, pending = pending[:upto], pending[upto:]
            take([self._try(task, case, m, ()) for m in head if m not in first])
            with ThreadPoolExecutor(2, thread_name_prefix="llmbench-consensus") as pool:
                futures = [pool.submit(self._try, task, case, m, ()) for m in first]
                take([f.result() for f in futures])
        while True:
            votes: list[Vote] = [Vote(a.value) for a in answered]
            decision: Decision = decide(
                votes, task.output.kind, spec.agree, spec.models, final=not pending
            )
            if not decision.pending:
                break
            take([self._try(task, case, pending.pop(0), tuple(failed))])
        if decision.chosen is None:
            raise self._no_answer(task.name, attempts)
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
        return _answer(task, chosen, attempts, started, tuple(failed), details)

    # -- errors and feedback -----------------------------------------------------

    @staticmethod
    def _no_answer(task: str, attempts: list[Attempt]) -> NoAnswer:
        tried = "; ".join(
            f"{a.model}: {a.outcome}{' (' + a.detail + ')' if a.detail else ''}" for a in attempts
        )
        return NoAnswer(f"no model answered task {task}: {tried or 'no model'}", tuple(attempts))

    def _log(self, task: str, attempts: list[Attempt], consensus: ConsensusDetails | None) -> None:
        """The feedback lines of one router call, in one write."""
        if self.feedback is None or not attempts:
            return
        call = uuid.uuid4().hex[:12]
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
        try:
            self._append(self.feedback, task, call, now, attempts, consensus)
        except Exception as exc:  # bookkeeping never costs the caller its answer
            _warn_once(
                f"llmbench: cannot write the feedback log {self.feedback.path} "
                f"({_why(exc)}); the router goes on without it: make its folder writable, "
                "or pass feedback= another file or False"
            )

    @staticmethod
    def _append(
        log: FeedbackLog,
        task: str,
        call: str,
        now: str,
        attempts: list[Attempt],
        consensus: ConsensusDetails | None,
    ) -> None:
        log.append(
            [
                FeedbackRecord(
                    time=now.replace("+00:00", "Z"),
                    call=call,
                    task=task,
                    model=a.model,
                    outcome=a.outcome,
                    latency_ms=a.latency_ms,
                    fell_over_from=a.fell_over_from,
                    detail=a.detail,
                    consensus=None if consensus is None else consensus.to_dict(),
                )
                for a in attempts
            ]
        )
