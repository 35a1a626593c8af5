"""Load and validate case files: YAML -> :class:`Task` with its :class:`Case` list.

Pure module: no pytest.  Every problem found in a file is collected into one
:class:`CaseFileError` whose lines each name the file, the line and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbench.cases.checks import (
    NO_QUALITY_CHECKS,
    JudgeSpec,
    QualityChecks,
    judge_spec,
    quality_checks,
)
from pytest_llmbench.cases.encoding import NotUTF8, decode_utf8, readable_text
from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.safety.confinement import Confinement, OutsideRoot, default_root

if TYPE_CHECKING:
    import yaml
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

__all__ = [
    "DEFAULT_AGREE",
    "DEFAULT_LABELS",
    "AlertSpec",
    "Case",
    "CaseFileError",
    "ConsensusSpec",
    "Expected",
    "OutputSpec",
    "Problem",
    "PromptVersion",
    "Task",
    "TemplateError",
    "find_case_file",
    "load_task",
    "looks_like_case_file",
    "non_name_placeholders",
    "placeholders",
    "render",
]

DEFAULT_LABELS = ("PASS", "FAIL")
DEFAULT_AGREE = 0.75
"""How similar two answers must be to agree (``consensus.agree``): difflib's ratio."""
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

Path_ = tuple[str | int, ...]


# --------------------------------------------------------------------------- data


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


class TemplateError(ValueError):
    """Values that do not fit a task's template (a variable without a value, or unknown)."""


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
    line: int = 1
    weights: tuple[float, float] | None = None
    """(quality, speed) for the weighted policy, when the file gives them."""
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

    def fill(self, values: Mapping[str, str], case_id: str = "production") -> Case:
        """A case made of this task's template filled with ``values`` (over the task's
        ``vars``): what a production call sends, exactly as the benchmark sent its cases.

        :raises TemplateError: for a variable the template needs and has no value, or a
            value for a name the template does not use.
        """
        needed = placeholders(self.template) + placeholders(self.system_template or "")
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
            prompt_hash=_hash(system, prompt, self.options, self.output.request_schema()),
        )


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    key: str
    message: str

    def format(self, display: str) -> str:
        where = f"{display}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class CaseFileError(Exception):
    """One or more problems in one case file; ``str()`` is the user-facing message."""

    def __init__(self, display: str, problems: list[Problem]) -> None:
        self.display = display
        self.problems = sorted(set(problems))
        super().__init__(self.message())

    def message(self) -> str:
        head = f"invalid case file {self.display}"
        lines = [p.format(self.display) for p in self.problems]
        if len(lines) == 1:
            return f"{head}\n  {lines[0]}"
        return f"{head} ({len(lines)} problems)\n  " + "\n  ".join(lines)


# --------------------------------------------------------------------------- YAML with lines


MAX_ALIAS_NODES = 100_000
"""A file whose aliases expand it to more YAML nodes than this is refused (alias bomb)."""


