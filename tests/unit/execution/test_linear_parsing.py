"""Parsers of model output are linear in the answer's length and read normal answers as
before (issue 22).  The figures are in ``test_benchmark_parsing.py``; here: every
adversarial answer finishes (in a child process with a generous limit, so a parser that
backtracks fails the test instead of hanging it) and says why it is not an answer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.analysis.generic import words
from pytest_llmbench.execution.judge import JudgeError, parse_judgement
from pytest_llmbench.execution.quality import bullet_lines, word_count
from pytest_llmbench.execution.scoring import (
    MAX_PARSE_CHARS,
    parse_json,
    parse_verdict,
    strip_fence,
)
from pytest_llmbench.optimize.interviewer import read_proposal
from pytest_llmbench.router.results import timed_out
from tests.support.adversarial import LABELS

TESTS = Path(__file__).resolve().parents[3]
"""The repository root: the child imports ``tests.support.adversarial`` from it."""

# The patterns the parsers used before issue 22: the reference on normal answers.
OLD_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
OLD_WORD = re.compile(r"\S*[^\W_]\S*")
OLD_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+\S", re.MULTILINE)
OLD_OBJECT = re.compile(r"\{.*\}", re.DOTALL)

ANSWERS = [
    '{"label": "PASS"}',
    '```json\n{"label": "PASS"}\n```',
    '```\n{"a": 1}\n```',
    '  ```JSON   \n  {"a": [1, 2]}  \n  ```  ',
    '```json{"a": 1}```',
    "```python\nprint('x')\n```",
    "``````",
    "```json```",
    "````",
    "```",
    'Here you go: ```json\n{"a": 1}\n``` done',
    '```json\n{"a": 1}\n```\nand more ```',
    "plain text",
    "",
    "   ",
    "```abc def```",
    '```json\n{"a": "x```y"}\n```',
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_fence_stripping_reads_normal_answers_as_before(answer: str) -> None:
    body = answer.strip()
    fenced = OLD_FENCE.match(body)
    before = fenced.group(1).strip() if fenced else body
    assert strip_fence(answer) == before


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('```json\n{"label": "PASS"}\n```', {"label": "PASS"}),
        ('Sure! {"a": 1} hope that helps', {"a": 1}),
        ("[1, 2]", [1, 2]),
        ("```\n42\n```", 42),
    ],
)
def test_parse_json_same_values(text: str, value: Any) -> None:
    assert parse_json(text) == (value, "")


def test_parse_json_nested_past_the_recursion_limit_is_a_reason_not_a_crash() -> None:
    value, reason = parse_json("[" * 100_000)
    assert value is None
    assert reason.startswith("not valid JSON (nested too deeply)")


def test_parse_json_too_long_answer_says_so() -> None:
    value, reason = parse_json(" " * (MAX_PARSE_CHARS + 1))
    assert value is None
    assert reason == "answer too long to parse (1,000,001 characters, at most 1,000,000)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PASS", ("PASS", "")),
        ("The answer is fail.", ("FAIL", "")),
        ('{"verdict": "pass"}', ("PASS", "")),
        ("It does not PASS", (None, "negated verdict 'not PASS': the answer must state one label")),
        (
            "this is not really considered a PASS at all",
            (
                None,
                "negated verdict 'not really considered a PASS': the answer must state one label",
            ),
        ),
        ("no idea. PASS", ("PASS", "")),
        ("PASS or FAIL", (None, "ambiguous answer names FAIL and PASS: 'PASS or FAIL'")),
        (
            "PASS " * 50 + "never FAIL",
            (None, "negated verdict 'never FAIL': the answer must state one label"),
        ),
    ],
)
def test_parse_verdict_same_results(text: str, expected: tuple[str | None, str]) -> None:
    assert parse_verdict(text, LABELS) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Data - Engineer , in Hamburg.",
        "a_b __ _ x! ... ?? 3",
        "multi\nline\ttext  with\u00a0nbsp and émoji 🎉 ok",
        "",
    ],
)
def test_word_count_same_as_before(text: str) -> None:
    assert word_count(text) == len(OLD_WORD.findall(text))


@pytest.mark.parametrize(
    "text",
    [
        "- one\n- two\n\n\n  * three\n1. four\n2) five\nnot - a bullet",
        "\n\n\n- after blank lines\n   \n\t+ tabbed",
        "-\n\nfoo\n-bar\n•  dot",
        "",
    ],
)
def test_bullet_lines_same_as_before(text: str) -> None:
    assert bullet_lines(text) == len(OLD_BULLET.findall(text))


def _old_read(text: str) -> Any:
    for candidate in (text, *(m.group(0) for m in OLD_OBJECT.finditer(text))):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None


@pytest.mark.parametrize(
    "text",
    [
        '{"improved_prompt": "p {x}", "has_improvement": true}',
        'Sure:\n{"improved_prompt": "p {x}", "analysis": "a"}\nThanks',
        '```json\n{"improved_prompt": "q", "has_improvement": "false"}\n```',
    ],
)
def test_read_proposal_same_as_before(text: str) -> None:
    old = _old_read(text)
    proposal = read_proposal(text)
    assert proposal.improved_prompt == old["improved_prompt"]
    assert proposal.analysis == str(old.get("analysis", ""))


def test_read_proposal_object_then_prose_with_braces() -> None:
    text = 'Here: {"improved_prompt": "p {x}"} and a stray } brace'
    assert read_proposal(text).improved_prompt == "p {x}"


def test_read_proposal_full_of_braces_is_rejected_with_a_reason() -> None:
    proposal = read_proposal("{" * 100_000)
    assert proposal.has_improvement is False
    assert proposal.error == "the answer is not a JSON object"


def test_judge_answer_nested_too_deeply_is_a_judge_error() -> None:
    with pytest.raises(JudgeError, match=r"nested too deeply"):
        parse_judgement("[" * 100_000)


def test_generic_words_of_a_deep_json_answer_are_its_text_words() -> None:
    assert words("[" * 100_000 + "x", "json") == ("x",)
    assert words('{"a": "Hello World"}', "json") == ("hello", "world")


def test_router_timeout_reading() -> None:
    assert timed_out("ollama: request timed out after 30 s")
    assert timed_out("no answer from the model within 10 s")
    assert not timed_out("connection refused")


def test_every_adversarial_answer_finishes() -> None:
    """100,000 characters each, all parsers, in a child process that must finish within
    60 s (before issue 22, the first one alone took minutes)."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from tests.support.adversarial import cases\n"
        "for parser, name, call in cases():\n"
        "    call()\n"
        "print('done', len(cases()))\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script, str(TESTS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.startswith("done")
