"""Generic answers: the same (templated) answer whatever the input.

Pure module.  A model that answers "Advanced technical expertise in domain-specific
systems" to every job posting can pass loose checks (``contains``, a schema) while
ignoring its input.  This check compares each answer of a model with its answers to
the *other* cases of the same task:

- only tasks of kind ``json`` and ``text`` (a verdict label repeating is normal);
- only against cases whose input differs (another prompt hash) and whose gold differs
  (another ``expected``): two cases with the same gold may rightly get the same answer;
- answers are normalised first: white space collapsed, case folded; for ``json`` only
  the values are compared (the keys are the template's and would make every two answers
  look alike), joined with `` | `` in document order; at most 2,000 characters;
- similarity = ``difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()``
  = 2 * matching characters / (len(a) + len(b)), 1.0 for identical texts;
- an answer is *generic* when its similarity to some answer of the same model to another
  case is at least the threshold (``--llm-generic-threshold``, default 0.9).  Failed calls
  and empty answers are left out.

The task warning: when more than half of the models that answered give generic answers
on at least half of their cases, the prompt probably does not reach the model, or the
checks cannot fail.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from .results import Result

__all__ = [
    "DEFAULT_THRESHOLD",
    "KINDS",
    "GenericAnswer",
    "find_generic_answers",
    "generic_warning",
    "normalise",
    "similarity",
]

DEFAULT_THRESHOLD = 0.9
KINDS = frozenset({"json", "text"})
MAX_CHARS = 2000


@dataclass(frozen=True)
class GenericAnswer:
    """One run whose answer is nearly the same as the model's answer to another case."""

    model: str
    case_id: str
    repeat: int
    similar_to: str
    similarity: float
    answer: str = ""

    def describe(self) -> str:
        return f"generic answer: {self.similarity:.2f} similar to its answer to {self.similar_to}"


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None:
        yield str(value)


def normalise(answer: str, kind: str = "text") -> str:
    """The form answers are compared in (see the module docstring)."""
    text = answer
    if kind == "json":
        with contextlib.suppress(ValueError):  # not JSON after all: compare the text
            text = " | ".join(_leaves(json.loads(answer)))
    return " ".join(text.split()).casefold()[:MAX_CHARS]


def similarity(a: str, b: str) -> float:
    """``SequenceMatcher`` ratio of two normalised answers (0 to 1)."""
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


@dataclass(frozen=True)
class _Answer:
    result: Result
    text: str


def _comparable(a: Result, b: Result) -> bool:
    """Different case, different input, different gold."""
    if a.case_id == b.case_id or a.expected == b.expected:
        return False
    return not (a.prompt_hash and a.prompt_hash == b.prompt_hash)


def _closest(
    answer: _Answer, others: Sequence[_Answer], threshold: float, memo: dict[tuple[str, str], float]
) -> tuple[float, str] | None:
    """The highest similarity at or above ``threshold`` to a comparable answer, and its case."""
    best: tuple[float, str] | None = None
    for other in others:
        if not _comparable(answer.result, other.result):
            continue
        key = (answer.text, other.text) if answer.text <= other.text else (other.text, answer.text)
        ratio = memo.get(key)
        if ratio is None:
            matcher = SequenceMatcher(None, key[0], key[1], autojunk=False)
            floor = max(threshold, best[0] if best else 0.0)
            # real_quick_ratio and quick_ratio are upper bounds of ratio: skip the exact one
            # when it cannot reach the threshold (not memoised: it depends on the floor).
            if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
                continue
            ratio = memo[key] = matcher.ratio()
        if ratio >= threshold and (best is None or ratio > best[0]):
            best = (ratio, other.result.case_id)
    return best


def find_generic_answers(
    results: Iterable[Result], threshold: float = DEFAULT_THRESHOLD
) -> tuple[GenericAnswer, ...]:
    """Every json/text run whose answer is generic (see the module docstring)."""
    by_model: dict[str, list[_Answer]] = {}
    for r in results:
        if r.kind not in KINDS or r.error:
            continue
        text = normalise(r.got, r.kind)
        if text:
            by_model.setdefault(r.model, []).append(_Answer(r, text))
    found: list[GenericAnswer] = []
    for model, answers in by_model.items():
        memo: dict[tuple[str, str], float] = {}
        for answer in answers:
            closest = _closest(answer, answers, threshold, memo)
            if closest is not None:
                ratio, case_id = closest
                r = answer.result
                found.append(GenericAnswer(model, r.case_id, r.repeat, case_id, ratio, r.got))
    return tuple(found)


def generic_warning(results: Iterable[Result], generic: Sequence[GenericAnswer]) -> str | None:
    """The task-level warning when most models answer different inputs alike, else ``None``."""
    cases: dict[str, set[str]] = {}
    for r in results:
        if r.kind in KINDS:
            cases.setdefault(r.model, set()).add(r.case_id)
    if not cases:
        return None
    flagged: dict[str, set[str]] = {}
    for g in generic:
        flagged.setdefault(g.model, set()).add(g.case_id)
    alike = [m for m in cases if 2 * len(flagged.get(m, ())) >= len(cases[m]) and m in flagged]
    if 2 * len(alike) <= len(cases):
        return None
    names = ", ".join(alike[:5]) + (f" and {len(alike) - 5} more" if len(alike) > 5 else "")
    example = next(g.answer for g in generic if g.model == alike[0])
    shown = " ".join(example.split())
    shown = shown if len(shown) <= 60 else shown[:59] + "…"
    return (
        f"{len(alike)} of {len(cases)} models gave near-identical answers to different inputs "
        f"({names}; e.g. {shown!r}): check that the prompt passes the input and that the "
        "checks can fail"
    )
