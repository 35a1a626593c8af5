"""The judge check: a model scores an answer 0-1 against a case's rubric.

Pure module: the judge prompt, the judge's request, reading its answer, and folding its
verdict into the candidate's result.  Nothing here calls a model: the plugin runs the
judge calls after the candidates (:mod:`pytest_llmbench.execution.judging`), so a judge
never shares a model slot with a candidate and never counts in its latency, cost or
tokens.

A :class:`JudgeJob` is plain data (it crosses xdist): what to ask the judge about one
result.  A :class:`CalibrationCase` is a case with a gold verdict and a rubric: the
judge's verdict on it (score >= the rubric's pass) is compared with the gold one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pytest_llmbench.cases.checks import JudgeCheck, JudgeSpec
from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.cases.templates import render
from pytest_llmbench.execution.quality import Part, combine
from pytest_llmbench.execution.results import Result
from pytest_llmbench.execution.scoring import parse_json, shorten
from pytest_llmbench.formatting import one_line
from pytest_llmbench.providers.base import ModelInfo, Request

__all__ = [
    "JUDGE_OPTIONS",
    "JUDGE_SCHEMA",
    "CalibrationCase",
    "JudgeError",
    "JudgeJob",
    "Judgement",
    "answer_tag",
    "apply_judgement",
    "calibration_cases",
    "default_prompt",
    "family_of",
    "frame_answer",
    "judge_job",
    "judge_request",
    "parse_judgement",
    "resolve_judge",
]

JUDGE_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string"},
    },
    "required": ["score", "reason"],
}
"""The judge answers with structured output: a score 0-1 and a one-sentence reason."""

JUDGE_OPTIONS = GenerateOptions(temperature=0.0, seed=42, max_tokens=96)
"""Judge calls run at temperature 0."""


class JudgeError(ValueError):
    """A judge answer that is not a judgement (``str()`` says why)."""


@functools.cache
def default_prompt() -> str:
    """The judge prompt shipped with the plugin (``{rubric}``, ``{inputs}``, ``{answer}``)."""
    path = resources.files("pytest_llmbench.execution").joinpath("judge_prompt.txt")
    return path.read_text("utf-8")


def _inputs_text(inputs: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"{name}: {value.strip()}" for name, value in inputs) or "(none)"


def answer_tag(answer: str) -> str:
    """The tag of the lines that frame ``answer`` in the judge prompt: derived from the
    answer's own text (so the prompt, and its cached judgement, is the same every run),
    and checked not to occur in it, so an answer cannot write the closing line itself."""
    salt = 0
    while True:
        digest = hashlib.sha256(f"{salt}:{answer}".encode()).hexdigest()[:16]
        if digest not in answer:
            return digest
        salt += 1  # pragma: no cover - an answer that contains its own hash


def frame_answer(answer: str) -> str:
    """The graded answer between ``<<<ANSWER tag>>>`` and ``<<<END ANSWER tag>>>`` lines
    whose tag the answer does not contain: a "Rubric:" or a "reply with JSON" written
    inside the answer stays inside the frame."""
    tag = answer_tag(answer)
    return f"<<<ANSWER {tag}>>>\n{answer}\n<<<END ANSWER {tag}>>>"


def judge_prompt(
    template: str | None,
    rubric: str,
    answer: str,
    inputs: Iterable[tuple[str, str]],
    question: str = "",
) -> str:
    """The judge prompt: ``template`` (or the shipped one) filled by name; ``{answer}``
    is the answer in its frame (:func:`frame_answer`), whichever template."""
    values = {
        "rubric": rubric.strip(),
        "answer": frame_answer(answer.strip()),
        "inputs": _inputs_text(inputs),
        "question": question.strip(),
    }
    return render(template if template is not None else default_prompt(), values)


@dataclass(frozen=True)
class JudgeJob:
    """What to ask the judge about one candidate result (plain data)."""

    task: str
    case_id: str
    model: str
    """The candidate."""
    repeat: int
    judge: str
    """The judge as the task names it: a model id or ``task:NAME``."""
    prompt: str
    threshold: float
    pass_threshold: float | None = None
    """The task's ``pass:`` (the mean of all parts must reach it)."""

    def key(self) -> tuple[str, str, str, int]:
        return (self.task, self.case_id, self.model, self.repeat)


def judge_job(task: Task, case: Case, result: Result, answer: str) -> JudgeJob | None:
    """The judge job for a candidate's result, if the case has a rubric and it answered."""
    check = case.expected.quality.judge
    spec = task.judge
    if check is None or spec is None or result.error is not None:
        return None
    if task.output.kind == "verdict":  # a calibration case: the judge is measured, not used
        return None
    return JudgeJob(
        task=task.name,
        case_id=case.id,
        model=result.model,
        repeat=result.repeat,
        judge=spec.ref,
        prompt=judge_prompt(spec.prompt, check.rubric, answer, case.inputs, case.prompt),
        threshold=check.threshold,
        pass_threshold=task.pass_threshold,
    )


