"""``llmbench rankings``, ``llmbench run`` and ``llmbench feedback``: cli.main() with its
output and exit status; ``run`` goes to an emulated Ollama over real HTTP."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench import cli
from pytest_llmbench.reporting.rankings import rankings_lines
from pytest_llmbench.storage.champions import Evidence, RegistryEntry, load_registry, registry_text
from tests.support.ollama_emulator import OllamaEmulator

CHAMPION, RUNNER_UP = "ollama/qwen2.5:7b", "ollama/llama3.2:3b"
GRADING = """\
task: grading
prompt: "Posting: {posting}\\nAnswer PASS or FAIL."
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - {id: G1, expected: {verdict: PASS}, vars: {posting: GOOD}}
"""
COMPANY = """\
task: company
prompt: "Which company is hiring? {posting}"
output:
  kind: json
  schema: {type: object, properties: {company: {type: string}}, required: [company]}
cases:
  - {id: C1, expected: {json: {company: Acme}}, vars: {posting: Acme hires.}}
"""


def right(model: str, messages: list[dict[str, Any]], fmt: Any, options: Any) -> str:
    content = messages[-1]["content"]
    if "company" in content:
        return json.dumps({"company": content.rsplit("? ", 1)[-1].split()[0]})
    return json.dumps({"verdict": "PASS" if "GOOD" in content else "FAIL"})


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "grading.yaml").write_text(GRADING)
    (tmp_path / "evals" / "company.yaml").write_text(COMPANY)
    run = "20250601T091500Z-3fa2c1"
    entries = {
        "grading": RegistryEntry(
            "grading",
            Evidence(CHAMPION, 10, 10, 412.3, 530.1, run, "2025-06-01", "9f1c2e0"),
            Evidence(RUNNER_UP, 10, 10, 655.0, 702.4, run, "2025-06-01"),
            case_file="evals/grading.yaml",
            fallbacks=("ollama/gemma3:1b",),
        ),
        "company": RegistryEntry(
            "company",
            Evidence(CHAMPION, 7, 7, 98.0, 120.0, run, "2025-05-30"),
            case_file="evals/company.yaml",
        ),
    }
    path = tmp_path / "llmbench-registry.yaml"
    path.write_text(registry_text(entries))
    return path


@pytest.fixture
def srv() -> Iterator[OllamaEmulator]:
    with OllamaEmulator(models=["qwen2.5:7b", "llama3.2:3b"], answer=right) as server:
        yield server
    assert server.errors == []


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


# --------------------------------------------------------------------------- rankings


def test_rankings_lines_give_every_place_with_its_evidence_and_age(registry: Path) -> None:
    lines = rankings_lines(load_registry(registry), _dt.date(2025, 6, 11))
    assert lines == [
        "task     place      model               correct    mean ms    p95 ms    run"
        "                      date        age",
        "-------  ---------  ------------------  ---------  ---------  --------  "
        "-----------------------  ----------  -------",
        "company  champion   ollama/qwen2.5:7b   7/7        98         120       "
        "20250601T091500Z-3fa2c1  2025-05-30  12 days",
        "grading  champion   ollama/qwen2.5:7b   10/10      412        530       "
        "20250601T091500Z-3fa2c1  2025-06-01  10 days",
        "grading  runner-up  ollama/llama3.2:3b  10/10      655        702       "
        "20250601T091500Z-3fa2c1  2025-06-01  10 days",
        "grading  fallback   ollama/gemma3:1b    -          -          -         "
        "-                        -           -",
    ]


def test_rankings_command(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "rankings", "--registry", str(registry))
    assert (status, err) == (0, [])
    assert out[0] == f"registry {registry}"
    assert len(out) == 7
    status, out, _ = run(capsys, "rankings", "--task", "company", "--registry", str(registry))
    assert status == 0
    assert [line.split()[0] for line in out[3:]] == ["company"]


def test_rankings_finds_the_registry_from_the_working_directory(
    registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(registry.parent / "evals")
    status, out, _ = run(capsys, "rankings")
    assert status == 0
    assert out[0] == f"registry {registry}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rankings", "--task", "nope"], "llmbench: task 'nope' is not in registry"),
        (["rankings", "--registry", "missing.yaml"], "llmbench: no registry at missing.yaml"),
        (["run", "nope", "--var", "posting=x"], "llmbench: task 'nope' is not in registry"),
        (["feedback"], "llmbench: no feedback log at "),
    ],
)
def test_errors_are_one_line_with_a_non_zero_status(
    registry: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(registry.parent)
    status, out, err = run(capsys, *argv)
    assert status == 1
    assert out == []
    assert len(err) == 1
    assert err[0].startswith(message)


def test_no_registry_and_an_empty_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    if (tmp_path.parent / "llmbench-registry.yaml").exists():  # pragma: no cover
        pytest.skip("a registry above the temporary directory")
    status, _, err = run(capsys, "run", "grading", "--var", "posting=x")
    assert status == 1
    assert err == [
        f"llmbench: no llmbench-registry.yaml in {tmp_path} or its parents; "
        "write one with pytest --llm-update-registry"
    ]
    (tmp_path / "llmbench-registry.yaml").write_text("version: 1\ntasks: {}\n")
    status, _, err = run(capsys, "run", "grading", "--var", "posting=x")
    assert status == 1
    assert len(err) == 1
    assert "has no task" in err[0]
    status, out, _ = run(capsys, "rankings")
    assert (status, out[1:]) == (0, ["the registry has no task"])


# --------------------------------------------------------------------------- run


def test_run_prints_the_answer(
    registry: Path, srv: OllamaEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    host = ("--ollama-host", srv.url, "--registry", str(registry))
    status, out, err = run(capsys, "run", "grading", "--var", "posting=GOOD one", *host)
    assert (status, out) == (0, ["PASS"])
    assert err[0].startswith(f"llmbench: grading answered by {CHAMPION} in ")
    posting = registry.parent / "posting.txt"
    posting.write_text("Globex is hiring.")
    status, out, _ = run(capsys, "run", "company", "--var", f"posting=@{posting}", *host)
    assert (status, out) == (0, ['{"company": "Globex"}'])
    assert srv.bodies("/api/chat")[-1]["messages"][-1]["content"] == (
        "Which company is hiring? Globex is hiring."
    )


def test_run_json_and_consensus(
    registry: Path, srv: OllamaEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys,
        "run",
        "grading",
        "--var",
        "posting=@@GOOD",
        "--consensus",
        "--json",
        "--ollama-host",
        srv.url,
        "--registry",
        str(registry),
    )
    assert status == 0
    doc = json.loads("\n".join(out))
    assert doc["answer"] == "PASS"
    assert doc["model"] == CHAMPION
    assert doc["consensus"]["accepted"] is True
    assert doc["consensus"]["agreed"] == [CHAMPION, RUNNER_UP]
    assert [a["outcome"] for a in doc["attempts"]] == ["ok", "ok"]
    assert srv.bodies("/api/chat")[0]["messages"][-1]["content"].startswith("Posting: @GOOD")
    assert f"consensus of {CHAMPION} and {RUNNER_UP}" in err[0]


def test_run_with_every_model_unreachable(
    registry: Path, srv: OllamaEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.die()
    status, out, err = run(
        capsys,
        "run",
        "company",
        "--var",
        "posting=x",
        "--ollama-host",
        srv.url,
        "--registry",
        str(registry),
    )
    assert (status, out) == (1, [])
    assert len(err) == 1
    assert err[0].startswith(f"llmbench: no model answered task company: {CHAMPION}: error (")


@pytest.mark.parametrize(
    ("var", "message"),
    [
        ("posting", "llmbench: --var expects name=value or name=@file, got 'posting'"),
        ("posting=@/no/such/file", "llmbench: --var posting: cannot read /no/such/file: "),
    ],
)
def test_run_with_a_bad_var_is_a_usage_error(
    registry: Path, capsys: pytest.CaptureFixture[str], var: str, message: str
) -> None:
    status, _, err = run(capsys, "run", "grading", "--var", var, "--registry", str(registry))
    assert status == 2
    assert len(err) == 1
    assert err[0].startswith(message)


def test_run_with_a_missing_variable(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "run", "grading", "--registry", str(registry))
    assert status == 1
    assert err == ["llmbench: task grading: no value for posting (the prompt uses posting)"]


# --------------------------------------------------------------------------- feedback


def test_feedback_summarises_success_latency_and_fall_overs(
    registry: Path, srv: OllamaEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    host = ("--ollama-host", srv.url, "--registry", str(registry))
    for _ in range(3):
        assert run(capsys, "run", "grading", "--var", "posting=GOOD", *host)[0] == 0
    srv.fail_next(1, status=500, path="/api/chat")
    assert run(capsys, "run", "grading", "--var", "posting=GOOD", *host)[0] == 0
    status, out, _ = run(capsys, "feedback", "--registry", str(registry))
    assert status == 0
    assert out[0] == (f"feedback {registry.parent / '.llmbench' / 'feedback.jsonl'}: 5 call(s)")
    assert out[1].split() == [
        "task",
        "model",
        "calls",
        "success",
        "p50",
        "ms",
        "p95",
        "ms",
        "fell",
        "over",
        "backup",
        "skipped",
        "benchmark",  # the registry's evidence, beside
    ]
    champion = out[3].split()
    assert champion[:4] == ["grading", CHAMPION, "4", "75%"]
    assert champion[-7:] == ["1", "0", "0", "10/10,", "p95", "530", "ms"]
    runner_up = out[4].split()
    assert runner_up[:4] == ["grading", RUNNER_UP, "1", "100%"]
    assert runner_up[6:9] == ["0", "1", "0"]
    status, out, _ = run(capsys, "feedback", "--task", "company", "--registry", str(registry))
    assert (status, out[1:]) == (0, ["no call of task company in the feedback log"])


def test_feedback_skips_a_torn_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "f.jsonl"
    line = {"task": "t", "model": "p/m", "outcome": "ok", "latency_ms": 12.0, "call": "c"}
    log.write_text(json.dumps(line) + "\n" + '{"task": "t", "mod')
    status, out, _ = run(capsys, "feedback", "--feedback", str(log))
    assert status == 0
    assert out[0] == f"feedback {log}: 1 call(s)"
    assert out[-1] == "(1 line(s) could not be read and were left out)"


def test_run_through_an_openai_compatible_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A registered model served by an OpenAI-compatible endpoint: ``--endpoint`` names it,
    as ``--llm-endpoint`` did for the benchmark; a bad one is a usage error."""
    from tests.support.openai_emulator import OpenAIEmulator

    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "grading.yaml").write_text(GRADING)
    run_id = "20250601T091500Z-3fa2c1"
    entries = {
        "grading": RegistryEntry(
            "grading",
            Evidence("vllm/m", 10, 10, 40.0, 55.0, run_id, "2025-06-01"),
            case_file="evals/grading.yaml",
        )
    }
    path = tmp_path / "llmbench-registry.yaml"
    path.write_text(registry_text(entries))

    def verdict(model: str, messages: list[dict[str, Any]], fmt: Any) -> str:
        return right(model, messages, fmt, None)

    with OpenAIEmulator(models=["m"], answer=verdict) as server:
        args = ("run", "grading", "--var", "posting=GOOD", "--registry", str(path))
        status, out, err = run(capsys, *args, "--endpoint", f"vllm={server.url} models=m")
        assert server.errors == []
    assert (status, out) == (0, ["PASS"])
    assert err[0].startswith("llmbench: grading answered by vllm/m in ")
    status, out, err = run(capsys, *args, "--endpoint", "vllm")
    assert (status, out) == (2, [])
    assert err == [
        "llmbench: --endpoint: expected 'NAME = BASE_URL [key_env=VAR] [models=a,b]', got 'vllm'"
    ]
