"""Score one model answer against a case's expectations.

Pure module: text in, :class:`Score` out.  A model answer that cannot be parsed
is a wrong answer with a reason, never an exception.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmbench.cases.records import Case, Expected, OutputSpec, Task
from pytest_llmbench.execution.matching import RegexTimeout, regex_search
from pytest_llmbench.execution.quality import Part, combine, quality_parts
from pytest_llmbench.execution.results import Result

__all__ = [
    "MAX_PARSE_CHARS",
    "Score",
    "failure_message",
    "json_completeness",
    "parse_answer",
    "parse_json",
    "parse_verdict",
    "score",
    "shorten",
    "strip_fence",
]


@dataclass(frozen=True)
class Score:
    """The outcome of checking one answer.

    ``got`` is the parsed answer in short form (the label, compact JSON or the
    text); ``reason`` says what was wrong (empty when correct); ``label`` is the
    parsed verdict label, if any (used to name the direction of a miss).
    """

    correct: bool
    got: str
    reason: str = ""
    label: str | None = None
    value: float | None = None
    """The score in 0-1: the mean of ``parts`` (``None``: 1 when correct, else 0)."""
    parts: tuple[Part, ...] = ()
    """The checks that made the score (binary checks, JSON completeness, heuristics)."""

    @property
    def score(self) -> float:
        if self.value is not None:
            return self.value
        return 1.0 if self.correct else 0.0


def shorten(text: str, limit: int = 80) -> str:
    """One line, at most ``limit`` characters, for messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def failure_message(result: Result) -> str:
    """Why a result is not correct, in one line (its item's failure)."""
    # A call without an answer (a cache miss, a provider error) is no wrong answer.
    if result.error:
        return f"call error, not a wrong answer: {shorten(result.error, 300)}"
    what = result.direction if result.kind == "verdict" else "wrong answer"
    because = f" ({result.reason})" if result.reason else ""
    return f"{what}: expected {result.expected}, got {shorten(result.got, 200)}{because}"


MAX_PARSE_CHARS = 1_000_000
"""Answers longer than this are not parsed (a wrong answer that says so): every parse
below is linear in the answer's length, and this bounds the length."""

_FENCE_TAG = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def strip_fence(text: str) -> str:
    """The body of an answer wrapped whole in a code fence (```json ... ```), stripped;
    else the answer stripped.  Plain string operations: linear in the answer's length."""
    body = text.strip()
    if len(body) < 6 or not (body.startswith("```") and body.endswith("```")):
        return body
    inner = body[3:-3]
    tag = 0
    while tag < len(inner) and inner[tag] in _FENCE_TAG:
        tag += 1
    return inner[tag:].strip()


def _too_long(text: str) -> str:
    return f"answer too long to parse ({len(text):,} characters, at most {MAX_PARSE_CHARS:,})"


def parse_json(text: str) -> tuple[Any, str]:
    """Parse a JSON answer, tolerating a code fence or prose around one object.

    Returns ``(value, "")`` or ``(None, reason)``.  Linear in the answer's length.
    """
    if len(text) > MAX_PARSE_CHARS:
        return None, _too_long(text)
    body = strip_fence(text)
    if not body:
        return None, "empty answer"
    try:
        return json.loads(body), ""
    except json.JSONDecodeError as exc:
        problem = exc.msg
    except RecursionError:  # nested deeper than the interpreter's recursion limit
        problem = "nested too deeply"
    start = body.find("{")
    if start >= 0:
        try:
            value, _ = json.JSONDecoder().raw_decode(body[start:])
            return value, ""
        except (json.JSONDecodeError, RecursionError):
            pass
    return None, f"not valid JSON ({problem}): {shorten(text)!r}"


_NEGATED = re.compile(
    r"(?i)\b(?:not|never|no|isn't|doesn't|don't|didn't|won't|cannot|can't|shouldn't)"
    r"(?:\s+(?:a|an|the|be|been|get|really|quite|considered|rated|count\s+as))*\s+$"
)
"""Words right before a label that negate it: "does not PASS", "is not a PASS"."""
_NEGATION_START = re.compile(r"\b(?:[nN][oOeE]|[iI][sS]|[dD][oOiI]|[wW][oO]|[cC][aA]|[sS][hH])")
"""Where a negation may start: a word beginning as one of :data:`_NEGATED`'s first words
does (no word it allows between a negation and the label begins so)."""
_NEGATION_WINDOW = 120
"""How far before a label a negation is looked for (characters)."""


