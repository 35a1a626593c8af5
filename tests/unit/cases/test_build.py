"""Unit tests for pytest_llmbench.cases.build: the checks the schema cannot make, and
the rendering of cases and prompt versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.cases.build import RESERVED_TAGS, build_task
from pytest_llmbench.cases.problems import CaseFileError
from pytest_llmbench.cases.records import Task
from pytest_llmbench.cases.yaml_lines import parse_yaml
from pytest_llmbench.safety.confinement import Confinement

VERDICT = """\
task: grading
prompt: "Grade {posting}"
output: {kind: verdict}
cases:
  - id: A
    vars: {posting: good}
    expected: {verdict: PASS}
  - id: B
    vars: {posting: bad}
    expected: {verdict: FAIL}
"""


def build(tmp_path: Path, text: str, **files: str) -> Task:
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    data, lines = parse_yaml(text, "t.yaml")
    return build_task(tmp_path / "t.yaml", "t.yaml", data, lines, Confinement(tmp_path))


def problems(tmp_path: Path, text: str, **files: str) -> list[str]:
    with pytest.raises(CaseFileError) as info:
        build(tmp_path, text, **files)
    assert info.value.display == "t.yaml"
    return [p.format("t.yaml") for p in info.value.problems]


def test_cases_are_rendered_with_their_values(tmp_path: Path) -> None:
    task = build(tmp_path, VERDICT)
    assert [(c.id, c.prompt, c.line) for c in task.cases] == [
        ("A", "Grade good", 5),
        ("B", "Grade bad", 8),
    ]
    assert task.cases[0].prompt_hash != task.cases[1].prompt_hash
    assert task.sources == ((tmp_path / "t.yaml").resolve(),)


def test_the_sources_are_the_case_file_then_each_file_in_the_order_read(
    tmp_path: Path,
) -> None:
    text = (
        VERDICT.replace('"Grade {posting}"', "{file: prompt.txt}")
        .replace("{posting: good}", "{posting: {file: good.txt}}")
        .replace("{posting: bad}", "{posting: {file: good.txt}}")
        + "system: {file: system.txt}\n"
    )
    task = build(
        tmp_path, text, **{"prompt.txt": "P {posting}", "good.txt": "g", "system.txt": "S"}
    )
    assert [p.name for p in task.sources] == ["t.yaml", "prompt.txt", "system.txt", "good.txt"]
    assert task.cases[0].system == "S"


def test_labels_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    text = VERDICT.replace("{kind: verdict}", "{kind: verdict, labels: [PASS, FAIL, pass]}")
    assert problems(tmp_path, text) == [
        "t.yaml:3: output.labels: labels 'PASS' and 'pass' are the same up to case (answers "
        "are read ignoring case); give each label a different name"
    ]


def test_a_label_not_among_the_labels(tmp_path: Path) -> None:
    assert problems(tmp_path, VERDICT.replace("{verdict: FAIL}", "{verdict: FAILED}")) == [
        "t.yaml:10: cases[1].expected.verdict: label 'FAILED' is not in labels [PASS, FAIL]"
    ]


def test_a_placeholder_that_is_not_a_plain_name(tmp_path: Path) -> None:
    assert problems(tmp_path, VERDICT.replace("{posting}", "{posting.title}")) == [
        "t.yaml:2: prompt: placeholder {posting.title} is not a plain name: templates fill "
        "{name} only (no attribute, index or format spec); write {{ and }} for literal braces"
    ]


def test_a_number_that_is_not_finite(tmp_path: Path) -> None:
    text = VERDICT + "options: {temperature: .nan}\n"
    assert problems(tmp_path, text) == [
        "t.yaml:11: options.temperature: nan is not a finite number; give a plain number"
    ]


def test_a_variable_without_value_names_the_case(tmp_path: Path) -> None:
    assert problems(tmp_path, VERDICT.replace("    vars: {posting: bad}\n", "")) == [
        "t.yaml:8: cases[1].vars: template variable {posting} has no value in case 'B'"
    ]


def test_a_duplicate_id_and_a_reserved_tag(tmp_path: Path) -> None:
    text = VERDICT.replace("id: B", "id: A\n    tags: [xfail]")
    assert problems(tmp_path, text) == [
        "t.yaml:8: cases[1].id: duplicate id 'A' (first at line 5)",
        "t.yaml:9: cases[1].tags: tag 'xfail' is a reserved marker name",
    ]
    assert "xfail" in RESERVED_TAGS


def test_a_file_outside_the_root_is_not_read(tmp_path: Path) -> None:
    inside = tmp_path / "project"
    inside.mkdir()
    (tmp_path / "secret.txt").write_text("s", encoding="utf-8")
    text = VERDICT.replace("{posting: good}", "{posting: {file: ../secret.txt}}")
    (message,) = problems(inside, text)
    assert message.startswith(
        "t.yaml:6: cases[0].vars.posting.file: refused to read ../secret.txt: "
    )
    assert "is outside the project root" in message


def test_a_file_that_does_not_exist(tmp_path: Path) -> None:
    text = VERDICT.replace('"Grade {posting}"', "{file: nowhere.txt}")
    assert problems(tmp_path, text) == [
        f"t.yaml:2: prompt.file: file not found: nowhere.txt ({tmp_path / 'nowhere.txt'})"
    ]


PROMPTS = """\
task: summary
prompts:
  v1: "Summarise {text}"
  v2: "Summarise {text} for {reader}"
