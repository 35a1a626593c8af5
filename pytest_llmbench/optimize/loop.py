"""The interviewer loop for one (task, model): evaluate, interview, check, repeat.

1. The task's cases are split once, by a seeded shuffle, into a training part (shown
   to the interviewer) and a held-out part (``holdout`` share, never shown).
2. Each iteration runs every case with the current prompt on the model through
   :func:`~pytest_llmbench.execution.batch.run_cases` (the benchmark's request, timing
   and scoring) and scores it: the share of correct answers (or the mean quality score
   where the results have one), over all cases, training and held-out apart.
3. A proposal that scores fewer correct held-out cases than the prompt it would replace
   is rejected (the holdout guard): the loop goes back to that prompt.
4. Below the threshold, the interviewer gets the prompt, the score and the failed
   training cases and proposes a prompt; a proposal dropping a template variable or
   containing a held-out gold answer is rejected and logged, never run (the
   interviewer is asked again, told why; at most ``2 * max_iterations`` interviews).
5. Stops: the threshold is reached, the interviewer proposes nothing new, no gain for
   2 iterations, or ``max_iterations`` evaluations.

Every evaluation and interview is recorded (:class:`Evaluation`, :class:`Interview`)
and handed to ``record`` as soon as it is made, so that
:mod:`pytest_llmbench.optimize.files` writes them as the loop goes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pytest_llmbench.analysis.stats import mean
from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.cases.templates import render
from pytest_llmbench.execution.batch import run_cases
from pytest_llmbench.execution.call import call_provider
from pytest_llmbench.execution.results import Result
from pytest_llmbench.optimize.interviewer import (
    ANSWER_SCHEMA,
    Proposal,
    check_proposal,
    interview_prompt,
    read_proposal,
)
from pytest_llmbench.providers.base import ModelInfo, Provider, Request

__all__ = ["Evaluation", "Interview", "Session", "optimize", "split_cases"]

NO_GAIN_STOP = 2
"""Iterations without a gain after which the loop stops."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CaseRun:
    case_id: str
    part: str
    """``training`` or ``holdout``."""
    filled_prompt: str
    output: str
    expected: str
    correct: bool
    latency_ms: float | None
    error: str | None


@dataclass(frozen=True)
class Evaluation:
    """One run of every case with one prompt (``test_iteration_N.json``)."""

    iteration: int
    prompt: str
    filled_prompt: str
    """The prompt filled with the first training case's inputs."""
    output: str
    """That case's answer."""
    time: float
    """Seconds the model took for all cases."""
    success: bool
    """Every case answered (no call failed)."""
    error: str | None
    score: float
    train_score: float
    holdout_score: float
    holdout_correct: int
    timestamp: str
    cases: tuple[CaseRun, ...]
    accepted: bool = True
    rejected_reason: str | None = None


@dataclass(frozen=True)
class Interview:
    """One question to the interviewer and its answer (``interview_N.json``)."""

    number: int
    interviewer_model: str
    interview_prompt: str
    response: str
    improved_prompt: str
    has_improvement: bool
    timestamp: str
    analysis: str = ""
    reasoning: str = ""
    time: float | None = None
    accepted: bool = False
    rejected_reasons: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class Session:
    """Everything one optimization did, in order."""

    task: str
    model: str
    interviewer: str
    threshold: float
    max_iterations: int
    holdout: float
    training: tuple[str, ...]
    held_out: tuple[str, ...]
    original_prompt: str
    prompt_version: str
    started_at: str
    evaluations: list[Evaluation] = field(default_factory=list)
    interviews: list[Interview] = field(default_factory=list)
    stop_reason: str = ""
    finished_at: str = ""

    @property
    def best(self) -> Evaluation | None:
        """The accepted evaluation with the highest score (the earliest among equals)."""
        accepted = [e for e in self.evaluations if e.accepted]
        return max(accepted, key=lambda e: (e.score, e.holdout_score), default=None)

    @property
    def improved(self) -> bool:
        best, first = self.best, self.evaluations[0] if self.evaluations else None
        return best is not None and first is not None and best.score > first.score


def split_cases(
    cases: Sequence[Case], holdout: float, seed: int = 42
) -> tuple[list[Case], list[Case]]:
    """(training, held-out): a seeded shuffle; at least one training case, and one
    held-out case when ``holdout`` > 0 and there are two cases or more."""
    order = list(cases)
    random.Random(seed).shuffle(order)
    count = round(len(order) * holdout)
    if holdout > 0 and len(order) >= 2:
        count = max(1, count)
    count = min(count, len(order) - 1)
    held = {c.id for c in order[:count]}
    return [c for c in cases if c.id not in held], [c for c in cases if c.id in held]


