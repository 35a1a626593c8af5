"""The records of a case file: a :class:`Task` (its output, options and prompt versions)
with its :class:`Case` list, each with what a correct answer looks like (:class:`Expected`).

Plain frozen data; :mod:`pytest_llmbench.cases.load` makes them from a file.
"""

from __future__ import annotations

import dataclasses
import json
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmbench.cases import hashing
from pytest_llmbench.cases.checks import NO_QUALITY_CHECKS, JudgeSpec, QualityChecks
from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.cases.templates import TemplateError, placeholders, render

__all__ = [
    "DEFAULT_AGREE",
    "DEFAULT_LABELS",
    "SHADOW_CHECKS",
    "AlertSpec",
    "CaptureSpec",
    "Case",
    "ConsensusSpec",
    "Expected",
    "LoadSpec",
    "OutputSpec",
    "PromptVersion",
    "ShadowSpec",
    "Task",
]

DEFAULT_LABELS = ("PASS", "FAIL")
DEFAULT_AGREE = 0.75
"""How similar two answers must be to agree (``consensus.agree``): difflib's ratio."""


@dataclass(frozen=True)
class Expected:
    """What a correct answer looks like.  Every field that is set must hold."""

    verdict: str | None = None
    json: Mapping[str, Any] | None = None
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    regex: str | None = None
    quality: QualityChecks = NO_QUALITY_CHECKS
    """The graded checks (words, grounded, mentions, structure, judge)."""

    def describe(self) -> str:
        """A short, human-readable form used in reports (``PASS``, ``{"company": "Acme"}``)."""
        parts: list[str] = []
        if self.verdict is not None:
            parts.append(self.verdict)
        if self.json is not None:
            parts.append(json.dumps(self.json, ensure_ascii=False, sort_keys=True))
        if self.contains:
            parts.append("contains " + ", ".join(repr(c) for c in self.contains))
        if self.not_contains:
            parts.append("not " + ", ".join(repr(c) for c in self.not_contains))
        if self.regex is not None:
            parts.append(f"/{self.regex}/")
        parts.extend(self.quality.describe())
        return "; ".join(parts)


@dataclass(frozen=True)
class OutputSpec:
    kind: str = "text"
    labels: tuple[str, ...] = DEFAULT_LABELS
    schema: Mapping[str, Any] | None = None

    def request_schema(self) -> Mapping[str, Any] | None:
        """The JSON Schema the provider should constrain the answer to, if any."""
        if self.kind == "verdict":
            return {
                "type": "object",
                "properties": {"verdict": {"type": "string", "enum": list(self.labels)}},
                "required": ["verdict"],
            }
        if self.kind == "json":
            return self.schema if self.schema is not None else {"type": "object"}
        return None


@dataclass(frozen=True)
class Case:
    id: str
    expected: Expected
    prompt: str
    """The prompt with every variable filled in."""
    system: str | None = None
    difficulty: str = "medium"
    batch: int | None = None
    tags: tuple[str, ...] = ()
    why: str | None = None
    line: int = 0
    difficulty_default: bool = False
    """The case file gives no ``difficulty``: it is ``medium``, the default (marker and
    statistics alike; the plugin says so after collection)."""
    prompt_hash: str = ""
    """Stable hash of everything sent to the model (system, prompt, options, schema)."""
    prompt_version: str = ""
    """The name of the prompt version (``v2``) this case was rendered with; ``""`` for a
    task with a single ``prompt:``."""
    prompt_version_hash: str = ""
    """Hash of the version's template text (the same for every case of the version)."""
    vars: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)
    """The template values of the case (files read), to render another prompt with."""

    @property
    def inputs(self) -> tuple[tuple[str, str], ...]:
        """The case's variables (name, value): what the answer may draw on (grounded, judge)."""
        return tuple(self.vars.items())


@dataclass(frozen=True)
class PromptVersion:
    """One entry of ``prompts:``: its template and the task's cases rendered with it."""

    name: str
    template: str
    hash: str
    cases: tuple[Case, ...]
    file: str | None = None
    """The ``{file:}`` it was read from, as written in the case file."""


@dataclass(frozen=True)
class ConsensusSpec:
    """``consensus: {models: 3, agree: 0.75}``: how many models may be asked, how alike
    two answers must be to agree (see :mod:`pytest_llmbench.analysis.consensus`)."""

    models: int = 3
    agree: float = DEFAULT_AGREE


@dataclass(frozen=True)
class AlertSpec:
    """``alerts: {max_p95_ms: 1500, max_error_rate: 5}``: the limits on the task's
    champion and runner-up (see :mod:`pytest_llmbench.analysis.alerts`)."""

    max_p95_ms: float | None = None
    max_error_rate: float | None = None
    """A fraction (the file gives a percentage)."""
    min_agreement: float | None = None
    """``llmbench feedback --check``: the least share of checked answers another model
    agrees with (shadow checks, consensus); ``None``: the command's ``--min-agreement``."""
    min_judge_score: float | None = None
    """``llmbench feedback --check``: the least mean shadow-judge score (0 to 1)."""


SHADOW_CHECKS = ("runner_up", "consensus", "judge")
"""What a shadow check asks: the runner-up, a consensus of the other models, the judge."""


@dataclass(frozen=True)
class ShadowSpec:
    """``shadow: {rate: 0.05, check: runner_up}``: the share of production calls the
    router checks again off the caller's path, and how (see
    :mod:`pytest_llmbench.router.shadow`)."""

    rate: float
    check: str = "runner_up"
    rubric: str | None = None
    """For ``check: judge``: what a good answer does (``None``: the shipped rubric)."""


