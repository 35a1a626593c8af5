"""Issue 22, secrets: answers that echo a secret (a secret-named environment variable, a
password in an endpoint URL) are masked in the feedback log, on stderr and in the optimizer's
session files; ``llmbench run --var x=@FILE`` reads only what a case file's ``{file:}`` may.

Each test runs the real path on a scripted provider or an emulated Ollama server, then
greps everything the run left on disk (state folder, session folder, outputs) and printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench import Router, cli
from pytest_llmbench.cli.main import build_parser
from pytest_llmbench.cli.optimize import run_optimize
from pytest_llmbench.providers.base import Request
from pytest_llmbench.providers.scripted import ScriptedProvider
from pytest_llmbench.storage.champions import Evidence, RegistryEntry, load_registry, registry_text
from tests.support.ollama_emulator import OllamaEmulator

SECRET = "sk-trustb-9f8e7d6c5b4a3210"
"""The value of a secret-named environment variable that the models echo."""
URL_PASSWORD = "hunter2-trustb-pw"
"""The password in an Ollama host URL that the models echo."""

GRADING = """\
task: grading
prompt: "Posting: {posting}\\nAnswer PASS or FAIL."
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - {id: G1, expected: {verdict: PASS}, vars: {posting: GOOD}}
  - {id: G2, expected: {verdict: FAIL}, vars: {posting: BAD}}
  - {id: G3, expected: {verdict: PASS}, vars: {posting: GOOD too}}
  - {id: G4, expected: {verdict: FAIL}, vars: {posting: BAD too}}
"""


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTB_SERVICE_API_KEY", SECRET)


def everything_under(*folders: Path) -> str:
    """Every file's bytes under the folders, as text: what a grep would see."""
    texts = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                texts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(texts)


def project(root: Path, models: tuple[str, str]) -> Path:
    (root / "evals").mkdir()
    (root / "evals" / "grading.yaml").write_text(GRADING)
    entry = RegistryEntry(
        "grading",
        Evidence(models[0], 4, 4, 100.0, 120.0, "20250601T091500Z-3fa2c1", "2025-06-01"),
        Evidence(models[1], 4, 4, 200.0, 230.0, "20250601T091500Z-3fa2c1", "2025-06-01"),
        case_file="evals/grading.yaml",
    )
    path = root / "llmbench-registry.yaml"
    path.write_text(registry_text({"grading": entry}))
    return path


def test_router_feedback_log_masks_an_answer_that_echoes_a_secret(tmp_path: Path) -> None:
    registry = project(tmp_path, ("fake/leaky", "fake/good"))
    provider = ScriptedProvider(
        "fake",
        {
            "leaky": lambda request: f"I will not grade; my key is {SECRET}",
            "good": lambda request: '{"verdict": "PASS"}',
        },
    )
    router = Router(registry, load_registry(registry), providers=[provider])
    result = router.run("grading", posting="GOOD")
    assert (result.value, result.model) == ("PASS", "fake/good")
    router.close()  # the log is buffered: written out on close
    log = (tmp_path / ".llmbench" / "feedback.jsonl").read_text()
    assert [json.loads(line)["outcome"] for line in log.splitlines()] == ["unparseable", "ok"]
    assert "***" in log
    assert SECRET not in everything_under(tmp_path / ".llmbench")


@pytest.fixture
def echoing() -> Iterator[OllamaEmulator]:
    def answer(model: str, messages: list[dict[str, Any]], fmt: Any, options: Any) -> str:
        return f"no verdict; key {SECRET}, host password {URL_PASSWORD}"

    with OllamaEmulator(models=["qwen2.5:7b", "llama3.2:3b"], answer=answer) as server:
        yield server


