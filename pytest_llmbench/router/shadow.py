"""Shadow checks: a sampled share of production calls answered again, after the caller
has its answer and off its path, and the outcome written to the feedback log.

A task turns them on in its case file (``shadow: {rate: 0.05, check: runner_up}``), or
the router for every task (``Router.from_registry(..., shadow=ShadowOptions(rate=0.05))``,
``llmbench serve --shadow-rate 0.05``).  The checks:

- ``runner_up``: the next model of the task's chain (the runner-up when the champion
  answered) answers the same request; agreement by the consensus rule
  (:func:`pytest_llmbench.analysis.consensus.agreement`, the task's ``consensus.agree``);
- ``consensus``: the other models of the chain answer, one after the other, until the
  consensus rule decides (:func:`~pytest_llmbench.analysis.consensus.decide`, the
  production answer ranked first): agreed when the answer taken is the production one;
- ``judge``: the task's judge (``judge: {model}`` or the champion of ``judge: {task}``)
  scores the answer 0-1 against ``shadow.rubric`` (default :data:`DEFAULT_RUBRIC`).

How it stays off the caller's path: the call's feedback lines are handed, with the
request, to a queue of at most ``queue`` checks; one worker thread makes the checks and
writes the lines with the outcome on the answering model's line (``shadow``:
``{"check", "model", "agreed", "score", "error"}``, and ``answer`` when the task
captures).  A full queue drops the check (counted in :attr:`ShadowChecks.dropped`, the
line written at once with ``error: "dropped: ..."``).  A shadow call never goes through
the circuit breaker's books (it neither opens a circuit nor is counted), and whatever it
raises becomes the check's ``error``.  :meth:`ShadowChecks.close` (``Router.close()``)
waits up to ``wait_s`` for the checks still pending, then writes the lines of those left
with ``error: "not checked: ..."``: no call's lines are lost.  A process that ends without
closing its router does the same at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import random
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pytest_llmbench.formatting import one_line
from pytest_llmbench.router import bookkeeping
from pytest_llmbench.router.calls import SKIPPED, ModelCalls
from pytest_llmbench.router.capture import Captures, cut_answer, in_doubt
from pytest_llmbench.router.results import Attempt, RouterResult
from pytest_llmbench.safety.redaction import redact

if TYPE_CHECKING:
    from pytest_llmbench.cases.records import Case, Task
    from pytest_llmbench.storage.feedback import FeedbackLog

__all__ = [
    "DEFAULT_QUEUE",
    "DEFAULT_RUBRIC",
    "DEFAULT_WAIT_S",
    "ShadowChecks",
    "ShadowOptions",
]

_logger = logging.getLogger("pytest_llmbench.router")

DEFAULT_QUEUE = 1000
"""Shadow checks that may wait at once; more are dropped (and counted)."""
DEFAULT_WAIT_S = 10.0
"""How long ``Router.close()`` waits for the shadow checks still pending."""
DEFAULT_RUBRIC = (
    "The answer does what the request asks, correctly and completely, and states nothing "
    "the inputs do not support."
)
CHECKS = ("runner_up", "consensus", "judge")


@dataclass(frozen=True)
class ShadowOptions:
    """The router's shadow checks, over what the case files say.

    :param rate: the share of every task's calls checked (``None``: each case file's
        ``shadow.rate``, none without; ``0``: no shadow check at all).
    :param check: ``runner_up``, ``consensus`` or ``judge`` for a task whose case file
        names none (``None``: ``runner_up``).
    :param queue: checks that may wait at once; more are dropped and counted.
    :param wait_s: how long :meth:`Router.close` waits for pending checks.
    :param random: ``() -> float`` in [0, 1) that samples the calls (a seeded
        ``random.Random(7).random`` in tests).
    """

    rate: float | None = None
    check: str | None = None
    queue: int = DEFAULT_QUEUE
    wait_s: float = DEFAULT_WAIT_S
    random: Callable[[], float] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"shadow rate must be between 0 and 1, got {self.rate}")
        if self.check is not None and self.check not in CHECKS:
            raise ValueError(f"shadow check must be one of {', '.join(CHECKS)}, got {self.check!r}")
        if self.queue < 1:
            raise ValueError(f"shadow queue must be at least 1, got {self.queue}")
        if self.wait_s < 0:
            raise ValueError(f"shadow wait_s must be 0 or more, got {self.wait_s}")


@dataclass
class _Job:
    """One call's feedback lines waiting for their shadow check."""

    feedback: FeedbackLog | None
    task: Task
    case: Case
    chain: list[str]
    result: RouterResult
    inputs: Mapping[str, str] | None
    check: str
    when: str
    chain_of: Callable[[str], list[str]]
    """A task's models in the registry (the judge of ``judge: {task: NAME}``)."""


