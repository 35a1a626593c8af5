"""Damaged files this project wrote answer with one line naming the file and what to do,
never a traceback (issue 22): a registry not in UTF-8, a feedback log with a line that
is not a router call's record, an ``ab --results`` file that is not the JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmbench import Router, RouterError, best_model
from pytest_llmbench.cli import main
from pytest_llmbench.storage.champions import (
    Evidence,
    RegistryEntry,
    RegistryError,
    load_registry,
    registry_text,
)
from pytest_llmbench.storage.feedback import read_feedback


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


@pytest.fixture
def latin1_registry(tmp_path: Path) -> Path:
    entry = RegistryEntry("grading", Evidence("ollama/qwen2.5:7b", 2, 2, 100.0))
    text = registry_text({"grading": entry}).replace("# pytest-llmbench", "# pytest-llmbénch")
    path = tmp_path / "llmbench-registry.yaml"
    path.write_bytes(text.encode("latin-1"))
    return path


def _not_utf8(path: Path) -> str:
    offset = path.read_bytes().index(b"\xe9")
    return (
        f"registry {path} is not UTF-8 text (byte 0xe9 at offset {offset}); restore it from "
        "version control or write it again with pytest --llm-update-registry"
    )


def test_registry_not_utf8_in_rankings(
    latin1_registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "rankings", "--registry", str(latin1_registry))
    assert (status, out, err) == (1, [], [f"llmbench: {_not_utf8(latin1_registry)}"])


def test_registry_not_utf8_in_run(
    latin1_registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(
        capsys, "run", "grading", "--registry", str(latin1_registry), "--var", "posting=x"
    )
    assert (status, out, err) == (1, [], [f"llmbench: {_not_utf8(latin1_registry)}"])


def test_registry_not_utf8_in_router_and_best_model(latin1_registry: Path) -> None:
    with pytest.raises(RouterError) as router_error:
        Router.from_registry(latin1_registry)
    assert str(router_error.value) == _not_utf8(latin1_registry)
    with pytest.raises(RegistryError) as registry_error:
        best_model("grading", latin1_registry)
    assert str(registry_error.value) == _not_utf8(latin1_registry)


def test_registry_not_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "llmbench-registry.yaml"
    path.write_text("tasks: {grading: {champion: [\n")
    with pytest.raises(RegistryError) as error:
        load_registry(path)
    assert "\n" not in str(error.value)
    assert str(error.value).startswith(f"registry {path} is not valid YAML: ")


RECORD = {"task": "t", "model": "p/m", "outcome": "ok", "latency_ms": 12.0, "call": "c"}


@pytest.mark.parametrize("line", ["[1, 2]", "42", '"text"', "null", "[" * 5000])
def test_feedback_line_that_is_not_an_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    log = tmp_path / "feedback.jsonl"
    log.write_text(json.dumps(RECORD) + "\n" + line + "\n" + json.dumps(RECORD) + "\n")
    records, bad = read_feedback(log)
    assert (len(records), bad) == (2, 1)
    status, out, err = _run(capsys, "feedback", "--feedback", str(log))
    assert status == 0
    assert out[0] == f"feedback {log}: 2 call(s)"
    assert err == [
        f"llmbench feedback: {log}: 1 line(s) are not records of a router call (a torn "
        "write, or edited by hand); they are left out: remove them, or move the log aside "
        "and the router starts a new one"
    ]


def test_feedback_log_that_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "feedback", "--feedback", str(tmp_path))
    assert (status, out) == (1, [])
    assert err == [
        f"llmbench: cannot read the feedback log {tmp_path}: Is a directory; name the log "
        "file with --feedback PATH"
    ]


def _ab_task(root: Path) -> Path:
    (root / "v1.txt").write_text("Posting: {posting}\nPASS or FAIL?")
    (root / "v2.txt").write_text("Read carefully.\n{posting}\nPASS or FAIL?")
    path = root / "grading.yaml"
    path.write_text(
        "task: grading\nprompts:\n  v1: {file: v1.txt}\n  v2: {file: v2.txt}\n"
        "output: {kind: verdict}\ncases:\n"
        "  - id: C1\n    expected: {verdict: PASS}\n    vars: {posting: one}\n"
    )
    return path


ADVICE = "give --results the file pytest --llm-json=PATH wrote"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"not json at all", " is not JSON (Expecting value); "),
        (b"[1, 2, 3]", ": not a --llm-json document (not a JSON object); "),
        (b'{"results": 5}', ": not a --llm-json document ("),
        (b'{"results": [{"task": 1}]}', ": not a --llm-json document ("),
        (b"\xff\xfe{}", " is not UTF-8 text; "),
        (b"[" * 100_000, " is not JSON (nested too deeply); "),
    ],
)
def test_ab_results_not_the_json_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, why: str
) -> None:
    task = _ab_task(tmp_path)
    results = tmp_path / "run.json"
    results.write_bytes(content)
    status, out, err = _run(
        capsys, "ab", str(task), "--a", "v1", "--b", "v2", "--results", str(results)
    )
    assert (status, out, len(err)) == (2, [], 1)
    assert err[0].startswith(f"llmbench ab: --results {results}{why}")
    assert err[0].endswith(ADVICE)


def test_ab_results_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = _ab_task(tmp_path)
    missing = tmp_path / "nope.json"
    status, out, err = _run(
        capsys, "ab", str(task), "--a", "v1", "--b", "v2", "--results", str(missing)
    )
    assert (status, out) == (2, [])
    assert err == [f"llmbench ab: --results {missing}: no such file; {ADVICE}"]
