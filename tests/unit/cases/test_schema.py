"""Unit tests for pytest_llmbench.cases.schema: validation messages with line and key."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmbench.cases.problems import CaseFileError
from pytest_llmbench.cases.schema import (
    case_schema,
    json_schema_mistake,
    schema_problems,
    validate,
)
from pytest_llmbench.cases.yaml_lines import parse_yaml

VALID = """\
task: grading
prompt: "Grade {x}"
vars: {x: it}
output: {kind: verdict}
cases:
  - id: A
    expected: {verdict: PASS}
"""


def parsed(text: str) -> tuple[Any, Any]:
    return parse_yaml(text, "f.yaml")


def shown(text: str) -> list[str]:
    data, lines = parsed(text)
    return [p.format("f.yaml") for p in schema_problems(data, lines)]


def test_a_valid_file_has_no_problem_and_is_built_as_it_is() -> None:
    data, lines = parsed(VALID)
    assert schema_problems(data, lines) == []
    assert validate(data, lines, "f.yaml") == (data, [])


def test_an_unknown_key_suggests_the_closest_allowed_one() -> None:
    assert shown(VALID.replace("expected:", "expectd:") + "    expected: {verdict: PASS}\n") == [
        "f.yaml:7: cases[0].expectd: unknown key; did you mean 'expected'?"
    ]


def test_an_unknown_key_without_a_close_one_lists_the_allowed_keys() -> None:
    (message,) = shown(VALID.replace("output:", "zzz: 1\noutput:"))
    assert message.startswith("f.yaml:4: zzz: unknown key; allowed: ")
    assert "cases, " in message
    assert "task" in message


def test_a_missing_key_is_named_at_its_mapping() -> None:
    assert shown(VALID.replace("  - id: A\n", "  - why: no id\n")) == [
        "f.yaml:6: cases[0].id: missing required key"
    ]


def test_a_wrong_type_names_what_was_expected_and_what_was_given() -> None:
    assert shown(VALID.replace("cases:\n", "repeat: many\ncases:\n")) == [
        "f.yaml:5: repeat: expected integer, got str 'many'"
    ]


def test_a_value_outside_its_choices_lists_them() -> None:
    (message,) = shown(VALID.replace("kind: verdict", "kind: essay"))
    assert message.startswith("f.yaml:4: output.kind: 'essay' is not one of: ")
    assert "verdict" in message


def test_a_value_that_is_neither_text_nor_a_file_reference() -> None:
    assert shown(VALID.replace("vars: {x: it}", "vars: {x: {path: a.txt}}")) == [
        "f.yaml:3: vars.x: expected a string or {file: path}"
    ]


def test_only_unknown_keys_still_build_the_task_without_them() -> None:
    data, lines = parsed(VALID + "colour: blue\n")
    built, problems = validate(data, lines, "f.yaml")
    assert "colour" not in built
    assert built["task"] == "grading"
    assert [p.format("f.yaml") for p in problems] == [
        "f.yaml:8: colour: unknown key; allowed: " + ", ".join(sorted(case_schema()["properties"]))
    ]


def test_an_unknown_key_beside_another_problem_stops_the_build() -> None:
    data, lines = parsed(VALID.replace("  - id: A\n", "  - why: no id\n") + "colour: blue\n")
    with pytest.raises(CaseFileError) as info:
        validate(data, lines, "f.yaml")
    assert [p.key for p in info.value.problems] == ["cases[0].id", "colour"]


def test_neither_prompt_nor_prompts_is_a_missing_prompt() -> None:
    data, lines = parsed(VALID.replace('prompt: "Grade {x}"\n', ""))
    with pytest.raises(CaseFileError) as info:
        validate(data, lines, "f.yaml")
    assert [p.format("f.yaml") for p in info.value.problems] == [
        "f.yaml:1: prompt: missing required key"
    ]


def test_an_output_schema_is_checked_as_a_json_schema() -> None:
    assert json_schema_mistake({"type": "object", "required": ["a"]}) is None
    mistake = json_schema_mistake({"type": "object", "properties": {"a": {"type": 5}}})
    assert mistake is not None
    assert mistake.startswith("not a valid JSON Schema: ")
    assert mistake.endswith("(at properties/a/type)")


def test_the_ranking_latency_is_one_of_the_known_ones() -> None:
    assert shown(VALID + "ranking: {latency: ttft_p95}\n") == []
    (message,) = shown(VALID + "ranking: {latency: p99}\n")
    assert message.startswith("f.yaml:8: ranking.latency:")
    assert "ttft_p95" in message
