"""Unit tests for loading, rendering and validating case files (pytest_llmbench.cases.load)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.cases.encoding import NotUTF8, decode_utf8, readable_text
from pytest_llmbench.cases.load import find_case_file, load_task, looks_like_case_file
from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.cases.problems import CaseFileError, Problem
from pytest_llmbench.cases.records import DEFAULT_LABELS, ConsensusSpec, Expected, OutputSpec, Task
from pytest_llmbench.cases.templates import TemplateError, placeholders, render

# A valid verdict task; line numbers are used by the error tests below.
GRADING = """\
task: grading
description: Grade a summary.
system: You are a strict grader of {kind}.
prompt: "Posting: {posting}\\nSummary: {summary}\\nAnswer with {{\\"verdict\\": ...}}."
output: {kind: verdict, labels: [PASS, FAIL]}
options: {temperature: 0, seed: 7, max_tokens: 16}
vars: {kind: job postings, summary: task-level summary}
cases:
  - id: GRADE_PASS_001
    expected: {verdict: PASS}
    difficulty: easy
    batch: 1
    tags: [acme]
    vars: {posting: GOOD posting, summary: case summary}
    why: matches the posting
  - id: GRADE_FAIL_001
    expected: {verdict: FAIL}
    vars: {posting: BAD posting}
