"""Issue 22, guards and work never thrown away: the held-out leak check sees every
held-out value whatever its length, numeric options are range-checked under their own
name, and an optimize session is written as it goes, in a folder of its own."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pytest_llmbench import cli
from pytest_llmbench.cases.records import Case, Expected
from pytest_llmbench.cli.main import build_parser
from pytest_llmbench.cli.optimize import run_optimize
from pytest_llmbench.cli.options import UsageError
from pytest_llmbench.optimize.files import session_dir
from pytest_llmbench.optimize.interviewer import check_proposal
from pytest_llmbench.providers.base import Request
from pytest_llmbench.providers.scripted import ScriptedProvider
from pytest_llmbench.settings.table import spec
from pytest_llmbench.settings.values import OptionError

ORIGINAL = "Grade this posting: {posting}. Answer PASS or FAIL."

# --------------------------------------------------------------------------- leak check


def test_a_short_held_out_id_quoted_in_a_proposal_is_a_leak() -> None:
    held = Case("A7", Expected(verdict="PASS"), prompt="", vars={"posting": "x"})
    [reason] = check_proposal(ORIGINAL, ORIGINAL + " Case A7 is a PASS.", [held])
    assert reason == "contains the gold answer of held-out case A7: 'A7'"


def test_a_short_held_out_input_quoted_in_a_proposal_is_a_leak() -> None:
    held = Case("CASE_1", Expected(verdict="FAIL"), prompt="", vars={"posting": "Intern, 3h"})
    [reason] = check_proposal(ORIGINAL, ORIGINAL + " 'Intern, 3h' is FAIL.", [held])
    assert reason == "contains the gold answer of held-out case CASE_1: 'Intern, 3h'"


def test_short_values_match_whole_tokens_only() -> None:
    held = Case("A7", Expected(json={"level": "ok"}), prompt="", vars={"posting": "42"})
    fine = ORIGINAL + " Look at A70 and 420 and the token: broken."
    assert check_proposal(ORIGINAL, fine, [held]) == []
    assert check_proposal(ORIGINAL, ORIGINAL + " 42 is the answer.", [held]) == [
        "contains the gold answer of held-out case A7: '42'"
    ]


def test_a_short_value_already_in_the_original_is_no_leak() -> None:
    held = Case("PASS", Expected(verdict="PASS"), prompt="", vars={"posting": "x1"})
    assert check_proposal(ORIGINAL, "Be strict. " + ORIGINAL, [held]) == []


# --------------------------------------------------------------------------- option ranges


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    status = cli.main(list(argv))
    return status, capsys.readouterr().err.splitlines()


def test_holdout_zero_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(
            ["optimize", "t.yaml", "--model", "a/b", "--interviewer", "a/c", "--holdout", "0"]
        )
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "llmbench optimize: error: argument --holdout: expected a share in (0, 1), got '0' "
        "(at least one case is held out)"
    )


AB_REPEAT = "llmbench ab: --repeat: expected a whole number of at least 1, got"


def case_file(root: Path, cases: int = 4) -> Path:
    rows = "".join(
        f"  - {{id: C{n}, expected: {{verdict: PASS}}, vars: {{posting: posting {n}}}}}\n"
        for n in range(cases)
    )
    path = root / "grading.yaml"
    path.write_text(
        "task: grading\nprompt: 'Posting: {posting}. PASS or FAIL?'\n"
        "output: {kind: verdict}\ncases:\n" + rows
    )
    return path


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--max-iterations", "0"],
         "llmbench optimize: --max-iterations: expected a whole number of at least 1, got '0'"),
        (["--max-iterations", "-3"],
         "llmbench optimize: --max-iterations: expected a whole number of at least 1, got '-3'"),
        (["--timeout", "0"],
         "llmbench optimize: --timeout: expected a positive number of seconds, got '0'"),
        (["--interviewer-max-tokens", "0"],
         "llmbench optimize: --interviewer-max-tokens: expected a whole number of at least 1, "
         "got '0'"),
    ],
)  # fmt: skip
def test_optimize_numbers_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    path = case_file(tmp_path)
    status, err = call(
        capsys, "optimize", str(path), "--model", "fake/a", "--interviewer", "fake/b",
        "--out", str(tmp_path / "s"), *argv,
    )  # fmt: skip
    assert (status, err) == (2, [line])
    assert not (tmp_path / "s").exists()


def test_optimize_a_task_with_one_case_has_nothing_to_hold_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = case_file(tmp_path, cases=1)
    status, err = call(capsys, "optimize", str(path), "--model", "f/a", "--interviewer", "f/b")
    assert (status, err) == (
        2,
        [
            f"llmbench optimize: {path}: task grading has 1 case(s); the optimizer needs at "
            "least 2 (one is held out from the interviewer)"
        ],
    )


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--repeat", "0"], f"{AB_REPEAT} '0'"),
        (["--repeat", "-1"], f"{AB_REPEAT} '-1'"),
        (["--latency-tolerance", "-0.5"],
         "llmbench ab: --latency-tolerance: expected a finite number of at least 0, got -0.5"),
        (["--cost-tolerance", "nan"],
         "llmbench ab: --cost-tolerance: expected a finite number of at least 0, got nan"),
        (["--min-gain", "inf"], "llmbench ab: --min-gain: expected a finite number, got inf"),
    ],
)  # fmt: skip
def test_ab_numbers_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    path = case_file(tmp_path)
    status, err = call(capsys, "ab", str(path), "--a", "v1", "--b", "v2", "--models", "f/a", *argv)
    assert (status, err) == (2, [line])


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("-1", "expected a positive number of seconds, got '-1'"),
        ("0", "expected a positive number of seconds, got '0'"),
        ("nan", "expected a finite number of seconds, got 'nan' (at most 86400)"),
        ("inf", "expected a finite number of seconds, got 'inf' (at most 86400)"),
    ],
)
def test_run_timeout_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, why: str
) -> None:
    status, err = call(
        capsys, "run", "grading", "--var", "posting=x", "--timeout", value,
        "--registry", str(tmp_path / "none.yaml"),
    )  # fmt: skip
    assert (status, err) == (2, [f"llmbench: --timeout: {why}"])


def test_consensus_pairs_errors_name_the_option_and_the_ini_key() -> None:
    pairs = spec("llm_consensus_pairs")
    assert pairs.errors_as is None  # the ini key's errors are its own
    assert pairs.parse is not None
    with pytest.raises(OptionError) as flag:
        pairs.parse("0")
    assert (
        str(flag.value) == "--llm-consensus-pairs: expected a whole number from 1 to 1000, got '0'"
    )
    with pytest.raises(OptionError) as ini:
        pairs.parse("two", "llm_consensus_pairs")
    assert str(ini.value) == "llm_consensus_pairs: expected a whole number, got 'two'"
    assert pairs.parse("3") == 3


# --------------------------------------------------------------------------- sessions

PASSING = '{"verdict": "PASS"}'


def interviewer(request: Request) -> str:
    return json.dumps(
        {
            "analysis": "too lenient",
            "improved_prompt": "Be careful. Posting: {posting}. PASS or FAIL?",
            "reasoning": "care",
            "has_improvement": True,
        }
    )


def candidate(request: Request) -> str:
    if "careful" in request.prompt or "posting 1" in request.prompt:
        return PASSING
    return '{"verdict": "FAIL"}'


def optimize_args(path: Path, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(
        ["optimize", str(path), "--model", "fake/small", "--interviewer", "fake/interviewer",
         "--out", str(out), "--holdout", "0.25", *extra]
    )  # fmt: skip


def provider() -> ScriptedProvider:
    return ScriptedProvider("fake", {"small": candidate, "interviewer": interviewer})


def test_two_sessions_of_one_model_in_the_same_second_do_not_collide(tmp_path: Path) -> None:
    first = session_dir(tmp_path, "20250601-091500-4242", "fake/small", "grading")
    second = session_dir(tmp_path, "20250601-091500-4242", "fake/small", "grading")
    assert first.name == "20250601-091500-4242_grading_fake_small"
    assert second.name == "20250601-091500-4242-2_grading_fake_small"
    path = case_file(tmp_path)
    out = tmp_path / "sessions"
    run_optimize(optimize_args(path, out), providers={"fake": provider()})
    run_optimize(optimize_args(path, out), providers={"fake": provider()})
    folders = sorted(p.name for p in out.iterdir())
    assert len(folders) == 2
    assert all(f"-{os.getpid()}" in name and "_grading_fake_small" in name for name in folders)
    for folder in out.iterdir():
        assert (folder / "session_data.json").is_file()


def test_the_session_is_written_as_the_loop_goes(tmp_path: Path) -> None:
    path = case_file(tmp_path)
    out = tmp_path / "sessions"
    seen: list[list[str]] = []

    def watching(request: Request) -> str:
        [folder] = out.iterdir()
        seen.append(sorted(p.name for p in folder.iterdir()))
        return interviewer(request)

    fake = ScriptedProvider("fake", {"small": candidate, "interviewer": watching})
    run_optimize(optimize_args(path, out), providers={"fake": fake})
    assert seen[0] == ["test_iteration_1.json"]  # on disk before the interviewer answered


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_prompts_folder_keeps_the_session_and_says_where(tmp_path: Path) -> None:
    path = case_file(tmp_path)
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    prompts.chmod(stat.S_IRUSR | stat.S_IXUSR)
    problems: list[str] = []
    try:
        run_optimize(
            optimize_args(path, tmp_path / "s"), providers={"fake": provider()}, problems=problems
        )
    finally:
        prompts.chmod(stat.S_IRWXU)
    [folder] = (tmp_path / "s").iterdir()
    [problem] = problems
    assert "(Permission denied)" in problem
    assert problem.endswith(f"what was written is in {folder}")
    assert (folder / "session_data.json").is_file()


def test_a_failed_version_write_keeps_the_session_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = case_file(tmp_path)
    (tmp_path / "prompts").write_text("a file where the prompts folder would be")
    problems: list[str] = []
    lines = run_optimize(
        optimize_args(path, tmp_path / "s"), providers={"fake": provider()}, problems=problems
    )
    [folder] = (tmp_path / "s").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == [
        "interview_1.json",
        "optimization_report.md",
        "session_data.json",
        "test_iteration_1.json",
        "test_iteration_2.json",
    ]
    [problem] = problems
    assert problem.startswith(
        f"cannot write the new prompt version {tmp_path / 'prompts' / 'grading_v2.txt'} ("
    )
    assert problem.endswith(
        f"; the best prompt is in {folder / 'optimization_report.md'}; what was written is "
        f"in {folder}"
    )
    data = json.loads((folder / "session_data.json").read_text())
    assert data["best_prompt"] == "Be careful. Posting: {posting}. PASS or FAIL?"
    assert data["new_version_file"] is None
    report = (folder / "optimization_report.md").read_text()
    assert "beat the original, but cannot write the new prompt version" in report
    assert any("session in" in line for line in lines)


def test_an_unwritable_out_folder_fails_before_any_model_is_called(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = case_file(tmp_path)
    (tmp_path / "s").write_text("not a folder")
    fake = provider()
    with pytest.raises(UsageError) as error:
        run_optimize(optimize_args(path, tmp_path / "s"), providers={"fake": fake})
    assert str(error.value).startswith(f"cannot create a session folder in {tmp_path / 's'}: ")
    assert fake.calls == []


@pytest.mark.parametrize("literal", ["...", " ... ", "\u2026"])
def test_a_proposal_of_the_literal_placeholder_is_named_as_such(literal: str) -> None:
    [reason] = check_proposal(ORIGINAL, literal, [])
    assert reason == (
        f"the improved prompt is {literal.strip()!r}: the interviewer copied the literal "
        '"..." placeholder of the answer format instead of writing a prompt'
    )
    assert "drops the template variable" not in reason
