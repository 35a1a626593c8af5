"""Shared test data: a scripted-provider conftest and a small grading task."""

from __future__ import annotations

import pytest

FAKE_CONFTEST = """
from pytest_llmbench.testing import ScriptedProvider


def by_posting(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("fake", {
        "right": by_posting,
        "slowright": by_posting,
        "lenient": lambda request: '{"verdict": "PASS"}',
        "strict": lambda request: '{"verdict": "FAIL"}',
        "garbage": lambda request: "I think it is fine",
    }, latency_s={"slowright": 0.05}))
"""

GRADING_YAML = """\
task: grading
description: Grade a posting.
prompt: "Posting: {posting}\\nAnswer PASS or FAIL."
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - id: GRADE_PASS_001
    expected: {verdict: PASS}
    difficulty: easy
    batch: 1
    tags: [acme]
    vars: {posting: GOOD one}
    why: a good one
  - id: GRADE_FAIL_001
    expected: {verdict: FAIL}
    difficulty: hard
    batch: 2
    vars: {posting: BAD one}
    why: a bad one
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with the scripted provider and the grading task in evals/."""
    pytester.makeconftest(FAKE_CONFTEST)
    evals = pytester.mkdir("evals")
    (evals / "grading.yaml").write_text(GRADING_YAML)
    return pytester
