"""What the interviewer model is asked, how its answer is read, and how a proposal is checked.

The interviewer sees the current prompt, its score and the failed *training* cases
(input excerpt, expected, what came back) and answers as JSON: ``analysis``,
``improved_prompt``, ``reasoning``, ``has_improvement``.  A proposal is rejected when it
drops a template variable of the original prompt or contains the gold answer (or a
verbatim input) of a held-out case.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmbench.cases.records import Case
from pytest_llmbench.cases.templates import placeholders
from pytest_llmbench.execution.results import Result
from pytest_llmbench.execution.scoring import MAX_PARSE_CHARS

__all__ = [
    "ANSWER_SCHEMA",
    "Proposal",
    "check_proposal",
    "gold_answers",
    "interview_prompt",
    "read_proposal",
]

ANSWER_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "analysis": {"type": "string"},
        "improved_prompt": {"type": "string"},
        "reasoning": {"type": "string"},
        "has_improvement": {"type": "boolean"},
    },
    "required": ["analysis", "improved_prompt", "reasoning", "has_improvement"],
}
EXCERPT = 300
"""Characters of each input shown to the interviewer."""
MIN_LEAK = 12
"""Held-out values shorter than this (ids, labels, numbers, short words) leak when they
appear as a whole token; longer ones anywhere."""
WINDOW = 60
"""A long held-out input leaks when this many of its characters appear verbatim."""


@dataclass(frozen=True)
class Proposal:
    analysis: str
    improved_prompt: str
    reasoning: str
    has_improvement: bool
    error: str | None = None
    """Why the answer could not be read (then ``has_improvement`` is false)."""


def _excerpt(text: str, limit: int = EXCERPT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def interview_prompt(
    template: str,
    score: float,
    threshold: float,
    failures: Sequence[tuple[Case, Result]],
    cases: int,
    note: str = "",
) -> str:
    """The question to the interviewer (training cases only: held-out ones never appear)."""
    names = placeholders(template)
    lines = [
        "You improve prompts for a language model. The prompt below is a template: "
        "{name} placeholders are filled with each case's inputs.",
        "",
        "CURRENT PROMPT:",
        "<<<",
        template,
        ">>>",
        "",
        f"SCORE: {score:.2f} on {cases} cases (target {threshold:.2f}).",
    ]
    if failures:
        lines += ["", "FAILED CASES:"]
        for case, result in failures:
            inputs = "; ".join(f"{k}: {_excerpt(v, 200)}" for k, v in case.vars.items())
            why = f" ({result.error or result.reason})" if result.error or result.reason else ""
            lines.append(
                f"- {case.id}: input {inputs or _excerpt(case.prompt)} | expected "
                f"{result.expected} | got {_excerpt(result.got, 200)!r}{why}"
            )
    if note:
        lines += ["", f"NOTE: {note}"]
    keep = ", ".join("{" + n + "}" for n in names) or "none"
    lines += [
        "",
        "Analyse why the model fails, then write an improved prompt. Rules: keep every "
        f"placeholder ({keep}) exactly as written; do not include answers for specific "
        "cases; keep the requested answer format.",
        'Answer only with JSON: {"analysis": "...", "improved_prompt": "...", '
        '"reasoning": "...", "has_improvement": true or false}.',
    ]
    return "\n".join(lines)


def _candidates(text: str) -> Iterator[str]:
    """The answer, then from its first ``{`` to its last ``}``: plain string search, linear
    in the answer's length (a pattern over an answer full of ``{`` backtracks)."""
    yield text
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        yield text[start : end + 1]


