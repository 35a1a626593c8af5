"""Issue 22, bad input on the new surfaces: the router, ``llmbench run/rankings/feedback/ab/
optimize``, judges, consensus and prompt versions.  Each bad input is answered with one
clear line (no traceback) and the exit status the README gives: 2 for bad usage or a bad
case file, 1 when the command cannot answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench import Router, RouterError, cli
from pytest_llmbench.providers.scripted import ScriptedProvider
from pytest_llmbench.storage.champions import Evidence, RegistryEntry, load_registry, registry_text

GRADING = """\
task: grading
prompts:
  v1: "Posting: {posting}. PASS or FAIL?"
  v2: "Check the band. Posting: {posting}. PASS or FAIL?"
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - {id: C1, expected: {verdict: PASS}, vars: {posting: GOOD one}}
  - {id: C2, expected: {verdict: FAIL}, vars: {posting: BAD one}}
  - {id: C3, expected: {verdict: PASS}, vars: {posting: GOOD two}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "grading.yaml").write_text(GRADING)
    entry = RegistryEntry(
        "grading",
        Evidence("fake/good", 3, 3, 100.0, 120.0, "20250601T091500Z-3fa2c1", "2025-06-01"),
        case_file="evals/grading.yaml",
    )
    (tmp_path / "llmbench-registry.yaml").write_text(registry_text({"grading": entry}))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Exit status and the one line on stderr (asserting there is exactly one)."""
    status = cli.main(list(argv))
    _, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return status, lines[0]


# --------------------------------------------------------------------------- Router


def router(project: Path) -> Router:
    registry = project / "llmbench-registry.yaml"
    good = ScriptedProvider("fake", {"good": lambda request: '{"verdict": "PASS"}'})
    return Router(registry, load_registry(registry), providers=[good], feedback=False)


def test_router_unknown_task_names_the_known_ones(project: Path) -> None:
    with pytest.raises(RouterError) as error:
        router(project).run("gradin", posting="x")
    assert "gradin" in str(error.value)
    assert "grading" in str(error.value)
    assert "\n" not in str(error.value)


def test_router_missing_variable(project: Path) -> None:
    with pytest.raises(RouterError) as error:
        router(project).run("grading")
    assert str(error.value) == "task grading: no value for posting (the prompt uses posting)"


@pytest.mark.parametrize("value", [None, 3, 2.5, ["a", "b"], {"k": "v"}])
def test_router_non_string_values_are_rendered_not_fatal(project: Path, value: object) -> None:
    result = router(project).run("grading", variables={"posting": value})
    assert result.value == "PASS"


@pytest.mark.parametrize(
    ("registry_text_", "needle"),
    [
        ("", "has no task"),
        ("- just\n- a list\n", "llmbench-registry.yaml"),
    ],
)
def test_router_bad_registry_is_one_router_error(
    project: Path, registry_text_: str, needle: str
) -> None:
    (project / "llmbench-registry.yaml").write_text(registry_text_)
    with pytest.raises(RouterError) as error:
        Router.from_registry(project / "llmbench-registry.yaml")
    assert needle in str(error.value)
    assert "\n" not in str(error.value).strip()


def test_router_registry_that_is_a_folder(project: Path) -> None:
    with pytest.raises(RouterError) as error:
        Router.from_registry(project / "evals")
    assert str(error.value).startswith(f"no registry at {project / 'evals'}")


def test_router_case_file_missing(project: Path) -> None:
    (project / "evals" / "grading.yaml").unlink()
    with pytest.raises(RouterError) as error:
        router(project).run("grading", posting="x")
    assert "grading" in str(error.value)


def test_router_case_file_of_another_task(project: Path) -> None:
    (project / "evals" / "grading.yaml").write_text(GRADING.replace("task: grading", "task: x"))
    with pytest.raises(RouterError) as error:
        router(project).run("grading", posting="x")
    assert "grading" in str(error.value)


# --------------------------------------------------------------------------- llmbench run


@pytest.mark.parametrize(
    ("argv", "status", "start"),
    [
        (["run", "nosuch", "--var", "posting=x"], 1, "llmbench: "),
        (["run", "grading", "--var", "=x"], 2, "llmbench: --var expects name=value"),
        (["run", "grading", "--var", "posting"], 2, "llmbench: --var expects name=value"),
        (["run", "grading", "--var", "posting=@evals"], 2, "llmbench: --var posting: may not"),
        (["run", "grading", "--var", "posting=@nofile"], 2, "llmbench: --var posting: cannot"),
        (["run", "grading", "--var", "posting=x", "--endpoint", "bad"], 2, "llmbench: --endpoint:"),
        (["run", "grading", "--var", "posting=x", "--registry", "evals"], 1, "llmbench: no regi"),
        (["run", "grading", "--var", "posting=x", "--registry", "no.yaml"], 1, "llmbench: no regi"),
        (["run", "grading", "--var", "posting=x", "--timeout", "1e9"], 2, "llmbench: --timeout:"),
        (["run", "grading", "--var", "posting=x", "--ollama-host", "ftp://h"], 1, "llmbench: "),
    ],
)  # fmt: skip
def test_run_bad_input(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], status: int, start: str
) -> None:
    got, line = call(capsys, *argv)
    assert got == status
    assert line.startswith(start)


def test_run_var_not_utf8(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    status, line = call(capsys, "run", "grading", "--var", "posting=@latin1.txt")
    assert status == 2
    assert line.startswith("llmbench: --var posting: cannot read latin1.txt: ")


# --------------------------------------------------------------------------- rankings, feedback


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["rankings", "--registry", "no.yaml"], "llmbench: no registry at no.yaml"),
        (["rankings", "--registry", "evals"], "llmbench: no registry at evals"),
        (["rankings", "--task", "nosuch"], "llmbench: task 'nosuch' is not in registry"),
        (["feedback", "--feedback", "no.jsonl"], "llmbench: no feedback log at no.jsonl"),
        (["feedback", "--feedback", "evals"], "llmbench: cannot read the feedback log evals: "),
    ],
)
def test_rankings_and_feedback_bad_input(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], start: str
) -> None:
    status, line = call(capsys, *argv)
    assert status == 1
    assert line.startswith(start)


def test_rankings_without_any_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, line = call(capsys, "rankings")
    assert status == 1
    assert line.startswith("llmbench: no llmbench-registry.yaml in ")


# --------------------------------------------------------------------------- ab, prompt versions

AB = ["ab", "evals/grading.yaml"]


@pytest.mark.parametrize(
    ("argv", "status", "line"),
    [
        ([*AB, "--a", "v1", "--b", "v9", "--models", "fake/good"], 2,
         "llmbench ab: evals/grading.yaml: no prompt version 'v9'; it has v1, v2"),
        ([*AB, "--a", "v0", "--b", "v2", "--models", "fake/good"], 2,
         "llmbench ab: evals/grading.yaml: no prompt version 'v0'; it has v1, v2"),
        ([*AB, "--a", "v1", "--b", "v2"], 2,
         "llmbench ab: give --models to run, or --results RUN.json to read a run"),
        (["ab", "no.yaml", "--a", "v1", "--b", "v2", "--models", "fake/good"], 2,
         "llmbench ab: cannot read no.yaml: No such file or directory"),
        (["ab", "evals", "--a", "v1", "--b", "v2", "--models", "fake/good"], 2,
         "llmbench ab: cannot read evals: Is a directory"),
        ([*AB, "--a", "v1", "--b", "v2", "--results", "no.json"], 2,
         "llmbench ab: --results no.json: no such file; give --results the file pytest "
         "--llm-json=PATH wrote"),
        ([*AB, "--a", "v1", "--b", "v2", "--models", "nomodel"], 1,
         "llmbench ab: 'nomodel': a model is named provider/name"),
        ([*AB, "--a", "v1", "--b", "v2", "--models", "nosuchprovider/x"], 1,
         "llmbench ab: unknown provider 'nosuchprovider' (a model is named provider/name)"),
    ],
)  # fmt: skip
def test_ab_bad_input(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], status: int, line: str
) -> None:
    assert call(capsys, *argv) == (status, line)


def test_prompt_version_file_missing_is_a_case_file_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "evals" / "grading.yaml").write_text(
        GRADING.replace('v2: "Check the band. Posting: {posting}. PASS or FAIL?"',
                        "v2: {file: prompts/missing_v2.txt}")
    )  # fmt: skip
    status, line = call(capsys, *AB, "--a", "v1", "--b", "v2", "--models", "fake/good")
    assert status == 2
    assert line.startswith("llmbench ab: ")
    assert "missing_v2.txt" in line


# --------------------------------------------------------------------------- optimize

OPT = ["optimize", "evals/grading.yaml", "--interviewer", "fake/interviewer"]


@pytest.mark.parametrize(
    ("argv", "status", "line"),
    [
        ([*OPT, "--model", "fake/good", "--prompt", "v9"], 2,
         "llmbench optimize: evals/grading.yaml: no prompt version 'v9'; its versions: v1, v2"),
        (["optimize", "evals", "--model", "fake/good", "--interviewer", "fake/i"], 2,
         "llmbench optimize: cannot read evals: Is a directory"),
        (["optimize", "no.yaml", "--model", "fake/good", "--interviewer", "fake/i"], 2,
         "llmbench optimize: cannot read no.yaml: No such file or directory"),
        ([*OPT, "--model", "fake/good", "--out", "evals/grading.yaml"], 1,
         "llmbench optimize: unknown provider 'fake' (a model is named provider/name)"),
        (["optimize", "evals/grading.yaml", "--model", "fake/good", "--interviewer", "x"], 1,
         "llmbench optimize: 'x': a model is named provider/name"),
    ],
)  # fmt: skip
def test_optimize_bad_input(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], status: int, line: str
) -> None:
    assert call(capsys, *argv) == (status, line)


# --------------------------------------------------------------------------- judges, consensus


@pytest.mark.parametrize(
    ("block", "needle"),
    [
        ("consensus: {models: 1}\n", "consensus"),
        ("consensus: {models: two}\n", "consensus"),
        ("consensus: yes-please\n", "consensus"),
        ("judge: {model: nomodel}\n", "judge"),
        ("judge: 42\n", "judge"),
    ],
)
def test_bad_consensus_or_judge_block_is_one_case_file_line(
    project: Path, capsys: pytest.CaptureFixture[str], block: str, needle: str
) -> None:
    (project / "evals" / "grading.yaml").write_text(GRADING + block)
    status, line = call(capsys, *AB, "--a", "v1", "--b", "v2", "--models", "fake/good")
    assert status == 2
    assert line.startswith("llmbench ab: ")
    assert needle in line
