"""LLMBenchWarning: the plugin's warnings go through ``warnings.warn``, so users filter them."""

from __future__ import annotations

import pytest

from tests.support.casedata import GRADING_YAML

# An embedded-like provider whose prompts were rendered in llama-cpp-python's fallback
# chat format (a GGUF with no template, an unknown architecture): what the llamacpp
# provider records on such a model's responses.
GUESSING_CONFTEST = """
import dataclasses

from pytest_llmbench.providers.base import FALLBACK_CHAT_FORMAT
from pytest_llmbench.providers.scripted import ScriptedProvider


class Guessing(ScriptedProvider):
    def generate(self, request):
        response = super().generate(request)
        return dataclasses.replace(response, chat_format=FALLBACK_CHAT_FORMAT)


def by_posting(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(Guessing("guess", {"mystery": by_posting}))
"""


@pytest.fixture
def guessing(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(GUESSING_CONFTEST)
    (pytester.mkdir("evals") / "grading.yaml").write_text(GRADING_YAML)
    return pytester


def test_a_fallback_chat_format_is_warned_once_per_model(guessing: pytest.Pytester) -> None:
    result = guessing.runpytest_subprocess("evals", "--llm-models=guess", "-p", "no:benchmark")
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*LLMBenchWarning: guess/mystery: no chat template in the GGUF*"
            "fallback llama-2 [[]INST] format*",
        ]
    )


def test_w_error_turns_the_fallback_chat_format_warning_into_an_error(
    guessing: pytest.Pytester,
) -> None:
    result = guessing.runpytest(
        "evals",
        "--llm-models=guess",
        "-p",
        "no:benchmark",
        "-W",
        "error::pytest_llmbench.LLMBenchWarning",
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*LLMBenchWarning: guess/mystery: no chat template*"])


def test_filterwarnings_ignore_silences_it(guessing: pytest.Pytester) -> None:
    guessing.makeini("[pytest]\nfilterwarnings = ignore::pytest_llmbench.LLMBenchWarning\n")
    result = guessing.runpytest_subprocess("evals", "--llm-models=guess", "-p", "no:benchmark")
    result.assert_outcomes(passed=2)
    assert "LLMBenchWarning" not in result.stdout.str()


def test_the_warning_is_a_pytest_warning() -> None:
    from pytest_llmbench import LLMBenchWarning

    assert issubclass(LLMBenchWarning, pytest.PytestWarning)
    assert LLMBenchWarning.__module__ == "pytest_llmbench"
