"""Consensus between models: the agreement rules, the decision, and the combination rows
built from the results single models already gave (pytest_llmbench.analysis.consensus)."""

from __future__ import annotations

import difflib
import json
from typing import Any

import pytest

from pytest_llmbench.analysis.consensus import (
    Decision,
    Vote,
    agreement,
    combination_id,
    combinations,
    combine,
    decide,
    is_combination,
    similarity,
    summarise,
)
from pytest_llmbench.analysis.ranking import rank_strict
from pytest_llmbench.cases.records import OutputSpec
from pytest_llmbench.execution.results import Result
from tests.support import factories

# --------------------------------------------------------------------------- similarity


def test_similarity_is_difflib_ratio_on_normalised_text() -> None:
    assert similarity("Acme  Corp\n", " acme corp") == 1.0
    a, b = "Senior Data Engineer", "Data Engineer (senior)"
    expected = difflib.SequenceMatcher(
        None, "senior data engineer", "data engineer (senior)", autojunk=False
    ).ratio()
    assert similarity(a, b) == expected
    assert similarity("", "") == 1.0
    assert similarity("abc", "") == 0.0


def test_long_texts_count_every_character() -> None:
    # difflib's autojunk would drop characters frequent in texts of 200+ characters
    a = "the team " * 40 + "builds pipelines"
    b = "the team " * 40 + "builds pipelines."
    assert similarity(a, b) > 0.99


# --------------------------------------------------------------------------- agreement


def test_verdicts_agree_on_equal_labels_only() -> None:
    assert agreement("verdict", Vote("PASS"), Vote("PASS")) == (True, 1.0)
    assert agreement("verdict", Vote("PASS"), Vote("FAIL")) == (False, 0.0)
    assert agreement("verdict", Vote("PASS"), Vote(usable=False)) == (False, 0.0)


def test_texts_agree_from_the_threshold_on() -> None:
    a, b = "The company is hiring a nurse.", "The company hires a nurse."
    agree, sim = agreement("text", Vote(a), Vote(b))
    assert agree
    assert sim == similarity(a, b)
    assert agreement("text", Vote(a), Vote(b), threshold=0.99) == (False, sim)
    assert agreement("text", Vote(a), Vote("Something else entirely"))[0] is False


@pytest.mark.parametrize(
    ("a", "b", "agree"),
    [
        ({"company": "Acme Corp"}, {"company": "ACME corp"}, True),
        ({"company": "Acme Corp", "n": 3}, {"company": "Acme Corp.", "n": 3}, True),
        ({"company": "Acme", "n": 3}, {"company": "Acme", "n": 4}, False),
        ({"company": "Acme"}, {"company": "Acme", "extra": 1}, False),
        ({"company": "Acme"}, {"company": "Globex"}, False),
        ({"ok": True}, {"ok": 1}, False),
        ({"ok": None}, {"ok": None}, True),
        ({"n": 1}, {"n": 1.0}, True),
        ({"skills": ["SQL", "Python"]}, {"skills": ["python", "sql"]}, True),
        ({"skills": ["SQL", "Python"]}, {"skills": ["SQL"]}, False),
        ({"skills": ["SQL", "SQL"]}, {"skills": ["SQL", "Rust"]}, False),
        ({"a": {"b": "x y"}}, {"a": {"b": "X  Y"}}, True),
        ({"a": "1"}, {"a": 1}, False),
    ],
)
def test_json_agrees_field_by_field(a: Any, b: Any, agree: bool) -> None:
    assert agreement("json", Vote(a), Vote(b))[0] is agree


def test_json_similarity_is_the_weakest_field() -> None:
    a = {"company": "Nordhafen Bank", "role": "Data Engineer"}
    b = {"company": "Nordhafen Bank AG", "role": "Data Engineer"}
    agree, sim = agreement("json", Vote(a), Vote(b))
    assert agree
    assert sim == similarity("Nordhafen Bank", "Nordhafen Bank AG")
    assert agreement("json", Vote(a), Vote({"company": "Nordhafen Bank"})) == (False, 0.0)


# --------------------------------------------------------------------------- the rule


def votes(*values: Any) -> list[Vote]:
    return [Vote(usable=False) if v is None else Vote(v) for v in values]


def test_first_two_agree_the_top_answer_is_taken() -> None:
    assert decide(votes("PASS", "PASS"), "verdict") == Decision(False, 0, True, (0, 1), 1.0)


def test_a_disagreement_asks_for_the_third() -> None:
    assert decide(votes("PASS", "FAIL"), "verdict").pending
    assert decide(votes("PASS"), "verdict").pending


@pytest.mark.parametrize(
    ("third", "chosen", "agreed"),
    [("PASS", 0, (0, 2)), ("FAIL", 1, (1, 2))],
)
def test_the_third_breaks_the_tie_with_either(
    third: str, chosen: int, agreed: tuple[int, int]
) -> None:
    decision = decide(votes("PASS", "FAIL", third), "verdict")
    assert (decision.pending, decision.chosen, decision.consensus) == (False, chosen, True)
    assert decision.agreed == agreed


