"""Captured production calls as candidate cases: the call's inputs as the case's
variables, and what each model answered as comments for the human who labels it.
Everything is masked (:mod:`pytest_llmbench.safety.redaction`): a secret that reached a
prompt or an answer never reaches the candidates file.  Pure: calls in, cases out."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_llmbench.cases.importing import Candidate
from pytest_llmbench.formatting import one_line
from pytest_llmbench.safety.redaction import redact
from pytest_llmbench.storage.feedback import CapturedCall

__all__ = ["ANSWER_SHOWN", "candidate_cases"]

ANSWER_SHOWN = 300
"""Characters of an answer shown in a candidate's comments."""


def _seen(call: CapturedCall) -> tuple[str, ...]:
    notes = [
        f"seen {call.time or 'in production'}, call {call.call}: {', '.join(call.reasons)}"
        if call.reasons
        else f"seen {call.time or 'in production'}, call {call.call}"
    ]
    for line in call.lines:
        said = line.answer if line.answer is not None else line.detail
        text = f"{line.model}: {line.outcome}" + (
            f": {one_line(redact(said), ANSWER_SHOWN)}" if said else ""
        )
        notes.append(text)
        shadow = line.shadow
        if shadow is not None:
            agreed = shadow.get("agreed")
            verdict = "agreed" if agreed is True else "disagreed" if agreed is False else "checked"
            score = shadow.get("score")
            scored = f", score {score}" if score is not None else ""
            answered = shadow.get("answer")
            notes.append(
                f"  shadow {shadow.get('check', 'check')} {shadow.get('model', '')} "
                f"{verdict}{scored}"
                + (f": {one_line(redact(str(answered)), ANSWER_SHOWN)}" if answered else "")
            )
    return tuple(notes)


def candidate_cases(calls: Sequence[CapturedCall]) -> list[Candidate]:
    """One unlabelled case per call, id ``TASK_CALL`` (the call's id in the log)."""
    return [
        Candidate(
            id=f"{call.task}_{''.join(c for c in call.call if c.isalnum() or c in '_.-')}",
            vars={name: redact(value) for name, value in call.inputs.items()},
            expected=None,
            notes=_seen(call),
        )
        for call in calls
    ]