class _Lines:
    """Maps a path inside the document (``("cases", 2, "id")``) to its 1-based line.

    Each node is walked once: a node reached again through an alias is not walked
    again (its lines are those of its first place), so aliases are never expanded.
    Their expanded size is counted (memoised per node) against :data:`MAX_ALIAS_NODES`.
    """

    def __init__(self) -> None:
        import yaml

        self.lines: dict[Path_, int] = {(): 1}
        self.duplicates: list[Problem] = []
        self._open: set[int] = set()
        self._mapping, self._sequence = yaml.MappingNode, yaml.SequenceNode
        self._sizes: dict[int, int] = {}
        self.aliased = False

    def walk(self, node: yaml.Node, path: Path_) -> int:
        """Walk ``node``; return the number of nodes it expands to."""
        if id(node) in self._open:  # an alias of one of its own ancestors
            line = node.start_mark.line + 1
            raise CaseFileError("", [Problem(line, _key(path), "recursive YAML alias")])
        known = self._sizes.get(id(node))
        if known is not None:  # reached again through an alias
            self.aliased = True
            return known
        self._open.add(id(node))
        try:
            size = self._walk(node, path)
        finally:
            self._open.discard(id(node))
        self._sizes[id(node)] = size
        if self.aliased and size > MAX_ALIAS_NODES:
            raise CaseFileError(
                "",
                [
                    Problem(
                        node.start_mark.line + 1,
                        _key(path),
                        f"YAML aliases expand this to more than {MAX_ALIAS_NODES:,} nodes "
                        "(an alias bomb?); write the repeated values out instead",
                    )
                ],
            )
        return size

    def _walk(self, node: yaml.Node, path: Path_) -> int:
        size = 1
        if isinstance(node, self._mapping):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                line = self._key_line(seen, key, key_node, path)
                self.lines.setdefault(path + (key,), line)
                size += self.walk(key_node, path + (key,)) + self.walk(value_node, path + (key,))
        elif isinstance(node, self._sequence):
            for index, item in enumerate(node.value):
                self.lines.setdefault(path + (index,), item.start_mark.line + 1)
                size += self.walk(item, path + (index,))
        return size

    def _key_line(self, seen: dict[str, int], key: str, key_node: yaml.Node, path: Path_) -> int:
        """The line of a mapping key; a key already ``seen`` in its mapping is a problem."""
        line: int = key_node.start_mark.line + 1
        if key in seen:
            message = f"duplicate key '{key}' (first at line {seen[key]})"
            self.duplicates.append(Problem(line, _key(path + (key,)), message))
        seen[key] = line
        return line

    def walk_plain(self, node: yaml.Node, path: Path_) -> None:
        """:meth:`walk` for a document without anchors, where no node is reached twice
        (no alias to expand or to loop): lines and duplicate keys only, scalars skipped."""
        collections = (self._mapping, self._sequence)
        lines = self.lines
        if isinstance(node, self._mapping):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                line = self._key_line(seen, key, key_node, path)
                sub = path + (key,)
                lines.setdefault(sub, line)
                if isinstance(key_node, collections):
                    self.walk_plain(key_node, sub)
                if isinstance(value_node, collections):
                    self.walk_plain(value_node, sub)
        elif isinstance(node, self._sequence):
            for index, item in enumerate(node.value):
                sub = path + (index,)
                lines.setdefault(sub, item.start_mark.line + 1)
                if isinstance(item, collections):
                    self.walk_plain(item, sub)

    def line(self, path: Path_) -> int:
        while path not in self.lines:
            path = path[:-1]
        return self.lines[path]


