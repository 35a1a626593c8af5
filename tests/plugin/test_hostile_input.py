"""Hostile input: case files that try to read outside the project, secrets, escapes, hangs.

Case files are untrusted (they arrive in pull requests that the CI gate runs); so is
what a model or a model server says.  Issue 13, parts 1 to 4.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAD = """\
task: probe
prompt: "Echo this: {posting}"
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - id: A
    expected: {verdict: PASS}
"""

ECHO_CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider

ESC = "\\x1b"


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("hostile", {
        "echo": lambda request: "FAIL " + request.prompt,
        "escapes": lambda request: (
            ESC + "]0;pwned" + "\\x07" + ESC + "[2J" + ESC + "]8;;http://evil/" + ESC + "\\\\"
            + "click" + ESC + "]8;;" + ESC + "\\\\ FAIL" + "\\x9b" + "31m"
        ),
        "evil" + ESC + "[31m-name": lambda request: '{"verdict": "PASS"}',
    }))
"""


TEXT_TASK = """\
task: echo
prompt: "Echo this: {posting}"
cases:
  - id: B
    expected: {contains: [NEVER]}
"""
"""A text task: the whole answer is shown (and written) as what the model said."""


def _project(pytester: pytest.Pytester, posting: str) -> None:
    pytester.makeconftest(ECHO_CONFTEST)
    evals = pytester.mkdir("evals")
    (evals / "probe.yaml").write_text(HEAD + f"    vars: {{posting: {posting}}}\n")


def _text_project(pytester: pytest.Pytester, posting: str) -> None:
    pytester.makeconftest(ECHO_CONFTEST)
    evals = pytester.mkdir("evals")
    (evals / "echo.yaml").write_text(TEXT_TASK + f"    vars: {{posting: {posting}}}\n")


def _written(root: Path) -> dict[str, bytes]:
    """Every file a run wrote under ``root`` (but the inputs), by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".yaml") and "__pycache__" not in p.parts
    }


# -- 1. confinement -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("posting", "resolved"),
    [
        ("{file: ../../../../../../../../etc/passwd}", "/etc/passwd"),
        ("{file: /etc/passwd}", "/etc/passwd"),
    ],
    ids=["relative-escape", "absolute"],
)
def test_file_outside_the_rootdir_is_a_collection_error(
    pytester: pytest.Pytester, posting: str, resolved: str
) -> None:
    _project(pytester, posting)
    result = pytester.runpytest("evals", "--llm-models=hostile/echo", "--collect-only")
    result.stdout.fnmatch_lines(
        [
            "invalid case file evals/probe.yaml",
            f"  evals/probe.yaml:7: cases[[]0[]].vars.posting.file: refused to read "
            f"{posting[7:-1]}: {resolved} is outside the project root {pytester.path} "
            "(list a trusted directory in the ini option llm_allowed_file_roots to allow it)",
        ]
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "root:" not in result.stdout.str()  # nothing of /etc/passwd


def test_symlink_pointing_out_of_the_rootdir_is_refused(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("TOP SECRET")
    _project(pytester, "{file: link.txt}")
    (pytester.path / "evals" / "link.txt").symlink_to(outside)
    result = pytester.runpytest("evals", "--llm-models=hostile/echo", "--collect-only")
    result.stdout.fnmatch_lines(
        [
            "  evals/probe.yaml:7: cases[[]0[]].vars.posting.file: refused to read link.txt: "
            f"{outside} is outside the project root {pytester.path} (list a trusted directory "
            "in the ini option llm_allowed_file_roots to allow it)"
        ]
    )
    assert "TOP SECRET" not in result.stdout.str()


def test_symlink_inside_the_rootdir_is_followed(pytester: pytest.Pytester) -> None:
    _project(pytester, "{file: link.txt}")
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "posting.txt").write_text("GOOD one")
    (pytester.path / "evals" / "link.txt").symlink_to(pytester.path / "data" / "posting.txt")
    result = pytester.runpytest("evals", "--llm-models=hostile/echo", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*too strict: expected PASS, got FAIL*"])


@pytest.mark.parametrize("target", ["/proc/self/environ", "/dev/zero", "/sys/kernel/notes"])
def test_system_files_are_never_read(pytester: pytest.Pytester, target: str) -> None:
    pytester.makeini(f"[pytest]\nllm_allowed_file_roots =\n    /\n    {Path(target).parent}\n")
    _project(pytester, f"{{file: {target}}}")
    result = pytester.runpytest("evals", "--llm-models=hostile/echo", "--collect-only")
    result.stdout.fnmatch_lines(
        [
            f"  evals/probe.yaml:7: cases[[]0[]].vars.posting.file: refused to read {target}: "
            "/*: case files never read /proc, /sys or /dev"
        ]
    )


def test_allowed_file_roots_lets_a_trusted_directory_in(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shared = tmp_path_factory.mktemp("shared")
    (shared / "posting.txt").write_text("GOOD shared posting")
    pytester.makeini(f"[pytest]\nllm_allowed_file_roots = {shared}\n")
    _project(pytester, f"{{file: {shared / 'posting.txt'}}}")
    result = pytester.runpytest("evals", "--llm-models=hostile/echo", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["1 test collected*"])


def test_secret_environment_values_never_reach_an_output(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cloud secret in the environment: /proc is refused, and an echo of it is masked."""
    secret = "sk-cloud-9f8e7d6c5b4a"
    monkeypatch.setenv("MY_CLOUD_TOKEN", secret)
    _text_project(pytester, f"'{secret}'")  # the PR puts it in the prompt; the model echoes it
    result = pytester.runpytest(
        "evals",
        "--llm-models=hostile/echo",
        "--llm-json=out.json",
        "--llm-report=report.md",
        "--llm-html=report.html",
        "--junitxml=junit.xml",
        "--llm-cache=readwrite",
        "-p",
        "no:randomly",
    )
    result.assert_outcomes(failed=1)
    assert secret not in result.stdout.str()
    outputs = _written(pytester.path)
    assert {"out.json", "report.md", "report.html", "junit.xml"} <= set(outputs)
    assert any(name.startswith(".llmbench/runs/") for name in outputs)
    assert any(name.startswith(".llmbench/cache/") for name in outputs)
    leaked = [name for name, data in outputs.items() if secret.encode() in data]
    assert leaked == []
    assert b"***" in outputs["out.json"]


