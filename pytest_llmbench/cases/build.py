"""Build a :class:`~.records.Task` from a case file's validated data.

What the schema cannot say is checked here (labels, verdicts, template variables, ids,
tags, weights, the judge), every problem collected at its line and key; values given as
``{file: path}`` are read from inside the allowed roots only.  The task's prompts are
rendered for every case and every prompt version.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from pytest_llmbench.cases.checks import JudgeSpec, judge_spec, quality_checks
from pytest_llmbench.cases.encoding import NotUTF8, decode_utf8
from pytest_llmbench.cases.hashing import prompt_hasher, version_hash
from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.cases.problems import CaseFileError, KeyPath, Problem, key_of
from pytest_llmbench.cases.records import (
    DEFAULT_AGREE,
    DEFAULT_LABELS,
    AlertSpec,
    CaptureSpec,
    Case,
    ConsensusSpec,
    Expected,
    LoadSpec,
    OutputSpec,
    PromptVersion,
    ShadowSpec,
    Task,
)
from pytest_llmbench.cases.schema import json_schema_mistake
from pytest_llmbench.cases.templates import (
    JUDGE_PLACEHOLDERS,
    non_name_placeholders,
    placeholders,
    render,
)
from pytest_llmbench.cases.yaml_lines import LineMap
from pytest_llmbench.safety.confinement import Confinement, OutsideRoot

__all__ = ["RESERVED_TAGS", "CaseFile", "build_task"]

RESERVED_TAGS = frozenset(
    {
        "skip",
        "skipif",
        "xfail",
        "parametrize",
        "usefixtures",
        "filterwarnings",
        "easy",
        "medium",
        "hard",
        "batch",
        "should_pass",
        "should_fail",
        "llmbench",
    }
)
"""Tags a case may not have: they are marker names already."""


class CaseFile:
    """One case file being built: its data and lines, the files it read, the problems found."""

    def __init__(
        self,
        path: Path,
        display: str,
        data: dict[str, Any],
        lines: LineMap,
        confinement: Confinement,
    ) -> None:
        self.path = path
        self.confinement = confinement
        self.display = display
        self.data = data
        self.lines = lines
        self.problems: list[Problem] = []
        self.files: dict[Path, str] = {}
        """Referenced files in the order first read, read once per load (not cached across
        loads: they may change)."""

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.lines.line(path), key_of(path), message))

    def read(self, path: Path) -> str:
        """The text of a ``{file:}``, once it is known to lie inside the allowed roots."""
        path = self.confinement.check(path)
        if path not in self.files:
            self.files[path] = decode_utf8(path.read_bytes())
        return self.files[path]

    def text(self, value: Any, path: KeyPath) -> str | None:
        """A string value, or the content of ``{file: ...}`` relative to the case file."""
        if isinstance(value, dict):
            return self._file_text(value["file"], path + ("file",))
        if isinstance(value, bool):  # YAML true/false, not Python's True/False
            return "true" if value else "false"
        return str(value)

    def _file_text(self, name: str, path: KeyPath) -> str | None:
        target = (self.path.parent / name).resolve()
        try:
            return self.read(target)
        except OutsideRoot as exc:
            self.problem(path, f"refused to read {name}: {exc}")
        except FileNotFoundError:
            self.problem(path, f"file not found: {name} ({target})")
        except NotUTF8 as exc:
            self.problem(path, f"cannot read {name}: not UTF-8 text ({exc}); save it as UTF-8")
        except OSError as exc:
            self.problem(path, f"cannot read {name}: {exc}")
        return None

    def variables(self, raw: Mapping[str, Any] | None, path: KeyPath) -> dict[str, str]:
        """The ``vars:`` at ``path`` as text (a value that could not be read is left out)."""
        out: dict[str, str] = {}
        for name, value in (raw or {}).items():
            text = self.text(value, path + (name,))
            if text is not None:
                out[name] = text
        return out


def build_task(
    path: Path,
    display: str,
    data: dict[str, Any],
    lines: LineMap,
    confinement: Confinement,
) -> Task:
    """The task of a case file whose ``data`` the schema accepts.

    :raises CaseFileError: with every problem found (the ``display`` names the file).
    """
    file = CaseFile(path, display, data, lines, confinement)
    output = _output(file)
    templates = _templates(file)
    system = file.text(data["system"], ("system",)) if "system" in data else None
    _check_placeholders(file, templates, system)
    _check_finite(file, data, ())
    options = _options(data)
    task_vars = file.variables(data.get("vars"), ("vars",))
    cases, versions = _render(file, templates, system, task_vars, options, output)
    weights = _weights(file)
    judge = _judge(file, cases)
    shadow = data.get("shadow") or {}
    if shadow.get("check") == "judge" and (judge is None or judge.ref == "task:None"):
        file.problem(
            ("shadow", "check"),
            "check: judge needs the task's judge: {model: provider/name} or {task: NAME}",
        )
    if file.problems:
        raise CaseFileError(display, file.problems)
    return Task(
        name=data["task"],
        path=path,
        output=output,
        options=options,
        cases=tuple(cases),
        description=data.get("description"),
        repeat=data.get("repeat", 1),
        policy=(data.get("ranking") or {}).get("policy", "strict"),
        rank_latency=(data.get("ranking") or {}).get("latency"),
        line=lines.line(("task",)),
        weights=weights,
        min_correct=float((data.get("ranking") or {}).get("min_correct", 1.0)),
        sources=(path.resolve(), *file.files),
        versions=tuple(versions),
        template=templates[0].text or "",
        system_template=system,
        variables=task_vars,
        consensus=_consensus(data),
        judge=judge,
        pass_threshold=data.get("pass"),
        alerts=_alerts(data),
        shadow=_shadow(data),
        capture=_capture(data),
        load=_load(data),
        on_change=str(data.get("on_change", "warn")),
    )


# --------------------------------------------------------------------------- output


def _output(file: CaseFile) -> OutputSpec:
    raw = file.data.get("output") or {}
    kind = raw.get("kind", "text")
    labels = tuple(raw.get("labels", DEFAULT_LABELS))
    schema = raw.get("schema")
    if "labels" in raw and kind != "verdict":
        file.problem(("output", "labels"), "labels only apply to kind verdict")
    _check_labels_differ(file, labels)
    if schema is not None:
        if kind != "json":
            file.problem(("output", "schema"), "schema only applies to kind json")
        mistake = json_schema_mistake(schema)
        if mistake is not None:
            file.problem(("output", "schema"), mistake)
    return OutputSpec(kind=kind, labels=labels, schema=schema)


def _check_labels_differ(file: CaseFile, labels: tuple[str, ...]) -> None:
    """Answers are read ignoring case: two labels must differ in more than case."""
    first: dict[str, str] = {}
    for label in labels:
        other = first.setdefault(str(label).casefold(), str(label))
        if other != label or labels.count(label) > 1:
            file.problem(
                ("output", "labels"),
                f"labels {other!r} and {label!r} are the same up to case (answers are "
                "read ignoring case); give each label a different name",
            )


def _options(data: Mapping[str, Any]) -> GenerateOptions:
    raw_options = dict(data.get("options", {}))
    for key in ("temperature", "top_p"):
        if key in raw_options:
            raw_options[key] = float(raw_options[key])
    return GenerateOptions(**raw_options)


def _check_finite(file: CaseFile, value: Any, path: KeyPath) -> None:
    """A problem for every NaN or infinite number (YAML ``.nan``, ``.inf``)."""
    if isinstance(value, float) and not math.isfinite(value):
        file.problem(path, f"{value} is not a finite number; give a plain number")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_finite(file, item, path + (str(key),))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_finite(file, item, path + (index,))


# --------------------------------------------------------------------------- templates


class _Template(NamedTuple):
    """One prompt template as the file gives it."""

    name: str
    """The prompt version's name; ``""`` for a single ``prompt:``."""
    text: str | None
    """``None`` when its ``{file:}`` could not be read."""
    file: str | None
    """The ``{file:}`` it is read from, as written."""


