"""Histories for the ``llmbench view`` tests and benchmark, written through the history's
own writer (:func:`pytest_llmbench.storage.history.record_run`), and the headless browser
(Debian's chromium driven by playwright; no browser is ever downloaded).

No test here: the builders and the browser are imported by ``test_service_view*.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_llmbench.analysis.ranking import TaskRanking, rank_strict, rank_task
from pytest_llmbench.execution.results import Result
from pytest_llmbench.storage.history import record_run

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

HOSTILE_SCRIPT = "<script>window.__pwned = 1</script>PASS"
HOSTILE_IMG = '<img src=x onerror="window.__pwned = 2">FAIL'
HOSTILE_ESCAPE = "\x1b[31mPASS\x1b[0m \x1b]0;owned\x07"
HUGE = 1_000_000
"""The size of the huge answer (characters)."""
HUGE_MARK = "END-OF-THE-HUGE-ANSWER"


def verdict(task: str, case: str, model: str, correct: bool, latency: float, **kw: Any) -> Result:
    expected = "FAIL" if "FAIL" in case else "PASS"
    got = expected if correct else ("PASS" if expected == "FAIL" else "FAIL")
    fields: dict[str, Any] = {
        "task": task,
        "case_id": case,
        "model": model,
        "repeat": 1,
        "expected": expected,
        "got": got,
        "correct": correct,
        "latency_ms": latency,
        "kind": "verdict",
        "expected_label": expected,
        "got_label": got,
        "pass_label": "PASS",
        "prompt_hash": f"h-{task}-{case}",
        "score": 1.0 if correct else 0.0,
    }
    fields.update(kw)
    return Result(**fields)


def run_record(
    run_id: str, started: dt.datetime, models: Sequence[str], **kw: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": run_id,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": (started + dt.timedelta(minutes=5)).isoformat(timespec="seconds"),
        "git_commit": f"{abs(hash(run_id)) % 16**12:012x}c0ffee",
        "git_branch": "main",
        "host": "ci",
        "plugin_version": "0.1.0",
        "options": {"llm_models": "all"},
        "exitstatus": 0,
        "models": list(models),
        "partial": False,
        "cache_only": False,
    }
    record.update(kw)
    return record


START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)

SMALL_MODELS = ("ollama/fast", "ollama/steady", "ollama/slow", "ollama/careful", "ollama/hostile")
GRADING_CASES = (
    "GRADE_PASS_001",
    "GRADE_PASS_002",
    "GRADE_PASS_003",
    "GRADE_FAIL_001",
    "GRADE_FAIL_002",
    "GRADE_FAIL_003",
)
RUNS = ("20260101T090000Z-run001", "20260102T090000Z-run002", "20260103T090000Z-run003")
FLIP = ("ollama/steady", "GRADE_FAIL_002")
"""Right in the second run, wrong in the third: the planted flip."""
SUSPECT = "GRADE_PASS_003"
"""In the second run gold says PASS and every model but the fast one says FAIL."""
FLAKY = ("ollama/slow", "GRADE_PASS_002")
"""Right on one repeat, wrong on the other (third run)."""
SUMMARY_CASES = ("SUM_001", "SUM_002", "SUM_003")
GENERIC_ANSWER = "Advanced technical expertise in domain-specific systems and excellence."
LATENCY = {"ollama/fast": 100.0, "ollama/steady": 200.0, "ollama/slow": 400.0,
           "ollama/careful": 300.0, "ollama/hostile": 50.0}  # fmt: skip


def _hostile(case: str) -> str | None:
    return {
        "GRADE_PASS_001": HOSTILE_SCRIPT,
        "GRADE_PASS_002": HOSTILE_ESCAPE,
        "GRADE_FAIL_001": HOSTILE_IMG,
        "GRADE_FAIL_002": "x" * (HUGE - len(HUGE_MARK)) + HUGE_MARK,
    }.get(case)


def small_models(number: int) -> tuple[str, ...]:
    """The first run had no hostile model."""
    return SMALL_MODELS[:4] if number == 1 else SMALL_MODELS


def _small_run(number: int) -> tuple[list[Result], list[TaskRanking]]:
    """Run 1: grading only, fast champion.  Run 2: suspect gold, fast alone qualifies.
    Run 3: the fast model got slower, steady flipped, slow is flaky: careful is champion."""
    results: list[Result] = []
    for case in GRADING_CASES:
        for model in small_models(number):
            for repeat in (1, 2):
                correct = not (number == 2 and case == SUSPECT and model != "ollama/fast")
                if (model, case) == FLIP and number == 3:
                    correct = False
                if (model, case) == FLAKY and number == 3 and repeat == 2:
                    correct = False
                latency = LATENCY[model] + 7 * repeat + 3 * number + len(case)
                if model == "ollama/fast" and number == 3:
                    latency += 500
                kw: dict[str, Any] = {"repeat": repeat}
                got = _hostile(case) if model == "ollama/hostile" else None
                if got is not None:
                    correct = False
                    kw.update(got=got, got_label=None)
                results.append(verdict("grading", case, model, correct, latency, **kw))
    if number > 1:
        for case in SUMMARY_CASES:
            for index, model in enumerate(SMALL_MODELS[:3]):
                answer = (
                    GENERIC_ANSWER
                    if model == "ollama/slow"
                    else f"{case}: names Nordhafen Bank and the {case[-1]} Data Engineer role "
                    f"in words of model {index}."
                )
                results.append(
                    Result(
                        task="summary",
                        case_id=case,
                        model=model,
                        repeat=1,
                        expected=f"mentions: Nordhafen Bank, {case[-1]} Data Engineer",
                        got=answer,
                        correct=True,
                        latency_ms=200.0 + 50 * index + number,
                        kind="text",
                        prompt_hash=f"h-summary-{case}-{'v2' if number == 3 else 'v1'}",
                        prompt_version="v2" if number == 3 else "v1",
                        prompt_version_hash="bb22" if number == 3 else "aa11",
                    )
                )
    tasks = ("grading", "summary") if number > 1 else ("grading",)
    rankings = [rank_task(task, results) for task in tasks]
    return results, rankings


GRADING_FILE = """\
task: grading
description: Grade an AI summary of a job posting.
system: You are a strict grader. Answer PASS or FAIL only.
prompt: |
  Posting:
  {posting}

  Summary:
  {summary}

  Does the summary match the posting? Answer PASS or FAIL.
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
"""


def grading_project(root: Path) -> dict[str, str]:
    """A project with the grading task's case file (``evals/grading.yaml``); the prompt
    hash of each case, as the plugin would record it."""
    from pytest_llmbench.cases.load import load_task

    (root / "evals").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("")
    lines = [GRADING_FILE]
    for number, case in enumerate(GRADING_CASES, start=1):
        good = "PASS" in case
        summary = "Nordhafen Bank hires a Data Engineer in Hamburg." if good else "A bakery."
        lines.append(
            f"  - id: {case}\n    expected: {{verdict: {'PASS' if good else 'FAIL'}}}\n"
            f"    vars: {{posting: 'Nordhafen Bank, Hamburg: Data Engineer ({number})', "
            f"summary: '{summary}'}}\n"
        )
    path = root / "evals" / "grading.yaml"
    path.write_text("".join(lines))
    return {c.id: c.prompt_hash for c in load_task(path, root=root).cases}


def small_history(path: Path) -> Path:
    """The three runs of :data:`RUNS` (see :func:`_small_run`), started in a project
    beside ``path`` whose case file holds the grading task's prompts."""
    project = path.parent / "project"
    hashes = grading_project(project)
    for number, run_id in enumerate(RUNS, start=1):
        results, rankings = _small_run(number)
        results = [
            replace(r, prompt_hash=hashes[r.case_id]) if r.task == "grading" else r for r in results
        ]
        extra: dict[str, Any] = {"exitstatus": 1} if number == 3 else {}
        extra.update(rootdir=str(project), args=["evals", "--llm-models=all"])
        if number == 2:
            extra["cache_only"] = True
        started = START + dt.timedelta(days=number)
        record = run_record(run_id, started, small_models(number), **extra)
        record_run(path, record, results, rankings)
    return path