def _negation_before(text: str, end: int, starts: Sequence[int]) -> re.Match[str] | None:
    """The negation that ends right at ``end`` (a label's start), if any.

    Only the last possible start before the label can begin one (the words allowed in
    between never look like a start), so one anchored match per label, in a bounded
    window: linear in the answer's length however often the label occurs."""
    if not text[end - 1 : end].isspace():
        return None
    last = bisect.bisect_left(starts, end) - 1
    if last < 0 or starts[last] < end - _NEGATION_WINDOW:
        return None
    return _NEGATED.match(text, starts[last], end)


def parse_verdict(text: str, labels: Sequence[str]) -> tuple[str | None, str]:
    """Read a verdict label from ``{"verdict": "PASS"}`` or from plain text.

    Plain text must name exactly one of the labels (as a whole word, any case).
    Returns ``(label, "")`` or ``(None, reason)``.
    """
    if len(text) > MAX_PARSE_CHARS:
        return None, _too_long(text)
    by_fold = {label.casefold(): label for label in labels}
    value, _ = parse_json(text)
    if isinstance(value, dict):
        for key, raw in value.items():
            if str(key).casefold() == "verdict":
                label = by_fold.get(str(raw).strip().casefold())
                if label is None:
                    return None, f"verdict {raw!r} is not one of {', '.join(labels)}"
                return label, ""
    found: set[str] = set()
    negations = [m.start() for m in _NEGATION_START.finditer(text)]
    for label in labels:
        pattern = rf"(?<![A-Za-z0-9_]){re.escape(label)}(?![A-Za-z0-9_])"
        for match in re.finditer(pattern, text, re.IGNORECASE):
            negation = _negation_before(text, match.start(), negations)
            if negation is not None:
                said = " ".join(f"{negation.group(0)}{match.group(0)}".split())
                return None, f"negated verdict {said!r}: the answer must state one label"
            found.add(label)
    if len(found) == 1:
        return found.pop(), ""
    if not found:
        return None, f"no verdict ({'/'.join(labels)}) in answer: {shorten(text)!r}"
    return None, f"ambiguous answer names {' and '.join(sorted(found))}: {shorten(text)!r}"


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _scalar_equal(expected: Any, got: Any) -> bool:
    """Strings ignoring case and spacing; ``True`` is not ``1``; numbers by value."""
    if isinstance(expected, str):
        return isinstance(got, str) and _norm(got) == _norm(expected)
    if isinstance(expected, bool) or expected is None:
        return got is expected
    if isinstance(expected, int | float):
        return isinstance(got, int | float) and not isinstance(got, bool) and got == expected
    return bool(expected == got)


def _mismatch(expected: Any, got: Any, where: str) -> str | None:
    """Why ``got`` does not match ``expected`` (None when it matches).

    Strings compare after trimming, collapsing white space and ignoring case;
    a list matches when every expected element matches some element of the answer
    (extra elements are allowed); a mapping matches field by field.
    """
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"{where or 'answer'}: expected an object, got {json.dumps(got)}"
        for key, value in expected.items():
            path = f"{where}.{key}" if where else str(key)
            if key not in got:
                return f"missing field {path!r}"
            problem = _mismatch(value, got[key], path)
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(got, list):
            return f"{where}: expected a list, got {json.dumps(got, ensure_ascii=False)}"
        missing = [e for e in expected if all(_mismatch(e, g, where) for g in got)]
        if missing:
            shown = ", ".join(json.dumps(m, ensure_ascii=False) for m in missing)
            return f"{where}: missing {shown}"
        return None
    if _scalar_equal(expected, got):
        return None
    return (
        f"{where}: expected {json.dumps(expected, ensure_ascii=False)}, "
        f"got {json.dumps(got, ensure_ascii=False)}"
    )


def json_completeness(expected: Any, got: Any) -> tuple[int, int]:
    """(matched, total): expected scalar fields and list items the answer has right.

    A mapping counts its fields (a missing field: all it holds), a list each expected
    element (matched when some element of the answer matches it whole), a scalar one.
    """
    if isinstance(expected, Mapping):
        matched = total = 0
        for key, value in expected.items():
            present = isinstance(got, Mapping) and key in got
            m, t = json_completeness(value, got[key] if present else _ABSENT)
            matched, total = matched + m, total + t
        return matched, total
    if isinstance(expected, list):
        if not isinstance(got, list):
            return 0, len(expected)
        return sum(1 for e in expected if any(not _mismatch(e, g, "") for g in got)), len(expected)
    return (0 if got is _ABSENT or _mismatch(expected, got, "") else 1), 1