def with_template(task: Task, template: str, cases: Sequence[Case]) -> list[Case]:
    """The cases rendered with another prompt template (same inputs, same gold)."""
    out = []
    for case in cases:
        prompt = render(template, case.vars)
        digest = hashlib.sha256(f"{case.system}\x00{prompt}".encode()).hexdigest()[:16]
        out.append(dataclasses.replace(case, prompt=prompt, prompt_hash=digest))
    return out


def _score(results: Sequence[Result]) -> float:
    """Share correct, or the mean quality score where the results carry one."""
    if not results:
        return 0.0
    quality = [q for r in results if isinstance(q := getattr(r, "score", None), float | int)]
    if len(quality) == len(results):
        return float(mean([float(q) for q in quality]) or 0.0)
    return sum(1 for r in results if r.correct) / len(results)


Progress = Callable[[str], None]
Record = Callable[[Evaluation | Interview], None]
"""Called with every evaluation and interview as soon as the session holds it."""


@dataclass
class _Loop:
    task: Task
    provider: Provider
    model: ModelInfo
    interviewer: Provider
    interviewer_model: ModelInfo
    session: Session
    training: list[Case]
    held_out: list[Case]
    timeout_s: float
    interviewer_options: GenerateOptions
    progress: Progress
    record: Record
    results: dict[int, list[Result]] = field(default_factory=dict)
    """Each evaluation's results, by iteration."""

    def evaluate(self, template: str) -> Evaluation:
        cases = with_template(self.task, template, [*self.training, *self.held_out])
        first = not self.session.evaluations
        start = time.perf_counter()
        results = run_cases(
            self.task, cases, self.provider, self.model, timeout_s=self.timeout_s, cold=first
        )
        seconds = time.perf_counter() - start
        held = {c.id for c in self.held_out}
        train = [r for r in results if r.case_id not in held]
        hold = [r for r in results if r.case_id in held]
        runs = tuple(
            CaseRun(
                r.case_id, "holdout" if r.case_id in held else "training", case.prompt,
                r.got, r.expected, r.correct, r.latency_ms, r.error,
            )
            for case, r in zip(cases, results, strict=True)
        )  # fmt: skip
        errors = [r.error for r in results if r.error]
        evaluation = Evaluation(
            iteration=len(self.session.evaluations) + 1,
            prompt=template,
            filled_prompt=runs[0].filled_prompt if runs else "",
            output=runs[0].output if runs else "",
            time=seconds,
            success=not errors,
            error=errors[0] if errors else None,
            score=_score(results),
            train_score=_score(train),
            holdout_score=_score(hold) if hold else 1.0,
            holdout_correct=sum(1 for r in hold if r.correct),
            timestamp=_now(),
            cases=runs,
        )
        self.progress(
            f"iteration {evaluation.iteration}: score {evaluation.score:.2f} "
            f"(training {evaluation.train_score:.2f}, held-out {evaluation.holdout_score:.2f})"
        )
        self.results[evaluation.iteration] = results
        return evaluation

    def interview(self, base: Evaluation, note: str) -> tuple[Interview, Proposal]:
        held = {c.id for c in self.held_out}
        by_id = {c.id: c for c in self.training}
        failures = [
            (by_id[r.case_id], r)
            for r in self.results[base.iteration]
            if not r.correct and r.case_id not in held and r.case_id in by_id
        ]
        question = interview_prompt(
            base.prompt, base.train_score, self.session.threshold, failures,
            len(self.training), note,
        )  # fmt: skip
        number = len(self.session.interviews) + 1
        self.progress(
            f"interview {number}: asking {self.interviewer_model.id} for a better prompt "
            f"({len(failures)} failed training case(s) shown) ..."
        )
        request = Request(
            model=self.interviewer_model.name,
            prompt=question,
            options=self.interviewer_options,
            json_schema=ANSWER_SCHEMA,
            timeout_s=self.timeout_s,
        )
        call = call_provider(self.interviewer, request)
        text = call.response.text if call.response is not None else ""
        proposal = (
            read_proposal(text)
            if call.response is not None
            else Proposal("", "", "", False, call.error)
        )
        interview = Interview(
            number=number,
            interviewer_model=self.interviewer_model.id,
            interview_prompt=question,
            response=text,
            improved_prompt=proposal.improved_prompt,
            has_improvement=proposal.has_improvement,
            timestamp=_now(),
            analysis=proposal.analysis,
            reasoning=proposal.reasoning,
            time=None if call.latency_ms is None else call.latency_ms / 1000.0,
            error=proposal.error,
        )
        return interview, proposal

    def run(self) -> Session:
        session = self.session
        template = session.original_prompt
        base: Evaluation | None = None
        stalls = 0
        note = ""
        pending = True  # the current template has not been evaluated yet
        while True:
            if pending:
                evaluation = self.evaluate(template)
                pending = False
                if base is not None and evaluation.holdout_correct < base.holdout_correct:
                    reason = (
                        f"holdout guard: {evaluation.holdout_correct} held-out cases right, "
                        f"{base.holdout_correct} before"
                    )
                    evaluation = dataclasses.replace(
                        evaluation, accepted=False, rejected_reason=reason
                    )
                    self.progress(f"iteration {evaluation.iteration}: rejected ({reason})")
                    note = "the last proposal did worse on cases you were not shown; try another"
                    stalls += 1
                    template = base.prompt
                else:
                    stalls = 0 if base is None or evaluation.score > base.score else stalls + 1
                    base = evaluation
                    note = ""
                session.evaluations.append(evaluation)
                self.record(evaluation)
            assert base is not None
            if base.score >= session.threshold:
                session.stop_reason = f"threshold reached ({base.score:.2f} >= {session.threshold})"
                break
            if stalls >= NO_GAIN_STOP:
                session.stop_reason = f"no gain for {NO_GAIN_STOP} iterations"
                break
            if len(session.evaluations) >= session.max_iterations:
                session.stop_reason = f"max iterations ({session.max_iterations})"
                break
            interview, proposal = self.interview(base, note)
            new = proposal.improved_prompt
            if (
                not proposal.has_improvement
                or not new.strip()
                or new.strip() == base.prompt.strip()
            ):
                session.interviews.append(interview)
                self.record(interview)
                session.stop_reason = "the interviewer proposed no improvement"
                break
            problems = check_proposal(session.original_prompt, new, self.held_out)
            session.interviews.append(
                dataclasses.replace(
                    interview, accepted=not problems, rejected_reasons=tuple(problems)
                )
            )
            self.record(session.interviews[-1])
            if problems:
                self.progress(f"interview {interview.number}: rejected ({'; '.join(problems)})")
                note = "your last proposal was rejected: " + "; ".join(problems)
                if len(session.interviews) >= session.max_iterations * 2:
                    session.stop_reason = "too many rejected proposals"
                    break
                continue
            template = new
            pending = True
        session.finished_at = _now()
        return session


