"""Where a case file may read from: ``{file:}`` paths stay inside the project.

Case files are untrusted input (they arrive in pull requests that the CI gate runs),
so a ``{file:}`` path is resolved (symlinks followed) and must land inside one of the
allowed roots: pytest's rootdir, plus the directories that the ini option
``llm_allowed_file_roots`` lists.  Device files, FIFOs, sockets and anything under
``/proc``, ``/sys`` or ``/dev`` are never read, wherever they are.

Pure module: no pytest, no YAML.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "MAX_FILE_BYTES",
    "PROJECT_MARKERS",
    "Confinement",
    "OutsideRoot",
    "default_root",
]

MAX_FILE_BYTES = 10 * 1024 * 1024
"""A ``{file:}`` larger than this (10 MiB) is refused: it is no prompt."""

PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "pytest.ini", ".git")
"""What marks a project's root when a case file is loaded outside pytest."""

_SYSTEM_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))


class OutsideRoot(Exception):
    """A ``{file:}`` that may not be read; ``str()`` says why and what to do."""


def default_root(case_file: Path) -> Path:
    """The root for a case file loaded without one: the nearest enclosing project.

    That is the nearest directory above the case file holding one of
    :data:`PROJECT_MARKERS`, else the case file's own directory.
    """
    start = case_file.resolve().parent
    for directory in (start, *start.parents):
        if any((directory / marker).exists() for marker in PROJECT_MARKERS):
            return directory
    return start


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class Confinement:
    """The roots a case file may read from, and the check of one path against them."""

    def __init__(self, root: Path, allowed: Sequence[Path] = ()) -> None:
        self.root = root.resolve()
        self.allowed = tuple(p.resolve() for p in allowed)

    def check(self, target: Path) -> Path:
        """``target`` resolved (symlinks followed) when it may be read.

        :raises OutsideRoot: outside every root, a system tree or not a regular file.
        :raises FileNotFoundError: when it does not exist (inside the roots).
        """
        resolved = Path(os.path.realpath(target))
        if any(_inside(resolved, tree) for tree in _SYSTEM_TREES):
            raise OutsideRoot(f"{resolved}: case files never read /proc, /sys or /dev")
        if not any(_inside(resolved, root) for root in (self.root, *self.allowed)):
            raise OutsideRoot(
                f"{resolved} is outside the project root {self.root} (list a trusted "
                "directory in the ini option llm_allowed_file_roots to allow it)"
            )
        mode = resolved.stat().st_mode  # FileNotFoundError when missing
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise OutsideRoot(f"{resolved} is {kind}")
        size = resolved.stat().st_size
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // (1024 * 1024)
            raise OutsideRoot(f"{resolved} has {size} bytes, more than the limit of {limit} MiB")
        return resolved