_ABSENT = object()


def _has_binary_checks(output: OutputSpec, expected: Expected) -> bool:
    return bool(
        output.kind != "text"
        or expected.contains
        or expected.not_contains
        or expected.regex is not None
    )


def _text_checks(expected: Expected, text: str) -> str:
    folded = text.casefold()
    missing = [c for c in expected.contains if c.casefold() not in folded]
    if missing:
        return "missing " + ", ".join(repr(m) for m in missing)
    present = [c for c in expected.not_contains if c.casefold() in folded]
    if present:
        return "contains forbidden " + ", ".join(repr(p) for p in present)
    if expected.regex is not None:
        try:
            if not regex_search(expected.regex, text):
                return f"does not match /{expected.regex}/"
        except RegexTimeout as exc:
            return str(exc)
    return ""


def _schema_error(schema: Mapping[str, Any], value: Any) -> str:
    from jsonschema import validate
    from jsonschema.exceptions import SchemaError, ValidationError

    try:
        validate(value, schema)
    except ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        return f"answer does not match the schema at {where}: {exc.message}"
    except SchemaError:  # validated at load time; keep scoring total anyway
        return ""
    return ""


def parse_answer(output: OutputSpec, text: str) -> tuple[Any, str]:
    """The answer as the benchmark reads it, without a gold label: ``(value, "")`` or
    ``(None, reason)`` for an answer that cannot be used.

    verdict: the label (:func:`parse_verdict`); json: the parsed value, which must match
    ``output.schema`` when there is one; text: the text, which must not be blank.
    """
    if output.kind == "verdict":
        return parse_verdict(text, output.labels)
    if output.kind == "json":
        value, problem = parse_json(text)
        if not problem and output.schema is not None:
            problem = _schema_error(output.schema, value)
        return (None, problem) if problem else (value, "")
    return (text, "") if text.strip() else (None, "empty answer")


def score_output(output: OutputSpec, expected: Expected, text: str) -> Score:
    """Score ``text`` against ``expected`` for an answer of kind ``output.kind``."""
    if output.kind == "verdict":
        label, problem = parse_verdict(text, output.labels)
        if label is None:
            return Score(False, shorten(text), problem)
        if expected.verdict is not None and label != expected.verdict:
            return Score(False, label, f"expected {expected.verdict}, said {label}", label)
        extra = _text_checks(expected, text)
        return Score(not extra, label, extra, label)
    if output.kind == "json":
        value, problem = parse_json(text)
        if problem:
            return Score(False, shorten(text), problem)
        got = json.dumps(value, ensure_ascii=False, sort_keys=True)
        reason = _schema_error(output.schema, value) if output.schema is not None else ""
        reason = reason or _text_checks(expected, text)
        mismatch = (_mismatch(dict(expected.json), value, "") or "") if expected.json else ""
        if expected.json is None or not (reason or mismatch):
            return Score(not reason, got, reason)
        # The expected fields make a part of their own: a partial answer, a partial score.
        parts: list[Part] = []
        if output.schema is not None or _has_binary_checks(OutputSpec(), expected):
            parts.append(Part("checks", 0.0 if reason else 1.0, reason=reason))
        matched, total = json_completeness(dict(expected.json), value)
        parts.append(Part("json", matched / total if total else 1.0, reason=mismatch))
        value_ = combine(parts)[0]
        return Score(False, got, reason or mismatch, value=value_, parts=tuple(parts))
    reason = _text_checks(expected, text)
    return Score(not reason, text, reason)


def score(task: Task, case: Case, text: str) -> Score:
    """The default scorer (the ``pytest_llmbench_score`` hook's default implementation).

    The binary checks make one part (1 or 0), JSON completeness one, each heuristic of
    :mod:`~pytest_llmbench.execution.quality` one; the score is their mean.
    """
    base = score_output(task.output, case.expected, text)
    heuristics = quality_parts(case.expected.quality, text, (v for _, v in case.inputs))
    if not heuristics and task.pass_threshold is None:
        return base
    parts = list(base.parts)
    if not parts and _has_binary_checks(task.output, case.expected):
        parts.append(Part("checks", 1.0 if base.correct else 0.0, reason=base.reason))
    parts.extend(heuristics)
    value, correct, reason = combine(parts, task.pass_threshold)
    return Score(correct, base.got, reason, base.label, value, tuple(parts))
