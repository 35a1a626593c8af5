"""Unit tests for pytest_llmbench.cases.templates: filling {name} placeholders."""

from __future__ import annotations

import pytest

from pytest_llmbench.cases.templates import (
    JUDGE_PLACEHOLDERS,
    non_name_placeholders,
    placeholders,
    render,
)


def test_render_fills_each_name_wherever_it_appears() -> None:
    assert render("{a} and {b}, {a} again", {"a": "x", "b": "y"}) == "x and y, x again"


def test_double_braces_are_literal_braces_and_not_placeholders() -> None:
    template = 'Answer with {{"verdict": "{label}"}}'
    assert placeholders(template) == ["label"]
    assert render(template, {"label": "PASS"}) == 'Answer with {"verdict": "PASS"}'


def test_a_value_is_inserted_as_is_even_when_it_looks_like_a_placeholder() -> None:
    assert render("{a}", {"a": "{b} {{c}}"}) == "{b} {{c}}"


def test_a_name_without_a_value_is_a_key_error_naming_it() -> None:
    with pytest.raises(KeyError, match="missing"):
        render("{present} {missing}", {"present": "here"})


def test_values_the_template_does_not_use_are_ignored() -> None:
    assert render("plain text", {"unused": "x"}) == "plain text"


def test_placeholders_are_listed_in_order_of_first_use() -> None:
    assert placeholders("{b} {a} {b} {_c1}") == ["b", "a", "_c1"]


@pytest.mark.parametrize("text", ["{1abc}", "{ a }", "{a-b}", "{}", "{{a}}"])
def test_what_is_not_a_name_is_left_as_text(text: str) -> None:
    assert placeholders(text) == []


def test_attribute_index_format_spec_and_conversion_are_not_plain_names() -> None:
    template = "{x.attr} {x[0]} {x:>9} {x!r} {plain} {x.attr}"
    assert non_name_placeholders(template) == ["{x.attr}", "{x[0]}", "{x:>9}", "{x!r}"]
    assert render("{x.attr}", {"x": "v"}) == "{x.attr}"  # not filled: named as an error


def test_escaped_braces_hide_what_looks_like_a_format_spec() -> None:
    assert non_name_placeholders("{{x.attr}} and {{x:>9}}") == []


def test_a_judge_prompt_may_use_rubric_answer_inputs_and_question() -> None:
    assert JUDGE_PLACEHOLDERS == ("rubric", "answer", "inputs", "question")
