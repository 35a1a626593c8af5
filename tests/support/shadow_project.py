"""A one-task project for the router's shadow-check and capture tests: scripted models
``fake/a`` (champion), ``fake/b`` (runner-up), ``fake/c`` (fallback) and ``fake/judge``
(the task's judge), and the feedback log's lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_llmbench.providers.base import Request
from pytest_llmbench.providers.scripted import ScriptedProvider
from pytest_llmbench.storage.champions import Evidence, RegistryEntry, registry_text
from pytest_llmbench.storage.feedback import flush_feedback

__all__ = ["FAIL", "GRADING", "JUDGE", "PASS", "A", "B", "C", "lines", "project", "scripted"]

A, B, C, JUDGE = "fake/a", "fake/b", "fake/c", "fake/judge"
PASS, FAIL = '{"verdict": "PASS"}', '{"verdict": "FAIL"}'

GRADING = """\
task: grading
prompt: "Grade: {posting}"
output: {kind: verdict, labels: [PASS, FAIL]}
judge: {model: fake/judge}
cases:
  - {id: G1, expected: {verdict: PASS}, vars: {posting: x}}
"""


def project(root: Path, extra: str = "") -> Path:
    (root / "evals").mkdir(exist_ok=True)
    (root / "evals" / "grading.yaml").write_text(GRADING.replace("cases:\n", extra + "cases:\n"))
    entry = RegistryEntry(
        "grading",
        Evidence(A, 1, 1, 100.0),
        Evidence(B, 1, 1, 200.0),
        case_file="evals/grading.yaml",
        fallbacks=(C,),
    )
    path = root / "llmbench-registry.yaml"
    path.write_text(registry_text({"grading": entry}))
    return path


def scripted(answers: dict[str, str | Callable[[Request], str]]) -> ScriptedProvider:
    def answer(value: str | Callable[[Request], str]) -> Callable[[Request], str]:
        return value if callable(value) else (lambda request: value)

    return ScriptedProvider(
        "fake", {m.removeprefix("fake/"): answer(v) for m, v in answers.items()}
    )


def lines(root: Path) -> list[dict[str, Any]]:
    flush_feedback()
    path = root / ".llmbench" / "feedback.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]