@dataclass(frozen=True)
class CalibrationCase:
    """A case with a gold verdict and a rubric: does the judge agree with the gold?"""

    task: str
    case_id: str
    gold_pass: bool
    """The gold verdict is the task's pass label: the judge should pass the answer."""
    prompt: str
    threshold: float


def calibration_cases(task: Task) -> list[CalibrationCase]:
    """The calibration cases of a verdict task: gold verdict, rubric and the answer variable."""
    if task.output.kind != "verdict":
        return []
    spec = task.judge or JudgeSpec()
    found: list[CalibrationCase] = []
    for case in task.cases:
        check: JudgeCheck | None = case.expected.quality.judge
        values = dict(case.inputs)
        if check is None or case.expected.verdict is None or spec.answer not in values:
            continue
        inputs = [(k, v) for k, v in case.inputs if k != spec.answer]
        found.append(
            CalibrationCase(
                task=task.name,
                case_id=case.id,
                gold_pass=case.expected.verdict == task.pass_label,
                prompt=judge_prompt(spec.prompt, check.rubric, values[spec.answer], inputs),
                threshold=check.threshold,
            )
        )
    return found


def judge_request(judge: ModelInfo, prompt: str, timeout_s: float) -> Request:
    return Request(
        model=judge.name,
        prompt=prompt,
        options=JUDGE_OPTIONS,
        json_schema=JUDGE_SCHEMA,
        timeout_s=timeout_s,
    )


@dataclass(frozen=True)
class Judgement:
    score: float
    reason: str


_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")


def parse_judgement(text: str) -> Judgement:
    """The judge's score (0-1) and reason, from ``{"score": 0.8, "reason": "..."}``.

    :raises JudgeError: for anything else (no JSON, no score, a score outside 0-1).
    """
    value, problem = parse_json(text)
    if problem or not isinstance(value, dict):
        raise JudgeError(problem or f"expected a JSON object, got {shorten(text)!r}")
    raw = value.get("score")
    if isinstance(raw, str) and _NUMBER.match(raw):
        raw = float(raw)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise JudgeError(f"no numeric score in {shorten(text)!r}")
    if not 0.0 <= raw <= 1.0:
        raise JudgeError(f"score {raw:g} is not between 0 and 1")
    reason = value.get("reason")
    return Judgement(float(raw), one_line(reason) if reason is not None else "")


def apply_judgement(
    result: Result,
    job: JudgeJob,
    judge: str,
    judgement: Judgement | None,
    *,
    error: str | None = None,
    judge_ms: float | None = None,
) -> Result:
    """The candidate's result with the judge's part added (or the judge's error).

    A judge that failed makes the run an error naming the judge, not a wrong answer.
    """
    if judgement is None:
        return dataclasses.replace(
            result,
            correct=False,
            score=0.0,
            error=f"judge {judge} failed: {error or 'no answer'}",
            judge_model=judge,
            judge_ms=judge_ms,
        )
    short = f"judge {judgement.score:g} < {job.threshold:g}"
    part = Part(
        "judge",
        judgement.score,
        job.threshold,
        f"{short}: {judgement.reason}" if judgement.reason else short,
    )
    parts = [*result.parts, part]
    if not result.parts and result.reason:  # the binary checks failed before any part
        parts.insert(0, Part("checks", 0.0, reason=result.reason))
    value, correct, reason = combine(parts, job.pass_threshold)
    return dataclasses.replace(
        result,
        correct=correct,
        score=value,
        reason=reason,
        parts=tuple(parts),
        judge_model=judge,
        judge_score=judgement.score,
        judge_reason=judgement.reason,
        judge_ms=judge_ms,
    )


def resolve_judge(
    ref: str,
    registered: Mapping[str, Sequence[str]],
    find: Callable[[str], ModelInfo | None],
) -> tuple[ModelInfo | None, str]:
    """The judge model for ``ref`` (a model id, or ``task:NAME``), or ``None`` and why.

    ``task:NAME`` is the registered champion of that task, else its runner-up (the first
    that ``find`` finds); ``registered`` maps a task to its models (champion first).
    """
    if not ref.startswith("task:"):
        model = find(ref)
        return model, "" if model is not None else f"judge {ref} is not available"
    task = ref.removeprefix("task:")
    models = registered.get(task)
    if not models:
        return None, f"no champion registered for task {task} to judge with"
    for model_id in models:
        model = find(model_id)
        if model is not None:
            return model, ""
    return None, f"neither model registered for task {task} is available: {', '.join(models)}"


_FAMILY = re.compile(r"[a-z]+")


def family_of(model: str) -> str:
    """A model's family from its id: the first run of letters of its name
    (``ollama/qwen2.5:7b`` -> ``qwen``, ``llamacpp/smollm2-135m`` -> ``smollm``)."""
    name = model.partition("/")[2] or model
    name = name.rsplit("/", 1)[-1].casefold()
    match = _FAMILY.search(name)
    return match.group(0) if match else name