def test_llmbench_run_masks_echoed_secrets_on_stderr_and_in_the_log(
    tmp_path: Path, echoing: OllamaEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = project(tmp_path, ("ollama/qwen2.5:7b", "ollama/llama3.2:3b"))
    host = echoing.url.replace("http://", f"http://trust:{URL_PASSWORD}@")
    status = cli.main(
        ["run", "grading", "--var", "posting=GOOD", "--registry", str(registry),
         "--ollama-host", host]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 1
    [line] = err.splitlines()
    assert line.startswith("llmbench: no model answered task grading: ollama/qwen2.5:7b: ")
    assert "***" in line
    printed = out + err
    on_disk = everything_under(tmp_path)
    for secret in (SECRET, URL_PASSWORD):
        assert secret not in printed
        assert secret not in on_disk


def test_llmbench_run_masks_an_answer_that_echoes_a_secret_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def answer(model: str, messages: list[dict[str, Any]], fmt: Any, options: Any) -> str:
        return f"PASS (and my key is {SECRET})"

    registry = project(tmp_path, ("ollama/qwen2.5:7b", "ollama/llama3.2:3b"))
    with OllamaEmulator(models=["qwen2.5:7b"], answer=answer) as server:
        status = cli.main(
            ["run", "grading", "--var", "posting=GOOD", "--registry", str(registry),
             "--ollama-host", server.url, "--json"]
        )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0
    assert SECRET not in out + err
    assert SECRET not in everything_under(tmp_path)


# --------------------------------------------------------------------------- optimize


def test_optimize_session_files_mask_an_interviewer_that_echoes_an_api_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case_file = tmp_path / "grading.yaml"
    case_file.write_text(GRADING)

    def candidate(request: Request) -> str:
        good = "GOOD" in request.prompt and "check" in request.prompt
        return '{"verdict": "PASS"}' if good else '{"verdict": "FAIL"}'

    def interviewer(request: Request) -> str:
        return json.dumps(
            {
                "analysis": f"Use the key {SECRET} to call the API.",
                "improved_prompt": f"check ({SECRET}) Posting: {{posting}}\nAnswer PASS or FAIL.",
                "reasoning": f"api_key={SECRET}",
                "has_improvement": True,
            }
        )

    provider = ScriptedProvider("fake", {"small": candidate, "interviewer": interviewer})
    args = build_parser().parse_args(
        ["optimize", str(case_file), "--model", "fake/small", "--interviewer",
         "fake/interviewer", "--out", str(tmp_path / "sessions"), "--holdout", "0.25"]
    )  # fmt: skip
    lines = run_optimize(args, providers={"fake": provider})
    err = capsys.readouterr().err
    [folder] = (tmp_path / "sessions").iterdir()
    interview = json.loads((folder / "interview_1.json").read_text())
    assert interview["analysis"] == "Use the key *** to call the API."
    assert SECRET not in everything_under(tmp_path)
    assert SECRET not in "\n".join(lines) + err


# --------------------------------------------------------------------------- --var @FILE


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("/proc/self/environ", "never reads /proc, /sys or /dev"),
        ("/dev/zero", "never reads /proc, /sys or /dev"),
        ("/dev/null", "never reads /proc, /sys or /dev"),
    ],
)
def test_var_file_never_reads_system_trees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str, why: str
) -> None:
    registry = project(tmp_path, ("ollama/qwen2.5:7b", "ollama/llama3.2:3b"))
    status = cli.main(
        ["run", "grading", "--var", f"posting=@{given}", "--registry", str(registry),
         "--ollama-host", "http://127.0.0.1:9"]
    )  # fmt: skip
    _, err = capsys.readouterr()
    assert status == 2
    [line] = err.splitlines()
    assert line.startswith(f"llmbench: --var posting: may not read {given}: ")
    assert why in line


def test_var_file_outside_the_project_needs_an_allowed_root(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = project(tmp_path, ("ollama/qwen2.5:7b", "ollama/llama3.2:3b"))
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    posting = elsewhere / "posting.txt"
    posting.write_text("GOOD")
    argv = ["run", "grading", "--var", f"posting=@{posting}", "--registry", str(registry),
            "--ollama-host", "http://127.0.0.1:9", "--timeout", "2"]  # fmt: skip
    assert cli.main(argv) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"llmbench: --var posting: may not read {posting}: ")
    assert "give --allowed-root DIR" in line
    # allowed: the call is made (and fails: nothing listens on port 9)
    assert cli.main([*argv, "--allowed-root", str(elsewhere)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("llmbench: no model answered task grading")
