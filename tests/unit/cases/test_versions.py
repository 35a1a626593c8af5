"""What a task expands into (cases/versions.py): the prompt versions a run takes, and
the bracketed part of an item's name."""

from __future__ import annotations

from pathlib import Path

from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.records import Task
from pytest_llmbench.cases.versions import item_params, selected_versions

ONE_PROMPT = """\
task: t
prompt: "Say {word}"
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - id: A
    expected: {verdict: PASS}
    vars: {word: PASS}
"""

VERSIONS = """\
task: t
prompts:
  v1: "Say {word}"
  v2: "Answer {word}"
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - id: A
    expected: {verdict: PASS}
    vars: {word: PASS}
"""


def _task(tmp_path: Path, text: str) -> Task:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    return load_task(path)


def test_an_item_names_its_model_version_and_repeat() -> None:
    assert item_params("p/m", "", 1, 1) == "p/m"
    assert item_params("p/m", "v2", 1, 1) == "p/m@v2"
    assert item_params("p/m", "v2", 3, 5) == "p/m@v2-rep3"
    assert item_params("p/m", "", 2, 2) == "p/m-rep2"


def test_a_task_with_one_prompt_has_one_unnamed_version_always_run(tmp_path: Path) -> None:
    task = _task(tmp_path, ONE_PROMPT)
    assert selected_versions(task) == [("", task.cases)]
    assert selected_versions(task, ["v2"]) == [("", task.cases)]


def test_prompt_versions_all_or_those_chosen(tmp_path: Path) -> None:
    task = _task(tmp_path, VERSIONS)
    assert [name for name, _ in selected_versions(task)] == ["v1", "v2"]
    ((name, cases),) = selected_versions(task, ["v2"])
    assert name == "v2"
    assert [c.prompt for c in cases] == ["Answer PASS"]
