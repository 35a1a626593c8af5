"""Input capture: the variables and answers of the production calls in doubt, kept in the
feedback log (masked) for ``llmbench feedback --export-cases``.

A task opts in with ``capture: {inputs: true, max: 1000}`` in its case file.  A call is
in doubt when no model answered, when a model failed before another answered, when a
consensus found no agreement, when a shadow check disagreed, or when a shadow judge
scored the answer below the task's ``alerts: {min_judge_score}`` (default
:data:`LOW_JUDGE_SCORE`).  At most ``max`` calls per task are captured per router (its
process); each value is cut to :data:`CAPTURE_CHARS` characters.  The feedback log
masks every line it writes (:func:`~pytest_llmbench.safety.redaction.redact_data`), and
the values are masked here too, before they are counted or cut.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_llmbench.router.results import Attempt, ConsensusDetails
from pytest_llmbench.safety.redaction import redact

if TYPE_CHECKING:
    from pytest_llmbench.cases.records import Task

__all__ = ["CAPTURE_CHARS", "LOW_JUDGE_SCORE", "Captures", "in_doubt"]

CAPTURE_CHARS = 20_000
"""The most characters of one captured value (a longer one is cut, and says so)."""
LOW_JUDGE_SCORE = 0.7
"""A shadow judge's score below this puts a call in doubt (``llmbench feedback
--min-judge-score``'s default), unless the task's ``alerts:`` gives ``min_judge_score``."""


def in_doubt(
    task: Task,
    attempts: Sequence[Attempt],
    consensus: ConsensusDetails | None,
    shadow: Mapping[str, Any] | None = None,
) -> bool:
    """Whether a call is worth a gold case (see the module docstring)."""
    called = [a for a in attempts if a.outcome != "circuit_open"]
    if not any(a.ok for a in called) or any(not a.ok for a in called):
        return True
    if consensus is not None and not consensus.accepted:
        return True
    if shadow is None:
        return False
    if shadow.get("agreed") is False:
        return True
    score = shadow.get("score")
    least = task.alerts.min_judge_score
    return isinstance(score, (int, float)) and score < (LOW_JUDGE_SCORE if least is None else least)


def _cut(text: str) -> str:
    text = redact(text)
    if len(text) <= CAPTURE_CHARS:
        return text
    return text[:CAPTURE_CHARS] + f" [... cut: {len(text) - CAPTURE_CHARS} more characters]"


class Captures:
    """How many calls each task has captured (shared by a router and its reloaded copies)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.captured: dict[str, int] = {}
        self.over_cap: dict[str, int] = {}
        """Calls in doubt not captured because the task reached its ``max``."""

    def take(self, task: Task, inputs: Mapping[str, str] | None) -> dict[str, str] | None:
        """The inputs to write with a call in doubt (masked, cut), or ``None`` when the task
        does not capture, the call has no variables, or the task's ``max`` is reached."""
        if not task.capture.inputs or inputs is None:
            return None
        with self._lock:
            if self.captured.get(task.name, 0) >= task.capture.max:
                self.over_cap[task.name] = self.over_cap.get(task.name, 0) + 1
                return None
            self.captured[task.name] = self.captured.get(task.name, 0) + 1
        return {name: _cut(value) for name, value in inputs.items()}


def cut_answer(text: str) -> str:
    """An answer as it is captured (masked, cut)."""
    return _cut(text)
