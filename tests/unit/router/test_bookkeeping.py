"""The router's production path never fails for bookkeeping (issue 22): when the
feedback log cannot be written, ``Router.run`` returns the model's answer and one
warning per process says which file and what to do."""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmbench import Router
from pytest_llmbench.providers.base import Request
from pytest_llmbench.providers.scripted import ScriptedProvider
from pytest_llmbench.router import bookkeeping
from pytest_llmbench.storage.champions import Evidence, RegistryEntry, registry_text

GRADING = """\
task: grading
prompt: "Posting: {posting}\\nAnswer PASS or FAIL."
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - id: GRADE_PASS_001
    expected: {verdict: PASS}
    vars: {posting: GOOD posting}
"""


def _pass(request: Request) -> str:
    return json.dumps({"verdict": "PASS"})


@pytest.fixture(autouse=True)
def _fresh_warning() -> Iterator[None]:
    bookkeeping._warned.clear()
    yield
    bookkeeping._warned.clear()


def _router(root: Path, feedback: Path | None) -> Router:
    (root / "evals").mkdir(exist_ok=True)
    (root / "evals" / "grading.yaml").write_text(GRADING)
    entries = {
        "grading": RegistryEntry(
            "grading", Evidence("fake/a", 1, 1, 10.0), case_file="evals/grading.yaml"
        )
    }
    registry = root / "llmbench-registry.yaml"
    registry.write_text(registry_text(entries))
    return Router(
        registry,
        entries,
        providers=[ScriptedProvider("fake", {"a": _pass})],
        feedback=feedback,
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="POSIX modes, not root")
def test_read_only_feedback_folder_returns_the_answer_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / ".llmbench"
    state.mkdir()
    state.chmod(0o500)
    try:
        router = _router(tmp_path, None)
        with caplog.at_level(logging.WARNING, logger="pytest_llmbench.router"):
            first = router.run("grading", posting="GOOD")
            second = router.run("grading", posting="GOOD")
    finally:
        state.chmod(0o700)
    assert (first.value, second.value) == ("PASS", "PASS")
    assert [r.getMessage() for r in caplog.records] == [
        f"llmbench: cannot write the feedback log {state / 'feedback.jsonl'} (Permission "
        "denied); the router goes on without it: make its folder writable, or pass "
        "feedback= another file or False"
    ]


def test_read_only_file_system_returns_the_answer_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only ``.llmbench/`` (as in a container), whoever runs the test (root too)."""

    def read_only(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    router = _router(tmp_path, None)
    monkeypatch.setattr(os, "open", read_only)
    with caplog.at_level(logging.WARNING, logger="pytest_llmbench.router"):
        answers = [router.run("grading", posting="GOOD").value for _ in range(3)]
    assert answers == ["PASS"] * 3
    assert [r.getMessage() for r in caplog.records] == [
        f"llmbench: cannot write the feedback log {tmp_path / '.llmbench' / 'feedback.jsonl'} "
        "(Read-only file system); the router goes on without it: make its folder writable, "
        "or pass feedback= another file or False"
    ]


def test_feedback_path_that_is_a_folder_returns_the_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "feedback.jsonl"
    folder.mkdir()
    router = _router(tmp_path, folder)
    with caplog.at_level(logging.WARNING, logger="pytest_llmbench.router"):
        assert router.run("grading", posting="GOOD").value == "PASS"
    (record,) = caplog.records
    assert record.getMessage().startswith(f"llmbench: cannot write the feedback log {folder} (")


def test_feedback_parent_that_is_a_file_returns_the_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    router = _router(tmp_path, tmp_path / "blocker" / "logs" / "feedback.jsonl")
    with caplog.at_level(logging.WARNING, logger="pytest_llmbench.router"):
        assert router.run("grading", posting="GOOD").value == "PASS"
    assert len(caplog.records) == 1


def test_missing_parent_is_created(tmp_path: Path) -> None:
    log = tmp_path / "new" / "deeper" / "feedback.jsonl"
    assert _router(tmp_path, log).run("grading", posting="GOOD").value == "PASS"
    assert json.loads(log.read_text())["outcome"] == "ok"
