"""Validation of a case file against ``case_schema.json``, with messages that name the
file, the line and the key (``unknown key; did you mean 'expected'?``).

A valid file is checked by jsonschema-rs (fast); an invalid one again by jsonschema, whose
errors carry the paths the messages need.  Both are imported when first needed.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

from pytest_llmbench.cases.problems import CaseFileError, KeyPath, Problem, key_of, path_of

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

    from pytest_llmbench.cases.yaml_lines import LineMap

__all__ = [
    "case_schema",
    "json_schema_mistake",
    "schema_problems",
    "unlabelled_problem",
    "validate",
]

UNLABELLED_SHOWN = 10
"""How many unlabelled cases the refusal names one by one."""


def validate(
    data: dict[str, Any], lines: LineMap, display: str
) -> tuple[dict[str, Any], list[Problem]]:
    """The data to build the task from, and the problems to report after building it.

    A file whose only problems are unknown keys is built without them, so that one typo
    hides nothing else: its problems come back with that data.

    :raises CaseFileError: for any other problem (the task cannot be built).
    """
    problems = schema_problems(data, lines)
    unlabelled = unlabelled_problem(data, lines)
    if unlabelled is not None:  # a candidates file: refused whatever else it holds
        keys = {f"cases[{i}].expected" for i in _unlabelled(data)}
        problems = [p for p in problems if p.key not in keys]
        raise CaseFileError(display, [unlabelled, *problems])
    if "prompt" not in data and "prompts" not in data:  # the schema requires neither alone
        problems.append(Problem(1, "prompt", "missing required key"))
    unknown = [path_of(p.key) for p in problems if p.message.startswith("unknown key")]
    if problems and len(unknown) == len(problems):
        pruned = _without_unknown_keys(data, unknown)
        if pruned is None or schema_problems(pruned, lines):
            raise CaseFileError(display, problems)
        return pruned, problems
    if problems:
        raise CaseFileError(display, problems)
    return data, problems


def _unlabelled(data: Mapping[str, Any]) -> list[int]:
    """The indexes of the cases whose ``expected`` is missing, empty or null."""
    cases = data.get("cases")
    if not isinstance(cases, list):
        return []
    return [
        index
        for index, case in enumerate(cases)
        if isinstance(case, Mapping) and case.get("expected") in (None, {})
    ]


def unlabelled_problem(data: Mapping[str, Any], lines: LineMap) -> Problem | None:
    """One problem naming every case that has no ``expected`` yet (a candidate from
    ``llmbench import`` or ``llmbench feedback --export-cases`` waiting for its label),
    or ``None``: such a file is refused, so a candidate is never benchmarked by accident."""
    indexes = _unlabelled(data)
    if not indexes:
        return None
    named = [
        f"{data['cases'][i].get('id', f'cases[{i}]')!s} (line {lines.line(('cases', i))})"
        for i in indexes[:UNLABELLED_SHOWN]
    ]
    more = len(indexes) - len(named)
    listed = ", ".join(named) + (f" and {more} more" if more > 0 else "")
    return Problem(
        lines.line(("cases", indexes[0])),
        "cases",
        f"{len(indexes)} case(s) have no label yet: {listed}; they are candidates: write "
        "what a correct answer is under expected (verdict, json, contains, ...) or delete "
        "the case, then run the file",
    )


def _without_unknown_keys(data: Any, unknown: list[KeyPath]) -> Any:
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


def schema_problems(data: Any, lines: LineMap) -> list[Problem]:
    """Every way ``data`` breaks the case schema, each at its line and key."""
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


def json_schema_mistake(schema: Any) -> str | None:
    """Why ``schema`` (a task's ``output.schema``) is not a valid JSON Schema, or ``None``."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        return f"not a valid JSON Schema: {exc.message} (at {where})"
    return None


# --------------------------------------------------------------------------- the schema


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
def case_schema() -> dict[str, Any]:
    """``case_schema.json``, the JSON Schema of a case file."""
    text = resources.files("pytest_llmbench.cases").joinpath("case_schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _case_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    schema = case_schema()
    return Draft202012Validator(_inline_refs(schema, schema.get("$defs", {})))


@functools.cache
def _fast_validator() -> Any:
    """jsonschema-rs (Rust) when installed: ~90x faster on the common case, a valid file."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - it is a dependency; stay correct without it
        return None
    return jsonschema_rs.validator_for(case_schema())


# --------------------------------------------------------------------------- the messages


def _explain(error: ValidationError, lines: LineMap) -> Iterator[Problem]:
    """The problems one jsonschema error stands for (one per unknown or missing key)."""
    path: KeyPath = tuple(error.absolute_path)
    explain = _EXPLAIN.get(str(error.validator))
    if explain is not None:
        yield from explain(error, path, lines)
        return
    yield Problem(lines.line(path), key_of(path), _message(error))


def _unknown_keys(error: ValidationError, path: KeyPath, lines: LineMap) -> Iterator[Problem]:
    instance = error.instance
    if not isinstance(instance, dict):
        yield Problem(lines.line(path), key_of(path), error.message)
        return
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    allowed = sorted(schema.get("properties", {}))
    for key in sorted(set(instance) - set(allowed)):
        hint = difflib.get_close_matches(str(key), allowed, n=1)
        tail = f"; did you mean '{hint[0]}'?" if hint else f"; allowed: {', '.join(allowed)}"
        yield Problem(lines.line(path + (key,)), key_of(path + (key,)), f"unknown key{tail}")


def _missing_keys(error: ValidationError, path: KeyPath, lines: LineMap) -> Iterator[Problem]:
    instance = error.instance
    if not isinstance(instance, dict):
        yield Problem(lines.line(path), key_of(path), error.message)
        return
    required: Any = error.validator_value
    for key in required:
        if key not in instance:
            yield Problem(lines.line(path), key_of(path + (key,)), "missing required key")


def _message(error: ValidationError) -> str:
    """The message of an error about the value itself (its type, its form)."""
    instance = error.instance
    value: Any = error.validator_value
    if error.validator == "oneOf":
        return "expected a string or {file: path}"
    if error.validator == "enum":
        return f"{instance!r} is not one of: {', '.join(str(v) for v in value)}"
    if error.validator == "pattern":
        return f"{instance!r} does not match the pattern {value}"
    if error.validator == "type":
        return f"expected {value}, got {type(instance).__name__} {instance!r}"
    if error.validator == "propertyNames":
        return f"bad variable name: {error.message}"
    return error.message


_EXPLAIN: dict[str, Callable[[ValidationError, KeyPath, LineMap], Iterator[Problem]]] = {
    "additionalProperties": _unknown_keys,
    "required": _missing_keys,
}