cases:
  - id: A
    vars: {text: t}
    expected: {contains: [x]}
    tags: [skip]
"""
PROMPTS_VALID = PROMPTS.replace("    tags: [skip]\n", "").replace(
    "{text: t}", "{text: t, reader: r}"
)


def test_prompt_versions_render_every_case_and_report_case_problems_once(
    tmp_path: Path,
) -> None:
    assert problems(tmp_path, PROMPTS) == [
        "t.yaml:7: cases[0].vars: template variable {reader} has no value in case 'A' "
        "(prompt version v2)",
        "t.yaml:9: cases[0].tags: tag 'skip' is a reserved marker name",
    ]
    task = build(tmp_path, PROMPTS_VALID)
    assert [v.name for v in task.versions] == ["v1", "v2"]
    assert task.cases == task.versions[0].cases
    assert task.versions[1].cases[0].prompt == "Summarise t for r"
    assert task.versions[1].cases[0].prompt_version == "v2"
    assert task.template == "Summarise {text}"


def test_prompt_and_prompts_together(tmp_path: Path) -> None:
    assert problems(tmp_path, 'prompt: "p"\n' + PROMPTS_VALID) == [
        "t.yaml:3: prompts: give either prompt or prompts, not both"
    ]


def test_weights_must_add_up_to_one(tmp_path: Path) -> None:
    text = VERDICT + "ranking: {policy: weighted, quality: 0.7, speed: 0.7}\n"
    assert problems(tmp_path, text) == [
        "t.yaml:11: ranking: the weights must add up to 1: quality 0.7 + speed 0.7 = 1.4"
    ]
    assert build(tmp_path, VERDICT + "ranking: {speed: 0.25}\n").weights == (0.75, 0.25)


def test_a_judge_prompt_may_use_only_the_judge_placeholders(tmp_path: Path) -> None:
    text = VERDICT + "judge: {model: m, prompt: 'Judge {answer} against {gold}'}\n"
    assert problems(tmp_path, text) == [
        "t.yaml:11: judge.prompt: unknown placeholder {gold}; "
        "use {rubric}, {answer}, {inputs}, {question}"
    ]


def test_a_judge_needs_a_model_or_a_task_not_both(tmp_path: Path) -> None:
    text = VERDICT + "judge: {model: m, task: grading2}\n"
    assert problems(tmp_path, text) == ["t.yaml:11: judge: give model or task, not both"]


def test_a_rubric_needs_a_judge(tmp_path: Path) -> None:
    text = (
        VERDICT.replace("kind: verdict", "kind: text")
        .replace("{verdict: PASS}", "{judge: {rubric: Is it kind?}}")
        .replace("{verdict: FAIL}", "{contains: [x]}")
    )
    assert problems(tmp_path, text) == [
        "t.yaml:7: cases[0].expected.judge: a judge rubric needs the task's judge: "
        "{model: ...} or {task: ...}"
    ]


def test_a_calibration_case_needs_the_answer_to_judge(tmp_path: Path) -> None:
    text = VERDICT.replace("{verdict: PASS}", "{verdict: PASS, judge: {rubric: Kind?}}")
    assert problems(tmp_path, text) == [
        "t.yaml:7: cases[0].expected.judge: a calibration case needs the variable {answer}"
    ]


def test_consensus_and_alerts_are_read_with_their_defaults(tmp_path: Path) -> None:
    task = build(tmp_path, VERDICT + "consensus: {models: 2}\nalerts: {max_error_rate: 5}\n")
    assert task.consensus is not None
    assert (task.consensus.models, task.consensus.agree) == (2, 0.75)
    assert (task.alerts.max_p95_ms, task.alerts.max_error_rate) == (None, 0.05)


def test_the_ranking_latency_is_the_files_choice(tmp_path: Path) -> None:
    assert build(tmp_path, VERDICT + "ranking: {latency: ttft_p95}\n").rank_latency == "ttft_p95"
    assert build(tmp_path, VERDICT).rank_latency is None  # --llm-rank-latency, else the mean
