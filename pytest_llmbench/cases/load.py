"""Load a case file: read it (UTF-8), parse its YAML with lines, validate it against the
schema and build its :class:`~.records.Task`; and tell case files from other YAML files.

Every problem found in a file is collected into one :class:`~.problems.CaseFileError`
whose lines each name the file, the line and the key.  Pure module: no pytest.
"""

from __future__ import annotations

import re
from pathlib import Path

from pytest_llmbench.cases.build import build_task
from pytest_llmbench.cases.encoding import NotUTF8, decode_utf8, readable_text
from pytest_llmbench.cases.problems import CaseFileError, Problem
from pytest_llmbench.cases.records import Task
from pytest_llmbench.cases.schema import validate
from pytest_llmbench.cases.yaml_lines import parse_yaml
from pytest_llmbench.safety.confinement import Confinement, default_root

__all__ = ["find_case_file", "load_task", "looks_like_case_file"]


def load_task(
    path: Path,
    display: str | None = None,
    text: str | None = None,
    *,
    root: Path | None = None,
    allowed_roots: tuple[Path, ...] = (),
) -> Task:
    """Load, validate and render one case file.

    :param display: how to name the file in messages (default: the path as given).
    :param root: the directory ``{file:}`` paths must stay inside (pytest's rootdir);
        default: the nearest enclosing project (:func:`~.confine.default_root`).
    :param allowed_roots: further directories ``{file:}`` may read from.
    :raises CaseFileError: with every problem found, each naming file, line and key.
    """
    display = display or str(path)
    if text is None:
        text = _read(path, display)
    data, lines = parse_yaml(text.removeprefix("\ufeff"), display)
    if not isinstance(data, dict):
        raise CaseFileError(
            display, [Problem(1, "", "expected a mapping with task, prompt, cases")]
        )
    data, problems = validate(data, lines, display)
    confinement = Confinement(root or default_root(path), allowed_roots)
    try:
        task = build_task(path, display, data, lines, confinement)
    except CaseFileError as exc:
        raise CaseFileError(display, [*problems, *exc.problems]) from None
    if problems:
        raise CaseFileError(display, problems)
    return task


def _read(path: Path, display: str) -> str:
    try:
        return decode_utf8(path.read_bytes())
    except NotUTF8 as exc:
        problem = f"not UTF-8 text ({exc}); save the file as UTF-8"
        raise CaseFileError(display, [Problem(exc.line, "", problem)]) from None


_TASK_LINE = re.compile(r"^task\s*:", re.MULTILINE)


def looks_like_case_file(text: str) -> bool:
    """A YAML file is a case file when it has a top-level ``task:`` key."""
    return _TASK_LINE.search(text) is not None


def find_case_file(root: Path, task: str) -> Path | None:
    """The first ``*.yaml``/``*.yml`` under ``root`` (sorted, recursive) whose top-level
    ``task:`` is ``task`` (in a file that is not UTF-8 too: loading it says so); ``None``
    when there is none."""
    line = re.compile(rf"^task\s*:\s*(['\"]?){re.escape(task)}\1\s*(#.*)?$", re.MULTILINE)
    candidates = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
    for path in candidates:
        try:
            text = readable_text(path.read_bytes())
        except OSError:
            continue
        if line.search(text):
            return path
    return None