@dataclass(frozen=True)
class CaptureSpec:
    """``capture: {inputs: true, max: 1000}``: the router keeps the inputs and answers of
    the calls in doubt (masked) in the feedback log, at most ``max`` per process."""

    inputs: bool = False
    max: int = 1000


@dataclass(frozen=True)
class LoadSpec:
    """``load: {concurrency: 8, requests: 64, slo: {p95_ms: 1500, ttft_ms: 300}}``: the
    task's load phase (see :mod:`pytest_llmbench.analysis.load`)."""

    concurrency: int = 1
    requests: int | None = None
    """Requests per model; ``None``: 4 x concurrency, at least one per case."""
    slo_p95_ms: float | None = None
    slo_ttft_ms: float | None = None


@dataclass(frozen=True)
class Task:
    name: str
    path: Path
    output: OutputSpec
    options: GenerateOptions
    cases: tuple[Case, ...]
    description: str | None = None
    repeat: int = 1
    policy: str = "strict"
    rank_latency: str | None = None
    """The latency the models are ranked by (``ranking: {latency: ...}``); ``None``: the
    file does not say (``--llm-rank-latency``, else the mean)."""
    line: int = 1
    weights: tuple[float, float] | None = None
    """(quality, speed) for the weighted policy, when the file gives them."""
    min_correct: float = 1.0
    """``ranking: {min_correct: 0.8}``: the share of runs a model must get right to
    qualify under the weighted policy (every run by default)."""
    sources: tuple[Path, ...] = ()
    """The files this task is made of: the case file and every ``{file:}`` it reads."""
    versions: tuple[PromptVersion, ...] = ()
    """The prompt versions of ``prompts:`` in file order (``cases`` are the first one's);
    empty for a task with a single ``prompt:``."""
    template: str = ""
    """The prompt template as the file gives it (a ``{file:}`` read), before filling
    (the first version's under ``prompts:``)."""
    system_template: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    """The task-level ``vars:``: the values every case (and production call) starts from."""
    consensus: ConsensusSpec | None = None
    """``consensus:`` of the case file, when it declares one."""
    judge: JudgeSpec | None = None
    """The task's ``judge:`` (who scores the cases' ``expected.judge`` rubrics)."""
    pass_threshold: float | None = None
    """The task's ``pass:``: a result is correct only when its score reaches it too."""
    alerts: AlertSpec = AlertSpec()
    """``alerts:`` of the case file (no limit when it declares none)."""
    load: LoadSpec | None = None
    """``load:`` of the case file (``None``: no load phase unless ``--llm-load``)."""
    on_change: str = "warn"
    """``on_change:``: what the router does with a model whose weights changed since the
    benchmark (``warn`` or ``fall_over``; see :mod:`pytest_llmbench.router.identity`)."""
    shadow: ShadowSpec | None = None
    """``shadow:`` of the case file (``None``: no shadow checks unless the router's own)."""
    capture: CaptureSpec = CaptureSpec()
    """``capture:`` of the case file (off unless it says ``inputs: true``)."""

    def version(self, name: str) -> PromptVersion:
        """The prompt version called ``name``; ``KeyError`` when the task has none such."""
        for version in self.versions:
            if version.name == name:
                return version
        raise KeyError(name)

    @property
    def pass_label(self) -> str:
        """The label that means "good" (the first of ``labels``)."""
        return self.output.labels[0]

    def prompted(self, prompt: str, system: str | None, case_id: str = "production") -> Case:
        """A case that sends ``prompt`` and ``system`` as they are (no template filled),
        with this task's options and output format (its prompt hash as a filled one's)."""
        _, hasher = _production(self)
        return Case(
            id=case_id,
            expected=Expected(),
            prompt=prompt,
            system=system,
            prompt_hash=hasher(system, prompt),
        )

    def fill(self, values: Mapping[str, str], case_id: str = "production") -> Case:
        """A case made of this task's template filled with ``values`` (over the task's
        ``vars``): what a production call sends, exactly as the benchmark sent its cases.

        :raises TemplateError: for a variable the template needs and has no value, or a
            value for a name the template does not use.
        """
        needed, hasher = _production(self)
        merged = {**self.variables, **values}
        missing = [name for name in needed if name not in merged]
        unknown = sorted(name for name in values if name not in needed)
        if missing or unknown:
            wrong = [f"no value for {', '.join(missing)}"] if missing else []
            wrong += [f"unknown variable {', '.join(unknown)}"] if unknown else []
            uses = ", ".join(needed) or "no variables"
            raise TemplateError(f"task {self.name}: {'; '.join(wrong)} (the prompt uses {uses})")
        prompt = render(self.template, merged)
        system = render(self.system_template, merged) if self.system_template is not None else None
        return Case(
            id=case_id,
            expected=Expected(),
            prompt=prompt,
            system=system,
            prompt_hash=hasher(system, prompt),
        )


_PRODUCTION: dict[int, tuple[weakref.ref[Task], list[str], Callable[[str | None, str], str]]] = {}
"""What :meth:`Task.fill` needs of a task, worked out once: the placeholders of its
templates and its prompt hasher (options and schema encoded once); by task, forgotten
when the task is (a service reloading its registry does not keep every old task)."""


def _production(task: Task) -> tuple[list[str], Callable[[str | None, str], str]]:
    key = id(task)
    known = _PRODUCTION.get(key)
    if known is not None and known[0]() is task:
        return known[1], known[2]
    needed = placeholders(task.template) + placeholders(task.system_template or "")
    hasher = hashing.prompt_hasher(task.options, task.output.request_schema())
    _PRODUCTION[key] = (weakref.ref(task), needed, hasher)
    weakref.finalize(task, _PRODUCTION.pop, key, None)
    return needed, hasher