def optimize(
    task: Task,
    provider: Provider,
    model: ModelInfo,
    interviewer: Provider,
    interviewer_model: ModelInfo,
    *,
    prompt_version: str = "",
    threshold: float = 0.95,
    max_iterations: int = 5,
    holdout: float = 0.3,
    seed: int = 42,
    timeout_s: float = 120.0,
    interviewer_max_tokens: int = 1024,
    progress: Progress | None = None,
    record: Record | None = None,
) -> Session:
    """Improve the prompt of ``task`` (its version ``prompt_version``, default the last)
    for ``model``; see the module docstring.  Nothing is written here: ``record`` gets
    every evaluation and interview as it is made.

    :raises ValueError: ``max_iterations`` below 1, or no held-out case (``holdout`` not
        in (0, 1), or fewer than two cases).
    """
    if max_iterations < 1:
        raise ValueError(f"max_iterations: expected at least 1, got {max_iterations}")
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout: expected a share in (0, 1), got {holdout}")
    if task.versions:
        version = task.version(prompt_version) if prompt_version else task.versions[-1]
        template, cases, name = version.template, version.cases, version.name
    else:
        template, cases, name = task.template, task.cases, ""
    training, held_out = split_cases(cases, holdout, seed)
    if not held_out:
        raise ValueError(
            f"task {task.name} has {len(cases)} case(s): at least 2 are needed, one of "
            "them held out"
        )
    session = Session(
        task=task.name,
        model=model.id,
        interviewer=interviewer_model.id,
        threshold=threshold,
        max_iterations=max_iterations,
        holdout=holdout,
        training=tuple(c.id for c in training),
        held_out=tuple(c.id for c in held_out),
        original_prompt=template,
        prompt_version=name,
        started_at=_now(),
    )
    loop = _Loop(
        task, provider, model, interviewer, interviewer_model, session, training, held_out,
        timeout_s, GenerateOptions(temperature=0.0, seed=seed, max_tokens=interviewer_max_tokens),
        progress or (lambda _line: None), record or (lambda _item: None),
    )  # fmt: skip
    return loop.run()
