"""Adversarial model answers for every parser of model output (issue 22).

Each entry: a parser's name, the input's name, and a call that parses one answer of
``n`` characters built to make a backtracking pattern or a recursive decoder blow up
(a fence with no end, a run of ``{`` or ``[``, punctuation without a word, blank lines,
a label repeated after filler words).  Shared by ``test_benchmark_parsing.py`` (the
figures) and ``test_trust_parsing.py`` (that each one finishes and says why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_llmbench.analysis.generic import words
from pytest_llmbench.execution.judge import JudgeError, parse_judgement
from pytest_llmbench.execution.quality import bullet_lines, content_words, word_count
from pytest_llmbench.execution.scoring import parse_json, parse_verdict
from pytest_llmbench.optimize.interviewer import read_proposal
from pytest_llmbench.router.results import timed_out

N = 100_000
LABELS = ("PASS", "FAIL")


def _pad(head: str, unit: str, n: int) -> str:
    return (head + unit * n)[:n]


def _judge(text: str) -> Any:
    try:
        return parse_judgement(text)
    except JudgeError as exc:
        return str(exc)


def cases(n: int = N) -> list[tuple[str, str, Callable[[], Any]]]:
    """``(parser, input, call)`` for each adversarial answer of ``n`` characters."""
    fence = _pad("```json", " ", n)
    braces = "{" * n
    brackets = "[" * n
    return [
        ("parse_json", "fence + spaces", lambda: parse_json(fence)),
        ("parse_json", "fence + newlines", lambda: parse_json(_pad("```json", "\n", n))),
        ("parse_json", "{ x n", lambda: parse_json(braces)),
        ("parse_json", "[ x n", lambda: parse_json(brackets)),
        ("parse_json", '{"a": x n', lambda: parse_json(_pad("", '{"a":', n))),
        ("parse_verdict", "fence + spaces", lambda: parse_verdict(fence, LABELS)),
        ("parse_verdict", "label x n", lambda: parse_verdict(_pad("", "PASS ", n), LABELS)),
        (
            "parse_verdict",
            "no a a ... label",
            lambda: parse_verdict(_pad("", "no a a a a a a a a a a a a x PASS ", n), LABELS),
        ),
        ("parse_judgement", "fence + spaces", lambda: _judge(fence)),
        ("parse_judgement", "[ x n", lambda: _judge(brackets)),
        ("word_count", "punctuation", lambda: word_count("!" * n)),
        ("bullet_lines", "blank lines", lambda: bullet_lines("\n" * n)),
        ("bullet_lines", "spaces", lambda: bullet_lines(" " * n)),
        ("content_words", "punctuation", lambda: content_words("!" * n)),
        ("generic.words", "[ x n (json)", lambda: words(brackets, "json")),
        ("read_proposal", "{ x n", lambda: read_proposal(braces)),
        ("read_proposal", "{ x n then }", lambda: read_proposal(braces[:-1] + "}")),
        ("Router timeout", "no answer x n", lambda: timed_out(_pad("", "no answer ", n))),
    ]