def test_no_agreement_takes_the_top_answer_flagged() -> None:
    texts = ["Acme is hiring.", "Globex wants a nurse.", "No idea, sorry."]
    decision = decide(votes(*texts), "text")
    assert (decision.pending, decision.chosen, decision.consensus) == (False, 0, False)
    assert decision.agreed == ()
    assert decision.similarity == max(
        similarity(texts[0], texts[1]),
        similarity(texts[0], texts[2]),
        similarity(texts[1], texts[2]),
    )


def test_unusable_answers_agree_with_nothing_and_the_first_usable_is_the_top() -> None:
    decision = decide(votes(None, {"c": "A"}, {"c": "B"}), "json")
    assert (decision.chosen, decision.consensus) == (1, False)
    assert decide(votes(None, None, None), "json").chosen is None


def test_final_decides_with_fewer_answers() -> None:
    assert decide(votes("PASS", "FAIL"), "verdict", final=True).chosen == 0
    assert decide(votes("PASS"), "verdict", final=True) == Decision(False, 0, False, (), None)
    more = decide(votes("A", "B", "C"), "verdict", models=4)
    assert more.pending
    assert decide(votes("A", "B", "C", "B"), "verdict", models=4).agreed == (1, 3)


# --------------------------------------------------------------------------- combinations

A, B, C = "ollama/phi3:3.8b", "ollama/gemma3:1b", "ollama/llama3.2"
CASES = [f"CASE_{i}" for i in range(1, 7)]
GOLD = {case: ("PASS" if i % 2 else "FAIL") for i, case in enumerate(CASES)}


def verdict(
    model: str,
    case: str,
    label: str | None,
    latency: float,
    repeat: int = 1,
    host: str | None = None,
    error: str | None = None,
) -> Result:
    gold = GOLD[case]
    return Result(
        task="grading",
        case_id=case,
        model=model,
        repeat=repeat,
        expected=gold,
        got=label or "unreadable",
        correct=label == gold and error is None,
        reason="" if label == gold else f"expected {gold}, said {label}",
        latency_ms=latency,
        kind="verdict",
        expected_label=gold,
        got_label=label,
        pass_label="PASS",
        host=host,
        error=error,
        cost_usd=0.001,
    )


def flipped(label: str) -> str:
    return "FAIL" if label == "PASS" else "PASS"


def fleet(hosts: tuple[str | None, str | None] = (None, None)) -> list[Result]:
    """A wrong on cases 1 and 2, B wrong on cases 3 and 4, C always right."""
    results = []
    for case in CASES:
        gold = GOLD[case]
        a = flipped(gold) if case in ("CASE_1", "CASE_2") else gold
        b = flipped(gold) if case in ("CASE_3", "CASE_4") else gold
        results += [
            verdict(A, case, a, 100.0, host=hosts[0]),
            verdict(B, case, b, 50.0, host=hosts[1]),
            verdict(C, case, gold, 400.0),
        ]
    return results


def test_combination_ids() -> None:
    assert combination_id([A, B, C]) == f"consensus({A}+{B}|{C})"
    assert combination_id([A, B]) == f"consensus({A}+{B})"
    assert is_combination(combination_id([A, B, C]))
    assert not is_combination(A)
    with pytest.raises(ValueError, match="at least two"):
        combination_id([A])


def test_a_and_b_wrong_on_different_cases_the_third_makes_every_case_right() -> None:
    rows = combine(fleet(), [A, B, C])
    assert [r.result.case_id for r in rows] == CASES
    assert all(r.result.correct for r in rows)
    assert {r.result.model for r in rows} == {f"consensus({A}+{B}|{C})"}
    by_case = {r.result.case_id: r for r in rows}
    # the first two agree on cases 5 and 6: two calls, A's answer
    assert (by_case["CASE_5"].calls, by_case["CASE_5"].answered_by) == (2, A)
    assert by_case["CASE_5"].result.latency_ms == 150.0
    assert by_case["CASE_5"].agreed == (A, B)
    # A is wrong on case 1: C agrees with B, B's answer is taken
    assert (by_case["CASE_1"].calls, by_case["CASE_1"].answered_by) == (3, B)
    assert by_case["CASE_1"].agreed == (B, C)
    assert by_case["CASE_1"].result.latency_ms == 550.0
    # B is wrong on case 3: C agrees with A
    assert (by_case["CASE_3"].answered_by, by_case["CASE_3"].agreed) == (A, (A, C))
    assert by_case["CASE_3"].result.cost_usd == pytest.approx(0.003)
    assert all(r.concurrent_ms is None for r in rows)  # no host named: one after the other


def test_the_combination_ranks_first_where_no_single_model_qualifies() -> None:
    results = fleet()
    results = [r for r in results if r.model != C] + [
        verdict(C, case, flipped(GOLD[case]) if case == "CASE_6" else GOLD[case], 400.0)
        for case in CASES
    ]
    rows = [r.result for r in combine(results, [A, B, C])]
    ranking = rank_strict("grading", results + rows)
    assert ranking.champion is not None
    assert ranking.champion.model == f"consensus({A}+{B}|{C})"
    assert ranking.champion.mean_ms == pytest.approx((150.0 * 2 + 550.0 * 4) / 6)
    assert {s.model for s in ranking.standings if not s.qualified} == {A, B, C}