def _key(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@functools.cache
def _loader() -> type[yaml.SafeLoader]:
    """libyaml's C parser when PyYAML was built with it (about 10x faster), same results."""
    import yaml

    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def _parse_yaml(text: str, display: str) -> tuple[Any, _Lines]:
    import yaml

    loader = _loader()(text)
    try:
        node = loader.get_single_node()
        lines = _Lines()
        if node is None:
            raise CaseFileError(display, [Problem(1, "", "the file is empty")])
        try:
            if "&" in text:  # an anchor, maybe aliases: counted against the alias budget
                lines.walk(node, ())
            else:  # no anchor, no alias: every node is reached once
                lines.walk_plain(node, ())
        except CaseFileError as exc:
            raise CaseFileError(display, exc.problems) from None
        data = loader.construct_document(node)
    except yaml.constructor.ConstructorError as exc:  # !!python/object and other tags
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        tag = re.search(r"'([^']*)'", str(exc.problem or ""))
        what = f"YAML tag {tag.group(1)!r}" if tag else "a YAML tag"
        refused = f"{what} refused: case files are plain YAML data (text, numbers, lists, mappings)"
        raise CaseFileError(display, [Problem(line, "", refused)]) from None
    except yaml.MarkedYAMLError as exc:
        # An unclosed construct is reported where it starts (context), the parser's
        # confusion (problem) is named in the message.
        problem_line = exc.problem_mark.line + 1 if exc.problem_mark else None
        context_line = exc.context_mark.line + 1 if exc.context_mark else None
        line = context_line or problem_line or 1
        what = str(exc.problem or "")
        if exc.context:
            what = f"{exc.context}: {what}"
        if problem_line and problem_line != line:
            what += f" (at line {problem_line})"
        raise CaseFileError(display, [Problem(line, "", f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise CaseFileError(display, [Problem(1, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    if lines.duplicates:
        raise CaseFileError(display, lines.duplicates)
    return data, lines


# --------------------------------------------------------------------------- schema


def _inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    """Replace local ``{"$ref": "#/$defs/x"}`` by the definition (the schema has no cycles).

    Validation without ``$ref`` lookups is several times faster on big case files.
    """
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {
                **_inline_refs(defs[ref.removeprefix("#/$defs/")], defs),
                **_inline_refs(rest, defs),
            }
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


@functools.cache
def _case_schema() -> dict[str, Any]:
    text = resources.files("pytest_llmbench.cases").joinpath("case_schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _case_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    schema = _case_schema()
    return Draft202012Validator(_inline_refs(schema, schema.get("$defs", {})))


@functools.cache
def _fast_validator() -> Any:
    """jsonschema-rs (Rust) when installed: ~90x faster on the common case, a valid file."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - it is a dependency; stay correct without it
        return None
    return jsonschema_rs.validator_for(_case_schema())


def _schema_problems(data: Any, lines: _Lines) -> list[Problem]:
    fast = _fast_validator()
    if fast is not None:
        try:
            if fast.is_valid(data):
                return []
        except (ValueError, TypeError):  # a YAML value JSON has no type for: check in detail
            pass
    # Invalid (or not checkable fast): jsonschema gives paths for line-aware messages.
    problems: list[Problem] = []
    for error in _case_validator().iter_errors(data):
        problems.extend(_explain(error, lines))
    return problems


def _explain(error: ValidationError, lines: _Lines) -> Iterator[Problem]:
    path: Path_ = tuple(error.absolute_path)
    instance = error.instance
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    value: Any = error.validator_value
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        for key in sorted(set(instance) - set(allowed)):
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            tail = f"; did you mean '{hint[0]}'?" if hint else f"; allowed: {', '.join(allowed)}"
            yield Problem(lines.line(path + (key,)), _key(path + (key,)), f"unknown key{tail}")
        return
    if error.validator == "required" and isinstance(instance, dict):
        for key in value:
            if key not in instance:
                yield Problem(lines.line(path), _key(path + (key,)), "missing required key")
        return
    if error.validator == "oneOf":
        yield Problem(lines.line(path), _key(path), "expected a string or {file: path}")
        return
    if error.validator == "enum":
        choices = ", ".join(str(v) for v in value)
        yield Problem(lines.line(path), _key(path), f"{instance!r} is not one of: {choices}")
        return
    if error.validator == "pattern":
        yield Problem(
            lines.line(path), _key(path), f"{instance!r} does not match the pattern {value}"
        )
        return
    if error.validator == "type":
        expected = value
        yield Problem(
            lines.line(path),
            _key(path),
            f"expected {expected}, got {type(instance).__name__} {instance!r}",
        )
        return
    if error.validator == "propertyNames":
        yield Problem(lines.line(path), _key(path), f"bad variable name: {error.message}")
        return
    yield Problem(lines.line(path), _key(path), error.message)


# --------------------------------------------------------------------------- templates

JUDGE_PLACEHOLDERS = ("rubric", "answer", "inputs", "question")
"""What a judge prompt may use: the rubric, the answer judged, the case's variables and
the prompt the candidate answered."""

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(template: str) -> list[str]:
    """The variable names a template uses, in order of first use."""
    seen: dict[str, None] = {}
    for match in _TOKEN.finditer(template):
        if match.group(1):
            seen.setdefault(match.group(1))
    return list(seen)


_NON_NAME = re.compile(r"(?<!\{)\{[A-Za-z_][A-Za-z0-9_]*[.\[:!][^{}\n]*\}")


def non_name_placeholders(template: str) -> list[str]:
    """Placeholders that are not a plain name: ``{x.attr}``, ``{x[0]}``, ``{x:>9}``, ``{x!r}``.

    ``str.format`` would read them as attribute or index access or a format spec;
    :func:`render` fills names only, so they are errors rather than literal text.
    """
    return list(dict.fromkeys(m.group(0) for m in _NON_NAME.finditer(template.replace("{{", ""))))


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders by name; ``{{`` and ``}}`` are literal braces.

    Only plain names are filled: no attribute or index access, no code.
    Raises ``KeyError`` for a name without a value.
    """

    def sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values[match.group(1)]

    return _TOKEN.sub(sub, template)


# --------------------------------------------------------------------------- loading


class _Builder:
    """Turns validated YAML data into a Task, collecting semantic problems."""

    def __init__(
        self,
        path: Path,
        display: str,
        data: dict[str, Any],
        lines: _Lines,
        confinement: Confinement,
    ) -> None:
        self.path = path
        self.confinement = confinement
        self.display = display
        self.data = data
        self.lines = lines
        self.problems: list[Problem] = []
        self.files: dict[Path, str] = {}
        """Referenced files, read once per load (not cached across loads: they may change)."""

    def read(self, path: Path) -> str:
        """The text of a ``{file:}``, once it is known to lie inside the allowed roots."""
        path = self.confinement.check(path)
        if path not in self.files:
            self.files[path] = decode_utf8(path.read_bytes())
        return self.files[path]

    def problem(self, path: Path_, message: str) -> None:
        self.problems.append(Problem(self.lines.line(path), _key(path), message))

    def text(self, value: Any, path: Path_) -> str | None:
        """A string value, or the content of ``{file: ...}`` relative to the case file."""
        if isinstance(value, dict):
            target = (self.path.parent / value["file"]).resolve()
            try:
                return self.read(target)
            except OutsideRoot as exc:
                self.problem(path + ("file",), f"refused to read {value['file']}: {exc}")
            except FileNotFoundError:
                self.problem(path + ("file",), f"file not found: {value['file']} ({target})")
            except NotUTF8 as exc:
                self.problem(
                    path + ("file",),
                    f"cannot read {value['file']}: not UTF-8 text ({exc}); save it as UTF-8",
                )
            except OSError as exc:
                self.problem(path + ("file",), f"cannot read {value['file']}: {exc}")
            return None
        if isinstance(value, bool):  # YAML true/false, not Python's True/False
            return "true" if value else "false"
        return str(value)

    def variables(self, raw: Mapping[str, Any] | None, path: Path_) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in (raw or {}).items():
            text = self.text(value, path + (name,))
            if text is not None:
                out[name] = text
        return out

    def output(self) -> OutputSpec:
        raw = self.data.get("output") or {}
        kind = raw.get("kind", "text")
        labels = tuple(raw.get("labels", DEFAULT_LABELS))
        schema = raw.get("schema")
        if "labels" in raw and kind != "verdict":
            self.problem(("output", "labels"), "labels only apply to kind verdict")
        first: dict[str, str] = {}
        for label in labels:
            other = first.setdefault(str(label).casefold(), str(label))
            if other != label or labels.count(label) > 1:
                self.problem(
                    ("output", "labels"),
                    f"labels {other!r} and {label!r} are the same up to case (answers are "
                    "read ignoring case); give each label a different name",
                )
        if schema is not None:
            if kind != "json":
                self.problem(("output", "schema"), "schema only applies to kind json")
            from jsonschema.exceptions import SchemaError
            from jsonschema.validators import validator_for

            try:
                validator_for(schema).check_schema(schema)
            except SchemaError as exc:
                where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
                self.problem(
                    ("output", "schema"), f"not a valid JSON Schema: {exc.message} (at {where})"
                )
        return OutputSpec(kind=kind, labels=labels, schema=schema)

    def expected(self, raw: Mapping[str, Any], path: Path_, output: OutputSpec) -> Expected:
        kind = output.kind
        verdict = raw.get("verdict")
        if kind == "verdict":
            if verdict is None:
                self.problem(path, "a verdict task needs expected.verdict")
            elif verdict not in output.labels:
                self.problem(
                    path + ("verdict",),
                    f"label {verdict!r} is not in labels [{', '.join(output.labels)}]",
                )
        elif verdict is not None:
            self.problem(path + ("verdict",), "expected.verdict needs output kind verdict")
        if "json" in raw and kind != "json":
            self.problem(path + ("json",), "expected.json needs output kind json")
        regex = raw.get("regex")
        if regex is not None:
            try:
                re.compile(regex)
            except re.error as exc:
                self.problem(path + ("regex",), f"invalid regular expression: {exc}")
        return Expected(
            verdict=verdict,
            json=raw.get("json"),
            contains=tuple(raw.get("contains", ())),
            not_contains=tuple(raw.get("not_contains", ())),
            regex=regex,
            quality=quality_checks(raw, lambda key, message: self.problem(path + key, message)),
        )

    def templates(self) -> list[tuple[str, str | None, str | None]]:
        """(version name, template, file) of ``prompt:`` (name ``""``) or each ``prompts:``."""
        data = self.data
        if "prompt" in data and "prompts" in data:
            self.problem(("prompts",), "give either prompt or prompts, not both")
        if "prompts" in data:
            return [
                (
                    name,
                    self.text(value, ("prompts", name)),
                    value["file"] if isinstance(value, dict) else None,
                )
                for name, value in data["prompts"].items()
            ]
        return [("", self.text(data["prompt"], ("prompt",)), None)]

    def build(self) -> Task:
        data = self.data
        output = self.output()
        templates = self.templates()
        system = self.text(data["system"], ("system",)) if "system" in data else None
        checked: list[tuple[Path_, str | None]] = [
            (("prompts", name) if name else ("prompt",), template)
            for name, template, _ in templates
        ]
        for where, template in [*checked, (("system",), system)]:
            for token in non_name_placeholders(template or ""):
                self.problem(
                    where,
                    f"placeholder {token} is not a plain name: templates fill {{name}} only "
                    "(no attribute, index or format spec); write {{ and }} for literal braces",
                )
        self.non_finite(data, ())
        raw_options = dict(data.get("options", {}))
        for key in ("temperature", "top_p"):
            if key in raw_options:
                raw_options[key] = float(raw_options[key])
        options = GenerateOptions(**raw_options)
        task_vars = self.variables(data.get("vars"), ("vars",))
        schema = output.request_schema()
        versions: list[PromptVersion] = []
        first_cases: list[Case] = []
        for index, (name, prompt, file) in enumerate(templates):
            cases = self.cases(prompt, system, task_vars, options, schema, output, name, index)
            if prompt is not None and name:
                version_hash = _version_hash(prompt)
                cases = [
                    dataclasses.replace(c, prompt_version=name, prompt_version_hash=version_hash)
                    for c in cases
                ]
                versions.append(PromptVersion(name, prompt, version_hash, tuple(cases), file))
            if index == 0:
                first_cases = cases
        weights = self.weights()
        judge = self.judge(first_cases)
        if self.problems:
            raise CaseFileError(self.display, self.problems)
        return Task(
            name=data["task"],
            path=self.path,
            output=output,
            options=options,
            cases=tuple(first_cases),
            description=data.get("description"),
            repeat=data.get("repeat", 1),
            policy=(data.get("ranking") or {}).get("policy", "strict"),
            line=self.lines.line(("task",)),
            weights=weights,
            sources=(self.path.resolve(), *self.files),
            versions=tuple(versions),
            template=templates[0][1] or "",
            system_template=system,
            variables=task_vars,
            consensus=self.consensus(),
            judge=judge,
            pass_threshold=data.get("pass"),
            alerts=self.alerts(),
        )

    def cases(
        self,
        prompt: str | None,
        system: str | None,
        task_vars: Mapping[str, str],
        options: GenerateOptions,
        schema: Mapping[str, Any] | None,
        output: OutputSpec,
        version: str,
        position: int,
    ) -> list[Case]:
        """The cases rendered with one prompt template.

        A problem of a case itself is reported once (with the first template); a missing
        variable is reported for every version that lacks it.
        """
        data = self.data
        before = len(self.problems)
        needed = placeholders(prompt or "") + placeholders(system or "")
        prompt_hash = _hasher(options, schema)
        cases: list[Case] = []
        first_line: dict[str, int] = {}
        for index, raw in enumerate(data["cases"]):
            path: Path_ = ("cases", index)
            line = self.lines.line(path)
            case_id = raw["id"]
            if case_id in first_line:
                self.problem(
                    path + ("id",),
                    f"duplicate id {case_id!r} (first at line {first_line[case_id]})",
                )
            first_line.setdefault(case_id, line)
            for tag in raw.get("tags", ()):
                if tag in RESERVED_TAGS:
                    self.problem(path + ("tags",), f"tag {tag!r} is a reserved marker name")
            expected = self.expected(raw["expected"], path + ("expected",), output)
            values = {**task_vars, **self.variables(raw.get("vars"), path + ("vars",))}
            missing = [name for name in needed if name not in values]
            for name in missing:
                if name not in (raw.get("vars") or {}) and name not in (data.get("vars") or {}):
                    in_version = f" (prompt version {version})" if version else ""
                    self.problem(
                        path + ("vars",),
                        f"template variable {{{name}}} has no value in case {case_id!r}"
                        + in_version,
                    )
            if missing or prompt is None:
                continue
            text = render(prompt, values)
            sys_text = render(system, values) if system is not None else None
            cases.append(
                Case(
                    id=case_id,
                    expected=expected,
                    prompt=text,
                    system=sys_text,
                    difficulty=raw.get("difficulty", "medium"),
                    difficulty_default="difficulty" not in raw,
                    batch=raw.get("batch"),
                    tags=tuple(raw.get("tags", ())),
                    why=raw.get("why"),
                    line=line,
                    prompt_hash=prompt_hash(sys_text, text),
                    vars=values,
                )
            )
        if position:  # case problems are the same for every version: keep the new ones only
            new = self.problems[before:]
            del self.problems[before:]
            self.problems.extend(p for p in new if "prompt version" in p.message)
        return cases

    def alerts(self) -> AlertSpec:
        raw = self.data.get("alerts") or {}
        rate = raw.get("max_error_rate")
        return AlertSpec(
            max_p95_ms=None if raw.get("max_p95_ms") is None else float(raw["max_p95_ms"]),
            max_error_rate=None if rate is None else float(rate) / 100.0,
        )

    def consensus(self) -> ConsensusSpec | None:
        raw = self.data.get("consensus")
        if raw is None:
            return None
        return ConsensusSpec(
            models=int(raw.get("models", 3)), agree=float(raw.get("agree", DEFAULT_AGREE))
        )

    def non_finite(self, value: Any, path: Path_) -> None:
        """A problem for every NaN or infinite number (YAML ``.nan``, ``.inf``)."""
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(path, f"{value} is not a finite number; give a plain number")
        elif isinstance(value, dict):
            for key, item in value.items():
                self.non_finite(item, path + (str(key),))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.non_finite(item, path + (index,))

    def judge(self, cases: list[Case]) -> JudgeSpec | None:
        """The task's ``judge:``; a case with a rubric needs one that names a judge."""
        raw = self.data.get("judge")
        prompt = None
        if raw is not None and "prompt" in raw:
            prompt = self.text(raw["prompt"], ("judge", "prompt"))
        spec = judge_spec(raw, prompt)
        if spec is not None and spec.model is not None and spec.task is not None:
            self.problem(("judge",), "give model or task, not both")
        verdict_task = (self.data.get("output") or {}).get("kind") == "verdict"
        index = {raw["id"]: i for i, raw in enumerate(self.data["cases"])}
        if prompt is not None:
            for name in placeholders(prompt):
                if name not in JUDGE_PLACEHOLDERS:
                    known = ", ".join(f"{{{n}}}" for n in JUDGE_PLACEHOLDERS)
                    self.problem(
                        ("judge", "prompt"), f"unknown placeholder {{{name}}}; use {known}"
                    )
        for case in cases:
            if case.expected.quality.judge is None:
                continue
            where: Path_ = ("cases", index[case.id], "expected", "judge")
            if verdict_task:  # a calibration case: the judge scores the case's own answer
                name = spec.answer if spec is not None else "answer"
                if name not in dict(case.inputs):
                    self.problem(where, f"a calibration case needs the variable {{{name}}}")
            elif spec is None or (spec.model is None and spec.task is None):
                self.problem(
                    where, "a judge rubric needs the task's judge: {model: ...} or {task: ...}"
                )
        return spec

    def weights(self) -> tuple[float, float] | None:
        """``ranking.quality`` and ``ranking.speed``: one gives the other; both must add to 1."""
        raw = self.data.get("ranking") or {}
        given_quality: float | None = raw.get("quality")
        given_speed: float | None = raw.get("speed")
        if given_quality is None:
            if given_speed is None:
                return None
            given_quality = round(1.0 - given_speed, 10)
        quality = given_quality
        speed = round(1.0 - quality, 10) if given_speed is None else given_speed
        if not math.isclose(quality + speed, 1.0, abs_tol=1e-9):
            self.problem(
                ("ranking",),
                f"the weights must add up to 1: quality {quality} + speed {speed} "
                f"= {quality + speed:g}",
            )
        return float(quality), float(speed)


def _hash(
    system: str | None, prompt: str, options: GenerateOptions, schema: Mapping[str, Any] | None
) -> str:
    return _hasher(options, schema)(system, prompt)


def _hasher(
    options: GenerateOptions, schema: Mapping[str, Any] | None
) -> Callable[[str | None, str], str]:
    """The prompt hash of one template's cases: what they share is encoded once.

    The hash is that of ``json.dumps({"system", "prompt", "options", "schema"},
    sort_keys=True, ensure_ascii=False)`` (the history compares hashes across runs);
    the text is put together from its parts, the same bytes.
    """
    fixed_options = json.dumps(dataclasses.asdict(options), sort_keys=True, ensure_ascii=False)
    fixed_schema = json.dumps(schema, sort_keys=True, ensure_ascii=False)
    head = '{"options": ' + fixed_options + ', "prompt": '
    middle = ', "schema": ' + fixed_schema + ', "system": '

    def prompt_hash(system: str | None, prompt: str) -> str:
        blob = (
            head
            + json.dumps(prompt, ensure_ascii=False)
            + middle
            + json.dumps(system, ensure_ascii=False)
            + "}"
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    return prompt_hash


def _version_hash(template: str) -> str:
    """The hash of a prompt version: its template text, before any variable is filled."""
    return hashlib.sha256(template.encode("utf-8")).hexdigest()[:16]


_TASK_LINE = re.compile(r"^task\s*:", re.MULTILINE)


def looks_like_case_file(text: str) -> bool:
    """A YAML file is a case file when it has a top-level ``task:`` key."""
    return _TASK_LINE.search(text) is not None


def find_case_file(root: Path, task: str) -> Path | None:
    """The first ``*.yaml``/``*.yml`` under ``root`` (sorted, recursive) whose top-level
    ``task:`` is ``task`` (in a file that is not UTF-8 too: loading it says so); ``None``
    when there is none."""
    line = re.compile(rf"^task\s*:\s*(['\"]?){re.escape(task)}\1\s*(#.*)?$", re.MULTILINE)
    candidates = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
    for path in candidates:
        try:
            text = readable_text(path.read_bytes())
        except OSError:
            continue
        if line.search(text):
            return path
    return None


def _without_unknown_keys(data: Any, unknown: list[Path_]) -> Any:
    """A copy of ``data`` without the keys at the paths in ``unknown``."""
    pruned = json.loads(json.dumps(data, default=str))
    for path in unknown:
        node = pruned
        try:
            for part in path[:-1]:
                node = node[part]
            del node[path[-1]]
        except (KeyError, IndexError, TypeError):  # a key with a dot or a bracket in it
            return None
    return pruned


def load_task(
    path: Path,
    display: str | None = None,
    text: str | None = None,
    *,
    root: Path | None = None,
    allowed_roots: tuple[Path, ...] = (),
) -> Task:
    """Load, validate and render one case file.

    :param display: how to name the file in messages (default: the path as given).
    :param root: the directory ``{file:}`` paths must stay inside (pytest's rootdir);
        default: the nearest enclosing project
        (:func:`pytest_llmbench.safety.confinement.default_root`).
    :param allowed_roots: further directories ``{file:}`` may read from.
    :raises CaseFileError: with every problem found, each naming file, line and key.
    """
    display = display or str(path)
    if text is None:
        try:
            text = decode_utf8(path.read_bytes())
        except NotUTF8 as exc:
            problem = f"not UTF-8 text ({exc}); save the file as UTF-8"
            raise CaseFileError(display, [Problem(exc.line, "", problem)]) from None
    data, lines = _parse_yaml(text.removeprefix("\ufeff"), display)
    if not isinstance(data, dict):
        raise CaseFileError(
            display, [Problem(1, "", "expected a mapping with task, prompt, cases")]
        )
    problems = _schema_problems(data, lines)
    if "prompt" not in data and "prompts" not in data:  # the schema requires neither alone
        problems.append(Problem(1, "prompt", "missing required key"))
    unknown = [tuple(_path_of(p.key)) for p in problems if p.message.startswith("unknown key")]
    if problems and len(unknown) == len(problems):
        # Only unknown keys: check the rest as well, so that one typo hides nothing.
        pruned = _without_unknown_keys(data, unknown)
        if pruned is None or _schema_problems(pruned, lines):
            raise CaseFileError(display, problems)
        data = pruned
    elif problems:
        raise CaseFileError(display, problems)
    confinement = Confinement(root or default_root(path), allowed_roots)
    try:
        task = _Builder(path, display, data, lines, confinement).build()
    except CaseFileError as exc:
        raise CaseFileError(display, [*problems, *exc.problems]) from None
    if problems:
        raise CaseFileError(display, problems)
    return task


def _path_of(key: str) -> Path_:
    """The inverse of :func:`_key`: ``cases[0].why`` -> ``("cases", 0, "why")``."""
    parts: list[str | int] = []
    for match in re.finditer(r"\[(\d+)\]|([^.\[\]]+)", key):
        parts.append(int(match.group(1)) if match.group(1) else match.group(2))
    return tuple(parts)
