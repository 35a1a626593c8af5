"""Input capture through the router (``capture: {inputs: true, max: N}``): the calls in
doubt keep their variables and answers in the feedback log, masked and capped, and
``llmbench feedback --export-cases`` turns them into candidate cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench import Router
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.problems import CaseFileError
from pytest_llmbench.cli import main
from pytest_llmbench.providers.base import ProviderError, Request
from pytest_llmbench.router import ShadowOptions
from pytest_llmbench.router.capture import CAPTURE_CHARS
from pytest_llmbench.safety.redaction import register_secret
from tests.support.shadow_project import FAIL, PASS, A, B, lines, project, scripted

SECRET = "sk-capture-0123456789abcdef"


def captured(root: Path) -> list[dict[str, Any]]:
    return [line for line in lines(root) if "inputs" in line]


def test_only_calls_in_doubt_are_captured_and_their_secrets_masked(tmp_path: Path) -> None:
    register_secret(SECRET)
    answers = iter([FAIL, PASS, FAIL])  # the runner-up: disagrees, agrees, disagrees

    provider = scripted({A: PASS, B: lambda request: next(answers)})
    registry = project(tmp_path, "capture: {inputs: true}\n")
    with Router.from_registry(registry, providers=[provider], shadow=1.0) as r:
        r.run("grading", posting=f"key {SECRET} first")
        r.run("grading", posting="second")
        r.run("grading", posting="third")
    kept = captured(tmp_path)
    assert [line["inputs"] for line in kept] == [{"posting": "key *** first"}, {"posting": "third"}]
    assert all(line["answer"] == PASS and line["shadow"]["answer"] == FAIL for line in kept)
    assert SECRET not in (tmp_path / ".llmbench" / "feedback.jsonl").read_text()


def test_failures_are_captured_without_shadow_checks(tmp_path: Path) -> None:
    def broken(request: Request) -> str:
        raise ProviderError("down")

    provider = scripted({A: broken, B: PASS})
    with Router.from_registry(
        project(tmp_path, "capture: {inputs: true}\n"), providers=[provider]
    ) as r:
        assert r.run("grading", posting="p").model == B  # fell over: in doubt
    (line,) = captured(tmp_path)
    assert line["inputs"] == {"posting": "p"}
    assert [x.get("answer") for x in lines(tmp_path)] == [None, PASS]


def test_capture_is_opt_in_and_capped(tmp_path: Path) -> None:
    provider = scripted({A: PASS, B: FAIL})
    with Router.from_registry(project(tmp_path), providers=[provider], shadow=1.0) as r:
        r.run("grading", posting="p")
    assert captured(tmp_path) == []  # no capture: in the case file
    assert "answer" not in lines(tmp_path)[0]["shadow"]  # nor the shadow model's answer

    (tmp_path / ".llmbench" / "feedback.jsonl").unlink()
    with Router.from_registry(
        project(tmp_path, "capture: {inputs: true, max: 2}\n"), providers=[provider], shadow=1.0
    ) as r:
        for i in range(5):
            r.run("grading", posting=f"p{i}" + ("x" * (CAPTURE_CHARS + 10) if i == 0 else ""))
    kept = captured(tmp_path)
    assert [line["inputs"]["posting"][:2] for line in kept] == ["p0", "p1"]
    assert kept[0]["inputs"]["posting"].endswith("[... cut: 12 more characters]")
    assert r.shadow.captures.over_cap == {"grading": 3}


def test_export_writes_the_captured_calls_as_candidates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    register_secret(SECRET)
    provider = scripted({A: PASS, B: FAIL})
    registry = project(tmp_path, "capture: {inputs: true}\n")
    with Router.from_registry(registry, providers=[provider], shadow=ShadowOptions(rate=1.0)) as r:
        r.run("grading", posting=f"uses {SECRET}")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "evals" / "candidates" / "grading.yaml"
    assert main(["feedback", "--export-cases", "grading", "--out", str(out)]) == 0
    text = out.read_text()
    assert SECRET not in text
    assert "posting: uses ***" in text
    assert "disagreement" in text  # why it is a candidate
    with pytest.raises(CaseFileError, match="no label yet"):
        load_task(out)
    labelled = text.replace("expected: {}", "expected: {verdict: PASS}")
    out.write_text(labelled)
    assert [c.expected.verdict for c in load_task(out).cases] == ["PASS"]
