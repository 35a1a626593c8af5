"""Unit tests for pytest_llmbench.analysis.generic (generic, templated answers)."""

from __future__ import annotations

from typing import Any

from pytest_llmbench.analysis.generic import (
    GenericAnswer,
    find_generic_answers,
    generic_warning,
    normalise,
    similarity,
    words,
)
from pytest_llmbench.execution.results import Result
from tests.support import factories

TEMPLATE = "Advanced technical expertise in domain-specific systems"


def answer(model: str, case: str, got: str, kind: str = "text", **kw: Any) -> Result:
    """An answer to case ``case``: its own input (prompt hash) and gold unless told."""
    fields: dict[str, Any] = {
        "task": "skills",
        "expected": f"contains {case!r}",
        "kind": kind,
        "prompt_hash": f"hash-{case}",
        **kw,
    }
    return factories.result(model, case, got=got, **fields)


def test_words_of_text_and_json() -> None:
    assert words("  Advanced   Technical\nExpertise, domain-specific! ") == (
        "advanced",
        "technical",
        "expertise",
        "domain",
        "specific",
    )
    # json: the values only, in document order (the keys are the template's)
    got = '{"level": "Senior", "skills": ["Python", "SQL"], "remote": null, "years": 5}'
    assert normalise(got, "json") == "senior python sql 5"
    assert normalise("not {json", "json") == "not json"
    assert words("  ...  ") == ()
    assert len(words("word " * 1000)) == 400


TEN = "one two three four five six seven eight nine ten"
TEN_CHANGED = "one two three four five six seven eight nine eleven"


def test_similarity_hand_computed() -> None:
    # ratio = 2 * matching words / total words
    assert similarity("a b c d", "a b c e") == 0.75  # 2 * 3 / 8
    assert similarity(TEN, TEN_CHANGED) == 0.9  # 2 * 9 / 20
    assert similarity("Acme GmbH", "Apex GmbH") == 0.5  # 2 * 1 / 4
    assert similarity("acme", "apex") == 0.0  # no word in common
    assert similarity("A, b; C", "a b c") == 1.0  # case and punctuation do not count
    assert similarity(TEMPLATE, TEMPLATE) == 1.0


def test_the_same_sentence_for_every_case_is_generic() -> None:
    results = [answer("p/t", case, TEMPLATE) for case in ("A", "B", "C")]
    assert find_generic_answers(results) == (
        GenericAnswer("p/t", "A", 1, "B", 1.0, TEMPLATE),
        GenericAnswer("p/t", "B", 1, "A", 1.0, TEMPLATE),
        GenericAnswer("p/t", "C", 1, "A", 1.0, TEMPLATE),
    )
    first = find_generic_answers(results)[0]
    assert first.describe() == "generic answer: 1.00 similar to its answer to B"


def test_answers_that_depend_on_the_input_are_not_generic() -> None:
    results = [
        answer("p/a", "A", "Python, SQL and Airflow for Acme's data platform"),
        answer("p/a", "B", "Night-shift nursing at the Globex clinic in Springfield"),
    ]
    assert find_generic_answers(results) == ()


def test_threshold_is_at_least() -> None:
    results = [answer("p/a", "A", TEN), answer("p/a", "B", TEN_CHANGED)]
    assert [g.similarity for g in find_generic_answers(results, 0.9)] == [0.9, 0.9]
    assert find_generic_answers(results, 0.91) == ()


def test_json_keys_do_not_make_answers_alike() -> None:
    # As text the two answers are 0.5 similar ("company" is common); their values not at all.
    results = [
        answer("p/a", "A", '{"company": "Acme"}', kind="json"),
        answer("p/a", "B", '{"company": "Apex"}', kind="json"),
    ]
    assert similarity('{"company": "acme"}', '{"company": "apex"}') == 0.5
    assert find_generic_answers(results, 0.5) == ()
    same = [
        answer("p/a", "A", '{"skills": ["domain expertise"]}', kind="json"),
        answer("p/a", "B", '{"skills": ["Domain  expertise"]}', kind="json"),
    ]
    assert len(find_generic_answers(same)) == 2