"""


def write(tmp_path: Path, text: str, name: str = "task.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Task:
    return load_task(write(tmp_path, text), display="task.yaml")


def problems(tmp_path: Path, text: str) -> list[Problem]:
    with pytest.raises(CaseFileError) as info:
        load(tmp_path, text)
    return info.value.problems


# --------------------------------------------------------------------------- a valid file


def test_load_task_fields(tmp_path: Path) -> None:
    task = load(tmp_path, GRADING)
    assert task.name == "grading"
    assert task.description == "Grade a summary."
    assert task.output == OutputSpec(kind="verdict", labels=("PASS", "FAIL"), schema=None)
    assert task.options == GenerateOptions(temperature=0, seed=7, max_tokens=16)
    assert task.repeat == 1
    assert task.policy == "strict"
    assert task.pass_label == "PASS"
    assert [c.id for c in task.cases] == ["GRADE_PASS_001", "GRADE_FAIL_001"]


def test_case_fields_and_defaults(tmp_path: Path) -> None:
    first, second = load(tmp_path, GRADING).cases
    assert first.expected == Expected(verdict="PASS")
    assert first.difficulty == "easy"
    assert first.batch == 1
    assert first.tags == ("acme",)
    assert first.why == "matches the posting"
    assert first.line == 9  # "  - id: GRADE_PASS_001" is line 9 of GRADING
    assert not first.difficulty_default
    # Defaults for the second case, which sets none of them.
    assert second.difficulty == "medium"
    assert second.difficulty_default  # medium because the file says nothing
    assert second.batch is None
    assert second.tags == ()
    assert second.why is None
    assert second.line == 16


def test_task_vars_merged_with_case_vars_case_wins(tmp_path: Path) -> None:
    first, second = load(tmp_path, GRADING).cases
    # Case 1 overrides the task-level summary; {{ }} become literal braces.
    assert first.prompt == (
        'Posting: GOOD posting\nSummary: case summary\nAnswer with {"verdict": ...}.'
    )
    # Case 2 has no summary of its own: the task-level value is used.
    assert second.prompt == (
        'Posting: BAD posting\nSummary: task-level summary\nAnswer with {"verdict": ...}.'
    )
    # The system prompt is a template too, filled from the task-level vars.
    assert first.system == "You are a strict grader of job postings."
    assert second.system == "You are a strict grader of job postings."


def test_repeat_and_policy(tmp_path: Path) -> None:
    task = load(
        tmp_path,
        "task: t\nprompt: x\nrepeat: 3\nranking: {policy: strict}\n"
        "cases: [{id: A, expected: {contains: [a]}}]\n",
    )
    assert task.repeat == 3
    assert task.policy == "strict"


def test_output_defaults_to_text(tmp_path: Path) -> None:
    task = load(tmp_path, "task: t\nprompt: x\ncases: [{id: A, expected: {contains: [a]}}]\n")
    assert task.output.kind == "text"
    assert task.cases[0].system is None
    assert task.description is None
    assert task.options == GenerateOptions()


def test_labels_default_to_pass_fail(tmp_path: Path) -> None:
    task = load(
        tmp_path,
        "task: t\nprompt: x\noutput: {kind: verdict}\n"
        "cases: [{id: A, expected: {verdict: FAIL}}]\n",
    )
    assert task.output.labels == DEFAULT_LABELS == ("PASS", "FAIL")


def test_custom_labels_first_is_pass_label(tmp_path: Path) -> None:
    task = load(
        tmp_path,
        "task: t\nprompt: x\noutput: {kind: verdict, labels: [GOOD, BAD]}\n"
        "cases: [{id: A, expected: {verdict: BAD}}]\n",
    )
    assert task.output.labels == ("GOOD", "BAD")
    assert task.pass_label == "GOOD"


def test_file_paths_are_relative_to_the_yaml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "grading_v2.txt").write_text("From file: {posting}", "utf-8")
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "176.txt").write_text("Posting 176 {not_a_var}", "utf-8")
    path = write(
        tmp_path,
        "task: t\nprompt: {file: ../prompts/grading_v2.txt}\n"
        "system: {file: ../prompts/grading_v2.txt}\n"
        "cases:\n  - id: A\n    expected: {contains: [a]}\n"
        "    vars: {posting: {file: ../fixtures/176.txt}}\n",
        name="evals/task.yaml",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory must not matter
    case = load_task(path, root=tmp_path).cases[0]
    # A value read from a file is inserted as is: its braces are not a template.
    assert case.prompt == "From file: Posting 176 {not_a_var}"
    assert case.system == "From file: Posting 176 {not_a_var}"


def test_scalar_vars_become_text(tmp_path: Path) -> None:
    task = load(
        tmp_path,
        "task: t\nprompt: '{n} items'\nvars: {n: 3}\ncases: [{id: A, expected: {contains: [a]}}]\n",
    )
    assert task.cases[0].prompt == "3 items"


def test_boolean_var_rendered_as_written_in_yaml(tmp_path: Path) -> None:
    task = load(
        tmp_path,
        "task: t\nprompt: 'remote={remote}'\nvars: {remote: true}\n"
        "cases: [{id: A, expected: {contains: [a]}}]\n",
    )
    assert task.cases[0].prompt == "remote=true"


def test_text_argument_is_used_instead_of_reading_the_file(tmp_path: Path) -> None:
    path = tmp_path / "never_written.yaml"
    task = load_task(path, text="task: t\nprompt: x\ncases: [{id: A, expected: {regex: a}}]\n")
    assert task.path == path
    assert task.cases[0].expected == Expected(regex="a")


def test_expected_forms(tmp_path: Path) -> None:
    task = load(
        tmp_path,
        "task: t\nprompt: x\noutput: {kind: json}\ncases:\n"
        "  - id: A\n    expected:\n      json: {company: Acme}\n"
        "      contains: [Acme]\n      not_contains: [Initech, Globex]\n"
        "      regex: '^\\{'\n",
    )
    assert task.cases[0].expected == Expected(
        json={"company": "Acme"},
        contains=("Acme",),
        not_contains=("Initech", "Globex"),
        regex="^\\{",
    )


def test_looks_like_case_file() -> None:
    assert looks_like_case_file("# comment\ntask: grading\n")
    assert looks_like_case_file("description: x\ntask : grading\n")
    assert not looks_like_case_file("name: ci\n  task: nested\n")
    assert not looks_like_case_file("tasks: [a]\n")


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"]
)
def test_a_case_file_is_told_by_its_text_in_whatever_encoding(encoding: str) -> None:
    text = "task: grading\nprompt: caf\u00e9\n"
    assert readable_text(text.encode(encoding)) == text
    assert looks_like_case_file(readable_text(text.encode(encoding)))
    assert not looks_like_case_file(readable_text("name: ci\n".encode(encoding)))


def test_utf8_with_a_byte_order_mark_is_utf8() -> None:
    assert decode_utf8(b"\xef\xbb\xbftask: x\n") == "task: x\n"
    with pytest.raises(NotUTF8, match=r"^byte 0xe9 at offset 17$") as info:
        decode_utf8(b"task: x\nname: caf\xe9\n")
    assert info.value.line == 2


def test_a_file_reference_with_a_utf8_byte_order_mark_is_read_without_it(tmp_path: Path) -> None:
    (tmp_path / "posting.txt").write_bytes("\ufeffGOOD posting".encode())
    task = load(
        tmp_path,
        "task: t\nprompt: '<{posting}>'\ncases:\n  - id: A\n    expected: {contains: [x]}\n"
        "    vars: {posting: {file: posting.txt}}\n",
    )
    assert task.cases[0].prompt == "<GOOD posting>"


# --------------------------------------------------------------------------- templates


def test_render_fills_by_name_and_keeps_literal_braces() -> None:
    assert render("{a} and {b}, {{a}} {{{a}}}", {"a": "A", "b": "B"}) == "A and B, {a} {A}"


def test_render_no_attribute_index_or_code() -> None:
    # Only {name} is a placeholder; anything else stays text.
    assert render("{a.upper} {a[0]} {0} {a!r} { a }", {"a": "x"}) == (
        "{a.upper} {a[0]} {0} {a!r} { a }"
    )


def test_render_does_not_expand_values() -> None:
    assert render("{a}", {"a": "{b}", "b": "no"}) == "{b}"


def test_render_missing_value_raises_key_error() -> None:
    with pytest.raises(KeyError, match="b"):
        render("{a} {b}", {"a": "x"})


def test_placeholders_in_order_of_first_use_without_duplicates() -> None:
    assert placeholders("{b} {a} {b} {{c}} {_d1} {1x} {e.f}") == ["b", "a", "_d1"]
    assert placeholders("no vars") == []


# --------------------------------------------------------------------------- prompt_hash

HASHED = """\
task: t
system: S
prompt: "Q {x}"
output: {kind: verdict}
options: {temperature: 0}
cases:
  - id: A
    expected: {verdict: PASS}
    vars: {x: one}
  - id: B
    expected: {verdict: FAIL}
    vars: {x: one}
  - id: C
    expected: {verdict: FAIL}
    vars: {x: two}