def _templates(file: CaseFile) -> list[_Template]:
    """The template of ``prompt:`` (name ``""``) or those of ``prompts:``, in file order."""
    data = file.data
    if "prompt" in data and "prompts" in data:
        file.problem(("prompts",), "give either prompt or prompts, not both")
    if "prompts" in data:
        return [
            _Template(
                name,
                file.text(value, ("prompts", name)),
                value["file"] if isinstance(value, dict) else None,
            )
            for name, value in data["prompts"].items()
        ]
    return [_Template("", file.text(data["prompt"], ("prompt",)), None)]


def _check_placeholders(file: CaseFile, templates: list[_Template], system: str | None) -> None:
    checked: list[tuple[KeyPath, str | None]] = [
        (("prompts", t.name) if t.name else ("prompt",), t.text) for t in templates
    ]
    for where, template in [*checked, (("system",), system)]:
        for token in non_name_placeholders(template or ""):
            file.problem(
                where,
                f"placeholder {token} is not a plain name: templates fill {{name}} only "
                "(no attribute, index or format spec); write {{ and }} for literal braces",
            )


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class _Rendering:
    """What every case of one prompt version is rendered with."""

    version: str
    prompt: str | None
    system: str | None
    task_vars: Mapping[str, str]
    output: OutputSpec
    hasher: Callable[[str | None, str], str]

    @property
    def needed(self) -> list[str]:
        return placeholders(self.prompt or "") + placeholders(self.system or "")


