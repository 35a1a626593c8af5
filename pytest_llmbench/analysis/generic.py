"""Generic answers: the same (templated) answer whatever the input.

Pure module.  A model that answers "Advanced technical expertise in domain-specific
systems" to every job posting can pass loose checks (``contains``, a schema) while
ignoring its input.  This check compares each answer of a model with its answers to
the *other* cases of the same task:

- only tasks of kind ``json`` and ``text`` (a verdict label repeating is normal);
- only against cases whose input differs (another prompt hash) and whose gold differs
  (another ``expected``): two cases with the same gold may rightly get the same answer;
- answers are normalised first: case folded and split into words (runs of letters,
  digits and ``_``; punctuation and white space only separate them); for ``json`` only
  the values count (the keys are the template's and would make every two answers look
  alike), in document order; at most 400 words;
- similarity = ``difflib.SequenceMatcher(None, words_a, words_b, autojunk=False).ratio()``
  = 2 * matching words / (words in a + words in b): 1.0 for the same words, 0.9 for a
  ten-word sentence with one word changed.  Words rather than characters: character
  ratios call short, different answers alike ("acme" and "apex" share half their
  letters) and are many times slower to compute for hundreds of answers;
- an answer is *generic* when its similarity to some answer of the same model to another
  case is at least the threshold (``--llm-generic-threshold``, default 0.9).  Failed calls
  and answers without a word are left out.

The task warning: when more than half of the models that answered give generic answers
on at least half of their cases, the prompt probably does not reach the model, or the
checks cannot fail.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from pytest_llmbench.execution.results import Result

__all__ = [
    "DEFAULT_THRESHOLD",
    "KINDS",
    "GenericAnswer",
    "find_generic_answers",
    "generic_warning",
    "normalise",
    "similarity",
    "words",
]

DEFAULT_THRESHOLD = 0.9
KINDS = frozenset({"json", "text"})
MAX_WORDS = 400
_WORD = re.compile(r"\w+")


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
    """The words answers are compared by, joined by single spaces (see the module docstring)."""
    return " ".join(words(answer, kind))


def words(answer: str, kind: str = "text") -> tuple[str, ...]:
    """The case-folded words of an answer (of its values, for ``json``); at most 400."""
    text = answer
    if kind == "json":
        # not JSON after all (or nested past the recursion limit): compare the text
        with contextlib.suppress(ValueError, RecursionError):
            text = " ".join(_leaves(json.loads(answer)))
    found: list[str] = []
    for match in _WORD.finditer(text.casefold()):  # stops at the 400th word
        found.append(match.group(0))
        if len(found) == MAX_WORDS:
            break
    return tuple(found)


def similarity(a: str, b: str) -> float:
    """``SequenceMatcher`` ratio of the words of two answers (0 to 1)."""
    return SequenceMatcher(None, words(a), words(b), autojunk=False).ratio()


@dataclass(frozen=True)
class _Answer:
    result: Result
    words: tuple[str, ...]


def _comparable(a: Result, b: Result) -> bool:
    """Different case, different input, different gold."""
    if a.case_id == b.case_id or a.expected == b.expected:
        return False
    return not (a.prompt_hash and a.prompt_hash == b.prompt_hash)


Words = tuple[str, ...]


def _close_pairs(texts: Sequence[Words], threshold: float) -> dict[tuple[Words, Words], float]:
    """The similarity of every two distinct texts that reach ``threshold`` (both orders)."""
    close: dict[tuple[Words, Words], float] = {}
    matcher = SequenceMatcher(None, autojunk=False)
    for index, a in enumerate(texts):
        matcher.set_seq2(a)  # the matcher keeps what it learnt about seq2 across seq1s
        for b in texts[index + 1 :]:
            matcher.set_seq1(b)
            # real_quick_ratio and quick_ratio are cheap upper bounds of ratio
            if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                continue
            ratio = matcher.ratio()
            if ratio >= threshold:
                close[a, b] = close[b, a] = ratio
    return close


def find_generic_answers(
    results: Iterable[Result], threshold: float = DEFAULT_THRESHOLD
) -> tuple[GenericAnswer, ...]:
    """Every json/text run whose answer is generic (see the module docstring)."""
    by_model: dict[str, list[_Answer]] = {}
    for r in results:
        if r.kind not in KINDS or r.error:
            continue
        answer_words = words(r.got, r.kind)
        if answer_words:
            by_model.setdefault(r.model, []).append(_Answer(r, answer_words))
    found: list[GenericAnswer] = []
    for model, answers in by_model.items():
        close = _close_pairs(list(dict.fromkeys(a.words for a in answers)), threshold)
        for answer in answers:
            best: tuple[float, str] | None = None
            for other in answers:
                if not _comparable(answer.result, other.result):
                    continue
                same = answer.words == other.words
                ratio = 1.0 if same else close.get((answer.words, other.words))
                if ratio is not None and (best is None or ratio > best[0]):
                    best = (ratio, other.result.case_id)
            if best is not None:
                r = answer.result
                found.append(GenericAnswer(model, r.case_id, r.repeat, best[1], best[0], r.got))
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
