"""Unit tests for pytest_llmbench.cases.yaml_lines: YAML data with the line of each key."""

from __future__ import annotations

import pytest

from pytest_llmbench.cases.problems import CaseFileError
from pytest_llmbench.cases.yaml_lines import MAX_ALIAS_NODES, parse_yaml

TEXT = """\
task: grading
prompt: "Grade {x}"
cases:
  - id: A
    expected: {verdict: PASS}
  - id: B
    expected:
      verdict: FAIL
"""


def messages(text: str) -> list[str]:
    with pytest.raises(CaseFileError) as info:
        parse_yaml(text, "f.yaml")
    return [p.format("f.yaml") for p in info.value.problems]


def test_the_data_is_plain_python() -> None:
    data, _ = parse_yaml(TEXT, "f.yaml")
    assert data["cases"][1] == {"id": "B", "expected": {"verdict": "FAIL"}}


def test_each_key_and_list_item_has_its_line() -> None:
    _, lines = parse_yaml(TEXT, "f.yaml")
    assert lines.line(("task",)) == 1
    assert lines.line(("cases",)) == 3
    assert lines.line(("cases", 0)) == 4
    assert lines.line(("cases", 1, "expected", "verdict")) == 8


def test_a_place_without_a_line_of_its_own_has_that_of_the_nearest_enclosing_one() -> None:
    _, lines = parse_yaml(TEXT, "f.yaml")
    assert lines.line(("cases", 0, "expected", "verdict")) == 5  # in the flow mapping's line
    assert lines.line(("cases", 1, "vars", "posting")) == 6  # missing: the case's line
    assert lines.line(()) == 1


def test_a_key_given_twice_is_a_problem_naming_both_lines() -> None:
    assert messages("task: a\ncases:\n  - id: A\n    id: B\n") == [
        "f.yaml:4: cases[0].id: duplicate key 'id' (first at line 3)"
    ]


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_an_empty_file_says_so(text: str) -> None:
    assert messages(text) == ["f.yaml:1: the file is empty"]


def test_a_python_tag_is_refused_at_its_line() -> None:
    assert messages("task: a\nx: !!python/object/apply:os.system ['true']\n") == [
        "f.yaml:2: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' refused: "
        "case files are plain YAML data (text, numbers, lists, mappings)"
    ]


def test_an_unclosed_flow_mapping_is_reported_where_it_starts() -> None:
    (message,) = messages("task: a\nexpected: {verdict: PASS\nnext: 1\n")
    assert message.startswith("f.yaml:2: YAML syntax error: while parsing a flow mapping: ")
    assert message.endswith("(at line 3)")


def test_an_alias_of_its_own_ancestor_is_refused() -> None:
    (message,) = messages("task: a\nloop: &x\n  - *x\n")
    assert message.endswith("recursive YAML alias")


def test_an_alias_is_read_with_the_lines_of_its_anchor() -> None:
    data, lines = parse_yaml("base: &b {verdict: PASS}\ncopy: *b\n", "f.yaml")
    assert data["copy"] == {"verdict": "PASS"}
    assert lines.line(("copy",)) == 2
    assert lines.line(("base", "verdict")) == 1


def test_aliases_that_expand_past_the_budget_are_refused() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 7):  # 10**6 nodes when expanded
        levels.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]")
    (message,) = messages("\n".join(levels) + "\n")
    assert f"YAML aliases expand this to more than {MAX_ALIAS_NODES:,} nodes" in message
    assert message.startswith("f.yaml:")
