"""An OpenAI-compatible endpoint's password never lands on disk (issue 22, "Secrets on disk").

The run record (options, endpoints, model info) goes to the history and to every output;
the password of ``--llm-endpoint NAME=https://user:PASSWORD@host/v1`` is masked there, as
the Ollama host's already is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.casedata import verdict_yaml
from tests.support.openai_emulator import OpenAIEmulator

PASSWORD = "Hunter2-endpoint-pw"


def _right(model: str, messages: list[dict[str, Any]], fmt: Any) -> str:
    return json.dumps({"verdict": "PASS" if "GOOD" in messages[-1]["content"] else "FAIL"})


def _files_holding(root: Path, secret: str) -> list[str]:
    return [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*"))
        if path.is_file() and secret.encode() in path.read_bytes()
    ]


def test_an_endpoint_password_is_masked_in_the_history_and_every_output(
    pytester: pytest.Pytester,
) -> None:
    (pytester.mkdir("evals") / "grading.yaml").write_text(verdict_yaml(cases=2))
    with OpenAIEmulator(models=["m"], answer=_right) as server:
        url = server.url.replace("://", f"://bench:{PASSWORD}@")
        result = pytester.runpytest(
            "evals",
            f"--llm-endpoint=emu={url} models=m",
            "--llm-models=emu/m",
            "--llm-json=out/bench.json",
            "--llm-report=out/report.md",
            "--llm-html=out/report.html",
            "--llm-update-registry=out/champions.yaml",
            "--junitxml=out/junit.xml",
            "-p",
            "no:benchmark",
            "-v",
        )
    result.assert_outcomes(passed=2)
    assert (pytester.path / ".llmbench" / "history.sqlite").is_file()
    assert (pytester.path / "out" / "bench.json").is_file()
    assert _files_holding(pytester.path, PASSWORD) == []
    assert PASSWORD not in result.stdout.str() + result.stderr.str()
