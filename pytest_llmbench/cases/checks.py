"""The graded checks of a case file: quality heuristics and the judge.

Plain data read from a validated ``expected:`` mapping (and the task's ``judge:``):
the builder (:mod:`pytest_llmbench.cases.build`) calls :func:`quality_checks` and
:func:`judge_spec`; scoring lives in :mod:`pytest_llmbench.execution.quality` and
:mod:`pytest_llmbench.execution.judge`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_JUDGE_PASS",
    "NO_QUALITY_CHECKS",
    "JudgeCheck",
    "JudgeSpec",
    "Mentions",
    "QualityChecks",
    "Structure",
    "Words",
    "judge_spec",
    "quality_checks",
]

DEFAULT_JUDGE_PASS = 0.7
"""A judge score at least this passes, unless the case says ``pass:``."""

Report = Callable[[tuple[str, ...], str], None]
"""Reports a problem at a key path below the mapping read."""


@dataclass(frozen=True)
class Words:
    """``words: {min: 20, max: 60}``: the answer's length in words."""

    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class Mentions:
    """``mentions: {all_of: [...], at_least: 0.8}``: the share of names the answer mentions."""

    all_of: tuple[str, ...]
    at_least: float = 1.0


@dataclass(frozen=True)
class Structure:
    """``structure: {bullets: 3}`` and/or ``{sections: [Summary, Skills]}``."""

    bullets: int | None = None
    sections: tuple[str, ...] = ()


@dataclass(frozen=True)
class JudgeCheck:
    """``judge: {rubric: ..., pass: 0.7}``: a judge model scores the answer 0-1."""

    rubric: str
    threshold: float = DEFAULT_JUDGE_PASS


@dataclass(frozen=True)
class QualityChecks:
    """The graded checks of one case (each ``None`` when the case does not ask for it)."""

    words: Words | None = None
    grounded: float | None = None
    mentions: Mentions | None = None
    structure: Structure | None = None
    judge: JudgeCheck | None = None

    def describe(self) -> list[str]:
        parts: list[str] = []
        if self.words is not None:
            low = "" if self.words.min is None else str(self.words.min)
            high = "" if self.words.max is None else str(self.words.max)
            parts.append(f"words {low}..{high}")
        if self.grounded is not None:
            parts.append(f"grounded >= {self.grounded:g}")
        if self.mentions is not None:
            share = f" (>= {self.mentions.at_least:g})" if self.mentions.at_least < 1 else ""
            parts.append("mentions " + ", ".join(repr(m) for m in self.mentions.all_of) + share)
        if self.structure is not None:
            if self.structure.bullets is not None:
                parts.append(f"{self.structure.bullets}+ bullets")
            if self.structure.sections:
                parts.append("sections " + ", ".join(self.structure.sections))
        if self.judge is not None:
            parts.append(f"judge >= {self.judge.threshold:g}")
        return parts


@dataclass(frozen=True)
class JudgeSpec:
    """A task's ``judge:``: which model judges, with which prompt.

    ``model`` names a model (``ollama/qwen2.5:7b``); ``task`` names a verdict task whose
    registered champion (else runner-up) judges.  ``answer`` is the variable that holds
    the answer on calibration cases (a gold verdict and a rubric); ``calibrate`` names
    the task whose calibration cases measure this judge (default: ``task``).
    """

    model: str | None = None
    task: str | None = None
    prompt: str | None = None
    """The judge prompt template (``None``: the one shipped with the plugin)."""
    answer: str = "answer"
    calibrate: str | None = None

    @property
    def ref(self) -> str:
        """How the judge is named before it is resolved: the model, or ``task:NAME``."""
        return self.model if self.model is not None else f"task:{self.task}"

    @property
    def calibration_task(self) -> str | None:
        return self.calibrate or self.task


NO_QUALITY_CHECKS = QualityChecks()


def quality_checks(raw: Mapping[str, Any], report: Report) -> QualityChecks:
    """The graded checks of a (schema-valid) ``expected:`` mapping."""
    words = None
    if "words" in raw:
        low, high = raw["words"].get("min"), raw["words"].get("max")
        if low is None and high is None:
            report(("words",), "give min, max or both")
        elif low is not None and high is not None and low > high:
            report(("words",), f"min {low} is more than max {high}")
        words = Words(low, high)
    mentions = None
    if "mentions" in raw:
        value = raw["mentions"]
        if isinstance(value, list):
            mentions = Mentions(tuple(str(v) for v in value))
        else:
            mentions = Mentions(
                tuple(str(v) for v in value["all_of"]), float(value.get("at_least", 1.0))
            )
    structure = None
    if "structure" in raw:
        value = raw["structure"]
        structure = Structure(value.get("bullets"), tuple(value.get("sections", ())))
    judge = None
    if "judge" in raw:
        value = raw["judge"]
        judge = JudgeCheck(str(value["rubric"]), float(value.get("pass", DEFAULT_JUDGE_PASS)))
    grounded = raw.get("grounded")
    return QualityChecks(
        words=words,
        grounded=None if grounded is None else float(grounded),
        mentions=mentions,
        structure=structure,
        judge=judge,
    )


def judge_spec(raw: Mapping[str, Any] | None, prompt: str | None) -> JudgeSpec | None:
    """The task's ``judge:`` (``prompt`` is its ``prompt:`` text, files already read)."""
    if raw is None:
        return None
    return JudgeSpec(
        model=raw.get("model"),
        task=raw.get("task"),
        prompt=prompt,
        answer=str(raw.get("answer", "answer")),
        calibrate=raw.get("calibrate"),
    )
