"""The CI gate: --llm-changed-since in a git repository, --llm-baseline, --llm-fail-on."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pytest_llmbench.storage.git import changed_files
from pytest_llmbench.storage.json_report import load_json_rankings

NO_BENCHMARK = ("-p", "no:benchmark")
TWO_RIGHT = "--llm-models=fake/right,fake/slowright"

PROMPT = "Posting: {posting}\nAnswer PASS or FAIL.\n"
GRADING = """\
task: grading
prompt: {file: prompts/grading.txt}
output: {kind: verdict}
cases:
  - id: GRADE_PASS_001
    expected: {verdict: PASS}
    vars: {posting: GOOD one}
  - id: GRADE_FAIL_001
    expected: {verdict: FAIL}
    vars: {posting: BAD one}
"""
OTHER = """\
task: other
prompt: "Posting: {posting}"
output: {kind: verdict}
cases:
  - id: OTHER_PASS_001
    expected: {verdict: PASS}
    vars: {posting: {file: ../fixtures/good.txt}}
"""


def git(directory: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def repo(suite: pytest.Pytester) -> pytest.Pytester:
    """The suite as a git repository: grading reads a prompt file, other a fixture file."""
    evals = suite.path / "evals"
    (evals / "prompts").mkdir()
    (evals / "prompts" / "grading.txt").write_text(PROMPT)
    (evals / "grading.yaml").write_text(GRADING)
    (evals / "other.yaml").write_text(OTHER)
    (suite.path / "fixtures").mkdir()
    (suite.path / "fixtures" / "good.txt").write_text("GOOD posting\n")
    (suite.path / ".gitignore").write_text(".llmbench/\n__pycache__/\n*.json\n")
    git(suite.path, "init", "-q")
    git(suite.path, "add", "-A")
    git(suite.path, "commit", "-qm", "evals")
    return suite


def ids(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if "::" in line]


# --------------------------------------------------------------------------- changed tasks


def test_task_sources_are_the_yaml_the_prompt_and_the_referenced_files(
    repo: pytest.Pytester,
) -> None:
    from pytest_llmbench.cases.load import load_task

    grading = load_task(repo.path / "evals" / "grading.yaml")
    assert grading.sources == (
        (repo.path / "evals" / "grading.yaml").resolve(),
        (repo.path / "evals" / "prompts" / "grading.txt").resolve(),
    )
    other = load_task(repo.path / "evals" / "other.yaml")
    assert other.sources == (
        (repo.path / "evals" / "other.yaml").resolve(),
        (repo.path / "fixtures" / "good.txt").resolve(),
    )


def test_changed_since_with_nothing_changed_runs_nothing_and_passes(
    repo: pytest.Pytester,
) -> None:
    result = repo.runpytest("evals", "--llm-models=fake/right", "--llm-changed-since=HEAD")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "collected 3 items / 3 deselected / 0 selected",
            "llmbench: changed since HEAD: 0 of 2 task(s): none",
            "llmbench: no task changed since HEAD; nothing to benchmark",
        ]
    )


def test_changed_since_selects_a_task_whose_prompt_changed(repo: pytest.Pytester) -> None:
    (repo.path / "evals" / "prompts" / "grading.txt").write_text(PROMPT + "Be strict.\n")
    result = repo.runpytest(
        "evals", "--llm-models=fake/right", "--llm-changed-since=HEAD", "--collect-only", "-q"
    )
    assert ids(result) == [
        "evals/grading.yaml::grading::GRADE_PASS_001[fake/right]",
        "evals/grading.yaml::grading::GRADE_FAIL_001[fake/right]",
    ]
    result.stdout.fnmatch_lines(["2/3 tests collected (1 deselected)*"])


def test_changed_since_follows_referenced_fixtures_and_new_files(repo: pytest.Pytester) -> None:
    (repo.path / "fixtures" / "good.txt").write_text("GOOD posting, edited\n")
    result = repo.runpytest(
        "evals", "--llm-models=fake/right", "--llm-changed-since=HEAD", "--collect-only", "-q"
    )
    assert ids(result) == ["evals/other.yaml::other::OTHER_PASS_001[fake/right]"]
    git(repo.path, "commit", "-qam", "fixture")
    new = GRADING.replace("task: grading", "task: fresh")
    (repo.path / "evals" / "fresh.yaml").write_text(new)  # untracked
    result = repo.runpytest(
        "evals", "--llm-models=fake/right", "--llm-changed-since=HEAD", "--collect-only", "-q"
    )
    assert [i.split("::")[1] for i in ids(result)] == ["fresh", "fresh"]
    # against the commit before, the fixture change counts again
    result = repo.runpytest(
        "evals", "--llm-models=fake/right", "--llm-changed-since=HEAD~1", "--collect-only", "-q"
    )
    assert sorted({i.split("::")[1] for i in ids(result)}) == ["fresh", "other"]


def test_changed_since_bad_ref(repo: pytest.Pytester) -> None:
    result = repo.runpytest("evals", "--llm-models=fake/right", "--llm-changed-since=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --llm-changed-since: unknown git revision 'nope'"])
    assert "Traceback" not in result.stderr.str()


def test_changed_since_outside_a_repository(suite: pytest.Pytester) -> None:
    if (
        subprocess.run(
            ["git", "rev-parse"], cwd=suite.path, capture_output=True, check=False
        ).returncode
        == 0
    ):
        pytest.skip("the temporary directory is inside a git repository")
    result = suite.runpytest("evals", "--llm-models=fake/right", "--llm-changed-since=HEAD")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --llm-changed-since: * is not in a git repository"])


# --------------------------------------------------------------------------- the baseline


def test_json_document_round_trips_to_rankings(suite: pytest.Pytester) -> None:
    out = suite.path / "base.json"
    suite.runpytest("evals", "--llm-models=fake", *NO_BENCHMARK, f"--llm-json={out}")
    [ranking] = load_json_rankings(out)
    assert ranking.champion is not None
    assert ranking.champion.model == "fake/right"
    disqualified = {s.model: s for s in ranking.disqualified}
    assert set(disqualified) == {"fake/lenient", "fake/strict", "fake/garbage"}
    assert disqualified["fake/lenient"].misses[0].direction == "too lenient"
    assert disqualified["fake/lenient"].score == "1/2"


def test_a_baseline_keeps_which_runs_a_model_did_not_make(suite: pytest.Pytester) -> None:
    out = suite.path / "base.json"
    # one case deselected for fake/lenient only: it made one of the two runs
    suite.runpytest(
        "evals",
        "--llm-models=fake/right,fake/lenient",
        *NO_BENCHMARK,
        "--deselect",
        "evals/grading.yaml::grading::GRADE_FAIL_001[fake/lenient]",
        f"--llm-json={out}",
    )
    [ranking] = load_json_rankings(out)
    [lenient] = ranking.disqualified
    assert lenient.model == "fake/lenient"
    assert lenient.incomplete is not None
    assert lenient.incomplete.missing == (("GRADE_FAIL_001", 1),)
    assert lenient.miss_summary().startswith("incomplete: 1 of 2 cases not run")


# --------------------------------------------------------------------------- the gate, end to end


def test_gate_fails_when_an_edited_prompt_breaks_the_champion(repo: pytest.Pytester) -> None:
    first = repo.runpytest("evals", TWO_RIGHT, *NO_BENCHMARK)
    first.assert_outcomes(passed=6)
    # The edit makes every prompt say GOOD: the scripted models now pass everything.
    (repo.path / "evals" / "prompts" / "grading.txt").write_text(
        "A GOOD grader reads: {posting}\nAnswer PASS or FAIL.\n"
    )
    result = repo.runpytest(
        "evals",
        TWO_RIGHT,
        *NO_BENCHMARK,
        "--llm-changed-since=HEAD",
        "--llm-baseline=last",
        "--llm-fail-on=champion",
        "--llm-eliminate=off",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, xfailed=2, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "*llmbench gate*",
            "compared with run *: grading",
            "FAILED: 3 reason(s)",
            "  grading: lost its champion (was fake/right; no model qualified; "
            "nearest miss fake/right, 1/2)",
            "  grading: champion fake/right lost correctness: 1/2 (too lenient on GRADE_FAIL_001)",
            "  grading: no model qualified (nearest miss fake/right, 1/2)",
        ]
    )


def test_gate_passes_when_an_edited_prompt_keeps_the_champion(repo: pytest.Pytester) -> None:
    repo.runpytest("evals", TWO_RIGHT, *NO_BENCHMARK).assert_outcomes(passed=6)
    (repo.path / "evals" / "prompts" / "grading.txt").write_text(PROMPT + "Answer with one word.\n")
    result = repo.runpytest(
        "evals",
        TWO_RIGHT,
        *NO_BENCHMARK,
        "--llm-changed-since=HEAD",
        "--llm-baseline=last",
        "--llm-max-slowdown=100000%",  # the scripted models answer in microseconds: noise
    )
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=4, deselected=2)
    result.stdout.fnmatch_lines(
        ["*llmbench gate*", "compared with run *: grading", "passed: no regression"]
    )


def test_gate_fails_on_slowdown_against_a_json_baseline(suite: pytest.Pytester) -> None:
    base = suite.path / "base.json"
    suite.runpytest("evals", "--llm-models=fake/slowright", *NO_BENCHMARK, f"--llm-json={base}")
    document = json.loads(base.read_text())
    measured = document["tasks"]["grading"]["ranking"][0]["mean_ms"]
    assert measured >= 50  # the scripted model sleeps 50 ms a call
    document["tasks"]["grading"]["ranking"][0]["mean_ms"] = 10.0
    base.write_text(json.dumps(document))
    result = suite.runpytest(
        "evals", "--llm-models=fake/slowright", *NO_BENCHMARK, f"--llm-baseline={base}"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            f"compared with {base}: grading",
            "FAILED: 1 reason(s)",
            "  grading: champion latency grew *% (10 ms -> * ms, fake/slowright; limit 20%)",
        ]
    )
    document["tasks"]["grading"]["ranking"][0]["mean_ms"] = 10_000.0
    base.write_text(json.dumps(document))
    again = suite.runpytest(
        "evals", "--llm-models=fake/slowright", *NO_BENCHMARK, f"--llm-baseline={base}"
    )
    assert again.ret == pytest.ExitCode.OK


def test_gate_against_a_history_run_id(suite: pytest.Pytester) -> None:
    suite.runpytest("evals", "--llm-models=fake/right", *NO_BENCHMARK)
    from pytest_llmbench.storage.history import list_runs

    [run] = list_runs(suite.path / ".llmbench" / "history.sqlite")
    result = suite.runpytest(
        "evals", "--llm-models=fake/lenient", *NO_BENCHMARK, f"--llm-baseline={run.id[:17]}"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [f"compared with run {run.id}: grading", "  grading: lost its champion (was fake/right;*"]
    )


def test_baseline_last_without_history_compares_nothing(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "evals", "--llm-models=fake/right", *NO_BENCHMARK, "--llm-baseline=last"
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["no history at *: no baseline, nothing compared"])


def test_fail_on_champion_xfails_wrong_answers(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "evals",
        "--llm-models=fake/right,fake/lenient",
        *NO_BENCHMARK,
        "--llm-fail-on=champion",
        "--llm-eliminate=off",
        "-rx",
    )
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "Champion:  fake/right*",
            "*llmbench gate*",
            "passed: every task has a champion",
            "XFAIL evals/grading.yaml::grading::GRADE_FAIL_001[[]fake/lenient[]] - "
            "too lenient: expected FAIL, got PASS*",
        ]
    )


def test_fail_on_champion_fails_a_task_without_champion(suite: pytest.Pytester) -> None:
    out = suite.path / "bench.json"
    result = suite.runpytest(
        "evals",
        "--llm-models=fake/lenient,fake/strict",
        *NO_BENCHMARK,
        "--llm-fail-on=champion",
        "--llm-eliminate=off",
        f"--llm-json={out}",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, xfailed=2)
    result.stdout.fnmatch_lines(
        ["FAILED: 1 reason(s)", "  grading: no model qualified (nearest miss fake/*, 1/2)"]
    )
    assert len(json.loads(out.read_text())["results"]) == 4


def test_changed_files_with_unusual_names(repo: pytest.Pytester) -> None:
    prompt = repo.path / "evals" / "prompts" / "grädîng v2.txt"
    prompt.write_text(PROMPT)
    git(repo.path, "add", "-A")
    git(repo.path, "commit", "-qm", "unusual name")
    prompt.write_text(PROMPT + "Edited.\n")
    assert changed_files(repo.path, "HEAD") == {prompt.resolve()}
