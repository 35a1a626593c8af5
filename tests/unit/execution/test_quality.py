"""Quality scores without a model: the heuristics case by case (formulas in the README),
JSON completeness as a partial score, the score on every result, the weighted ranking
on mean scores, and the case-file keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmbench.analysis.ranking import rank_strict, rank_weighted
from pytest_llmbench.cases.checks import Mentions, Words
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.problems import CaseFileError
from pytest_llmbench.cases.records import Task
from pytest_llmbench.execution.quality import (
    Part,
    bullet_lines,
    combine,
    content_words,
    grounded_part,
    mentions_part,
    sections_part,
    word_count,
    words_part,
)
from pytest_llmbench.execution.results import Result
from pytest_llmbench.execution.scoring import json_completeness, score
from pytest_llmbench.reporting.terminal import task_lines
from tests.support import factories

POSTING = "Nordhafen Bank is hiring a Data Engineer in Hamburg to build Spark pipelines."

# --------------------------------------------------------------------------- words


@pytest.mark.parametrize(
    ("text", "words", "expected"),
    [
        ("one two three four", Words(2, 6), 1.0),  # inside the range
        ("one two", Words(4, 6), 0.5),  # n / min = 2 / 4
        ("a b c d e f g h", Words(1, 4), 0.5),  # max / n = 4 / 8
        ("a b c", Words(None, 3), 1.0),  # only a maximum
        ("", Words(1, None), 0.0),  # nothing said: 0 / 1
    ],
)
def test_words_formula(text: str, words: Words, expected: float) -> None:
    part = words_part(text, words)
    assert part.score == pytest.approx(expected)
    assert part.passed is (expected == 1.0)


def test_word_count_ignores_bare_punctuation() -> None:
    assert word_count("Data - Engineer , in Hamburg.") == 4


# --------------------------------------------------------------------------- grounded


def test_content_words_drop_stop_words_and_short_ones_but_keep_numbers() -> None:
    assert content_words("The Data Engineer is in a team of 5 at Acme.") == {
        "data",
        "engineer",
        "team",
        "5",
        "acme",
    }


def test_grounded_is_the_share_of_answer_words_found_in_the_inputs() -> None:
    # content words: nordhafen, bank, data, engineer, hamburg, berlin -> 5 of 6 found
    part = grounded_part("Nordhafen Bank: Data Engineer in Hamburg and Berlin.", [POSTING], 0.9)
    assert part.score == pytest.approx(5 / 6)
    assert not part.passed
    assert "berlin" in part.reason


def test_grounded_counts_a_plural_as_the_word() -> None:
    part = grounded_part("Builds pipelines; engineers", ["build pipeline engineer"], 1.0)
    assert part.score == 1.0  # "builds", "pipelines", "engineers" differ by a final s


def test_grounded_of_an_answer_without_content_words_is_zero() -> None:
    assert grounded_part("It is.", [POSTING], 0.5).score == 0.0


def test_a_generic_answer_is_not_grounded() -> None:
    generic = "Advanced technical expertise in domain-specific systems."
    assert grounded_part(generic, [POSTING], 0.6).score == 0.0


# --------------------------------------------------------------------------- mentions


def test_mentions_share_ignores_case_and_spacing() -> None:
    part = mentions_part(
        "NORDHAFEN  bank seeks someone", Mentions(("Nordhafen Bank", "Data Engineer"), 0.5)
    )
    assert part.score == 0.5
    assert part.passed  # at_least 0.5
    strict = mentions_part("Nordhafen Bank", Mentions(("Nordhafen Bank", "Data Engineer")))
    assert not strict.passed
    assert strict.reason == "does not mention 'Data Engineer'"


# --------------------------------------------------------------------------- structure


def test_bullets_and_sections() -> None:
    text = "## Summary\nA role.\n**Skills**:\n- Python\n* SQL\n1. Spark\nnot - a bullet"
    assert bullet_lines(text) == 3
    assert sections_part(text, ["Summary", "Skills"]).score == 1.0
    part = sections_part(text, ["Summary", "Benefits"])
    assert part.score == 0.5
    assert part.reason == "missing section 'Benefits'"


def test_structure_bullets_score_is_capped_share(tmp_path: Path) -> None:
    task = write_task(tmp_path, "", "expected: {structure: {bullets: 4}}")
    scored = score(task, task.cases[0], "- a\n- b\n")
    assert scored.score == 0.5
    assert not scored.correct
    assert scored.reason == "2 bullets, fewer than 4"


# --------------------------------------------------------------------------- combining


def test_combine_is_the_mean_and_correct_needs_every_part() -> None:
    parts = [Part("words", 1.0), Part("grounded", 0.7, 0.6), Part("mentions", 0.5, 1.0)]
    value, correct, reason = combine(parts)
    assert value == pytest.approx(2.2 / 3)
    assert not correct
    assert reason == "mentions 0.50 < 1"
    value, correct, reason = combine(parts[:2])
    assert value == pytest.approx(0.85)
    assert (correct, reason) == (True, "")
    assert combine(parts[:2], pass_threshold=0.9)[1:] == (False, "score 0.85 < pass 0.9")


# --------------------------------------------------------------------------- JSON completeness


def test_json_completeness_counts_fields_and_list_items() -> None:
    expected = {"company": "Acme", "skills": ["Python", "SQL", "Spark"], "where": {"city": "X"}}
    assert json_completeness(expected, {"company": "acme", "skills": ["python"]}) == (2, 5)
    assert json_completeness(expected, {"company": "Acme", "skills": "Python"}) == (1, 5)
    assert json_completeness(expected, expected) == (5, 5)


def test_a_partial_json_answer_gets_a_partial_score(tmp_path: Path) -> None:
    task = write_task(
        tmp_path,
        "output: {kind: json}\n",
        "expected: {json: {company: Acme, skills: [Python, SQL]}}",
    )
    case = task.cases[0]
    scored = score(task, case, '{"company": "Acme", "skills": ["Python"]}')
    assert not scored.correct
    assert scored.score == pytest.approx(2 / 3)
    assert scored.reason == 'skills: missing "SQL"'
    assert score(task, case, '{"company": "Acme", "skills": ["SQL", "Python"]}').score == 1.0
    assert score(task, case, "no json").score == 0.0


# --------------------------------------------------------------------------- case files


def write_task(tmp_path: Path, head: str, expected: str, extra: str = "") -> Task:
    path = tmp_path / "t.yaml"
    path.write_text(
        "task: t\nprompt: 'Summarise: {posting}'\n"
        + head
        + extra
        + "cases:\n  - id: A\n    "
        + expected
        + f"\n    vars: {{posting: {json.dumps(POSTING)}}}\n"
    )
    return load_task(path)


def test_case_file_with_every_heuristic(tmp_path: Path) -> None:
    task = write_task(
        tmp_path,
        "",
        "expected:\n      words: {min: 3, max: 12}\n      grounded: 0.8\n"
        "      mentions: {all_of: [Nordhafen Bank, Data Engineer], at_least: 1}\n",
    )
    case = task.cases[0]
    assert case.expected.describe() == (
        "words 3..12; grounded >= 0.8; mentions 'Nordhafen Bank', 'Data Engineer'"
    )
    good = score(task, case, "Nordhafen Bank: a Data Engineer in Hamburg.")
    assert (good.correct, good.score) == (True, 1.0)
    assert [p.name for p in good.parts] == ["words", "grounded", "mentions"]
    bad = score(task, case, "Nordhafen Bank: a Data Engineer in Munich for crypto.")
    assert not bad.correct
    assert 0.8 < bad.score < 1.0  # grounded 4 of 6 content words; words and mentions 1
    assert bad.reason.startswith("grounded 0.67 < 0.8 (not in the input: crypto, munich)")


def test_task_pass_threshold_on_the_mean(tmp_path: Path) -> None:
    task = write_task(
        tmp_path,
        "pass: 0.9\n",
        "expected: {contains: [Hamburg], mentions: {all_of: [Nordhafen, Spark], at_least: 0.5}}",
    )
    case = task.cases[0]
    scored = score(task, case, "Nordhafen, in Hamburg")
    assert scored.score == pytest.approx(0.75)  # checks 1, mentions 0.5
    assert not scored.correct
    assert scored.reason == "score 0.75 < pass 0.9"


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ("{words: {min: 5, max: 2}}", "expected.words: min 5 is more than max 2"),
        ("{words: {}}", "expected.words: give min, max or both"),
        ("{grounded: 2}", "expected.grounded: 2 is greater than the maximum of 1"),
        ("{judge: {rubric: Good.}}", "expected.judge: a judge rubric needs the task's judge"),
    ],
)
def test_bad_graded_checks_are_named(tmp_path: Path, expected: str, message: str) -> None:
    with pytest.raises(CaseFileError) as info:
        write_task(tmp_path, "", f"expected: {expected}")
    assert message in str(info.value)


# --------------------------------------------------------------------------- ranking


def result(model: str, case: str, score_: float, correct: bool, ms: float) -> Result:
    return factories.result(
        model, case, task="t", expected="", correct=correct, latency_ms=ms, score=score_
    )


def test_the_weighted_policy_ranks_on_mean_scores_and_strict_on_correctness() -> None:
    results = [
        # p/a: always nearly right (0.9), never correct; fast
        result("p/a", "C1", 0.9, False, 100),
        result("p/a", "C2", 0.9, False, 100),
        # p/b: right once, poor once; slow
        result("p/b", "C1", 1.0, True, 200),
        result("p/b", "C2", 0.2, False, 200),
        # p/c: scores 0 everywhere: not ranked
        result("p/c", "C1", 0.0, False, 50),
        result("p/c", "C2", 0.0, False, 50),
    ]
    weighted = rank_weighted("t", results, (1.0, 0.0), min_correct=0)  # no bar
    assert [s.model for s in weighted.qualified] == ["p/a", "p/b"]
    assert [s.mean_score for s in weighted.qualified] == pytest.approx([0.9, 0.6])
    assert weighted.qualified[0].weighted_score == pytest.approx(0.9)
    assert [s.model for s in weighted.disqualified] == ["p/c"]
    strict = rank_strict("t", results)
    assert strict.champion is None  # nobody correct every time
    lines = task_lines(weighted)
    assert "mean score" in lines[1]
    assert any("p/a" in line and "0.90" in line for line in lines)


def test_a_result_without_a_score_scores_its_correctness() -> None:
    assert Result("t", "C", "p/a", 1, "", "", True).score == 1.0
    assert Result.from_dict({**Result("t", "C", "p/a", 1, "", "", False).to_dict()}).score == 0.0
    part = Part("words", 0.5, reason="short")
    data = Result("t", "C", "p/a", 1, "", "", False, score=0.5, parts=(part,)).to_dict()
    assert Result.from_dict(json.loads(json.dumps(data))).parts == (part,)
