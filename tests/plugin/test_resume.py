"""The run journal and --llm-resume: nothing lost on Ctrl-C or a kill, nothing run twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from pytest_llmbench.execution.results import Result
from pytest_llmbench.storage import journal
from pytest_llmbench.storage.history import list_runs
from tests.support import factories

NO_BENCHMARK = ("-p", "no:benchmark")
ALL_FAKE = "--llm-models=fake"


def result(case: str, model: str = "p/a", **kw: Any) -> Result:
    fields: dict[str, Any] = {"prompt_hash": "h1", **kw}
    return factories.result(model, case, **fields)


# --------------------------------------------------------------------------- the plugin


def journal_of(root: Path) -> tuple[str, list[journal.Entry]]:
    [path] = sorted((root / ".llmbench" / "runs").glob("*.jsonl"))
    return path.stem, journal.read_entries(path)


def keys(entries: list[journal.Entry]) -> Counter[tuple[str, str, str, int]]:
    return Counter(e.key for e in entries)


def test_every_finished_item_is_journaled_under_the_run_id(suite: pytest.Pytester) -> None:
    suite.runpytest("evals", ALL_FAKE, *NO_BENCHMARK, "--llm-repeat=2")
    run_id, entries = journal_of(suite.path)
    assert len(entries) == 20
    assert set(keys(entries).values()) == {1}
    assert entries[0].nodeid == "evals/grading.yaml::grading::GRADE_PASS_001[fake/right-rep1]"
    [run] = list_runs(suite.path / ".llmbench" / "history.sqlite")
    assert run.id == run_id


def test_resume_skips_what_is_done_and_still_ranks_everything(suite: pytest.Pytester) -> None:
    suite.runpytest("evals", ALL_FAKE, *NO_BENCHMARK)
    run_id, _ = journal_of(suite.path)
    out = suite.path / "again.json"
    result = suite.runpytest(
        "evals", ALL_FAKE, *NO_BENCHMARK, "--llm-resume", f"--llm-json={out}", "-rs"
    )
    result.assert_outcomes(skipped=10)
    result.stdout.fnmatch_lines(
        [
            f"llmbench: resuming run {run_id}: 10 item(s) done already, skipped",
            "Champion:  fake/right*",
            "Runner-up: fake/slowright*",
            "*too lenient on GRADE_FAIL_001",
            f"SKIPPED [[]10[]] *: done in run {run_id}",
        ]
    )
    document = json.loads(out.read_text())
    assert document["run"]["id"] == run_id
    assert len(document["results"]) == 10
    assert len(journal_of(suite.path)[1]) == 10
    # the resumed run replaced its record in the history
    assert [r.id for r in list_runs(suite.path / ".llmbench" / "history.sqlite")] == [run_id]


def test_resumed_items_keep_their_recorded_answer_in_junit(suite: pytest.Pytester) -> None:
    suite.runpytest("evals", ALL_FAKE, *NO_BENCHMARK)
    run_id, _ = journal_of(suite.path)
    xml = suite.path / "junit.xml"
    suite.runpytest("evals", ALL_FAKE, *NO_BENCHMARK, "--llm-resume", f"--junitxml={xml}")
    cases = ElementTree.parse(xml).getroot().iter("testcase")
    lenient = next(c for c in cases if c.get("name") == "GRADE_FAIL_001[fake/lenient]")
    properties = {p.get("name"): p.get("value") for p in lenient.iter("property")}
    assert lenient.find("skipped") is not None
    assert properties["model"] == "fake/lenient"
    assert properties["expected"] == "FAIL"
    assert properties["got"] == "PASS"
    assert properties["correct"] == "False"
    assert properties["resumed_from"] == run_id


def test_resume_reruns_items_whose_prompt_changed(suite: pytest.Pytester) -> None:
    suite.runpytest("evals", "--llm-models=fake/right", *NO_BENCHMARK)
    yaml_path = suite.path / "evals" / "grading.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("GOOD one", "GOOD one again"))
    result = suite.runpytest("evals", "--llm-models=fake/right", *NO_BENCHMARK, "--llm-resume")
    result.assert_outcomes(passed=1, skipped=1)
    _, entries = journal_of(suite.path)
    assert [e.key[1] for e in entries] == ["GRADE_PASS_001", "GRADE_FAIL_001", "GRADE_PASS_001"]


def test_resume_a_named_run_and_bad_names(suite: pytest.Pytester) -> None:
    missing = suite.runpytest("evals", ALL_FAKE, "--llm-resume")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["ERROR: --llm-resume: no run journal in *"])
    suite.runpytest("evals", "--llm-models=fake/right", *NO_BENCHMARK)
    first, _ = journal_of(suite.path)
    suite.runpytest("evals", "--llm-models=fake/right", *NO_BENCHMARK, "--llm-resume")
    result = suite.runpytest(
        "evals", "--llm-models=fake/right", *NO_BENCHMARK, f"--llm-resume={first}"
    )
    result.assert_outcomes(skipped=2)
    unknown = suite.runpytest("evals", ALL_FAKE, "--llm-resume=20200101T000000Z-000000")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines([f"ERROR: --llm-resume: no journal *; runs: {first}"])


# --------------------------------------------------------------------------- Ctrl-C and kill

SLOW_CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider


def by_posting(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def pytest_llmbench_register_providers(registry, config):
    answers = {"right": by_posting, "lenient": lambda request: '{"verdict": "PASS"}'}
    registry.add(ScriptedProvider("fake", answers, latency_s={m: 0.25 for m in answers}))
"""
CASES = 6


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_resume_after_an_interrupt_finishes_the_rest_once(
    pytester: pytest.Pytester, sig: signal.Signals
) -> None:
    pytester.makeconftest(SLOW_CONFTEST)
    cases = "\n".join(
        f"  - id: C{i}\n    expected: {{verdict: {'PASS' if i % 2 else 'FAIL'}}}\n"
        f"    vars: {{posting: {'GOOD' if i % 2 else 'BAD'} {i}}}"
        for i in range(1, CASES + 1)
    )
    pytester.mkdir("evals")
    (pytester.path / "evals" / "grading.yaml").write_text(
        'task: grading\nprompt: "Posting: {posting}"\noutput: {kind: verdict}\ncases:\n' + cases
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "evals",
        ALL_FAKE,
        *NO_BENCHMARK,
        "-p",
        "no:cacheprovider",
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(
        command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    runs = pytester.path / ".llmbench" / "runs"
    deadline = time.monotonic() + 60
    lines = 0
    while time.monotonic() < deadline and proc.poll() is None:
        files = list(runs.glob("*.jsonl")) if runs.is_dir() else []
        lines = files[0].read_bytes().count(b"\n") if files else 0
        if lines >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(sig)
    output = proc.communicate(timeout=60)[0].decode()
    run_id, done = journal_of(pytester.path)
    finished = len(done)
    assert 3 <= finished < 2 * CASES, output
    assert set(keys(done).values()) == {1}
    path = pytester.path / ".llmbench" / "runs" / f"{run_id}.jsonl"
    assert all(json.loads(line) for line in path.read_text().splitlines())  # valid throughout
    if sig == signal.SIGINT:
        assert proc.returncode == pytest.ExitCode.INTERRUPTED
        assert f"llmbench: run {run_id} interrupted" in output
        assert not (pytester.path / ".llmbench" / "history.sqlite").exists()

    out = pytester.path / "out.json"
    resumed = subprocess.run(
        [*command, "--llm-resume", f"--llm-json={out}", "-q"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert f"resuming run {run_id}: {finished} item(s) done already" in resumed.stdout
    assert f"{finished} skipped" in resumed.stdout
    _, entries = journal_of(pytester.path)
    assert len(entries) == 2 * CASES
    assert set(keys(entries).values()) == {1}
    results = json.loads(out.read_text())["results"]
    assert Counter((r["case_id"], r["model"], r["repeat"]) for r in results) == Counter(
        {(f"C{i}", f"fake/{m}", 1): 1 for i in range(1, CASES + 1) for m in ("right", "lenient")}
    )
    assert "Champion:  fake/right" in resumed.stdout
    [run] = list_runs(pytester.path / ".llmbench" / "history.sqlite")
    assert run.id == run_id