"""


def hashes(tmp_path: Path, text: str) -> list[str]:
    return [c.prompt_hash for c in load(tmp_path, text).cases]


def test_prompt_hash_stable_and_tied_to_what_is_sent(tmp_path: Path) -> None:
    a, b, c = hashes(tmp_path, HASHED)
    assert len(a) == 16
    assert int(a, 16) >= 0  # hex digits
    assert hashes(tmp_path, HASHED) == [a, b, c]  # stable across loads
    assert a == b  # same rendered prompt, only the expected label differs
    assert a != c  # different rendered prompt


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('prompt: "Q {x}"', 'prompt: "Q: {x}"'),
        ("system: S", "system: T"),
        ("options: {temperature: 0}", "options: {temperature: 0.5}"),
        ("options: {temperature: 0}", "options: {temperature: 0, max_tokens: 9}"),
        ("output: {kind: verdict}", "output: {kind: verdict, labels: [PASS, FAIL, UNSURE]}"),
    ],
)
def test_prompt_hash_changes_with_prompt_system_options_and_schema(
    tmp_path: Path, old: str, new: str
) -> None:
    assert old in HASHED
    before = hashes(tmp_path, HASHED)
    after = hashes(tmp_path, HASHED.replace(old, new))
    assert all(x != y for x, y in zip(before, after, strict=True))


def test_prompt_hash_ignores_why_and_difficulty(tmp_path: Path) -> None:
    before = hashes(tmp_path, HASHED)
    after = hashes(
        tmp_path, HASHED.replace("  - id: A\n", "  - id: A\n    why: w\n    difficulty: hard\n")
    )
    assert before == after


def test_prompt_hash_same_for_int_and_float_temperature(tmp_path: Path) -> None:
    as_int = hashes(tmp_path, HASHED)  # options: {temperature: 0}
    as_float = hashes(tmp_path, HASHED.replace("{temperature: 0}", "{temperature: 0.0}"))
    assert as_int == as_float


def test_prompt_hash_changes_when_prompt_file_changes(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("version 1", "utf-8")
    text = "task: t\nprompt: {file: prompt.txt}\ncases: [{id: A, expected: {contains: [a]}}]\n"
    first = load(tmp_path, text).cases[0]
    prompt.write_text("version 2", "utf-8")
    second = load(tmp_path, text).cases[0]
    assert second.prompt == "version 2"
    assert second.prompt_hash != first.prompt_hash


# --------------------------------------------------------------------------- OutputSpec


def test_request_schema_verdict() -> None:
    assert OutputSpec(kind="verdict", labels=("GOOD", "BAD")).request_schema() == {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": ["GOOD", "BAD"]}},
        "required": ["verdict"],
    }


def test_request_schema_json() -> None:
    schema = {"type": "object", "required": ["company"]}
    assert OutputSpec(kind="json", schema=schema).request_schema() == schema
    assert OutputSpec(kind="json").request_schema() == {"type": "object"}


def test_request_schema_text_is_none() -> None:
    assert OutputSpec(kind="text").request_schema() is None


def test_expected_describe() -> None:
    assert Expected(verdict="PASS").describe() == "PASS"
    assert Expected(json={"b": 1, "a": "Ä"}).describe() == '{"a": "Ä", "b": 1}'
    assert Expected(contains=("x", "y"), not_contains=("z",), regex="^a").describe() == (
        "contains 'x', 'y'; not 'z'; /^a/"
    )


# --------------------------------------------------------------------------- errors

HEAD = """\
task: bad
prompt: "Posting: {posting}"
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
"""
# HEAD is lines 1-4; the first case starts on line 5.


def test_error_message_names_file_line_and_key(tmp_path: Path) -> None:
    text = HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {posting: x}\n    wyh: t\n"
    with pytest.raises(CaseFileError) as info:
        load(tmp_path, text)
    assert str(info.value) == (
        "invalid case file task.yaml\n  task.yaml:8: cases[0].wyh: unknown key; did you mean 'why'?"
    )
    assert info.value.display == "task.yaml"


def test_display_defaults_to_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    with pytest.raises(CaseFileError) as info:
        load_task(path)
    assert str(info.value) == f"invalid case file {path}\n  {path}:1: the file is empty"


def test_yaml_syntax_error_unclosed_flow_mapping(tmp_path: Path) -> None:
    # The "{" opened on line 6 is never closed; the parser notices on line 7.
    text = HEAD + "  - id: A\n    expected: {verdict: PASS\n    vars: {posting: x}\n"
    [problem] = problems(tmp_path, text)
    assert (problem.line, problem.key) == (6, "")
    assert problem.message.startswith("YAML syntax error: ")
    assert problem.message.endswith("(at line 7)")


def test_yaml_syntax_error_bad_indentation(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "task: t\n  prompt: x\n")
    # libyaml says "... in this context", pure-Python PyYAML "... here"
    assert (problem.line, problem.key) == (2, "")
    assert problem.message.startswith("YAML syntax error: mapping values are not allowed")


def test_unknown_key_did_you_mean(tmp_path: Path) -> None:
    assert problems(tmp_path, "task: t\npromt: x\ncases: [{id: A, expected: {regex: a}}]\n") == [
        Problem(1, "prompt", "missing required key"),
        Problem(2, "promt", "unknown key; did you mean 'prompt'?"),
    ]


def test_unknown_key_without_close_match_lists_allowed_keys(tmp_path: Path) -> None:
    text = "task: t\nprompt: x\nzzqqxx: 1\ncases: [{id: A, expected: {regex: a}}]\n"
    assert problems(tmp_path, text) == [
        Problem(
            3,
            "zzqqxx",
            "unknown key; allowed: alerts, capture, cases, consensus, description, judge, "
            "load, on_change, options, output, pass, prompt, prompts, ranking, repeat, shadow, "
            "system, task, vars",
        ),
    ]


def test_unknown_key_nested_in_output(tmp_path: Path) -> None:
    text = (
        "task: t\nprompt: x\noutput:\n  kind: verdict\n  lables: [A, B]\n"
        "cases: [{id: A, expected: {verdict: PASS}}]\n"
    )
    assert problems(tmp_path, text) == [
        Problem(5, "output.lables", "unknown key; did you mean 'labels'?"),
    ]


def test_missing_required_case_id(tmp_path: Path) -> None:
    text = HEAD + "  - expected: {verdict: PASS}\n    vars: {posting: x}\n"
    assert problems(tmp_path, text) == [Problem(5, "cases[0].id", "missing required key")]


def test_missing_required_top_level_keys(tmp_path: Path) -> None:
    assert problems(tmp_path, "description: nothing else\n") == [
        Problem(1, "cases", "missing required key"),
        Problem(1, "prompt", "missing required key"),
        Problem(1, "task", "missing required key"),
    ]


def test_duplicate_case_id(tmp_path: Path) -> None:
    text = (
        HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {posting: x}\n"
        "  - id: A\n    expected: {verdict: FAIL}\n    vars: {posting: y}\n"
    )
    assert problems(tmp_path, text) == [
        Problem(8, "cases[1].id", "duplicate id 'A' (first at line 5)"),
    ]


def test_label_not_in_labels(tmp_path: Path) -> None:
    text = HEAD + "  - id: A\n    expected: {verdict: PASSED}\n    vars: {posting: x}\n"
    assert problems(tmp_path, text) == [
        Problem(6, "cases[0].expected.verdict", "label 'PASSED' is not in labels [PASS, FAIL]"),
    ]


def test_verdict_task_without_expected_verdict(tmp_path: Path) -> None:
    text = HEAD + "  - id: A\n    expected: {contains: [x]}\n    vars: {posting: x}\n"
    assert problems(tmp_path, text) == [
        Problem(6, "cases[0].expected", "a verdict task needs expected.verdict"),
    ]


def test_expected_verdict_on_a_json_task(tmp_path: Path) -> None:
    text = (
        "task: t\nprompt: x\noutput: {kind: json}\ncases:\n  - id: A\n"
        "    expected: {verdict: PASS}\n"
    )
    assert problems(tmp_path, text) == [
        Problem(6, "cases[0].expected.verdict", "expected.verdict needs output kind verdict"),
    ]


def test_expected_json_on_a_verdict_task(tmp_path: Path) -> None:
    text = (
        HEAD + "  - id: A\n    expected:\n      verdict: PASS\n      json: {a: 1}\n"
        "    vars: {posting: x}\n"
    )
    assert problems(tmp_path, text) == [
        Problem(8, "cases[0].expected.json", "expected.json needs output kind json"),
    ]


def test_labels_on_a_non_verdict_task(tmp_path: Path) -> None:
    text = (
        "task: t\nprompt: x\noutput:\n  kind: text\n  labels: [A, B]\n"
        "cases: [{id: A, expected: {regex: a}}]\n"
    )
    assert problems(tmp_path, text) == [
        Problem(5, "output.labels", "labels only apply to kind verdict"),
    ]


def test_template_variable_without_value(tmp_path: Path) -> None:
    text = HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {postign: x}\n"
    assert problems(tmp_path, text) == [
        Problem(7, "cases[0].vars", "template variable {posting} has no value in case 'A'"),
    ]


def test_template_variable_of_the_system_prompt_without_value(tmp_path: Path) -> None:
    # No vars in the case: the problem is reported on the case's own line.
    text = (
        "task: t\nprompt: x\nsystem: 'You grade {thing}'\ncases:\n  - id: A\n"
        "    expected: {regex: a}\n"
    )
    assert problems(tmp_path, text) == [
        Problem(5, "cases[0].vars", "template variable {thing} has no value in case 'A'"),
    ]


def test_file_not_found_in_case_vars(tmp_path: Path) -> None:
    text = (
        HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars:\n"
        "      posting: {file: postings/missing.txt}\n"
    )
    target = (tmp_path / "postings" / "missing.txt").resolve()
    # Only the missing file is reported, not also "{posting} has no value".
    assert problems(tmp_path, text) == [
        Problem(
            8, "cases[0].vars.posting.file", f"file not found: postings/missing.txt ({target})"
        ),
    ]


def test_file_not_found_for_the_prompt(tmp_path: Path) -> None:
    text = "task: t\nprompt:\n  file: prompts/nope.txt\ncases: [{id: A, expected: {regex: a}}]\n"
    target = (tmp_path / "prompts" / "nope.txt").resolve()
    assert problems(tmp_path, text) == [
        Problem(3, "prompt.file", f"file not found: prompts/nope.txt ({target})"),
    ]


def test_invalid_json_schema(tmp_path: Path) -> None:
    text = (
        "task: t\nprompt: x\noutput:\n  kind: json\n  schema: {type: 12}\n"
        "cases: [{id: A, expected: {json: {a: 1}}}]\n"
    )
    [problem] = problems(tmp_path, text)
    assert (problem.line, problem.key) == (5, "output.schema")
    assert problem.message.startswith("not a valid JSON Schema: ")
    assert problem.message.endswith("(at type)")


def test_invalid_regex(tmp_path: Path) -> None:
    text = "task: t\nprompt: x\ncases:\n  - id: A\n    expected: {regex: '(a'}\n"
    [problem] = problems(tmp_path, text)
    assert (problem.line, problem.key) == (5, "cases[0].expected.regex")
    assert problem.message.startswith("invalid regular expression: missing )")


@pytest.mark.parametrize("tag", ["skip", "xfail", "parametrize", "hard", "batch", "llmbench"])
def test_reserved_tag(tmp_path: Path, tag: str) -> None:
    text = (
        f"task: t\nprompt: x\ncases:\n  - id: A\n    expected: {{regex: a}}\n"
        f"    tags: [ok, {tag}]\n"
    )
    assert problems(tmp_path, text) == [
        Problem(6, "cases[0].tags", f"tag {tag!r} is a reserved marker name"),
    ]


def test_duplicate_yaml_key_nested(tmp_path: Path) -> None:
    text = HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {posting: x}\n    id: B\n"
    assert problems(tmp_path, text) == [
        Problem(8, "cases[0].id", "duplicate key 'id' (first at line 5)"),
    ]


def test_duplicate_yaml_key_top_level(tmp_path: Path) -> None:
    text = "task: t\nprompt: x\ntask: u\ncases: [{id: A, expected: {regex: a}}]\n"
    assert problems(tmp_path, text) == [
        Problem(3, "task", "duplicate key 'task' (first at line 1)"),
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    assert problems(tmp_path, text) == [Problem(1, "", "the file is empty")]


@pytest.mark.parametrize("text", ["- task: t\n", "just a string\n", "42\n"])
def test_non_mapping_document(tmp_path: Path, text: str) -> None:
    assert problems(tmp_path, text) == [
        Problem(1, "", "expected a mapping with task, prompt, cases"),
    ]


def test_schema_type_and_enum_errors(tmp_path: Path) -> None:
    text = (
        "task: t\nprompt: x\nrepeat: many\ncases:\n  - id: A\n    expected: {regex: a}\n"
        "    difficulty: extreme\n"
    )
    assert problems(tmp_path, text) == [
        Problem(3, "repeat", "expected integer, got str 'many'"),
        Problem(7, "cases[0].difficulty", "'extreme' is not one of: easy, medium, hard"),
    ]


def test_several_problems_sorted_by_line(tmp_path: Path) -> None:
    text = (
        "task: Bad Name\n"  # 1: pattern
        "prompt: x\n"  # 2
        "cases:\n"  # 3
        "  - id: A\n"  # 4
        "    expected: {regex: a}\n"  # 5
        "    wyh: typo\n"  # 6: unknown key
        "  - expected: {regex: b}\n"  # 7: missing id
    )
    with pytest.raises(CaseFileError) as info:
        load(tmp_path, text)
    assert info.value.problems == [
        Problem(1, "task", "'Bad Name' does not match the pattern ^[a-z0-9_-]+$"),
        Problem(6, "cases[0].wyh", "unknown key; did you mean 'why'?"),
        Problem(7, "cases[1].id", "missing required key"),
    ]
    assert str(info.value) == (
        "invalid case file task.yaml (3 problems)\n"
        "  task.yaml:1: task: 'Bad Name' does not match the pattern ^[a-z0-9_-]+$\n"
        "  task.yaml:6: cases[0].wyh: unknown key; did you mean 'why'?\n"
        "  task.yaml:7: cases[1].id: missing required key"
    )


def test_several_semantic_problems_sorted_by_line(tmp_path: Path) -> None:
    text = (
        HEAD + "  - id: A\n"  # 5
        "    expected: {verdict: MAYBE}\n"  # 6: label not in labels
        "    vars: {posting: x}\n"  # 7
        "  - id: A\n"  # 8: duplicate id
        "    expected: {verdict: FAIL}\n"  # 9
        "    tags: [skip]\n"  # 10: reserved tag
        "    vars: {other: y}\n"
    )  # 11: {posting} has no value
    assert problems(tmp_path, text) == [
        Problem(6, "cases[0].expected.verdict", "label 'MAYBE' is not in labels [PASS, FAIL]"),
        Problem(8, "cases[1].id", "duplicate id 'A' (first at line 5)"),
        Problem(10, "cases[1].tags", "tag 'skip' is a reserved marker name"),
        Problem(11, "cases[1].vars", "template variable {posting} has no value in case 'A'"),
    ]


def test_problem_format_without_key() -> None:
    assert Problem(3, "", "oops").format("f.yaml") == "f.yaml:3: oops"
    assert Problem(3, "a.b", "oops").format("f.yaml") == "f.yaml:3: a.b: oops"


def test_case_file_error_dedupes_and_sorts() -> None:
    error = CaseFileError(
        "f.yaml", [Problem(9, "b", "y"), Problem(2, "a", "x"), Problem(9, "b", "y")]
    )
    assert error.problems == [Problem(2, "a", "x"), Problem(9, "b", "y")]


def test_recursive_yaml_alias_is_a_case_file_error(tmp_path: Path) -> None:
    text = "task: t\nprompt: x\nvars: &v {x: *v}\ncases: [{id: A, expected: {regex: a}}]\n"
    with pytest.raises(CaseFileError):
        load(tmp_path, text)


# --------------------------------------------------------------------------- ranking policy

ONE_CASE = "cases: [{id: A, expected: {contains: [a]}}]\n"


def test_weighted_policy_and_weights(tmp_path: Path) -> None:
    task = load(
        tmp_path,
        "task: t\nprompt: x\nranking: {policy: weighted, quality: 0.8, speed: 0.2}\n" + ONE_CASE,
    )
    assert (task.policy, task.weights) == ("weighted", (0.8, 0.2))


@pytest.mark.parametrize(
    ("ranking", "weights"),
    [
        ("{policy: weighted}", None),  # the defaults apply (0.7, 0.3)
        ("{policy: weighted, quality: 0.6}", (0.6, 0.4)),
        ("{policy: weighted, speed: 0.1}", (0.9, 0.1)),
        ("{policy: strict, quality: 1, speed: 0}", (1.0, 0.0)),  # kept for --llm-rank weighted
    ],
)
def test_one_weight_gives_the_other(
    tmp_path: Path, ranking: str, weights: tuple[float, float] | None
) -> None:
    task = load(tmp_path, f"task: t\nprompt: x\nranking: {ranking}\n" + ONE_CASE)
    assert task.weights == weights


def test_weights_must_add_up_to_one(tmp_path: Path) -> None:
    text = "task: t\nprompt: x\nranking: {policy: weighted, quality: 0.7, speed: 0.4}\n" + ONE_CASE
    assert problems(tmp_path, text) == [
        Problem(3, "ranking", "the weights must add up to 1: quality 0.7 + speed 0.4 = 1.1"),
    ]


@pytest.mark.parametrize(
    ("ranking", "problem"),
    [
        (
            "{policy: fastest}",
            Problem(3, "ranking.policy", "'fastest' is not one of: strict, weighted"),
        ),
        ("{quality: 1.5}", Problem(3, "ranking.quality", "1.5 is greater than the maximum of 1")),
        ("{speed: -0.1}", Problem(3, "ranking.speed", "-0.1 is less than the minimum of 0")),
        ("{speed: fast}", Problem(3, "ranking.speed", "expected number, got str 'fast'")),
        ("{qualty: 0.5}", Problem(3, "ranking.qualty", "unknown key; did you mean 'quality'?")),
    ],
)
def test_bad_ranking(tmp_path: Path, ranking: str, problem: Problem) -> None:
    assert problems(tmp_path, f"task: t\nprompt: x\nranking: {ranking}\n" + ONE_CASE) == [problem]


# --------------------------------------------------------------------------- consensus


def test_consensus_key_and_its_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, GRADING).consensus is None
    given = GRADING.replace("cases:\n", "consensus: {models: 3, agree: 0.8}\ncases:\n", 1)
    assert load(tmp_path, given).consensus == ConsensusSpec(models=3, agree=0.8)
    bare = GRADING.replace("cases:\n", "consensus: {}\ncases:\n", 1)
    assert load(tmp_path, bare).consensus == ConsensusSpec(models=3, agree=0.75)


def test_consensus_errors_name_the_line_and_key(tmp_path: Path) -> None:
    text = GRADING.replace(
        "cases:\n", "consensus:\n  models: 1\n  agree: 1.5\n  agre: 0.7\ncases:\n", 1
    )
    found = problems(tmp_path, text)
    assert [(p.line, p.key) for p in found] == [
        (9, "consensus.models"),
        (10, "consensus.agree"),
        (11, "consensus.agre"),
    ]
    assert found[0].message == "1 is less than the minimum of 2"
    assert found[1].message == "1.5 is greater than the maximum of 1"
    assert found[2].message == "unknown key; did you mean 'agree'?"


# --------------------------------------------------------------------------- production calls


def test_fill_renders_the_template_as_the_benchmark_did(tmp_path: Path) -> None:
    task = load(tmp_path, GRADING)
    benchmarked = task.cases[0]
    case = task.fill({"posting": "GOOD posting", "summary": "case summary"})
    assert (case.prompt, case.system) == (benchmarked.prompt, benchmarked.system)
    assert case.prompt_hash == benchmarked.prompt_hash
    # the task's vars are the defaults, the values win
    second = task.fill({"posting": "BAD posting"})
    assert second.prompt == task.cases[1].prompt
    assert second.system == "You are a strict grader of job postings."


def test_fill_names_missing_and_unknown_variables(tmp_path: Path) -> None:
    task = load(tmp_path, GRADING)
    with pytest.raises(TemplateError, match=r"^task grading: no value for posting \(the prompt "):
        task.fill({"summary": "s"})
    with pytest.raises(TemplateError, match=r"unknown variable postng \(the prompt uses "):
        task.fill({"posting": "p", "postng": "p"})


def test_find_case_file_by_task_name(tmp_path: Path) -> None:
    write(tmp_path, GRADING, "evals/sub/grading.yaml")
    write(tmp_path, GRADING.replace("task: grading", "task: 'other'"), "evals/other.yml")
    write(tmp_path, "not: a case file\n", "evals/a.yaml")
    assert find_case_file(tmp_path / "evals", "grading") == tmp_path / "evals/sub/grading.yaml"
    assert find_case_file(tmp_path / "evals", "other") == tmp_path / "evals/other.yml"
    assert find_case_file(tmp_path / "evals", "grad") is None
    assert find_case_file(tmp_path / "nowhere", "grading") is None


# --------------------------------------------------------------------------- production keys

PRODUCTION = """\
task: t
prompt: "Grade {x}"
output: {kind: verdict}
judge: {model: ollama/judge}
cases: [{id: A, expected: {verdict: PASS}, vars: {x: a}}]
"""


def test_shadow_capture_and_drift_limits_are_read(tmp_path: Path) -> None:
    text = PRODUCTION + (
        "shadow: {rate: 0.05, check: judge, rubric: Names the salary.}\n"
        "capture: {inputs: true, max: 50}\n"
        "alerts: {min_agreement: 0.9, min_judge_score: 0.75}\n"
    )
    task = load(tmp_path, text)
    assert task.shadow is not None
    assert (task.shadow.rate, task.shadow.check, task.shadow.rubric) == (
        0.05,
        "judge",
        "Names the salary.",
    )
    assert (task.capture.inputs, task.capture.max) == (True, 50)
    assert (task.alerts.min_agreement, task.alerts.min_judge_score) == (0.9, 0.75)
    bare = load(tmp_path, PRODUCTION + "shadow: {rate: 0.2}\n")
    assert bare.shadow is not None
    assert bare.shadow.check == "runner_up"
    assert (bare.capture.inputs, bare.alerts.min_agreement) == (False, None)


@pytest.mark.parametrize(
    ("extra", "line", "key", "message"),
    [
        ("shadow: {rate: 1.5}", 6, "shadow.rate", "1.5 is greater than the maximum of 1"),
        ("shadow: {check: runner_up}", 6, "shadow.rate", "missing required key"),
        ("capture: {max: 0}", 6, "capture.max", "0 is less than the minimum of 1"),
        ("alerts: {min_agreement: 90}", 6, "alerts.min_agreement", "90 is greater than"),
        ("alerts: {min_judge_score: -0.1}", 6, "alerts.min_judge_score", "-0.1 is less than"),
    ],
)
def test_bad_production_keys_are_one_line_each(
    tmp_path: Path, extra: str, line: int, key: str, message: str
) -> None:
    (problem,) = problems(tmp_path, PRODUCTION + extra + "\n")
    assert (problem.line, problem.key) == (line, key)
    assert problem.message.startswith(message)


def test_a_judge_check_needs_the_tasks_judge(tmp_path: Path) -> None:
    text = (
        PRODUCTION.replace("judge: {model: ollama/judge}\n", "")
        + "shadow: {rate: 1, check: judge}\n"
    )
    (problem,) = problems(tmp_path, text)
    assert (problem.line, problem.key) == (5, "shadow.check")
    assert problem.message == (
        "check: judge needs the task's judge: {model: provider/name} or {task: NAME}"
    )