def test_on_different_hosts_the_first_two_are_timed_as_sent_at_once() -> None:
    rows = combine(fleet(("http://gpu-1:11434", "http://gpu-2:11434")), [A, B, C])
    by_case = {r.result.case_id: r for r in rows}
    assert by_case["CASE_5"].concurrent_ms == 100.0  # max(100, 50)
    assert by_case["CASE_1"].concurrent_ms == 500.0  # max(100, 50) + 400
    assert by_case["CASE_1"].result.latency_ms == 550.0  # the sum stays the row's figure
    shared = combine(fleet(("http://gpu-1:11434", "http://gpu-1:11434")), [A, B, C])
    assert all(r.concurrent_ms is None for r in shared)
    forced = combine(fleet(), [A, B, C], separate_hosts=True)
    assert forced[0].concurrent_ms == 500.0


def test_repeats_are_combined_run_by_run_and_missing_runs_give_no_row() -> None:
    results = [
        verdict(A, "CASE_1", "PASS", 10.0, repeat=1),
        verdict(B, "CASE_1", "PASS", 10.0, repeat=1),
        verdict(A, "CASE_1", "PASS", 10.0, repeat=2),
        verdict(B, "CASE_1", "FAIL", 10.0, repeat=2),  # needs C, which did not run it
        verdict(A, "CASE_2", "PASS", 10.0, repeat=1),  # B did not run it
    ]
    rows = combine(results, [A, B, C])
    assert [(r.result.case_id, r.result.repeat) for r in rows] == [("CASE_1", 1)]


def test_errors_and_unreadable_answers_never_agree() -> None:
    results = [
        verdict(A, "CASE_1", None, 10.0, error="connection refused"),
        verdict(B, "CASE_1", "FAIL", 20.0),
        verdict(C, "CASE_1", "FAIL", 30.0),
        verdict(A, "CASE_2", None, 10.0),
        verdict(B, "CASE_2", None, 20.0),
        verdict(C, "CASE_2", "PASS", 30.0),
    ]
    first, second = combine(results, [A, B, C])
    assert (first.answered_by, first.consensus, first.result.correct) == (B, True, True)
    assert first.result.error is None
    assert (second.answered_by, second.consensus) == (C, False)


def json_result(model: str, case: str, answer: Any, correct: bool) -> Result:
    got = answer if isinstance(answer, str) else json.dumps(answer, sort_keys=True)
    return factories.result(
        model,
        case,
        task="company",
        expected="{}",
        got=got,
        correct=correct,
        latency_ms=10.0,
        kind="json",
    )


def test_json_answers_are_read_again_with_the_task_schema() -> None:
    schema = {"type": "object", "required": ["company"]}
    results = [
        json_result(A, "CASE_1", {"name": "Acme"}, False),  # breaks the schema
        json_result(B, "CASE_1", {"company": "Acme Corp"}, True),
        json_result(C, "CASE_1", {"company": "ACME corp"}, True),
        json_result(A, "CASE_2", "not json at all", False),
        json_result(B, "CASE_2", {"company": "Globex"}, True),
        json_result(C, "CASE_2", {"company": "Globex"}, True),
    ]
    rows = combine(results, [A, B, C], output=OutputSpec(kind="json", schema=schema))
    assert [(r.answered_by, r.agreed, r.result.correct) for r in rows] == [
        (B, (B, C), True),
        (B, (B, C), True),
    ]
    without_schema = combine(results[:3], [A, B, C])
    assert without_schema[0].agreed == (B, C)  # {"name"} and {"company"} differ in shape


def test_combinations_pair_the_best_models_first_with_the_next_best_as_tie_breakers() -> None:
    order = ["a", "b", "c", "d"]
    assert combinations(order, models=3, pairs=1) == [("a", "b", "c")]
    assert combinations(order, models=3, pairs=4) == [
        ("a", "b", "c"),
        ("a", "c", "b"),
        ("b", "c", "a"),
        ("a", "d", "b"),
    ]
    assert combinations(order, models=2, pairs=2) == [("a", "b"), ("a", "c")]
    assert combinations(["a", "b", "a"], models=4, pairs=9) == [("a", "b")]
    assert combinations(["a"], models=3, pairs=1) == []


def test_summarise_counts_agreements_tie_breaks_and_concurrent_latency() -> None:
    runs = combine(fleet(("http://gpu-1:11434", "http://gpu-2:11434")), [A, B, C])
    combo = summarise([A, B, C], runs)
    assert (combo.agreed, combo.tie_breaks, combo.flagged) == (6, 4, 0)
    assert combo.mean_calls == pytest.approx((3 * 4 + 2 * 2) / 6)
    assert combo.concurrent_mean_ms == pytest.approx((100.0 * 2 + 500.0 * 4) / 6)
    assert summarise([A, B, C], combine(fleet(), [A, B, C])).concurrent_mean_ms is None