def _render(
    file: CaseFile,
    templates: list[_Template],
    system: str | None,
    task_vars: Mapping[str, str],
    options: GenerateOptions,
    output: OutputSpec,
) -> tuple[list[Case], list[PromptVersion]]:
    """The cases of the first template, and every prompt version of ``prompts:``."""
    hasher = prompt_hasher(options, output.request_schema())
    versions: list[PromptVersion] = []
    first_cases: list[Case] = []
    for position, (name, prompt, source) in enumerate(templates):
        rendering = _Rendering(name, prompt, system, task_vars, output, hasher)
        cases = _cases(file, rendering, first=position == 0)
        if prompt is not None and name:
            hash_ = version_hash(prompt)
            cases = [
                dataclasses.replace(c, prompt_version=name, prompt_version_hash=hash_)
                for c in cases
            ]
            versions.append(PromptVersion(name, prompt, hash_, tuple(cases), source))
        if position == 0:
            first_cases = cases
    return first_cases, versions


def _cases(file: CaseFile, rendering: _Rendering, first: bool) -> list[Case]:
    """The cases rendered with one prompt template.

    A problem of a case itself is reported once (with the first template); a missing
    variable is reported for every version that lacks it.
    """
    before = len(file.problems)
    needed = rendering.needed
    first_line: dict[str, int] = {}
    cases: list[Case] = []
    for index, raw in enumerate(file.data["cases"]):
        case = _case(file, index, raw, rendering, needed, first_line)
        if case is not None:
            cases.append(case)
    if not first:  # case problems are the same for every version: keep the new ones only
        new = file.problems[before:]
        del file.problems[before:]
        file.problems.extend(p for p in new if "prompt version" in p.message)
    return cases


def _case(
    file: CaseFile,
    index: int,
    raw: Mapping[str, Any],
    rendering: _Rendering,
    needed: list[str],
    first_line: dict[str, int],
) -> Case | None:
    """One case rendered, or ``None`` when a variable has no value or the template none."""
    path: KeyPath = ("cases", index)
    line = file.lines.line(path)
    case_id = raw["id"]
    if case_id in first_line:
        file.problem(
            path + ("id",), f"duplicate id {case_id!r} (first at line {first_line[case_id]})"
        )
    first_line.setdefault(case_id, line)
    for tag in raw.get("tags", ()):
        if tag in RESERVED_TAGS:
            file.problem(path + ("tags",), f"tag {tag!r} is a reserved marker name")
    expected = _expected(file, raw["expected"], path + ("expected",), rendering.output)
    values = {**rendering.task_vars, **file.variables(raw.get("vars"), path + ("vars",))}
    missing = [name for name in needed if name not in values]
    _report_missing(file, path, raw, missing, rendering.version)
    if missing or rendering.prompt is None:
        return None
    text = render(rendering.prompt, values)
    system = render(rendering.system, values) if rendering.system is not None else None
    return Case(
        id=case_id,
        expected=expected,
        prompt=text,
        system=system,
        difficulty=raw.get("difficulty", "medium"),
        difficulty_default="difficulty" not in raw,
        batch=raw.get("batch"),
        tags=tuple(raw.get("tags", ())),
        why=raw.get("why"),
        line=line,
        prompt_hash=rendering.hasher(system, text),
        vars=values,
    )


def _report_missing(
    file: CaseFile, path: KeyPath, raw: Mapping[str, Any], missing: list[str], version: str
) -> None:
    """A problem for each variable that has no value (one whose file could not be read
    has its own problem already)."""
    given = {**(file.data.get("vars") or {}), **(raw.get("vars") or {})}
    in_version = f" (prompt version {version})" if version else ""
    for name in missing:
        if name not in given:
            file.problem(
                path + ("vars",),
                f"template variable {{{name}}} has no value in case {raw['id']!r}" + in_version,
            )


def _expected(
    file: CaseFile, raw: Mapping[str, Any], path: KeyPath, output: OutputSpec
) -> Expected:
    verdict = raw.get("verdict")
    _check_verdict(file, verdict, path, output)
    if "json" in raw and output.kind != "json":
        file.problem(path + ("json",), "expected.json needs output kind json")
    regex = raw.get("regex")
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            file.problem(path + ("regex",), f"invalid regular expression: {exc}")
    return Expected(
        verdict=verdict,
        json=raw.get("json"),
        contains=tuple(raw.get("contains", ())),
        not_contains=tuple(raw.get("not_contains", ())),
        regex=regex,
        quality=quality_checks(raw, lambda key, message: file.problem(path + key, message)),
    )


