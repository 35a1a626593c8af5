"""Prompt versions: ``prompts:`` in the case file, items and ids per version, ``-k`` and
``--llm-prompt`` selection, ranking of (model, version) pairs, JSON and history fields,
and the gate comparing a version with the same version of the baseline."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from pytest_llmbench.analysis.ranking import best_versions, rank_task
from pytest_llmbench.analysis.regression import compare
from pytest_llmbench.cases.model import CaseFileError, load_task
from pytest_llmbench.execution.results import Result
from tests.support import factories

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

VERSIONED = """\
task: grading
prompts:
  v1: {file: prompts/grading_v1.txt}
  v2: {file: prompts/grading_v2.txt}
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - id: GRADE_PASS_001
    expected: {verdict: PASS}
    vars: {posting: GOOD one}
  - id: GRADE_FAIL_001
    expected: {verdict: FAIL}
    vars: {posting: BAD one}
"""


def write_project(root: Path) -> Path:
    evals = root / "evals"
    (evals / "prompts").mkdir(parents=True)
    (evals / "prompts" / "grading_v1.txt").write_text("Posting: {posting}\nPASS or FAIL?")
    (evals / "prompts" / "grading_v2.txt").write_text(
        "Read carefully.\nPosting: {posting}\nPASS or FAIL?"
    )
    path = evals / "grading.yaml"
    path.write_text(VERSIONED)
    return path


@pytest.fixture
def versioned(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    write_project(pytester.path)
    return pytester


# --------------------------------------------------------------------------- case file


def test_versions_render_every_case_with_their_own_template(tmp_path: Path) -> None:
    task = load_task(write_project(tmp_path))
    assert [v.name for v in task.versions] == ["v1", "v2"]
    v1, v2 = task.versions
    assert v1.file == "prompts/grading_v1.txt"
    assert [c.prompt for c in v2.cases] == [
        "Read carefully.\nPosting: GOOD one\nPASS or FAIL?",
        "Read carefully.\nPosting: BAD one\nPASS or FAIL?",
    ]
    assert {c.prompt_version for c in v2.cases} == {"v2"}
    assert {c.prompt_version_hash for c in v2.cases} == {v2.hash}
    assert v1.hash != v2.hash
    assert len(v1.hash) == 16
    assert task.cases == v1.cases  # the first version stands for the task
    assert task.template == "Posting: {posting}\nPASS or FAIL?"
    assert v2.cases[0].vars == {"posting": "GOOD one"}


def test_a_single_prompt_has_no_version(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "task: t\nprompt: 'Q {x}'\ncases: [{id: A, expected: {contains: [a]}, vars: {x: 1}}]\n"
    )
    task = load_task(path)
    assert task.versions == ()
    assert task.cases[0].prompt_version == ""
    assert task.cases[0].prompt_version_hash == ""


def test_a_version_missing_a_variable_and_prompt_with_prompts_are_errors(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    (path.parent / "prompts" / "grading_v2.txt").write_text("{posting} and {summary}")
    path.write_text(VERSIONED.replace("prompts:\n", "prompt: x\nprompts:\n"))
    with pytest.raises(CaseFileError) as info:
        load_task(path)
    message = str(info.value)
    assert "give either prompt or prompts, not both" in message
    assert (
        "template variable {summary} has no value in case 'GRADE_PASS_001' (prompt version v2)"
        in message
    )
    assert message.count("{summary}") == 2  # once per case, not once per version and case


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


def pairs_results(v2_right: bool = True) -> list[Result]:
    return [
        result("p/small", "v1", "A", True, 10),
        result("p/small", "v1", "B", False, 10),
        result("p/small", "v2", "A", True, 12),
        result("p/small", "v2", "B", v2_right, 12),
        result("p/big", "v1", "A", True, 50),
        result("p/big", "v1", "B", True, 50),
        result("p/big", "v2", "A", True, 55),
        result("p/big", "v2", "B", True, 55),
    ]


def test_the_ranking_ranks_model_version_pairs() -> None:
    ranking = rank_task("grading", pairs_results())
    assert [s.model for s in ranking.standings] == [
        "p/small@v2",
        "p/big@v1",
        "p/big@v2",
        "p/small@v1",
    ]
    champion = ranking.champion
    assert champion is not None
    assert (champion.model_id, champion.prompt_version) == ("p/small", "v2")
    assert champion.prompt_version_hash == "hash-v2"
    best = best_versions(ranking)
    assert {model: s.prompt_version for model, s in best.items()} == {
        "p/small": "v2",
        "p/big": "v1",
    }


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


# --------------------------------------------------------------------------- the gate


def test_the_gate_compares_a_version_with_the_same_version() -> None:
    baseline = [rank_task("grading", pairs_results())]
    current = [rank_task("grading", pairs_results(v2_right=False))]
    report = compare(baseline, current, max_slowdown=10.0)
    # small@v2 was the champion; now small@v2 is wrong on B.  small@v1 (also wrong) and
    # big@v1 (right) are other pairs and do not stand in for it.
    assert any("champion p/small@v2 lost correctness: 1/2" in r for r in report.reasons)
    assert report.notes == ()


def test_the_gate_names_a_version_whose_text_changed() -> None:
    baseline = [rank_task("grading", pairs_results())]
    edited = [
        Result(**{**r.to_dict(), "prompt_version_hash": "hash-v2-edited"})
        if r.prompt_version == "v2"
        else r
        for r in pairs_results()
    ]
    report = compare(baseline, [rank_task("grading", edited)], max_slowdown=10.0)
    assert not report.failed
    assert report.notes == (
        "grading: prompt v2 changed since the baseline (hash hash-v2 -> hash-v2-edited)",
    )
