"""Outcomes you can trust (issue 12): nothing wrong written, nothing lost, whatever the fault.

Each test runs the plugin through pytester on a scripted provider (or an emulated
server, see test_failover.py) with a fault, then checks what the user acts on: the
registry, the history, the reports, the journal, and that they agree
(:func:`consistent`).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmbench.storage import history, journal
from pytest_llmbench.storage.json_report import results_from_json
from tests.support.casedata import SKILLS_YAML, verdict_yaml
from tests.support.runs import NO_BENCHMARK, consistent

CONFTEST = """
from pytest_llmbench.providers.base import Discovery
from pytest_llmbench.providers.scripted import ScriptedProvider


class NoLlamaCpp:
    name = "llamacpp"

    def __init__(self, settings=None):
        pass

    def discover(self):
        return Discovery(problem="not installed")

    def generate(self, request):
        raise AssertionError("not used")


def right(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def lenient(request):
    return '{"verdict": "PASS"}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(NoLlamaCpp())
    registry.add(ScriptedProvider(
        "fake",
        {"a-bad": lenient, "b-fast": right, "c-slow": right},
        {"b-fast": 0.001, "c-slow": 0.03},
    ))
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    pytester.makeconftest(CONFTEST)
    evals = pytester.mkdir("evals")
    (evals / "triage.yaml").write_text(verdict_yaml("triage", cases=4))
    return pytester


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("evals", "--llm-models=fake", *NO_BENCHMARK, *args)


def registry(project: pytest.Pytester) -> dict[str, Any]:
    return dict(yaml.safe_load((project.path / "reg.yaml").read_text()))


# --------------------------------------------------------------------------- 1: case file


def test_registry_path_that_is_a_case_file_is_refused_before_any_call(
    project: pytest.Pytester,
) -> None:
    before = (project.path / "evals" / "triage.yaml").read_text()
    result = run(project, "--llm-update-registry", "evals/triage.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --llm-update-registry evals/triage.yaml: is a case file; *gold cases*"]
    )
    assert (project.path / "evals" / "triage.yaml").read_text() == before
    assert not (project.path / ".llmbench" / "runs").exists()  # nothing ran


# --------------------------------------------------------------------------- 2: stopped early


def test_run_stopped_early_lists_models_not_run_and_keeps_the_registry(
    project: pytest.Pytester,
) -> None:
    assert run(project, "--llm-update-registry=reg.yaml").ret == 1
    assert registry(project)["tasks"]["triage"]["champion"]["model"] == "fake/b-fast"
    result = run(
        project,
        "-x",
        "--llm-update-registry=reg.yaml",
        "--llm-json=out.json",
        "--llm-report=r.md",
        "--llm-html=r.html",
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "fake/b-fast * 0/4 *disqualified",
            "fake/c-slow * 0/4 *disqualified",
            "llmbench: partial run: stopped early (stopping after 1 failures); incomplete: "
            "fake/a-bad, fake/b-fast, fake/c-slow",
            "llmbench: registry reg.yaml not updated: the run is partial *--llm-resume",
        ]
    )
    result.stdout.fnmatch_lines(["Champion:  none, no model qualified*"])
    assert registry(project)["tasks"]["triage"]["champion"]["model"] == "fake/b-fast"
    doc = consistent(project.path, project.path / "out.json")
    assert doc["run"]["partial"] is True
    assert doc["run"]["models"] == ["fake/a-bad", "fake/b-fast", "fake/c-slow"]
    task = doc["tasks"]["triage"]
    standings = {s["model"]: s for s in task["ranking"] + task["disqualified"]}
    assert doc["tasks"]["triage"]["champion"] is None
    assert set(standings) == {"fake/a-bad", "fake/b-fast", "fake/c-slow"}
    md = (project.path / "r.md").read_text()
    assert "## Models tested (3)" in md
    assert "Partial run: stopped early" in md
    assert "Partial run: stopped early" in (project.path / "r.html").read_text()


# --------------------------------------------------------------------------- 3: cache only


