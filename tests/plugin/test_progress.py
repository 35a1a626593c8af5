"""Progress that holds: which model runs and how many of its items remain, each time the
model changes (items are grouped by model)."""

from __future__ import annotations

import pytest

MODELS = "--llm-models=fake/right,fake/lenient"


def test_each_model_change_names_the_model_and_its_items(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", MODELS, "-p", "no:benchmark", "-p", "no:cacheprovider")
    out = result.stdout.str()
    lines = [line for line in out.splitlines() if line.startswith("llmbench: fake/")]
    assert lines == [
        "llmbench: fake/right: 2 items to run (model 1 of 2)",
        "llmbench: fake/lenient: 2 items to run (model 2 of 2)",
    ]
    # the dots go on under the file's name after each line
    assert out.index(lines[0]) < out.index("evals/grading.yaml ..", out.index(lines[0]))
    assert out.index(lines[1]) < out.index("evals/grading.yaml .F", out.index(lines[1]))
