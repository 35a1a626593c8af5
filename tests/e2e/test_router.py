"""End to end on the two embedded models: benchmark company_extraction with
--llm-update-registry, then answer a production call through the router with
``llmbench run company_extraction --var posting=@file`` (real llama.cpp inference)."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="needs pip install 'pytest-llmbench[embedded]'")

from pytest_llmbench import cli
from pytest_llmbench.storage.champions import load_registry

pytestmark = pytest.mark.embedded

EVALS = Path(__file__).resolve().parents[2] / "evals"


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_benchmark_then_answer_through_the_router(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    (pytester.path / "evals").mkdir()
    shutil.copy(EVALS / "company_extraction.yaml", pytester.path / "evals")
    registry = pytester.path / "llmbench-registry.yaml"
    result = pytester.runpytest(  # in-process: models loaded by earlier tests are reused
        "evals/company_extraction.yaml",
        "--llm-models=all",
        f"--llm-ollama-host={dead_url()}",  # the embedded models only, whatever runs here
        f"--llm-update-registry={registry}",
        "-p",
        "no:benchmark",
        "-p",
        "no:cacheprovider",
    )
    result.stdout.fnmatch_lines([f"llmbench: registry {registry} updated: company_extraction"])
    entry = load_registry(registry)["company_extraction"]
    assert entry.case_file == "evals/company_extraction.yaml"
    assert entry.champion.correct == entry.champion.total == 7

    posting = pytester.path / "posting.txt"
    posting.write_text(
        "Quillstone Software is hiring a Senior Frontend Developer (remote, US or Canada)."
    )
    capsys.readouterr()
    status = cli.main(
        [
            "run",
            "company_extraction",
            "--var",
            f"posting=@{posting}",
            "--registry",
            str(registry),
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    doc = json.loads(out)
    assert doc["model"] == entry.champion.model
    assert doc["answer"] == {"company": "Quillstone Software"}
    assert doc["fell_over_from"] == []
    log = pytester.path / ".llmbench" / "feedback.jsonl"
    [line] = [json.loads(text) for text in log.read_text().splitlines()]
    assert (line["task"], line["model"], line["outcome"]) == (
        "company_extraction",
        entry.champion.model,
        "ok",
    )
