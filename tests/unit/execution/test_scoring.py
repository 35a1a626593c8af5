"""Unit tests for pytest_llmbench.execution.scoring: parsing answers and checking them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.cases.records import Case, Expected, OutputSpec, Task
from pytest_llmbench.execution.scoring import (
    Score,
    parse_answer,
    parse_json,
    parse_verdict,
    score,
    score_output,
    shorten,
)

LABELS = ("PASS", "FAIL")
VERDICT = OutputSpec(kind="verdict", labels=LABELS)
JSON = OutputSpec(kind="json")
TEXT = OutputSpec(kind="text")

# --------------------------------------------------------------------------- shorten


def test_shorten_flattens_and_truncates() -> None:
    assert shorten("a\n  b\tc") == "a b c"
    assert shorten("x" * 80) == "x" * 80
    assert shorten("x" * 81) == "x" * 79 + "…"  # 79 characters + the ellipsis = 80
    assert shorten("abcdef", limit=4) == "abc…"


# --------------------------------------------------------------------------- parse_json


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('  {"a": [1, 2]}\n', {"a": [1, 2]}),
        ("[1, 2]", [1, 2]),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('```\n{"a": 1}\n```', {"a": 1}),
        ('Sure! Here it is: {"a": {"b": [1, 2]}} Hope this helps.', {"a": {"b": [1, 2]}}),
        ('Here:\n```json\n{"a": 1}\n```\nBye.', {"a": 1}),
        ('{"a": 1} {"b": 2}', {"a": 1}),  # the first object wins
    ],
)
def test_parse_json_ok(text: str, value: Any) -> None:
    assert parse_json(text) == (value, "")


@pytest.mark.parametrize("text", ["", "   \n", "```json\n```"])
def test_parse_json_empty(text: str) -> None:
    assert parse_json(text) == (None, "empty answer")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("nope", "not valid JSON (Expecting value): 'nope'"),
        ("I think {not json}", "not valid JSON (Expecting value): 'I think {not json}'"),
        ('{"a": 1', "not valid JSON (Expecting ',' delimiter): '{\"a\": 1'"),
    ],
)
def test_parse_json_garbage(text: str, reason: str) -> None:
    assert parse_json(text) == (None, reason)


# --------------------------------------------------------------------------- parse_verdict


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ('{"verdict": "PASS"}', "PASS"),
        ('{"Verdict": " fail "}', "FAIL"),  # key and value case-insensitive, trimmed
        ('```json\n{"verdict": "FAIL"}\n```', "FAIL"),
        ('{"verdict": "PASS", "reason": "it does not FAIL"}', "PASS"),  # the field decides
        ("PASS", "PASS"),
        ("pass", "PASS"),
        ("The summary is accurate. Verdict: Fail.", "FAIL"),
        ('{"answer": "FAIL"}', "FAIL"),  # JSON without a verdict field: read as text
    ],
)
def test_parse_verdict_ok(text: str, label: str) -> None:
    assert parse_verdict(text, LABELS) == (label, "")


def test_parse_verdict_returns_the_label_as_declared() -> None:
    assert parse_verdict("looks good", ("Good", "Bad")) == ("Good", "")


def test_parse_verdict_ambiguous() -> None:
    assert parse_verdict("PASS or FAIL", LABELS) == (
        None,
        "ambiguous answer names FAIL and PASS: 'PASS or FAIL'",
    )


@pytest.mark.parametrize("text", ["hmm", "PASSED", "fail_reason", "FAILURE"])
def test_parse_verdict_none(text: str) -> None:
    # Labels count as whole words only.
    assert parse_verdict(text, LABELS) == (None, f"no verdict (PASS/FAIL) in answer: {text!r}")


def test_parse_verdict_label_not_allowed() -> None:
    assert parse_verdict('{"verdict": "MAYBE"}', LABELS) == (
        None,
        "verdict 'MAYBE' is not one of PASS, FAIL",
    )


# --------------------------------------------------------------------------- verdict scoring


def test_score_verdict_correct() -> None:
    assert score_output(VERDICT, Expected(verdict="FAIL"), '{"verdict": "fail"}') == Score(
        True,
        "FAIL",
        "",
        "FAIL",
    )


def test_score_verdict_wrong_label() -> None:
    assert score_output(VERDICT, Expected(verdict="FAIL"), '{"verdict": "PASS"}') == Score(
        False,
        "PASS",
        "expected FAIL, said PASS",
        "PASS",
    )


def test_score_verdict_unparseable() -> None:
    assert score_output(VERDICT, Expected(verdict="FAIL"), "dunno\n really") == Score(
        False,
        "dunno really",
        "no verdict (PASS/FAIL) in answer: 'dunno really'",
        None,
    )


def test_score_verdict_with_extra_text_check() -> None:
    expected = Expected(verdict="PASS", contains=("because",))
    assert score_output(VERDICT, expected, "PASS") == Score(
        False,
        "PASS",
        "missing 'because'",
        "PASS",
    )
    assert score_output(VERDICT, expected, "PASS because it matches") == Score(
        True,
        "PASS",
        "",
        "PASS",
    )


def test_score_uses_task_output_and_case_expected() -> None:
    task = Task(name="t", path=Path("t.yaml"), output=VERDICT, options=GenerateOptions(), cases=())
    case = Case(id="A", expected=Expected(verdict="PASS"), prompt="p")
    assert score(task, case, "FAIL") == Score(False, "FAIL", "expected PASS, said FAIL", "FAIL")


# --------------------------------------------------------------------------- json scoring


def json_reason(expected: dict[str, Any], answer: str) -> str:
    result = score_output(JSON, Expected(json=expected), answer)
    assert result.correct is (result.reason == "")
    return result.reason


def test_json_match_got_is_sorted_json() -> None:
    assert score_output(JSON, Expected(json={"a": 1}), '{"b": "é", "a": 1}') == Score(
        True,
        '{"a": 1, "b": "é"}',
        "",
        None,
    )


def test_json_strings_trimmed_collapsed_case_insensitive() -> None:
    assert json_reason({"city": "New   York"}, '{"city": "  new york\\n"}') == ""
    assert json_reason({"city": "New York"}, '{"city": "NewYork"}') == (
        'city: expected "New York", got "NewYork"'
    )


def test_json_list_every_expected_element_extras_allowed() -> None:
    assert json_reason({"skills": ["python", "sql"]}, '{"skills": ["SQL", "Go", "Python"]}') == ""
    assert json_reason({"skills": ["python", "sql"]}, '{"skills": ["Python"]}') == (
        'skills: missing "sql"'
    )
    assert json_reason({"skills": ["a", "b"]}, '{"skills": []}') == 'skills: missing "a", "b"'
    assert json_reason({"skills": ["a"]}, '{"skills": "a"}') == 'skills: expected a list, got "a"'


def test_json_list_of_objects() -> None:
    answer = '{"jobs": [{"title": "Dev", "years": 3}, {"title": "Ops", "years": 1}]}'
    assert json_reason({"jobs": [{"title": "ops"}]}, answer) == ""
    assert json_reason({"jobs": [{"title": "QA"}]}, answer) == 'jobs: missing {"title": "QA"}'


def test_json_nested_objects() -> None:
    expected = {"location": {"city": "Berlin"}}
    assert json_reason(expected, '{"location": {"city": "berlin", "zip": "10115"}}') == ""
    assert json_reason(expected, '{"location": {"city": "Paris"}}') == (
        'location.city: expected "Berlin", got "Paris"'
    )
    assert json_reason(expected, '{"location": {}}') == "missing field 'location.city'"
    assert json_reason(expected, '{"location": "Berlin"}') == (
        'location: expected an object, got "Berlin"'
    )


def test_json_numbers() -> None:
    assert json_reason({"n": 3}, '{"n": 3.0}') == ""
    assert json_reason({"n": 3}, '{"n": 4}') == "n: expected 3, got 4"
    assert json_reason({"n": 3}, '{"n": "3"}') == 'n: expected 3, got "3"'


def test_json_bool_and_int_are_not_equal() -> None:
    assert json_reason({"remote": True}, '{"remote": true}') == ""
    assert json_reason({"remote": True}, '{"remote": 1}') == "remote: expected true, got 1"
    assert json_reason({"n": 1}, '{"n": true}') == "n: expected 1, got true"
    assert json_reason({"n": 0}, '{"n": false}') == "n: expected 0, got false"


def test_json_null() -> None:
    assert json_reason({"salary": None}, '{"salary": null}') == ""
    assert json_reason({"salary": None}, '{"salary": 0}') == "salary: expected null, got 0"


def test_json_missing_field() -> None:
    assert json_reason({"company": "Acme"}, '{"name": "Acme"}') == "missing field 'company'"


def test_json_answer_not_an_object() -> None:
    assert json_reason({"company": "Acme"}, "[1]") == "answer: expected an object, got [1]"


def test_json_unparseable() -> None:
    assert score_output(JSON, Expected(json={"a": 1}), "no json here") == Score(
        False,
        "no json here",
        "not valid JSON (Expecting value): 'no json here'",
    )


def test_json_schema_violation() -> None:
    output = OutputSpec(
        kind="json",
        schema={
            "type": "object",
            "required": ["company"],
            "properties": {"company": {"type": "string"}},
        },
    )
    expected = Expected(json={"company": "Acme"})
    assert score_output(output, expected, "{}").reason == (
        "answer does not match the schema at (root): 'company' is a required property"
    )
    assert score_output(output, expected, '{"company": 5}').reason == (
        "answer does not match the schema at company: 5 is not of type 'string'"
    )
    assert score_output(output, expected, '{"company": "acme"}').correct


def test_json_schema_checked_before_fields() -> None:
    output = OutputSpec(kind="json", schema={"type": "object", "maxProperties": 1})
    result = score_output(output, Expected(json={"a": 1}), '{"a": 2, "b": 3}')
    assert result.reason == (
        "answer does not match the schema at (root): {'a': 2, 'b': 3} has too many properties"
    )


def test_json_with_text_checks() -> None:
    expected = Expected(json={"a": 1}, not_contains=("todo",))
    assert score_output(JSON, expected, '{"a": 1, "note": "TODO"}').reason == (
        "contains forbidden 'todo'"
    )


# --------------------------------------------------------------------------- text scoring


def test_text_contains_case_insensitive_all_required() -> None:
    expected = Expected(contains=("Python", "sql"))
    assert score_output(TEXT, expected, "PYTHON and SQL") == Score(True, "PYTHON and SQL", "")
    assert score_output(TEXT, expected, "I know python") == Score(
        False,
        "I know python",
        "missing 'sql'",
    )
    assert score_output(TEXT, expected, "nothing").reason == "missing 'Python', 'sql'"


def test_text_not_contains() -> None:
    # The generic, templated text that measured nothing must be able to fail.
    expected = Expected(not_contains=("Advanced technical expertise",))
    text = "ADVANCED TECHNICAL EXPERTISE in domain-specific systems"
    assert score_output(TEXT, expected, text).reason == (
        "contains forbidden 'Advanced technical expertise'"
    )
    assert score_output(TEXT, expected, "Python, SQL").correct


def test_text_regex() -> None:
    expected = Expected(regex=r"^\d{4}$")
    assert score_output(TEXT, expected, "1234").correct
    assert score_output(TEXT, expected, "12345") == Score(
        False,
        "12345",
        "does not match /^\\d{4}$/",
    )


def test_text_checks_in_order_contains_first() -> None:
    expected = Expected(contains=("a",), not_contains=("b",), regex="c")
    assert score_output(TEXT, expected, "xyz").reason == "missing 'a'"
    assert score_output(TEXT, expected, "ab").reason == "contains forbidden 'b'"
    assert score_output(TEXT, expected, "a").reason == "does not match /c/"
    assert score_output(TEXT, expected, "a c").correct


# --------------------------------------------------------------------------- parse_answer


def test_parse_answer_reads_each_kind_as_the_scorer_does() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    with_schema = OutputSpec(kind="json", schema=schema)
    assert parse_answer(VERDICT, '{"verdict": "fail"}') == ("FAIL", "")
    assert parse_answer(with_schema, '```json\n{"n": 3}\n```') == ({"n": 3}, "")
    assert parse_answer(TEXT, " hello ") == (" hello ", "")


@pytest.mark.parametrize(
    ("output", "text", "reason"),
    [
        (VERDICT, "PASS or FAIL", "ambiguous answer names FAIL and PASS"),
        (JSON, "no json here", "not valid JSON"),
        (
            OutputSpec(kind="json", schema={"type": "object", "required": ["n"]}),
            '{"m": 1}',
            "answer does not match the schema at (root): 'n' is a required property",
        ),
        (TEXT, "  \n ", "empty answer"),
    ],
)
def test_parse_answer_says_why_an_answer_cannot_be_used(
    output: OutputSpec, text: str, reason: str
) -> None:
    value, problem = parse_answer(output, text)
    assert value is None
    assert problem.startswith(reason)