def test_cache_only_run_never_replaces_a_champion(project: pytest.Pytester) -> None:
    assert run(project, "--llm-cache=write", "--llm-update-registry=reg.yaml").ret == 1
    champion = registry(project)["tasks"]["triage"]["champion"]["model"]
    (project.path / "reg.yaml").write_text(
        (project.path / "reg.yaml").read_text().replace(champion, "fake/keep-me")
    )
    result = run(
        project, "--llm-cache=read", "--llm-update-registry=reg.yaml", "--llm-json=out.json"
    )
    result.stdout.fnmatch_lines(
        ["llmbench: registry reg.yaml not updated: every answer came from the response cache*"]
    )
    assert registry(project)["tasks"]["triage"]["champion"]["model"] == "fake/keep-me"
    doc = consistent(project.path, project.path / "out.json")
    assert doc["run"]["cache_only"] is True


# --------------------------------------------------------------------------- 5: output paths


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        ("--llm-json=evals", "--llm-json evals: is a directory; name a file"),
        (
            "--llm-report=conftest.py/r.md",
            "--llm-report conftest.py/r.md: */conftest.py is not a directory",
        ),
        ("--llm-html=evals", "--llm-html evals: is a directory; name a file"),
        ("--llm-baseline=bad.json", "--llm-baseline */bad.json: cannot read it: *"),
        (
            "--llm-cache-dir=conftest.py",
            "--llm-cache-dir */conftest.py: is a file, not a directory",
        ),
    ],
)
def test_bad_output_path_or_baseline_is_a_usage_error_before_any_call(
    project: pytest.Pytester, option: str, problem: str
) -> None:
    (project.path / "bad.json").write_text("{not json")
    result = run(project, option, "--llm-cache=write")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {problem}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert not (project.path / ".llmbench" / "runs").exists()


def test_output_failing_at_the_end_is_one_line_and_the_rest_is_written(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Path.write_text

    def disk_full(self: Path, data: str, *args: Any, **kwargs: Any) -> int:
        if self.name == "r.md":
            raise OSError(28, "No space left on device")
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full)
    result = project.runpytest_inprocess(
        "evals",
        "--llm-models=fake/b-fast",
        *NO_BENCHMARK,
        "--llm-report=r.md",
        "--llm-json=out.json",
        "--llm-html=r.html",
    )
    result.stdout.fnmatch_lines(
        ["Champion:  fake/b-fast *", "llmbench: r.md not written: No space left on device"]
    )
    assert "Traceback" not in result.stdout.str()
    assert result.ret == 1  # an output asked for is missing
    assert (project.path / "r.html").is_file()
    consistent(project.path, project.path / "out.json")