def big_history(path: Path, runs: int, models: int, cases: int) -> None:
    """``runs`` runs of ``models`` models on ``cases`` cases (two verdict tasks), each run
    written by the history writer as the plugin writes it."""
    names = [f"ollama/model-{m:02d}" for m in range(models)]
    tasks = {"grading": cases // 2, "routing": cases - cases // 2}
    for number in range(runs):
        results: list[Result] = []
        for task, count in tasks.items():
            for c in range(count):
                case = f"{task.upper()}_{'PASS' if c % 2 else 'FAIL'}_{c:03d}"
                for m, model in enumerate(names):
                    # a model is wrong on a few cases, some runs: rankings move
                    correct = (m * 7 + c * 3 + number) % 41 != 0
                    latency = 80.0 + 15 * m + (number * 13 + c * 5 + m * 11) % 60
                    results.append(verdict(task, case, model, correct, latency))
        rankings = [rank_strict(task, results) for task in tasks]
        started = START + dt.timedelta(hours=number)
        record_run(path, run_record(f"run-{number:05d}", started, names), results, rankings)


# --------------------------------------------------------------------------- serving


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(history: Path) -> Iterator[str]:
    """The view app over ``history`` on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    from pytest_llmbench.service.view.app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(history), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the view app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def chromium_ready() -> bool:
    return os.access(CHROMIUM, os.X_OK) and shutil.which(CHROMIUM) is not None
