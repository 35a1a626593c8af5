"""A case's prompt on its page.  The history keeps each request's prompt hash, not its
text; the text is in the task's case file, which the view finds and renders again:

- where: ``--cases DIR`` when given, else the run's own test paths (the non-option
  arguments it was started with, under its rootdir, as recorded), else the rootdir's
  ``evals/``, else the rootdir (searched once per task, then remembered);
- the file: the first case file there whose ``task:`` is the task
  (:func:`pytest_llmbench.cases.load.find_case_file`), loaded as pytest would load it
  (``{file:}`` confined to that root);
- what is shown: the case's system and prompt of the recorded prompt version, marked
  *as sent* when their hash is the one recorded, or *as the case file has it now* when
  the file changed since the run (both hashes shown).

A case file that cannot be found or read leaves the page with the hash alone.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmbench.cases.load import find_case_file, load_task
from pytest_llmbench.cases.problems import CaseFileError
from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.safety.confinement import OutsideRoot

__all__ = ["CasePrompt", "PromptFinder"]


@dataclass(frozen=True)
class CasePrompt:
    system: str | None
    prompt: str
    prompt_hash: str
    recorded: str
    """The hash the run recorded (the first of the case's results)."""
    source: Path
    """The case file, relative to the run's rootdir when inside it."""

    @property
    def as_sent(self) -> bool:
        return self.prompt_hash == self.recorded


def _search_roots(run: Mapping[str, Any], cases: Path | None) -> list[Path]:
    if cases is not None:
        return [cases]
    rootdir = run.get("rootdir")
    if not isinstance(rootdir, str) or not Path(rootdir).is_dir():
        return []
    root = Path(rootdir)
    args = run.get("args") if isinstance(run.get("args"), list) else []
    paths = []
    for arg in args or []:
        if isinstance(arg, str) and arg and not arg.startswith("-"):
            candidate = root / arg.split("::")[0]
            if candidate.exists():
                paths.append(candidate if candidate.is_dir() else candidate.parent)
    if paths:
        return paths
    return [root / "evals"] if (root / "evals").is_dir() else [root]  # the usual layout


class PromptFinder:
    """Finds and loads case files, keeping what it loaded (by path and modification time)."""

    def __init__(self, cases: Path | None = None) -> None:
        self.cases = cases
        self._found: dict[tuple[Path, str], Path | None] = {}
        self._tasks: dict[tuple[Path, int], Task | None] = {}
        self._lock = threading.Lock()

    def _case_file(self, root: Path, task: str) -> Path | None:
        key = (root, task)
        with self._lock:
            if key in self._found:
                return self._found[key]
        found = find_case_file(root, task)
        with self._lock:
            self._found[key] = found
        return found

    def _task(self, path: Path, root: Path) -> Task | None:
        try:
            key = (path, path.stat().st_mtime_ns)
        except OSError:
            return None
        with self._lock:
            if key in self._tasks:
                return self._tasks[key]
        try:
            task: Task | None = load_task(path, root=root)
        except (CaseFileError, OutsideRoot, OSError, ValueError):
            task = None
        with self._lock:
            self._tasks[key] = task
        return task

    def find(
        self, run: Mapping[str, Any], task: str, case_id: str, recorded: Sequence[tuple[str, str]]
    ) -> CasePrompt | None:
        """The prompt of ``case_id``; ``recorded``: (prompt version, prompt hash) of its
        results, the first one the one to show."""
        if not recorded:
            return None
        version, recorded_hash = recorded[0]
        for root in _search_roots(run, self.cases):
            path = self._case_file(root, task)
            loaded = self._task(path, root) if path is not None else None
            if path is None or loaded is None:
                continue
            case = _case(loaded, case_id, version)
            if case is not None:
                shown = _relative(path, run.get("rootdir"))
                return CasePrompt(case.system, case.prompt, case.prompt_hash, recorded_hash, shown)
        return None


def _relative(path: Path, rootdir: object) -> Path:
    """``path`` relative to the run's rootdir when inside it (as a user names it)."""
    if isinstance(rootdir, str):
        try:
            return path.relative_to(rootdir)
        except ValueError:
            pass
    return path


def _case(task: Task, case_id: str, version: str) -> Case | None:
    cases: tuple[Case, ...] = task.cases
    if version:
        try:
            cases = task.version(version).cases
        except KeyError:
            return None
    return next((c for c in cases if c.id == case_id), None)