# -- 3. escape sequences --------------------------------------------------------------------


def test_escape_sequences_are_shown_escaped_everywhere(pytester: pytest.Pytester) -> None:
    _text_project(pytester, "GOOD")
    result = pytester.runpytest(
        "evals",
        "--llm-models=hostile/escapes,hostile/echo",
        "--llm-report=report.md",
        "--llm-html=report.html",
        "--junitxml=junit.xml",
        "-p",
        "no:randomly",
    )
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "\x1b" not in out
    assert "\x9b" not in out
    result.stdout.fnmatch_lines(
        [
            r"wrong answer: expected contains 'NEVER', got \x1b]0;pwned\x07\x1b[[]2J"
            r"\x1b]8;;http://evil/\x1b\click\x1b]8;;\x1b\ FAIL\x9b31m (missing 'NEVER')"
        ]
    )
    for name in ("report.md", "report.html", "junit.xml"):
        data = (pytester.path / name).read_text("utf-8")
        assert "\x1b" not in data, name
        assert "\x07" not in data, name
    assert r"\x1b]0;pwned" in (pytester.path / "junit.xml").read_text("utf-8")


def test_model_name_with_escapes_from_a_server_is_left_out_and_shown_escaped(
    pytester: pytest.Pytester,
) -> None:
    _project(pytester, "GOOD")
    result = pytester.runpytest("evals", "--llm-models=hostile", "--collect-only", "-q")
    assert "\x1b" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "llmbench: left out 1 model(s):",
            r"  hostile/evil\x1b[[]31m-name: its name holds control characters (a hostile "
            "server?); rename it on the server",
        ]
    )


# -- 4. passwords of host URLs --------------------------------------------------------------


def test_url_password_is_absent_from_every_written_file(pytester: pytest.Pytester) -> None:
    password = "hunter2-PASSWORD-xyz"
    _project(pytester, "GOOD")
    result = pytester.runpytest(
        "evals",
        "--llm-models=hostile/echo",
        f"--llm-ollama-host=http://admin:{password}@127.0.0.1:9",
        "--llm-json=out.json",
        "--llm-report=report.md",
        "--llm-html=report.html",
        "--junitxml=junit.xml",
        "-p",
        "no:randomly",
    )
    result.assert_outcomes(failed=1)
    assert password not in result.stdout.str()
    outputs = _written(pytester.path)
    assert ".llmbench/history.sqlite" in outputs
    assert [name for name, data in outputs.items() if password.encode() in data] == []
    from pytest_llmbench.cli import main

    assert main(["show", "last", "--history", str(pytester.path / ".llmbench/history.sqlite")]) == 0


# -- 2. nothing hangs -----------------------------------------------------------------------


