"""Unit tests for pytest_llmbench.analysis.gold (suspect gold labels)."""

from __future__ import annotations

from typing import Any

from pytest_llmbench.analysis.gold import SuspectGold, find_suspect_gold
from pytest_llmbench.execution.results import Result
from tests.support import factories


def said(model: str, case: str, gold: str, label: str | None, **kw: Any) -> Result:
    return factories.verdict(model, case, label, gold=gold, **kw)


def test_three_of_four_agreeing_against_gold_is_suspect() -> None:
    results = [
        said("p/a", "FAIL_1", "FAIL", "PASS"),
        said("p/b", "FAIL_1", "FAIL", "PASS"),
        said("p/c", "FAIL_1", "FAIL", "PASS"),
        said("p/d", "FAIL_1", "FAIL", "FAIL"),
        *(said(m, "PASS_1", "PASS", "PASS") for m in ("p/a", "p/b", "p/c", "p/d")),
    ]
    [suspect] = find_suspect_gold(results)
    assert suspect == SuspectGold("FAIL_1", "FAIL", "PASS", ("p/a", "p/b", "p/c"), 4)
    assert suspect.describe() == "FAIL_1: 3 of 4 models say PASS, gold is FAIL"


def test_three_of_five_is_not_enough() -> None:
    # 3 / 5 = 0.6 < 0.75
    results = [
        *(said(m, "FAIL_1", "FAIL", "PASS") for m in ("p/a", "p/b", "p/c")),
        *(said(m, "FAIL_1", "FAIL", "FAIL") for m in ("p/d", "p/e")),
    ]
    assert find_suspect_gold(results) == ()


def test_two_models_are_not_enough_even_if_both_agree() -> None:
    results = [said(m, "FAIL_1", "FAIL", "PASS") for m in ("p/a", "p/b")]
    assert find_suspect_gold(results) == ()


def test_three_of_three_all_wrong_models() -> None:
    results = [said(m, "FAIL_1", "FAIL", "PASS") for m in ("p/a", "p/b", "p/c")]
    [suspect] = find_suspect_gold(results)
    assert (suspect.models, suspect.of) == (("p/a", "p/b", "p/c"), 3)


def test_wrong_in_different_ways_is_not_agreement() -> None:
    # Three labels: two say PASS, two say UNSURE, against FAIL: no answer reaches 3.
    results = [
        said("p/a", "X", "FAIL", "PASS"),
        said("p/b", "X", "FAIL", "PASS"),
        said("p/c", "X", "FAIL", "UNSURE"),
        said("p/d", "X", "FAIL", "UNSURE"),
    ]
    assert find_suspect_gold(results) == ()


def test_a_model_must_say_the_same_in_every_run() -> None:
    base = [said(m, "FAIL_1", "FAIL", "PASS") for m in ("p/b", "p/c")]
    flip = [
        said("p/a", "FAIL_1", "FAIL", "PASS", repeat=1),
        said("p/a", "FAIL_1", "FAIL", "FAIL", repeat=2),
    ]
    steady = [said("p/a", "FAIL_1", "FAIL", "PASS", repeat=r) for r in (1, 2)]
    assert find_suspect_gold([*base, *flip]) == ()  # p/a undecided: 2 of 3 agree
    [suspect] = find_suspect_gold([*base, *steady])
    assert suspect.models == ("p/b", "p/c", "p/a")


def test_errors_and_unparseable_answers_agree_with_nobody_but_count() -> None:
    results = [
        *(said(m, "FAIL_1", "FAIL", "PASS") for m in ("p/a", "p/b", "p/c")),
        said("p/d", "FAIL_1", "FAIL", None),
        said("p/e", "FAIL_1", "FAIL", None, error="timeout"),
    ]
    assert find_suspect_gold(results) == ()  # 3 of 5


def test_json_answers_agreeing_against_gold() -> None:
    def company(model: str, got: str) -> Result:
        return Result(
            "company", "C_1", model, 1, '{"company": "Acme"}', got, got == '{"company": "Acme"}'
        )

    globex = '{"company": "Globex"}'
    results = [company(m, globex) for m in ("p/a", "p/b", "p/c")]
    [suspect] = find_suspect_gold(results)
    assert (suspect.gold, suspect.answer) == ('{"company": "Acme"}', globex)


def test_right_answers_are_never_suspect() -> None:
    results = [said(m, "FAIL_1", "FAIL", "FAIL") for m in ("p/a", "p/b", "p/c", "p/d")]
    assert find_suspect_gold(results) == ()
    assert find_suspect_gold([]) == ()
