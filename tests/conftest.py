"""Shared test data: a scripted-provider conftest and a small grading task."""

from __future__ import annotations

import contextlib
import importlib

import pytest

# openai's HTTP stack (httpx2) imports its transport package (httpcore2) lazily, inside
# functions.  pytester's in-process runs drop the modules first imported during a run, so
# a later import would make a second copy with other exception classes, and httpx2 would
# no longer recognise a refused connection or a timeout.  Import it once, up front.
# The same for yaml (cases/yaml_lines.py imports it when first needed): libyaml's parser, a C
# extension that is never imported twice, would go on making the nodes and raising the
# errors of the first copy, which the second copy's isinstance and except do not know.
for _module in ("httpcore2", "httpcore", "yaml"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_module)

FAKE_CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider


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


@pytest.fixture(autouse=True)
def _no_hosted_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the hosted OpenAI API, whatever the developer's environment holds."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with the scripted provider and the grading task in evals/."""
    pytester.makeconftest(FAKE_CONFTEST)
    evals = pytester.mkdir("evals")
    (evals / "grading.yaml").write_text(GRADING_YAML)
    return pytester
