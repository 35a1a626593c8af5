"""Unit tests for pytest_llmbench.analysis.verdicts; numbers worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmbench.analysis.verdicts import verdict_metrics
from pytest_llmbench.execution.results import Result
from tests.support import factories


def said(case: str, gold: str, label: str | None, pass_label: str = "PASS", **kw: Any) -> Result:
    return factories.verdict("p/a", case, label, gold=gold, pass_label=pass_label, **kw)


MIXED = [
    said("PASS_1", "PASS", "PASS"),  # tn
    said("PASS_2", "PASS", "FAIL"),  # fp (too strict)
    said("FAIL_1", "FAIL", "FAIL"),  # tp
    said("FAIL_2", "FAIL", "FAIL"),  # tp
    said("FAIL_3", "FAIL", "PASS"),  # fn (too lenient)
    said("FAIL_4", "FAIL", None),  # unanswered, a bad item not caught
    said("PASS_3", "PASS", None, error="timeout"),  # unanswered
]


def test_counts_and_confusion_matrix() -> None:
    m = verdict_metrics(MIXED)
    assert m is not None
    assert (m.total, m.tp, m.fn, m.fp, m.tn) == (7, 2, 1, 1, 1)
    assert (m.unanswered_fail, m.unanswered_pass, m.exact) == (1, 1, 3)
    assert m.confusion == {
        "PASS": {"PASS": 1, "FAIL": 1, "none": 1},
        "FAIL": {"PASS": 1, "FAIL": 2, "none": 1},
    }


def test_accuracy_precision_recall_f1() -> None:
    m = verdict_metrics(MIXED)
    assert m is not None
    assert m.accuracy == pytest.approx(3 / 7)  # tn + 2 tp
    assert m.precision == pytest.approx(2 / 3)  # 2 tp / (2 tp + 1 fp)
    assert m.recall == pytest.approx(2 / 4)  # 2 tp / (2 tp + 1 fn + 1 unanswered)
    # 2 * 2 / (2 * 2 + 1 + 1 + 1) = 4 / 7, the harmonic mean of 2/3 and 1/2
    assert m.f1 == pytest.approx(4 / 7)
    assert m.f1 == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))


def test_always_lenient_model_catches_nothing() -> None:
    results = [
        said("PASS_1", "PASS", "PASS"),
        said("PASS_2", "PASS", "PASS"),
        said("FAIL_1", "FAIL", "PASS"),
        said("FAIL_2", "FAIL", "PASS"),
    ]
    m = verdict_metrics(results)
    assert m is not None
    assert (m.tp, m.fn, m.fp, m.tn) == (0, 2, 0, 2)
    assert m.accuracy == 0.5
    assert m.precision is None  # never called anything bad
    assert m.recall == 0.0
    assert m.f1 == 0.0  # 0 / (0 + 0 + 2)


def test_all_wrong_model() -> None:
    results = [said("PASS_1", "PASS", "FAIL"), said("FAIL_1", "FAIL", "PASS")]
    m = verdict_metrics(results)
    assert m is not None
    assert (m.accuracy, m.precision, m.recall, m.f1) == (0.0, 0.0, 0.0, 0.0)


def test_nothing_to_catch() -> None:
    m = verdict_metrics([said("PASS_1", "PASS", "PASS")])
    assert m is not None
    assert (m.accuracy, m.precision, m.recall, m.f1) == (1.0, None, None, None)


def test_perfect_model() -> None:
    m = verdict_metrics([said("PASS_1", "PASS", "PASS"), said("FAIL_1", "FAIL", "FAIL")])
    assert m is not None
    assert (m.accuracy, m.precision, m.recall, m.f1) == (1.0, 1.0, 1.0, 1.0)


def test_three_labels_binary_view_and_exact_accuracy() -> None:
    # GOOD is the pass label; BAD and UNSURE are the FAIL side.
    results = [
        said("A", "BAD", "UNSURE", pass_label="GOOD"),  # tp in the binary view, not exact
        said("B", "UNSURE", "UNSURE", pass_label="GOOD"),  # tp, exact
        said("C", "GOOD", "GOOD", pass_label="GOOD"),  # tn, exact
    ]
    m = verdict_metrics(results)
    assert m is not None
    assert (m.tp, m.fn, m.fp, m.tn) == (2, 0, 0, 1)
    assert m.accuracy == pytest.approx(2 / 3)
    assert m.confusion["BAD"] == {"GOOD": 0, "BAD": 0, "UNSURE": 1, "none": 0}


def test_repeats_count_as_predictions() -> None:
    results = [said("FAIL_1", "FAIL", "FAIL"), said("FAIL_1", "FAIL", "PASS")]
    m = verdict_metrics(results)
    assert m is not None
    assert (m.total, m.tp, m.fn) == (2, 1, 1)
    assert m.recall == 0.5


def test_not_a_verdict_task() -> None:
    result = Result("t", "A", "p/a", 1, "{}", "{}", True, kind="json")
    assert verdict_metrics([result]) is None
    assert verdict_metrics([]) is None
