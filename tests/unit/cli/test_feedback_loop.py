"""``llmbench feedback --check`` (drift against the benchmark's evidence) and
``--export-cases`` (captured production calls as candidate cases to label)."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.problems import CaseFileError
from pytest_llmbench.cli import main
from pytest_llmbench.safety.redaction import register_secret

CASE_FILE = """\
task: triage
prompt: |-
  Ticket: {ticket}
  Answer URGENT or LATER.
output: {kind: verdict, labels: [URGENT, LATER]}
cases:
  - id: T1
    expected: {verdict: URGENT}
    vars: {ticket: the site is down}
"""

REGISTRY = """\
version: 1
tasks:
  triage:
    case_file: evals/triage.yaml
    champion: {model: ollama/champ, correct: 10, total: 10, mean_ms: 100.0, p95_ms: 150.0,
               run: R1, date: '2025-01-01'}
    runner_up: {model: ollama/second, correct: 9, total: 10, mean_ms: 80.0, p95_ms: 120.0}
"""

NOW = _dt.datetime.now(_dt.timezone.utc)


def line(call: str, model: str = "ollama/champ", **extra: Any) -> dict[str, Any]:
    return {
        "time": NOW.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "call": call,
        "task": "triage",
        "model": model,
        "outcome": "ok",
        "latency_ms": 100.0,
        "fell_over_from": [],
        "detail": "",
        "consensus": None,
        **extra,
    }


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "triage.yaml").write_text(CASE_FILE, encoding="utf-8")
    (tmp_path / "llmbench-registry.yaml").write_text(REGISTRY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_log(project: Path, lines: list[dict[str, Any]]) -> Path:
    log = project / ".llmbench" / "feedback.jsonl"
    log.parent.mkdir(exist_ok=True)
    log.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return log


def shadowed(count: int, wrong_after: int) -> list[dict[str, Any]]:
    """A champion checked by the runner-up on every call, wrong from call ``wrong_after``."""
    return [
        line(
            f"c{i:04d}",
            shadow={"check": "runner_up", "model": "ollama/second", "agreed": i < wrong_after},
        )
        for i in range(count)
    ]


# --------------------------------------------------------------------------- --check


def test_check_exits_1_naming_the_task_and_the_agreement(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(project, shadowed(50, wrong_after=30))
    status = main(["feedback", "--check"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.splitlines() == [
        "llmbench feedback --check: triage: ollama/champ: agreement 60% (30/50 checked "
        "answers) is below 80%; benchmark 10/10 correct in run R1"
    ]
    table = captured.out.splitlines()
    assert table[1].split()[-2:] == ["agreement", "benchmark"]  # beside the registry's evidence
    assert table[3].split()[-7:] == ["60%", "of", "50", "10/10,", "p95", "150", "ms"]


def test_the_case_files_alerts_set_the_tasks_limits(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(project, shadowed(50, wrong_after=45))  # 90%: above the option's 80%
    assert main(["feedback", "--check"]) == 0
    case_file = project / "evals" / "triage.yaml"
    case_file.write_text(
        CASE_FILE.replace("cases:", "alerts: {min_agreement: 0.95}\ncases:"), encoding="utf-8"
    )
    assert main(["feedback", "--check", "--since", "7d"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "llmbench feedback --check: triage: ollama/champ: agreement 90% (45/50 checked "
        "answers since 7d) is below min_agreement 95% (alerts of evals/triage.yaml); "
        "benchmark 10/10 correct in run R1"
    ]


def test_the_case_files_min_judge_score_is_held_too(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = [
        line(f"c{i:04d}", shadow={"check": "judge", "model": "ollama/j", "score": 0.75})
        for i in range(30)
    ]
    write_log(project, judged)
    assert main(["feedback", "--check"]) == 0  # 0.75 is above the option's 0.7
    (project / "evals" / "triage.yaml").write_text(
        CASE_FILE.replace("cases:", "alerts: {min_judge_score: 0.8}\ncases:"), encoding="utf-8"
    )
    assert main(["feedback", "--check"]) == 1
    err = capsys.readouterr().err
    assert (
        "triage: ollama/champ: judge score 0.75 (mean of 30) is below min_judge_score 0.80" in err
    )


def test_check_passes_when_production_holds_and_limits_are_options(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(project, shadowed(50, wrong_after=45))
    assert main(["feedback", "--check"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "drift check: no breach"
    assert main(["feedback", "--check", "--min-agreement", "95%"]) == 1
    assert "is below 95%" in capsys.readouterr().err
    assert main(["feedback", "--check", "--min-agreement", "0.95", "--min-calls", "51"]) == 0


def test_check_names_error_rate_and_latency_against_the_benchmark(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = [line(f"s{i}", latency_ms=400.0) for i in range(20)]
    failing = [line(f"f{i}", "ollama/second", outcome="error") for i in range(5)]
    answering = [line(f"g{i}", "ollama/second", latency_ms=50.0) for i in range(20)]
    write_log(project, slow + failing + answering)
    assert main(["feedback", "--check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "llmbench feedback --check: triage: ollama/champ: p95 400 ms is above 2 x the "
        "benchmark's 150 ms",
        "llmbench feedback --check: triage: ollama/second: error rate 20% (5/25 calls) is "
        "above 10%",
    ]


def test_since_leaves_out_older_calls(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = (NOW - _dt.timedelta(days=30)).isoformat().replace("+00:00", "Z")
    write_log(project, [{**x, "time": old} for x in shadowed(50, 0)] + shadowed(3, 3))
    assert main(["feedback", "--check", "--since", "7d"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(": 3 call(s) since 7d")


def test_a_bad_limit_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["feedback", "--check", "--min-agreement", "1.5"])
    assert "is not between 0 and 1" in capsys.readouterr().err


# --------------------------------------------------------------------------- --export-cases


def test_export_writes_candidates_that_are_refused_until_labelled(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register_secret("sk-live-SECRET-123456")
    calls = [
        line("agree1", inputs={"ticket": "fine"}, answer="LATER",
             shadow={"check": "runner_up", "model": "ollama/second", "agreed": True}),
        line("dis1", inputs={"ticket": "key sk-live-SECRET-123456 leaked"}, answer="LATER",
             shadow={"check": "runner_up", "model": "ollama/second", "agreed": False,
                     "answer": "URGENT"}),
        line("fail1", outcome="error", detail="HTTP 500", inputs={"ticket": "db\nis down"}),
        line("fail1", "ollama/second", fell_over_from=["ollama/champ"], answer="URGENT",
             inputs={"ticket": "db\nis down"}),
        line("nocapture", outcome="error"),
    ]  # fmt: skip
    write_log(project, calls)
    out = project / "evals" / "triage_candidates.yaml"
    status = main(["feedback", "--export-cases", "triage", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0
    assert captured.out.strip() == f"{out}: 2 candidate case(s) of task triage; label them"
    assert captured.err.strip() == "(1 call(s) without captured inputs left out)"
    text = out.read_text(encoding="utf-8")
    assert "sk-live-SECRET" not in text
    assert "ticket: key *** leaked" in text
    assert "# ollama/champ: ok: LATER" in text
    assert "#   shadow runner_up ollama/second disagreed: URGENT" in text
    assert ": fell over" in text
    with pytest.raises(CaseFileError) as refused:
        load_task(out)
    assert "2 case(s) have no label yet: triage_dis1 (line" in str(refused.value)
    assert "triage_fail1 (line" in str(refused.value)
    out.write_text(text.replace("expected: {}", "expected: {verdict: URGENT}"), "utf-8")
    task = load_task(out)
    assert [c.id for c in task.cases] == ["triage_dis1", "triage_fail1"]
    assert task.cases[1].prompt == "Ticket: db\nis down\nAnswer URGENT or LATER."


def test_export_without_captured_inputs_says_how_to_get_them(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(project, [line("a", outcome="error")])
    status = main(["feedback", "--export-cases", "triage", "--out", "c.yaml"])
    assert status == 1
    log = project / ".llmbench" / "feedback.jsonl"
    assert capsys.readouterr().err.strip() == (
        f"llmbench: no captured call of task triage to export from {log} (1 call(s) "
        "without captured inputs: turn on capture for the task)"
    )
