"""The plugin's header lines about the run's selection (after pytest's collection line).

Pure: plain values in, lines out; the plugin decides when they are shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["changed_lines", "difficulty_lines", "selects_difficulty"]


_DIFFICULTY = re.compile(r"\b(easy|medium|hard)\b")


def selects_difficulty(markexpr: str) -> bool:
    """Whether an ``-m`` expression selects by difficulty (then the default decides what
    runs, so the header says how many cases took it)."""
    return _DIFFICULTY.search(markexpr) is not None


def difficulty_lines(counts: Mapping[str, int], shown: bool) -> list[str]:
    """Cases without a difficulty are marked (and counted as) ``medium``: per task, how
    many (nothing when none, or when not ``shown``: said with ``-v``, and whenever ``-m``
    selects by difficulty, :func:`selects_difficulty`)."""
    if not counts or not shown:
        return []
    per_task = ", ".join(f"{task}: {count}" for task, count in counts.items())
    return [
        f"llmbench: {sum(counts.values())} case(s) give no difficulty and are marked medium, "
        f"the default ({per_task})"
    ]


def changed_lines(ref: object, changed: tuple[list[str], list[str]] | None) -> list[str]:
    """``--llm-changed-since REF``: the tasks kept of all (``changed``: kept, deselected)."""
    if changed is None:
        return []
    selected, deselected = changed
    total = len(selected) + len(deselected)
    names = ", ".join(selected) or "none"
    return [f"llmbench: changed since {ref}: {len(selected)} of {total} task(s): {names}"]
