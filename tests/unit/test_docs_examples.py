"""The examples of the docs (``docs/*.md``) and the README run, or say they do not.

Every code block is fenced with a language and is either executed here or marked on the
line before its fence:

- ``<!-- illustrative -->``: shown, not run (a command that needs a model server or
  minutes of inference, a sample of output, a file of another program);
- ``<!-- run -->``: a Python block executed here (in a temporary directory; no server).

A YAML block without a mark is a case file, or a part of one, and is loaded here with the
plugin's own loader (:func:`pytest_llmbench.cases.load.load_task`): a block with a
``task:`` key as it is, any other block merged into a small valid task (so that
``load: {...}`` or ``ranking: {...}`` are checked against the schema too).  Every other
block (shell, text, ini, json, toml) must be marked.  A YAML block is loaded as if it
were in the repository's ``evals/`` folder, so its ``{file:}`` references may name the
shipped prompts and fixtures.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmbench.cases.load import load_task

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
MARKS = ("illustrative", "run")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)(?P<lang>[\w+-]*)\s*$")
_MARK = re.compile(r"^\s*<!--\s*(?P<mark>[\w:-]+)\s*-->\s*$")

# A task a YAML fragment is merged into (the fragment's keys win).
BASE_TASK: dict[str, Any] = {
    "task": "docs_example",
    "prompt": "Say hello.",
    "output": {"kind": "text"},
    "cases": [{"id": "CASE_1", "expected": {"contains": ["hello"]}}],
}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    """The line of the opening fence (1-based)."""
    lang: str
    mark: str
    """The mark on the line before the fence ('' without one)."""
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of one page, with the mark before each."""
    lines = page.read_text("utf-8").splitlines()
    found = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        end = i + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        before = next((line for line in reversed(lines[:i]) if line.strip()), "")
        mark = _MARK.match(before)
        body = "\n".join(line[indent:] for line in lines[i + 1 : end])
        found.append(Block(page, i + 1, opening["lang"], mark["mark"] if mark else "", body + "\n"))
        i = end + 1
    return found


ALL = [block for page in PAGES for block in blocks(page)]


def _executed(block: Block) -> bool:
    return (block.lang == "yaml" and not block.mark) or (
        block.lang == "python" and block.mark == "run"
    )


def test_every_code_block_is_marked_or_executed() -> None:
    assert ALL, "no code block found: is the docs folder there?"
    unmarked = [
        f"{b.where}: ```{b.lang or '(no language)'} is neither executed nor marked "
        "<!-- illustrative -->"
        for b in ALL
        if not _executed(b) and b.mark != "illustrative"
    ]
    assert unmarked == []


def test_marks_are_known_and_fit_their_block() -> None:
    wrong = [
        f"{b.where}: <!-- {b.mark} -->"
        for b in ALL
        if b.mark and (b.mark not in MARKS or (b.mark == "run" and b.lang != "python"))
    ]
    assert wrong == []
    assert all(b.lang for b in ALL), [b.where for b in ALL if not b.lang]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_indented_code_block(page: Path) -> None:
    """An indented (unfenced) code block has no language and no mark: fence it.

    Python-Markdown (with the ``docs`` extra, as the site's build) finds every block."""
    markdown = pytest.importorskip("markdown")
    pytest.importorskip("pymdownx")
    html = markdown.markdown(page.read_text("utf-8"), extensions=["tables", "pymdownx.superfences"])
    assert html.count("<pre") == len(blocks(page)), (
        f"{page.relative_to(ROOT)} has a code block that is not fenced"
    )


def _yaml_blocks() -> list[Block]:
    return [b for b in ALL if b.lang == "yaml" and not b.mark]


@pytest.mark.parametrize("block", _yaml_blocks(), ids=lambda b: b.where)
def test_yaml_examples_load_as_case_files(block: Block, tmp_path: Path) -> None:
    data = yaml.safe_load(block.text)
    assert isinstance(data, dict), f"{block.where}: not a mapping"
    text = block.text if "task" in data else yaml.safe_dump({**BASE_TASK, **data})
    # Beside the shipped files, as if in the repository's evals/: {file: prompts/...}
    # and {file: ../fixtures/...} find the shipped prompts and postings.
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "prompts").symlink_to(ROOT / "evals" / "prompts")
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    path = tmp_path / "evals" / "example.yaml"
    path.write_text(text, "utf-8")
    task = load_task(path, display=block.where, root=ROOT)
    assert task.name == data.get("task", BASE_TASK["task"])


def _python_blocks() -> list[Block]:
    return [b for b in ALL if b.lang == "python" and b.mark == "run"]


@pytest.mark.parametrize("block", _python_blocks(), ids=lambda b: b.where)
def test_python_examples_run(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "environ", dict(os.environ))
    code = compile(block.text, block.where, "exec")
    exec(code, {"__name__": "docs_example"})
