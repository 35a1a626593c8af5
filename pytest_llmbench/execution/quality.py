"""Quality scores without a model: the graded checks of a free-text answer.

Pure module: text in, :class:`Part` out.  Each check gives a score in 0-1 and passes at
its own threshold; a result's score is the mean of its parts and it is correct when
every part passes (and the score reaches the task's ``pass:``, when it has one).
The formulas (README, "Quality scores"):

- ``words: {min, max}``: ``n`` = the answer's words (white-space separated tokens with
  a letter or digit); 1 inside ``[min, max]``, ``n / min`` below, ``max / n`` above.
  Passes at 1.
- ``grounded: t``: the share of the answer's distinct content words (letters or digits,
  3+ characters or containing a digit, not a stop word) found among the words of the
  case's variables (a word also counts when it differs from one there by a final ``s``).
  Passes at ``t``.  Catches invented details: names, numbers and places not in the input.
- ``mentions: {all_of, at_least}``: the share of ``all_of`` the answer contains (ignoring
  case and spacing).  Passes at ``at_least`` (default 1: all of them).
- ``structure: {bullets: n}``: ``min(1, bullet lines / n)``; a bullet line starts with
  ``-``, ``*``, ``+``, ``•`` or ``1.``/``1)``.  ``{sections: [...]}``: the share of the
  sections present as a heading line (``## Skills``, ``**Skills**``, ``Skills:``).
  Each passes at 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_llmbench.cases.checks import Mentions, QualityChecks, Structure, Words

__all__ = [
    "Part",
    "bullet_lines",
    "combine",
    "content_words",
    "grounded_part",
    "mentions_part",
    "quality_parts",
    "sections_part",
    "word_count",
    "words_part",
]


@dataclass(frozen=True)
class Part:
    """One check's share of a result's score."""

    name: str
    """``checks`` (the binary checks), ``json``, ``words``, ``grounded``, ``mentions``,
    ``bullets``, ``sections`` or ``judge``."""
    score: float
    threshold: float = 1.0
    reason: str = ""
    """Why the part falls short of its threshold (empty when it passes)."""

    @property
    def passed(self) -> bool:
        return self.score >= self.threshold - 1e-9


def combine(parts: Sequence[Part], pass_threshold: float | None = None) -> tuple[float, bool, str]:
    """(score, correct, reason): the mean of the parts; correct when each passes and the
    mean reaches ``pass_threshold`` (if given).  No parts: 1, correct."""
    if not parts:
        return 1.0, True, ""
    value = sum(p.score for p in parts) / len(parts)
    reasons = [
        p.reason or f"{p.name} {p.score:.2f} < {p.threshold:g}" for p in parts if not p.passed
    ]
    correct = not reasons
    if pass_threshold is not None and value < pass_threshold - 1e-9:
        correct = False
        reasons.append(f"score {value:.2f} < pass {pass_threshold:g}")
    return value, correct, "; ".join(reasons)


_ALNUM = re.compile(r"[^\W_]")
"""A letter or digit: a whitespace-separated token with one is a word."""
_TOKEN = re.compile(r"[^\W_]+")
_STOP_WORDS = (
    "a about above after again against all also am an and any are as at be because been "
    "before being below between both but by can could did do does doing down during each "
    "few for from further had has have having he her here hers herself him himself his how "
    "i if in into is it its itself just me more most my myself no nor not now of off on once "
    "only or other our ours ourselves out over own same she should so some such than that "
    "the their theirs them themselves then there these they this those through to too under "
    "until up very was we were what when where which while who whom why will with would you "
    "your yours yourself yourselves role job position company looking seeking hiring "
)
STOP_WORDS = frozenset(_STOP_WORDS.split())
"""Words that say nothing about the input (function words, and the words of any posting)."""


def word_count(text: str) -> int:
    # token by token, not one pattern over the text: linear in the answer's length
    return sum(1 for token in text.split() if _ALNUM.search(token))


def words_part(text: str, words: Words) -> Part:
    n = word_count(text)
    if words.min is not None and n < words.min:
        return Part("words", n / words.min, reason=f"{n} words, fewer than {words.min}")
    if words.max is not None and n > words.max:
        return Part("words", words.max / n, reason=f"{n} words, more than {words.max}")
    return Part("words", 1.0)


def content_words(text: str) -> set[str]:
    """Distinct content words, case-folded: 3+ characters or with a digit, no stop words."""
    return {
        w
        for w in _TOKEN.findall(text.casefold())
        if (len(w) >= 3 or any(c.isdigit() for c in w)) and w not in STOP_WORDS
    }


def _found(word: str, vocabulary: set[str]) -> bool:
    return (
        word in vocabulary
        or (word.endswith("s") and word[:-1] in vocabulary)
        or word + "s" in vocabulary
    )


def grounded_part(text: str, inputs: Iterable[str], threshold: float) -> Part:
    words = content_words(text)
    if not words:
        return Part("grounded", 0.0, threshold, "no content words to check against the input")
    vocabulary: set[str] = set()
    for value in inputs:
        vocabulary |= content_words(value)
    invented = sorted(w for w in words if not _found(w, vocabulary))
    share = 1.0 - len(invented) / len(words)
    reason = ""
    if share < threshold - 1e-9:
        shown = ", ".join(invented[:5]) + (" …" if len(invented) > 5 else "")
        reason = f"grounded {share:.2f} < {threshold:g} (not in the input: {shown})"
    return Part("grounded", share, threshold, reason)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def mentions_part(text: str, mentions: Mentions) -> Part:
    folded = _norm(text)
    missing = [m for m in mentions.all_of if _norm(m) not in folded]
    share = 1.0 - len(missing) / len(mentions.all_of)
    reason = ""
    if share < mentions.at_least - 1e-9:
        reason = "does not mention " + ", ".join(repr(m) for m in missing)
    return Part("mentions", share, mentions.at_least, reason)


_BULLET = re.compile(r"^[^\S\n]*(?:[-*+•]|\d+[.)])\s+\S", re.MULTILINE)
"""A bullet line (the indent stays on its line: no backtracking over blank lines)."""


def bullet_lines(text: str) -> int:
    return len(_BULLET.findall(text))


def _headings(text: str) -> set[str]:
    out: set[str] = set()
    for line in text.splitlines():
        head = line.strip().lstrip("#").strip().strip("*_").strip()
        head = head.split(":", 1)[0].strip().strip("*_").strip()
        if head:
            out.add(_norm(head))
    return out


def sections_part(text: str, sections: Sequence[str]) -> Part:
    present = _headings(text)
    missing = [s for s in sections if _norm(s) not in present]
    share = 1.0 - len(missing) / len(sections)
    reason = "missing section " + ", ".join(repr(s) for s in missing) if missing else ""
    return Part("sections", share, reason=reason)


def _structure_parts(text: str, structure: Structure) -> list[Part]:
    parts: list[Part] = []
    if structure.bullets is not None:
        n = bullet_lines(text)
        reason = f"{n} bullets, fewer than {structure.bullets}" if n < structure.bullets else ""
        parts.append(Part("bullets", min(1.0, n / structure.bullets), reason=reason))
    if structure.sections:
        parts.append(sections_part(text, structure.sections))
    return parts


def quality_parts(checks: QualityChecks, text: str, inputs: Iterable[str]) -> list[Part]:
    """The parts of the heuristic checks a case asks for (not the judge: it comes later)."""
    parts: list[Part] = []
    if checks.words is not None:
        parts.append(words_part(text, checks.words))
    if checks.grounded is not None:
        parts.append(grounded_part(text, inputs, checks.grounded))
    if checks.mentions is not None:
        parts.append(mentions_part(text, checks.mentions))
    if checks.structure is not None:
        parts.extend(_structure_parts(text, checks.structure))
    return parts