class ShadowChecks:
    """The shadow checks of a router (shared with the routers :meth:`Router.reloaded`
    makes from it).

    :param calls: the router's model calls (providers, breaker).
    :param options: see :class:`ShadowOptions`.
    """

    def __init__(self, calls: ModelCalls, options: ShadowOptions) -> None:
        self.calls = calls
        self.options = options
        self.captures = Captures()
        self._random = options.random or random.Random().random
        self._random_lock = threading.Lock()
        self._queue: queue.Queue[_Job | None] = queue.Queue(options.queue)
        self._pending: dict[int, _Job] = {}
        self._done = threading.Condition()
        self._worker: threading.Thread | None = None
        self.sampled = 0
        """Calls chosen for a check."""
        self.checked = 0
        """Checks made (their outcome written, an error included)."""
        self.dropped = 0
        """Checks dropped because the queue was full."""
        self.unfinished = 0
        """Checks still pending when :meth:`close` stopped waiting."""
        _OPEN.add(self)

    # -- on the caller's path: cheap ---------------------------------------------

    def rate(self, task: Task) -> float:
        if self.options.rate is not None:
            return self.options.rate
        return task.shadow.rate if task.shadow is not None else 0.0

    def check_of(self, task: Task) -> str:
        if task.shadow is not None and task.shadow.check:
            return task.shadow.check
        return self.options.check or "runner_up"

    def _sample(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._random_lock:
            return self._random() < rate

    def after_call(
        self,
        feedback: FeedbackLog | None,
        task: Task,
        case: Case,
        chain: list[str],
        attempts: list[Attempt],
        result: RouterResult | None,
        inputs: Mapping[str, str] | None,
        chain_of: Callable[[str], list[str]],
    ) -> None:
        """A router call done: its lines written now, or handed to the worker with a
        shadow check when the call is sampled.  Never raises.

        :param chain_of: a task's models in the registry (for ``judge: {task: NAME}``).
        """
        try:
            when = bookkeeping.now()
            if result is not None and self._sample(self.rate(task)):
                job = _Job(
                    feedback, task, case, chain, result, inputs, self.check_of(task), when, chain_of
                )
                if self._submit(job):
                    return
                outcome = _outcome(job.check, None, error="dropped: the shadow queue was full")
                self._write(
                    job.feedback, task, list(result.attempts), result, inputs, when, outcome
                )
                return
            consensus = None if result is None else result.consensus
            self._write_lines(feedback, task, attempts, consensus, inputs, when, None, None)
        except Exception as exc:  # bookkeeping never costs the caller its answer
            _logger.warning("llmbench: shadow check bookkeeping failed (%s)", redact(str(exc)))

    def _submit(self, job: _Job) -> bool:
        with self._done:
            self.sampled += 1
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self.dropped += 1
                return False
            self._pending[id(job)] = job
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._work, name="llmbench-shadow", daemon=True
                )
                self._worker.start()
        return True

    # -- the worker ----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                outcome = _check(self.calls, job)
            except Exception as exc:  # a check that breaks is an outcome, not a crash
                outcome = _outcome(job.check, None, error=f"{type(exc).__name__}: {exc}")
            self._finish(job, outcome)

    def _finish(self, job: _Job, outcome: dict[str, Any]) -> None:
        with self._done:
            if id(job) not in self._pending:  # close() wrote it already
                return
            del self._pending[id(job)]
            self.checked += "not checked" not in str(outcome.get("error", ""))
            try:
                result = job.result
                self._write(
                    job.feedback,
                    job.task,
                    list(result.attempts),
                    result,
                    job.inputs,
                    job.when,
                    outcome,
                )
            finally:
                self._done.notify_all()

    def _write(
        self,
        feedback: FeedbackLog | None,
        task: Task,
        attempts: list[Attempt],
        result: RouterResult,
        inputs: Mapping[str, str] | None,
        when: str,
        outcome: dict[str, Any],
    ) -> None:
        self._write_lines(
            feedback, task, attempts, result.consensus, inputs, when, result.model, outcome
        )

    def _write_lines(
        self,
        feedback: FeedbackLog | None,
        task: Task,
        attempts: list[Attempt],
        consensus: Any,
        inputs: Mapping[str, str] | None,
        when: str,
        model: str | None,
        outcome: dict[str, Any] | None,
    ) -> None:
        captured = None
        if task.capture.inputs and in_doubt(task, attempts, consensus, outcome):
            captured = self.captures.take(task, inputs)
        if outcome is not None and captured is None:
            outcome = {k: v for k, v in outcome.items() if k != "answer"}
        if outcome is not None and captured is not None and outcome.get("answer"):
            outcome = {**outcome, "answer": cut_answer(str(outcome["answer"]))}
        if captured is not None:
            attempts = [replace(a, text=cut_answer(a.text)) if a.text else a for a in attempts]
        bookkeeping.log_call(
            feedback,
            task.name,
            attempts,
            consensus,
            when=when,
            inputs=captured,
            answers=captured is not None,
            shadow=None if outcome is None or model is None else (model, outcome),
        )

    @property
    def pending(self) -> int:
        """Checks waiting or under way."""
        with self._done:
            return len(self._pending)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait up to ``timeout_s`` (default the options' ``wait_s``) for the pending
        checks; whether none is left."""
        limit = self.options.wait_s if timeout_s is None else timeout_s
        with self._done:
            return self._done.wait_for(lambda: not self._pending, limit)

    def close(self, timeout_s: float | None = None) -> None:
        """Wait (bounded) for the pending checks, write the lines of those left unchecked,
        and stop the worker (a later call starts another)."""
        limit = self.options.wait_s if timeout_s is None else timeout_s
        if not self.wait(limit):
            with self._done:
                left = list(self._pending.values())
                self.unfinished += len(left)
            note = f"not checked: the router closed after waiting {limit:g} s"
            for job in left:  # queued or under way: written now, a late outcome dropped
                self._finish(job, _outcome(job.check, None, error=note))
            if left:
                _logger.warning(
                    "llmbench: %d shadow check(s) still pending after %g s; their calls "
                    "are logged unchecked",
                    len(left),
                    limit,
                )
            while True:  # what still waits in the queue is written already
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
        with self._done:
            worker, self._worker = self._worker, None
        if worker is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)


_OPEN: weakref.WeakSet[ShadowChecks] = weakref.WeakSet()
"""Every router's shadow checks in this process (closed at exit)."""


def _check(calls: ModelCalls, job: _Job) -> dict[str, Any]:
    if job.check == "judge":
        return _judge(calls, job)
    others = [m for m in job.chain if m != job.result.model]
    if not others:
        return _outcome(job.check, None, error="no other model in the task's chain")
    if job.check == "consensus":
        return _consensus(calls, job, others)
    return _runner_up(calls, job, others[0])


def _ask(calls: ModelCalls, job: _Job, model: str) -> Attempt:
    """``model`` asked as production would ask it, off the breaker's books (skipped
    while its circuit is open, or while it changed since the benchmark and the task
    says ``on_change: fall_over``)."""
    if not calls.breaker.allows(model):
        return Attempt(model, "circuit_open", detail="skipped: circuit open")
    watch = calls.identity
    verdict = watch.verdict(job.task.name, model, job.task.on_change) if watch else None
    if verdict is not None and verdict.skip:
        return Attempt(model, "circuit_open", detail=SKIPPED, changed=True)
    return calls.ask(job.task, job.case, model)


def _runner_up(calls: ModelCalls, job: _Job, model: str) -> dict[str, Any]:
    from pytest_llmbench.analysis.consensus import Vote, agreement

    attempt = _ask(calls, job, model)
    if not attempt.ok:
        return _outcome(job.check, model, error=_failed(attempt))
    agreed, similarity = agreement(
        job.task.output.kind, Vote(job.result.value), Vote(attempt.value), _agree(job.task)
    )
    return _outcome(job.check, model, agreed=agreed, similarity=similarity, answer=attempt.text)


def _consensus(calls: ModelCalls, job: _Job, others: list[str]) -> dict[str, Any]:
    from pytest_llmbench.analysis.consensus import Vote, decide
    from pytest_llmbench.cases.records import ConsensusSpec

    spec = job.task.consensus or ConsensusSpec()
    votes = [Vote(job.result.value)]
    answered: list[Attempt] = []
    failures: list[str] = []
    pending = list(others)
    while True:
        decision = decide(votes, job.task.output.kind, spec.agree, spec.models, final=not pending)
        if not decision.pending:
            break
        attempt = _ask(calls, job, pending.pop(0))
        if attempt.ok:
            answered.append(attempt)
            votes.append(Vote(attempt.value))
        else:
            failures.append(_failed(attempt))
    models = ",".join(a.model for a in answered) or None
    if not answered:
        return _outcome(job.check, models, error="; ".join(failures) or "no model answered")
    agreed = decision.consensus and 0 in decision.agreed
    shown = answered[decision.agreed[-1] - 1] if decision.consensus and not agreed else None
    return _outcome(
        job.check,
        models,
        agreed=agreed,
        similarity=decision.similarity,
        answer=(shown or answered[0]).text,
    )


def _judge(calls: ModelCalls, job: _Job) -> dict[str, Any]:
    from pytest_llmbench.execution.call import call_provider
    from pytest_llmbench.execution.judge import (
        JudgeError,
        judge_prompt,
        judge_request,
        parse_judgement,
    )
    from pytest_llmbench.providers.base import ModelInfo

    spec = job.task.judge
    if spec is None:
        return _outcome(job.check, None, error="the task has no judge:")
    judges = [spec.model] if spec.model is not None else job.chain_of(str(spec.task))[:1]
    if not judges:
        return _outcome(job.check, None, error=f"no model registered for task {spec.task}")
    judge = judges[0]
    if not calls.breaker.allows(judge):
        return _outcome(job.check, judge, error="skipped: circuit open")
    rubric = job.task.shadow.rubric if job.task.shadow is not None else None
    prompt = judge_prompt(
        spec.prompt,
        rubric or DEFAULT_RUBRIC,
        job.result.text,
        tuple((job.inputs or {}).items()),
        job.case.prompt,
    )
    provider_name, _, name = judge.partition("/")
    provider = calls.provider(provider_name)
    call = call_provider(
        provider,
        judge_request(ModelInfo(provider_name, name), prompt, calls.settings.timeout_s),
    )
    if call.response is None:
        return _outcome(job.check, judge, error=call.error or "no answer")
    try:
        judgement = parse_judgement(call.response.text)
    except JudgeError as exc:
        return _outcome(job.check, judge, error=f"not a judgement: {exc}")
    return _outcome(job.check, judge, score=judgement.score, reason=judgement.reason)


# -- the end ------------------------------------------------------------------


def _at_exit() -> None:
    """A process that ends without ``Router.close()``: its pending checks are waited for
    (each router's ``wait_s`` at most) and their calls written."""
    from pytest_llmbench.storage.feedback import flush_feedback

    closed = False
    for checks in list(_OPEN):
        if checks.pending:
            checks.close()
            closed = True
    if closed:  # the logs may have written out already: write what the checks added
        try:
            flush_feedback()
        except OSError as exc:
            _logger.warning("llmbench: cannot write the feedback log (%s)", exc)


atexit.register(_at_exit)


def _agree(task: Task) -> float:
    from pytest_llmbench.cases.records import DEFAULT_AGREE

    return task.consensus.agree if task.consensus is not None else DEFAULT_AGREE


def _failed(attempt: Attempt) -> str:
    return one_line(
        f"{attempt.model}: {attempt.outcome}" + (f" ({attempt.detail})" if attempt.detail else "")
    )


def _outcome(
    check: str,
    model: str | None,
    *,
    agreed: bool | None = None,
    score: float | None = None,
    similarity: float | None = None,
    answer: str | None = None,
    reason: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The ``shadow`` field of a feedback line."""
    outcome: dict[str, Any] = {"check": check, "model": model, "agreed": agreed, "score": score}
    if similarity is not None:
        outcome["similarity"] = round(similarity, 4)
    if reason:
        outcome["reason"] = one_line(reason, 300)
    if answer is not None:
        outcome["answer"] = answer
    if error is not None:
        outcome["error"] = one_line(redact(error), 500)
    return outcome