def _run_bounded(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter; a hang fails the test after 10 s."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


@pytest.mark.deadline
def test_yaml_alias_bomb_is_refused_in_bounded_time(tmp_path: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 10):
        levels.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]")
    bomb = "task: bomb\nprompt: x\nvars:\n" + "".join(f"  {line}\n" for line in levels)
    bomb += "cases: [{id: A, expected: {contains: [a]}}]\n"
    assert len(bomb) < 1100
    (tmp_path / "bomb.yaml").write_text(bomb)
    done = _run_bounded(
        tmp_path,
        """
        from pathlib import Path
        from pytest_llmbench.cases.load import load_task
        from pytest_llmbench.cases.problems import CaseFileError
        try:
            load_task(Path("bomb.yaml"), "bomb.yaml")
        except CaseFileError as exc:
            print(exc)
        """,
    )
    assert done.stdout == (
        "invalid case file bomb.yaml\n"
        "  bomb.yaml:8: vars.a4: YAML aliases expand this to more than 100,000 nodes "
        "(an alias bomb?); write the repeated values out instead\n"
    )


@pytest.mark.deadline
def test_catastrophic_regex_fails_the_case_in_bounded_time(tmp_path: Path) -> None:
    done = _run_bounded(
        tmp_path,
        r"""
        from pytest_llmbench.cases.records import Expected, OutputSpec
        from pytest_llmbench.execution.scoring import score_output
        got = score_output(OutputSpec("text"), Expected(regex=r"^(a|aa)+$"), "a" * 41 + "!")
        print(got.correct, got.reason)
        """,
    )
    assert done.stdout == (
        "False the regular expression /^(a|aa)+$/ did not finish within 1 s on this answer "
        "(catastrophic backtracking?); simplify the pattern\n"
    )


def test_standalone_load_task_confines_to_the_enclosing_project(tmp_path: Path) -> None:
    from pytest_llmbench.cases.load import load_task
    from pytest_llmbench.cases.problems import CaseFileError

    project = tmp_path / "project"
    (project / "evals").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    (project / "posting.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("outside")
    case_file = project / "evals" / "t.yaml"
    case_file.write_text(
        "task: t\nprompt: '{a} {b}'\ncases:\n  - id: A\n    expected: {contains: [x]}\n"
        "    vars: {a: {file: ../posting.txt}, b: {file: ../../secret.txt}}\n"
    )
    with pytest.raises(CaseFileError) as info:
        load_task(case_file, "t.yaml")
    assert str(info.value) == (
        "invalid case file t.yaml\n  t.yaml:6: cases[0].vars.b.file: refused to read "
        f"../../secret.txt: {tmp_path / 'secret.txt'} is outside the project root {project} "
        "(list a trusted directory in the ini option llm_allowed_file_roots to allow it)"
    )
    task = load_task(case_file, "t.yaml", root=tmp_path)
    assert task.cases[0].prompt == "inside outside"


def test_a_fifo_inside_the_project_is_never_opened(tmp_path: Path) -> None:
    from pytest_llmbench.cases.load import load_task
    from pytest_llmbench.cases.problems import CaseFileError

    os.mkfifo(tmp_path / "pipe")
    case_file = tmp_path / "t.yaml"
    case_file.write_text(
        "task: t\nprompt: '{a}'\ncases:\n  - id: A\n    expected: {contains: [x]}\n"
        "    vars: {a: {file: pipe}}\n"
    )
    with pytest.raises(CaseFileError) as info:
        load_task(case_file, "t.yaml", root=tmp_path)
    assert str(info.value) == (
        "invalid case file t.yaml\n  t.yaml:6: cases[0].vars.a.file: refused to read pipe: "
        f"{tmp_path / 'pipe'} is not a regular file"
    )


def test_environment_secrets_are_registered_by_name_but_not_plain_settings() -> None:
    from pytest_llmbench.safety.redaction import register_environment_secrets
    from pytest_llmbench.safety.sanitising import shown

    register_environment_secrets(
        {
            "GH_TOKEN": "ghp_0123456789abcdef",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
            "DB_PASSWORD": "correct-horse-battery",
            "PIP_KEYRING_PROVIDER": "disabled",
            "PASSWORD_STORE_DIR": "/home/me/.password-store",
            "HOME": "/home/me",
        }
    )
    text = (
        "ghp_0123456789abcdef wJalrXUtnFEMI/K7MDENG correct-horse-battery disabled "
        "/home/me/.password-store"
    )
    assert shown(text) == "*** *** *** disabled /home/me/.password-store"
