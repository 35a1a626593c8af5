"""Suspect gold: cases where the models agree with each other against the gold label.

Pure module.  When at least 3 models, and at least 75% of the models that ran a case,
give the *same wrong* answer, the human label may be what is wrong: the summary flags
the case for a human to recheck (nothing is changed automatically).

A model's answer to a case is its parsed answer (the label for verdict tasks, ``got``
otherwise) when every run of the case gave the same one and it was wrong; a model
whose runs disagree, or that failed to answer, agrees with nobody but still counts
among the models that ran the case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_llmbench.execution.results import Result

__all__ = ["MIN_MODELS", "MIN_SHARE", "SuspectGold", "find_suspect_gold"]

MIN_MODELS = 3
MIN_SHARE = 0.75


@dataclass(frozen=True)
class SuspectGold:
    case_id: str
    gold: str
    answer: str
    """The answer the agreeing models gave instead."""
    models: tuple[str, ...]
    """The models that gave it."""
    of: int
    """How many models ran the case."""

    def describe(self) -> str:
        return (
            f"{self.case_id}: {len(self.models)} of {self.of} models say {self.answer}, "
            f"gold is {self.gold}"
        )


def _answer(result: Result) -> str | None:
    if result.error:
        return None
    if result.kind == "verdict":
        return result.got_label
    return result.got or None


def find_suspect_gold(
    results: Iterable[Result], min_models: int = MIN_MODELS, min_share: float = MIN_SHARE
) -> tuple[SuspectGold, ...]:
    """The cases of one task whose gold label most models contradict alike."""
    runs: dict[str, dict[str, list[Result]]] = {}
    for r in results:
        runs.setdefault(r.case_id, {}).setdefault(r.model, []).append(r)
    found: list[SuspectGold] = []
    for case_id, by_model in runs.items():
        wrong_answers: dict[str, str] = {}
        for model, model_runs in by_model.items():
            answers = {_answer(r) for r in model_runs}
            if len(answers) != 1 or any(r.correct for r in model_runs):
                continue
            answer = answers.pop()
            if answer is not None:
                wrong_answers[model] = answer
        if not wrong_answers:
            continue
        answer, count = Counter(wrong_answers.values()).most_common(1)[0]
        if count >= min_models and count >= min_share * len(by_model):
            first = next(iter(by_model.values()))[0]
            agreeing = tuple(m for m, a in wrong_answers.items() if a == answer)
            gold = first.expected_label if first.kind == "verdict" else first.expected
            found.append(
                SuspectGold(case_id, gold or first.expected, answer, agreeing, len(by_model))
            )
    return tuple(found)