def _check_verdict(file: CaseFile, verdict: Any, path: KeyPath, output: OutputSpec) -> None:
    if output.kind == "verdict":
        if verdict is None:
            file.problem(path, "a verdict task needs expected.verdict")
        elif verdict not in output.labels:
            file.problem(
                path + ("verdict",),
                f"label {verdict!r} is not in labels [{', '.join(output.labels)}]",
            )
    elif verdict is not None:
        file.problem(path + ("verdict",), "expected.verdict needs output kind verdict")


# --------------------------------------------------------------------------- judge, ranking


def _judge(file: CaseFile, cases: list[Case]) -> JudgeSpec | None:
    """The task's ``judge:``; a case with a rubric needs one that names a judge."""
    raw = file.data.get("judge")
    prompt = None
    if raw is not None and "prompt" in raw:
        prompt = file.text(raw["prompt"], ("judge", "prompt"))
    spec = judge_spec(raw, prompt)
    if spec is not None and spec.model is not None and spec.task is not None:
        file.problem(("judge",), "give model or task, not both")
    for name in placeholders(prompt or ""):
        if name not in JUDGE_PLACEHOLDERS:
            known = ", ".join(f"{{{n}}}" for n in JUDGE_PLACEHOLDERS)
            file.problem(("judge", "prompt"), f"unknown placeholder {{{name}}}; use {known}")
    _check_rubrics(file, cases, spec)
    return spec


def _check_rubrics(file: CaseFile, cases: list[Case], spec: JudgeSpec | None) -> None:
    """A case with a judge rubric needs a judge (or, in a verdict task, the answer to judge)."""
    verdict_task = (file.data.get("output") or {}).get("kind") == "verdict"
    index = {raw["id"]: i for i, raw in enumerate(file.data["cases"])}
    for case in cases:
        if case.expected.quality.judge is None:
            continue
        where: KeyPath = ("cases", index[case.id], "expected", "judge")
        if verdict_task:  # a calibration case: the judge scores the case's own answer
            name = spec.answer if spec is not None else "answer"
            if name not in dict(case.inputs):
                file.problem(where, f"a calibration case needs the variable {{{name}}}")
        elif spec is None or (spec.model is None and spec.task is None):
            file.problem(
                where, "a judge rubric needs the task's judge: {model: ...} or {task: ...}"
            )


def _weights(file: CaseFile) -> tuple[float, float] | None:
    """``ranking.quality`` and ``ranking.speed``: one gives the other; both must add to 1."""
    raw = file.data.get("ranking") or {}
    given_quality: float | None = raw.get("quality")
    given_speed: float | None = raw.get("speed")
    if given_quality is None:
        if given_speed is None:
            return None
        given_quality = round(1.0 - given_speed, 10)
    quality = given_quality
    speed = round(1.0 - quality, 10) if given_speed is None else given_speed
    if not math.isclose(quality + speed, 1.0, abs_tol=1e-9):
        file.problem(
            ("ranking",),
            f"the weights must add up to 1: quality {quality} + speed {speed} "
            f"= {quality + speed:g}",
        )
    return float(quality), float(speed)


def _consensus(data: Mapping[str, Any]) -> ConsensusSpec | None:
    raw = data.get("consensus")
    if raw is None:
        return None
    return ConsensusSpec(
        models=int(raw.get("models", 3)), agree=float(raw.get("agree", DEFAULT_AGREE))
    )


def _alerts(data: Mapping[str, Any]) -> AlertSpec:
    raw = data.get("alerts") or {}
    rate = raw.get("max_error_rate")
    agreement, score = raw.get("min_agreement"), raw.get("min_judge_score")
    return AlertSpec(
        max_p95_ms=None if raw.get("max_p95_ms") is None else float(raw["max_p95_ms"]),
        max_error_rate=None if rate is None else float(rate) / 100.0,
        min_agreement=None if agreement is None else float(agreement),
        min_judge_score=None if score is None else float(score),
    )


def _shadow(data: Mapping[str, Any]) -> ShadowSpec | None:
    raw = data.get("shadow")
    if raw is None:
        return None
    return ShadowSpec(
        rate=float(raw["rate"]), check=str(raw.get("check", "runner_up")), rubric=raw.get("rubric")
    )


def _capture(data: Mapping[str, Any]) -> CaptureSpec:
    raw = data.get("capture") or {}
    return CaptureSpec(inputs=bool(raw.get("inputs", False)), max=int(raw.get("max", 1000)))


def _load(data: Mapping[str, Any]) -> LoadSpec | None:
    raw = data.get("load")
    if raw is None:
        return None
    slo = raw.get("slo") or {}
    requests = raw.get("requests")
    return LoadSpec(
        concurrency=int(raw.get("concurrency", 1)),
        requests=None if requests is None else int(requests),
        slo_p95_ms=None if slo.get("p95_ms") is None else float(slo["p95_ms"]),
        slo_ttft_ms=None if slo.get("ttft_ms") is None else float(slo["ttft_ms"]),
    )
