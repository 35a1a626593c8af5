"""execution/judge.py and analysis/calibration.py: parsing, applying and calibrating judgements."""

from __future__ import annotations

import warnings

import pytest

from pytest_llmbench.analysis.calibration import agreement, judge_summary
from pytest_llmbench.execution.judge import (
    JudgeError,
    JudgeJob,
    Judgement,
    apply_judgement,
    family_of,
    parse_judgement,
    resolve_judge,
)
from pytest_llmbench.execution.quality import Part
from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.base import ModelInfo


def test_parse_judgement() -> None:
    assert parse_judgement('{"score": 0.75, "reason": " Good\\n enough. "}') == Judgement(
        0.75, "Good enough."
    )
    assert parse_judgement('```json\n{"score": "1", "reason": "ok"}\n```').score == 1.0
    for bad, why in [
        ('{"score": 7, "reason": "x"}', "score 7 is not between 0 and 1"),
        ('{"reason": "x"}', "no numeric score"),
        ("fine", "not valid JSON"),
    ]:
        with pytest.raises(JudgeError, match=why):
            parse_judgement(bad)


def test_apply_judgement_adds_a_part_to_the_heuristics() -> None:
    job = JudgeJob("t", "C", "p/a", 1, "p/j", "prompt", threshold=0.7)
    base = Result("t", "C", "p/a", 1, "", "x", True, score=1.0, parts=(Part("words", 1.0),))
    judged = apply_judgement(base, job, "p/j", Judgement(0.5, "Vague."), judge_ms=12.0)
    assert (judged.correct, judged.score) == (False, 0.75)
    assert judged.reason == "judge 0.5 < 0.7: Vague."
    assert (judged.judge_model, judged.judge_ms, judged.latency_ms) == ("p/j", 12.0, None)


def test_resolve_judge() -> None:
    offered = {"p/b": ModelInfo("p", "b")}
    registered = {"grading": ["p/a", "p/b"]}
    assert resolve_judge("task:grading", registered, offered.get)[0] == offered["p/b"]
    assert resolve_judge("task:other", registered, offered.get) == (
        None,
        "no champion registered for task other to judge with",
    )
    assert resolve_judge("p/b", {}, offered.get) == (offered["p/b"], "")


def test_family_and_same_family_flag() -> None:
    assert family_of("ollama/qwen2.5:7b") == family_of("ollama/qwen2.5:0.5b") == "qwen"
    assert family_of("llamacpp/smollm2-135m") == "smollm"
    judged = Result(
        "t",
        "C",
        "ollama/qwen2.5:0.5b",
        1,
        "",
        "",
        True,
        judge_model="ollama/qwen2.5:7b",
        judge_score=1.0,
    )
    summary = judge_summary([judged])
    assert summary is not None
    assert summary.warnings() == [
        "self-preference: judged by a model of the same family: "
        "ollama/qwen2.5:0.5b by ollama/qwen2.5:7b"
    ]


def test_agreement() -> None:
    found = agreement("p/j", "grading", [("A", True, True), ("B", False, True), ("C", True, None)])
    assert (found.agreed, found.total, found.disagreed, found.errors) == (1, 3, ("B", "C"), ("C",))
    assert found.low
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert found.warning() is not None
