"""Prompt versions: ``prompts:`` in the case file, items and ids per version, ``-k`` and
``--llm-prompt`` selection, ranking of (model, version) pairs, JSON and history fields,
and the gate comparing a version with the same version of the baseline."""

from __future__ import annotations

import json
import sqlite3

import pytest

from pytest_llmbench.cases.load import load_task
from pytest_llmbench.execution.results import Result
from tests.support import factories
from tests.support.casedata import write_versioned_project

CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider


def careful(request):
    # Right only when the prompt asks it to read carefully; lenient otherwise.
    if "carefully" not in request.prompt:
        return '{"verdict": "PASS"}'
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def right(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider(
        "fake", {"careful": careful, "right": right}, latency_s={"right": 0.03}
    ))
"""


@pytest.fixture
def versioned(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    write_versioned_project(pytester.path)
    return pytester


# --------------------------------------------------------------------------- items and ids


def test_every_version_runs_on_every_model(versioned: pytest.Pytester) -> None:
    result = versioned.runpytest("evals", "--collect-only", "-q", "--llm-models=fake")
    result.stdout.fnmatch_lines(
        [
            "evals/grading.yaml::grading::GRADE_PASS_001[[]fake/careful@v1[]]",
            "evals/grading.yaml::grading::GRADE_FAIL_001[[]fake/careful@v1[]]",
            "evals/grading.yaml::grading::GRADE_PASS_001[[]fake/careful@v2[]]",
            "evals/grading.yaml::grading::GRADE_FAIL_001[[]fake/careful@v2[]]",
            "evals/grading.yaml::grading::GRADE_PASS_001[[]fake/right@v1[]]",
            "*",
            "*",
            "evals/grading.yaml::grading::GRADE_FAIL_001[[]fake/right@v2[]]",
            "8 tests collected*",
        ]
    )


def test_repeats_follow_the_version(versioned: pytest.Pytester) -> None:
    result = versioned.runpytest(
        "evals", "--collect-only", "-q", "--llm-models=fake/right", "--llm-repeat=2"
    )
    result.stdout.fnmatch_lines(["*GRADE_PASS_001[[]fake/right@v2-rep2[]]", "8 tests collected*"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-k", "v2"], 4),
        (["-k", "v1 and careful"], 2),
        (["--llm-prompt", "v2"], 4),
        (["--llm-prompt", "v1,v2"], 8),
        (["--llm-prompt", "v3"], 0),
    ],
)
def test_versions_are_selectable(
    versioned: pytest.Pytester, args: list[str], expected: int
) -> None:
    result = versioned.runpytest("evals", "--collect-only", "-q", "--llm-models=fake", *args)
    if expected:
        result.stdout.re_match_lines([rf"^{expected}(/8)? tests collected"])
    else:
        result.stdout.fnmatch_lines(["no tests collected*"])


def test_a_bad_prompt_option_is_a_usage_error(versioned: pytest.Pytester) -> None:
    result = versioned.runpytest("evals", "--llm-models=fake", "--llm-prompt", "v 2")
    result.stderr.fnmatch_lines(["*expected prompt version names such as v2*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


# --------------------------------------------------------------------------- ranking


def result(model: str, version: str, case: str, correct: bool, ms: float) -> Result:
    return factories.result(
        model,
        case,
        got="PASS" if correct else "FAIL",
        correct=correct,
        latency_ms=ms,
        prompt_version=version,
        prompt_version_hash=f"hash-{version}",
    )


def test_the_summary_names_the_champion_pair_and_each_models_version(
    versioned: pytest.Pytester,
) -> None:
    result = versioned.runpytest("evals", "--llm-models=fake", "-p", "no:randomly")
    result.stdout.fnmatch_lines(
        [
            "Champion:  fake/careful@v2 *",
            "Runner-up: fake/right@*",
            "Best prompt per model: fake/careful v2 (2/2, *), fake/right v*",
            "*too lenient on GRADE_FAIL_001*",
        ]
    )


def test_json_and_history_carry_the_version_and_its_hash(versioned: pytest.Pytester) -> None:
    result = versioned.runpytest(
        "evals",
        "--llm-models=fake/careful",
        "--llm-json=out.json",
        "--llm-history=history.db",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # careful@v1 is too lenient
    hashes = {v.name: v.hash for v in load_task(versioned.path / "evals" / "grading.yaml").versions}
    document = json.loads((versioned.path / "out.json").read_text())
    seen = {(r["prompt_version"], r["prompt_version_hash"]) for r in document["results"]}
    assert seen == {("v1", hashes["v1"]), ("v2", hashes["v2"])}
    task = document["tasks"]["grading"]
    assert task["champion"] == "fake/careful@v2"
    assert task["ranking"][0]["prompt_version"] == "v2"
    assert task["ranking"][0]["prompt_version_hash"] == hashes["v2"]
    assert task["disqualified"][0]["model"] == "fake/careful@v1"
    with sqlite3.connect(versioned.path / "history.db") as db:
        records = [json.loads(row[0]) for row in db.execute("SELECT record FROM results")]
        standings = [json.loads(row[0]) for row in db.execute("SELECT standing FROM rankings")]
    assert {(r["prompt_version"], r["prompt_version_hash"]) for r in records} == seen
    assert {s["prompt_version"] for s in standings} == {"v1", "v2"}