def read_proposal(text: str) -> Proposal:
    """The interviewer's JSON answer (the first ``{...}`` in it when there is prose around)."""
    if len(text) > MAX_PARSE_CHARS:
        why = f"the answer is too long to read ({len(text):,} characters, at most "
        return Proposal("", "", "", False, f"{why}{MAX_PARSE_CHARS:,})")
    data: Any = None
    parsed = False
    for candidate in _candidates(text):
        try:
            data = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        parsed = True
        break
    if not parsed and (start := text.find("{")) >= 0:
        # an object followed by prose with braces of its own
        with contextlib.suppress(ValueError, RecursionError):
            data, _ = json.JSONDecoder().raw_decode(text, start)
    if not isinstance(data, dict):
        return Proposal("", "", "", False, "the answer is not a JSON object")
    prompt = data.get("improved_prompt")
    if not isinstance(prompt, str):
        return Proposal(str(data.get("analysis", "")), "", "", False, "no improved_prompt")
    flag = data.get("has_improvement", True)
    return Proposal(
        analysis=str(data.get("analysis", "")),
        improved_prompt=prompt,
        reasoning=str(data.get("reasoning", "")),
        has_improvement=flag is True or str(flag).lower() == "true",
    )


def gold_answers(case: Case) -> list[str]:
    """What a held-out case's gold answer is made of, as text a prompt must not contain:
    the expected JSON's string values, the ``contains`` strings, the case id, and its
    inputs (a prompt quoting a held-out input with its label gives the answer away).
    Every one of them, whatever its length (short ones are matched as whole tokens,
    see :func:`_leaked`)."""
    found: list[str] = [case.id]
    found += list(case.expected.contains)
    stack: list[Any] = [case.expected.json] if case.expected.json is not None else []
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            found.append(value)
    found += [str(v) for v in case.vars.values()]
    return [g.strip() for g in found if g.strip()]


def _token_in(gold: str, text: str) -> bool:
    """Whether ``gold`` occurs in ``text`` as a whole token: not inside a longer word or
    number (``A7`` is in "case A7." but not in "A70"; ``PASS`` not in "PASSWORD")."""
    start = text.find(gold)
    while start != -1:
        end = start + len(gold)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return True
        start = text.find(gold, start + 1)
    return False


def _leaked(gold: str, proposal: str, original: str) -> bool:
    """Whether the proposal has ``gold`` (and the original prompt did not): a short value
    (under :data:`MIN_LEAK` characters: an id, a label, a number) as a whole token, a
    longer one anywhere, and for a long input any ``WINDOW``-character stretch of it."""
    if len(gold) < MIN_LEAK:
        return _token_in(gold, proposal) and not _token_in(gold, original)
    if gold in original:
        return False  # already in the prompt: not the interviewer's doing
    if gold in proposal:
        return True
    if len(gold) < 2 * WINDOW:
        return False
    stretches = (gold[i : i + WINDOW] for i in range(0, len(gold) - WINDOW + 1, WINDOW // 4))
    return any(s in proposal and s not in original for s in stretches)


def check_proposal(original: str, proposal: str, held_out: Iterable[Case]) -> list[str]:
    """Why a proposed prompt must be rejected (empty: it may be tried)."""
    problems: list[str] = []
    if not proposal.strip():
        return ["the improved prompt is empty"]
    if not proposal.strip(" \t\n.\u2026"):
        return [
            f"the improved prompt is {_excerpt(proposal.strip(), 20)!r}: the interviewer "
            'copied the literal "..." placeholder of the answer format instead of writing a prompt'
        ]
    missing = [n for n in placeholders(original) if n not in placeholders(proposal)]
    if missing:
        names = ", ".join("{" + n + "}" for n in missing)
        problems.append(f"drops the template variable{'s' if len(missing) > 1 else ''} {names}")
    unknown = [n for n in placeholders(proposal) if n not in placeholders(original)]
    if unknown:
        names = ", ".join("{" + n + "}" for n in unknown)
        problems.append(f"uses variables the cases do not have: {names}")
    for case in held_out:
        leaks = [g for g in gold_answers(case) if _leaked(g, proposal, original)]
        if leaks:
            problems.append(
                f"contains the gold answer of held-out case {case.id}: {_excerpt(leaks[0], 60)!r}"
            )
    return problems
