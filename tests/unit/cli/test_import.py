"""``llmbench import``: a JSONL or CSV data set as the cases of a task, and a case file
whose cases have no label yet is refused until a human labels them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pytest_llmbench.cases.importing import ColumnMapping, candidates, csv_rows, jsonl_rows
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.problems import CaseFileError
from pytest_llmbench.cli import main

CASE_FILE = """\
task: triage
prompt: |-
  Ticket: {ticket}
  Answer URGENT or LATER.
output: {kind: verdict, labels: [URGENT, LATER]}
cases:
  - id: T1
    expected: {verdict: URGENT}
    vars: {ticket: the site is down}
"""


def rows(count: int) -> list[dict[str, str]]:
    out = []
    for i in range(count):
        ticket = f"ticket {i}: " + ('line one\nline two, "quoted"' if i % 7 == 0 else "plain")
        label = "" if i % 5 == 0 else ("URGENT" if i % 2 else "LATER")
        out.append({"key": f"R{i}", "ticket": ticket, "label": label})
    return out


def write_jsonl(path: Path, data: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")


def write_csv(path: Path, data: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["key", "ticket", "label"])
        writer.writeheader()
        writer.writerows(data)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "triage.yaml").write_text(CASE_FILE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_10000_line_jsonl_and_the_same_csv_give_the_same_cases(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = rows(10_000)
    write_jsonl(project / "data.jsonl", data)
    write_csv(project / "data.csv", data)
    common = ["--task", "triage", "--id", "key", "--expected", "label"]
    assert main(["import", "data.jsonl", "--out", "evals/a.yaml", *common]) == 0
    assert main(["import", "data.csv", "--out", "evals/b.yaml", *common]) == 0
    out = capsys.readouterr().out
    assert "evals/a.yaml: 10000 case(s) of task triage from data.jsonl" in out
    a = (project / "evals/a.yaml").read_text(encoding="utf-8")
    b = (project / "evals/b.yaml").read_text(encoding="utf-8")
    assert a.replace("data.jsonl", "X") == b.replace("data.csv", "X")
    with pytest.raises(CaseFileError) as refused:
        load_task(project / "evals/a.yaml")
    message = str(refused.value)
    assert "2000 case(s) have no label yet: R0 (line" in message
    assert "R5 (line" in message
    assert "and 1990 more" in message


def test_after_labelling_the_imported_file_runs_as_a_normal_case_file(project: Path) -> None:
    write_jsonl(project / "data.jsonl", rows(6))
    assert main(["import", "data.jsonl", "--task", "triage", "--out", "evals/new.yaml",
                 "--id", "key", "--expected", "label"]) == 0  # fmt: skip
    path = project / "evals/new.yaml"
    text = path.read_text(encoding="utf-8")
    assert "expected: {}  # label me: {verdict: URGENT} (labels: URGENT, LATER)" in text
    path.write_text(text.replace("expected: {}", "expected: {verdict: LATER}"), "utf-8")
    task = load_task(path)
    assert [c.id for c in task.cases] == [f"R{i}" for i in range(6)]
    assert task.cases[0].expected.verdict == "LATER"
    assert task.cases[0].prompt == (
        'Ticket: ticket 0: line one\nline two, "quoted"\nAnswer URGENT or LATER.'
    )
    assert task.output.labels == ("URGENT", "LATER")


def test_bad_rows_are_one_line_each_naming_the_row(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "data.jsonl").write_text(
        '{"key": "A", "ticket": "ok", "label": "URGENT"}\n'
        "\n"
        "{not json\n"
        "[1, 2]\n"
        '{"key": "A", "ticket": "again", "label": "LATER"}\n'
        '{"key": "bad id!", "ticket": "x", "label": "LATER"}\n'
        '{"ticket": "no key", "label": "LATER"}\n',
        encoding="utf-8",
    )
    status = main(["import", "data.jsonl", "--task", "triage", "--out", "evals/new.yaml",
                   "--id", "key", "--expected", "label"])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.splitlines() == [
        "data.jsonl: row 2 (line 3): not JSON (Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1))",
        "data.jsonl: row 3 (line 4): a JSON list, not an object",
        "data.jsonl: row 4 (line 5): id 'A' is used by row 1 already",
        "data.jsonl: row 5 (line 6): id 'bad id!' (column 'key') is not letters, digits, _ . -",
        "data.jsonl: row 6 (line 7): no column 'key'",
    ]
    assert "1 case(s) of task triage from data.jsonl; 5 bad row(s) left out" in captured.out
    assert [c.id for c in load_task(project / "evals/new.yaml").cases] == ["A"]


def test_a_csv_row_with_the_wrong_number_of_fields_names_its_row_and_line() -> None:
    text = 'key,ticket\nA,"two\nlines"\nB,x,extra\nC,y\n'
    found = list(candidates(csv_rows(text.splitlines(keepends=True)), ColumnMapping(id="key")))
    assert [getattr(f, "id", None) for f in found] == ["A", None, "C"]
    assert found[1].format("d.csv") == "d.csv: row 2 (line 4): 3 field(s); the header has 2"  # type: ignore[union-attr]


def test_columns_map_to_variables_and_ids_follow_the_rows() -> None:
    mapping = ColumnMapping(vars={"text": "ticket"}, id_prefix="triage")
    found = list(candidates(jsonl_rows(['{"text": "a", "n": 1}\n', '{"text": 2}\n']), mapping))
    assert [(c.id, dict(c.vars)) for c in found] == [  # type: ignore[union-attr]
        ("triage_00001", {"ticket": "a"}),
        ("triage_00002", {"ticket": "2"}),
    ]


def test_without_a_case_file_the_prompt_lists_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "d.csv").write_text("question,answer\nWhat is 2+2?,4\n", encoding="utf-8")
    assert main(["import", "d.csv", "--task", "maths", "--out", "maths.yaml",
                 "--expected", "answer", "--expected-as", "contains"]) == 0  # fmt: skip
    task = load_task(tmp_path / "maths.yaml")
    assert task.cases[0].prompt == "What is 2+2?"
    assert task.cases[0].expected.contains == ("4",)


def test_a_data_file_of_unknown_format_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "d.txt").write_text("x\n", encoding="utf-8")
    status = main(["import", str(tmp_path / "d.txt"), "--task", "t", "--out", "o.yaml"])
    assert status == 2
    assert capsys.readouterr().err.startswith("llmbench import: cannot tell the format of")