def test_only_other_cases_with_other_input_and_other_gold() -> None:
    results = [
        answer("p/a", "A", TEMPLATE),
        # same input as A (same prompt hash): the same answer is expected
        answer("p/a", "A2", TEMPLATE, prompt_hash="hash-A"),
        # same gold as A: the same answer may be right
        answer("p/a", "A3", TEMPLATE, expected="contains 'A'"),
        # the same case again (a repeat): that is consistency, not a generic answer
        answer("p/a", "A", TEMPLATE, repeat=2),
    ]
    # A2 and A3 are comparable with each other (other input, other gold)
    assert {(g.case_id, g.similar_to) for g in find_generic_answers(results)} == {
        ("A2", "A3"),
        ("A3", "A2"),
    }


def test_only_the_same_model_is_compared() -> None:
    results = [answer("p/a", "A", TEMPLATE), answer("p/b", "B", TEMPLATE)]
    assert find_generic_answers(results) == ()


def test_verdicts_errors_and_empty_answers_are_left_out() -> None:
    verdicts = [answer("p/a", c, "PASS", kind="verdict") for c in "AB"]
    assert find_generic_answers(verdicts) == ()
    errors = [answer("p/a", c, TEMPLATE, error="timeout") for c in "AB"]
    assert find_generic_answers(errors) == ()
    empty = [answer("p/a", c, "  ") for c in "AB"]
    assert find_generic_answers(empty) == ()


def test_every_repeat_is_checked() -> None:
    results = [
        answer("p/a", "A", TEMPLATE, repeat=1),
        answer("p/a", "A", "Python and SQL", repeat=2),
        answer("p/a", "B", TEMPLATE, repeat=1),
    ]
    assert [(g.case_id, g.repeat) for g in find_generic_answers(results)] == [
        ("A", 1),
        ("B", 1),
    ]


def test_most_similar_case_is_named() -> None:
    results = [
        answer("p/a", "A", TEN),
        answer("p/a", "B", TEN_CHANGED),  # 0.9 to A and C
        answer("p/a", "C", TEN),  # 1.0 to A
    ]
    assert {g.case_id: (g.similar_to, g.similarity) for g in find_generic_answers(results)} == {
        "A": ("C", 1.0),
        "B": ("A", 0.9),
        "C": ("A", 1.0),
    }


def test_task_warning_when_most_models_are_alike() -> None:
    results = [answer(m, c, TEMPLATE) for m in ("p/a", "p/b") for c in "AB"]
    warning = generic_warning(results, find_generic_answers(results))
    assert warning == (
        "2 of 2 models gave near-identical answers to different inputs (p/a, p/b; "
        "e.g. 'Advanced technical expertise in domain-specific systems'): check that the "
        "prompt passes the input and that the checks can fail"
    )


def test_no_task_warning_when_half_or_fewer_models_are_alike() -> None:
    results = [
        *(answer("p/a", c, TEMPLATE) for c in "AB"),
        answer("p/b", "A", "Python, SQL and Airflow for Acme"),
        answer("p/b", "B", "Night-shift nursing at Globex"),
    ]
    generic = find_generic_answers(results)
    assert {g.model for g in generic} == {"p/a"}
    assert generic_warning(results, generic) is None  # 1 of 2 is not most
    assert generic_warning([], ()) is None


def test_task_warning_counts_models_alike_on_half_their_cases() -> None:
    # p/c: 2 of 4 cases alike (A, B) -> alike; p/d: none; p/e: all -> 2 of 3 models
    distinct = ["Python at Acme", "Nursing at Globex", "Welding in Kiel", "Baking in Lyon"]
    results = [
        *(answer("p/c", c, TEMPLATE if c in "AB" else distinct[i]) for i, c in enumerate("ABCD")),
        *(answer("p/d", c, distinct[i]) for i, c in enumerate("ABCD")),
        *(answer("p/e", c, TEMPLATE) for c in "ABCD"),
    ]
    warning = generic_warning(results, find_generic_answers(results))
    assert warning is not None
    assert warning.startswith("2 of 3 models gave near-identical answers to different inputs")
    assert "(p/c, p/e;" in warning


def test_long_answers_are_cut_for_the_warning() -> None:
    long = "x " * 100
    results = [answer(m, c, long) for m in ("p/a",) for c in "AB"]
    warning = generic_warning(results, find_generic_answers(results))
    assert warning is not None
    assert "e.g. 'x x x" in warning
    assert "…'" in warning