def test_the_streamed_json_is_written_whole_or_not_at_all(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--llm-json`` is written as it is encoded: a failure half way (disk full) leaves
    the file of the previous run as it was, no temporary file, and one line."""
    from pytest_llmbench.storage.json_report import json_text as real

    previous = project.path / "out.json"
    previous.write_text('{"results": []}\n')

    def disk_full(*args: Any) -> Any:
        pieces = real(*args)
        yield next(pieces)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pytest_llmbench.storage.json_report.json_text", disk_full)
    args = ("evals", "--llm-models=fake/b-fast", *NO_BENCHMARK, "--llm-json=out.json")
    result = project.runpytest_inprocess(*args, "--llm-html=r.html")
    result.stdout.fnmatch_lines(["llmbench: out.json not written: No space left on device"])
    assert result.ret == 1
    assert previous.read_text() == '{"results": []}\n'
    assert sorted(p.name for p in project.path.iterdir() if "out.json" in p.name) == ["out.json"]
    assert (project.path / "r.html").is_file()

    monkeypatch.setattr("pytest_llmbench.storage.json_report.json_text", real)
    assert project.runpytest_inprocess(*args).ret == 0
    assert results_from_json(json.loads(previous.read_text()))


# --------------------------------------------------------------------------- 6: state


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_read_only_state_dir_degrades_to_warnings(project: pytest.Pytester) -> None:
    state = project.path / ".llmbench"
    state.mkdir()
    state.chmod(0o500)
    try:
        result = run(project, "--llm-models=fake/b-fast", "--llm-json=out.json")
    finally:
        state.chmod(0o700)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*LLMBenchWarning: llmbench: journal * not written*"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_a_state_folder_that_cannot_hold_files_degrades_to_warnings(
    project: pytest.Pytester,
) -> None:
    """What the read-only state folder row of the troubleshooting page promises, shown
    with a state "folder" that is a file (root writes into read-only folders): the
    journal and the default history are warnings, and the run goes on and ranks."""
    (project.path / ".llmbench").write_text("not a folder")
    result = run(project, "--llm-models=fake/b-fast", "--llm-json=out.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*LLMBenchWarning: llmbench: journal * not written*",
            "*LLMBenchWarning: llmbench: history *history.sqlite not written*",
            "Champion:  fake/b-fast*",
        ]
    )
    assert json.loads((project.path / "out.json").read_text())["results"]


def test_unwritable_journal_degrades_to_a_warning_and_the_run_goes_on(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: journal.Journal, entry: journal.Entry) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal.Journal, "append", full)
    result = project.runpytest_inprocess(
        "evals", "--llm-models=fake/b-fast", *NO_BENCHMARK, "--llm-json=out.json"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*LLMBenchWarning: llmbench: journal * not written (No space left on device)*",
            "Champion:  fake/b-fast *",
        ]
    )
    assert result.stdout.str().count("not written (No space") == 1


def test_state_dir_moves_journal_history_and_cache(project: pytest.Pytester) -> None:
    result = run(
        project,
        "--llm-models=fake/b-fast",
        "--llm-state-dir=state",
        "--llm-cache=write",
        "--llm-json=out.json",
    )
    assert result.ret == 0
    assert not (project.path / ".llmbench").exists()
    state = project.path / "state"
    assert (state / "history.sqlite").is_file()
    assert list((state / "cache").iterdir())
    consistent(project.path, project.path / "out.json", state)


def test_no_journal(project: pytest.Pytester) -> None:
    result = run(project, "--llm-models=fake/b-fast", "--llm-no-journal", "--llm-no-history")
    assert result.ret == 0
    assert not (project.path / ".llmbench").exists()


# --------------------------------------------------------------------------- 7: corrupt state


def test_damaged_journal_lines_are_reported_and_their_items_run_again(
    project: pytest.Pytester,
) -> None:
    assert run(project, "--llm-models=fake/b-fast").ret == 0
    path = next((project.path / ".llmbench" / "runs").glob("*.jsonl"))
    lines = path.read_text().splitlines()
    wrong_type = json.loads(lines[1])
    wrong_type["result"]["correct"] = "yes"
    lines[0] = json.dumps({"result": None})
    lines[1] = json.dumps(wrong_type)
    path.write_text("\n".join(lines) + "\n")
    result = run(project, "--llm-models=fake/b-fast", "--llm-resume", "--llm-json=out.json")
    assert result.ret == 0
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    assert f"{path}:1: 'result' is not an object" in out
    assert f"{path}:2: result field 'correct' has a wrong type (str)" in out
    result.stdout.fnmatch_lines(["llmbench: resuming run *: 2 item(s) done already, skipped"])
    consistent(project.path, project.path / "out.json")


def test_cache_entry_with_a_wrong_type_is_reported_and_fetched_live(
    project: pytest.Pytester,
) -> None:
    assert run(project, "--llm-models=fake/b-fast", "--llm-cache=write").ret == 0
    damaged = next((project.path / ".llmbench" / "cache").glob("??/*.json"))
    doc = json.loads(damaged.read_text())
    doc["response"]["text"] = 42
    damaged.write_text(json.dumps(doc))
    result = run(
        project, "--llm-models=fake/b-fast", "--llm-cache=readwrite", "--llm-json=out.json"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"*LLMBenchWarning: llmbench: cache entry {damaged}: *"])
    assert "AttributeError" not in result.stdout.str()
    consistent(project.path, project.path / "out.json")


def test_history_that_cannot_be_written_is_a_warning(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file that is not a history at all is refused before the run (see
    # tests/plugin/test_case_files.py); a history that fails while the run is
    # recorded (a full disk) is a warning, and the ranking is still printed.
    def full(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(history, "record_run", full)
    result = project.runpytest_inprocess(
        "evals", "--llm-models=fake/b-fast", *NO_BENCHMARK, "--llm-history=h.sqlite"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*LLMBenchWarning: llmbench: history * not written: database or disk is full*",
            "Champion:  fake/b-fast *",
        ]
    )
    assert not (project.path / "h.sqlite").exists()


# --------------------------------------------------------------------------- 9: generic answers


TEMPLATE_CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("fake", {
        "template": lambda request: "Advanced technical expertise in domain-specific systems",
        "filler": lambda request: "A strong candidate with many good qualities overall",
        "reader": lambda request: request.prompt.splitlines()[0].removeprefix("Posting: "),
    }))
"""


def test_generic_answers_fail_in_junit_and_on_the_last_line(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TEMPLATE_CONFTEST)
    (pytester.mkdir("evals") / "skills.yaml").write_text(SKILLS_YAML)
    result = pytester.runpytest(
        "evals", "--llm-models=fake", *NO_BENCHMARK, "--junitxml=junit.xml", "--llm-json=out.json"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # The last line says what overturned the two passed items of fake/template.
    assert result.stdout.lines[-1].startswith("=")
    assert "2 failed, 4 passed, 2 overturned (generic answer)" in result.stdout.lines[-1]
    junit = (pytester.path / "junit.xml").read_text()
    assert '<testcase classname="llmbench.generic_answers" name="skills"' in junit
    generic = junit.split('<testcase classname="llmbench.generic_answers" name="skills"')[1]
    assert "fake/template SKILLS_001: generic answer: 1.00 similar to its answer to" in generic
    assert "fake/filler" not in generic  # already wrong for its own reason
    task = json.loads((pytester.path / "out.json").read_text())["tasks"]["skills"]
    filler = next(s for s in task["disqualified"] if s["model"] == "fake/filler")
    assert {c["direction"] for c in filler["failed_cases"]} == {"wrong"}
    assert all("generic" not in c["reason"] for c in filler["failed_cases"])
    consistent(pytester.path, pytester.path / "out.json")


# --------------------------------------------------------------------------- 8: deadline


@pytest.mark.deadline
@pytest.mark.parametrize("lean_http", ["true", "false"])  # the lean transport, the ollama client
def test_timeout_is_a_deadline_for_the_whole_call(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, lean_http: str
) -> None:
    from tests.support.casedata import NO_LLAMACPP, ollama_run_args, right_answer
    from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    pytester.makeconftest(NO_LLAMACPP)
    (pytester.mkdir("evals") / "grading.yaml").write_text(verdict_yaml(cases=2))
    pytester.makeini(f"[pytest]\nllm_retries = 0\nllm_ollama_lean_http = {lean_http}\n")
    with OllamaEmulator(models=[EmulatedModel("qwen2.5:7b")], answer=right_answer) as srv:
        # A valid reply, one byte every 0.1 s: a per-read timeout would wait it out (~40 s).
        srv.trickle_next(1, seconds=0.1, path="/api/chat")
        started = time.monotonic()
        result = pytester.runpytest(
            *ollama_run_args(srv.url),
            "--llm-timeout=1",
            "--llm-json=out.json",
            "-W",
            "always::pytest_llmbench.LLMBenchWarning",
        )
        took = time.monotonic() - started
    assert took < 10
    result.assert_outcomes(passed=1, failed=1)
    doc = consistent(pytester.path, pytester.path / "out.json")
    [failed] = [r for r in doc["results"] if not r["correct"]]
    assert "within 1 s" in failed["error"]


def test_ctrl_c_while_an_item_waits_wastes_at_most_one_request(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.casedata import NO_LLAMACPP, ollama_run_args, right_answer
    from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

    # The signal may reach the pipeline's thread; the item waiting for its answer must
    # see it at once and cancel the request queued behind (it was sent once the answer
    # in flight arrived: two requests wasted).
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    pytester.makeconftest(NO_LLAMACPP)
    (pytester.mkdir("evals") / "grading.yaml").write_text(verdict_yaml(cases=8))
    procs: list[subprocess.Popen[bytes]] = []
    chats = 0

    def answer(model: str, messages: list[dict[str, Any]], fmt: Any, opts: Any) -> str:
        nonlocal chats
        chats += 1
        if chats == 4:  # item 4 waits for this answer: Ctrl-C then
            threading.Timer(0.2, procs[0].send_signal, (signal.SIGINT,)).start()
        return right_answer(model, messages, fmt, opts)

    with OllamaEmulator(models=[EmulatedModel("qwen2.5:7b")], answer=answer, latency_s=0.5) as srv:
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "pytest", *ollama_run_args(srv.url), *NO_BENCHMARK[4:]],
                cwd=pytester.path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
        )
        output = procs[0].communicate(timeout=120)[0].decode()
        time.sleep(1.0)  # a request sent after the interrupt would have arrived by now
        sent = len(srv.bodies("/api/chat"))
    assert procs[0].returncode == pytest.ExitCode.INTERRUPTED, output
    [path] = (pytester.path / ".llmbench" / "runs").glob("*.jsonl")
    recorded = len(journal.read_entries(path))
    assert recorded == 3, output
    assert sent - recorded <= 1, f"{sent} requests sent, {recorded} results recorded"
