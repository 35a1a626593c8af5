"""What is wrong in a case file: a :class:`Problem` names a line, a key and what is wrong;
a :class:`CaseFileError` gathers every problem of one file into one message.

Keys are written as a user reads them (``cases[2].expected.verdict``): :func:`key_of`
writes a path inside the document that way, :func:`path_of` reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CaseFileError", "KeyPath", "Problem", "key_of", "path_of"]

KeyPath = tuple[str | int, ...]
"""A place inside the document: mapping keys and list indexes (``("cases", 2, "id")``)."""


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    key: str
    message: str

    def format(self, display: str) -> str:
        where = f"{display}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class CaseFileError(Exception):
    """One or more problems in one case file; ``str()`` is the user-facing message."""

    def __init__(self, display: str, problems: list[Problem]) -> None:
        self.display = display
        self.problems = sorted(set(problems))
        super().__init__(self.message())

    def message(self) -> str:
        head = f"invalid case file {self.display}"
        lines = [p.format(self.display) for p in self.problems]
        if len(lines) == 1:
            return f"{head}\n  {lines[0]}"
        return f"{head} ({len(lines)} problems)\n  " + "\n  ".join(lines)


def key_of(path: KeyPath) -> str:
    """The key as messages show it: ``("cases", 0, "why")`` -> ``cases[0].why``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def path_of(key: str) -> KeyPath:
    """The inverse of :func:`key_of`: ``cases[0].why`` -> ``("cases", 0, "why")``."""
    parts: list[str | int] = []
    for match in re.finditer(r"\[(\d+)\]|([^.\[\]]+)", key):
        parts.append(int(match.group(1)) if match.group(1) else match.group(2))
    return tuple(parts)
