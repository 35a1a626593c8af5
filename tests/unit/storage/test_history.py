"""Run history: the SQLite store, its recording by the plugin, and the ``llmbench`` command."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench import cli
from pytest_llmbench.analysis.ranking import rank_strict
from pytest_llmbench.execution.results import Result
from pytest_llmbench.storage import history
from pytest_llmbench.storage.git import head_commit
from tests.support import factories


def res(model: str, case: str, correct: bool, latency: float, **kw: Any) -> Result:
    expected = "FAIL" if "FAIL" in case else "PASS"
    got = expected if correct else ("PASS" if expected == "FAIL" else "FAIL")
    fields: dict[str, Any] = {"latency_ms": latency, "prompt_hash": "abc", **kw}
    return factories.verdict(model, case, got, **fields)


RESULTS = [
    res("p/a", "GRADE_PASS_001", True, 100.0),
    res("p/a", "GRADE_FAIL_001", True, 300.0),
    res("p/b", "GRADE_PASS_001", True, 900.0),
    res("p/b", "GRADE_FAIL_001", False, 1100.0),
]


def run_record(run_id: str, started: str = "2025-01-01T12:00:00+00:00") -> dict[str, Any]:
    return {
        "id": run_id,
        "started_at": started,
        "finished_at": started,
        "git_commit": "0123456789abcdef",
        "host": "ci",
        "plugin_version": "0.1.0",
        "options": {"llm_models": "all"},
        "exitstatus": 1,
    }


def store(path: Path, run_id: str, started: str, results: list[Result] = RESULTS) -> None:
    ranking = replace(rank_strict("grading", results), notes=("a note",))
    history.record_run(path, run_record(run_id, started), results, [ranking])


# --------------------------------------------------------------------------- the store


def test_round_trip_keeps_run_results_and_ranking(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    ranking = replace(rank_strict("grading", RESULTS), notes=("a note",))
    history.record_run(path, run_record("r1"), RESULTS, [ranking])
    stored = history.load_run(path, "r1")
    assert stored.id == "r1"
    assert stored.run["git_commit"] == "0123456789abcdef"
    assert stored.run["options"] == {"llm_models": "all"}
    assert list(stored.results) == RESULTS
    assert stored.rankings == (ranking,)
    assert stored.rankings[0].champion is not None
    assert stored.rankings[0].champion.model == "p/a"
    assert stored.rankings[0].standings[1].misses[0].direction == "too lenient"
    assert stored.case_counts() == {"grading": 2}


def test_schema_has_runs_results_rankings_and_a_version(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store(path, "r1", "2025-01-01T12:00:00+00:00")
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert {"runs", "results", "rankings"} <= tables
        assert db.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION
        assert db.execute("SELECT count(*) FROM results").fetchone()[0] == 4
        assert db.execute(
            "SELECT model, status, correct, total FROM rankings ORDER BY position"
        ).fetchall() == [("p/a", "champion", 2, 2), ("p/b", "disqualified", 1, 2)]
        row = db.execute("SELECT git_commit, host, plugin_version, tasks FROM runs").fetchone()
        assert row == ("0123456789abcdef", "ci", "0.1.0", '["grading"]')


def test_recording_a_run_again_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store(path, "r1", "2025-01-01T12:00:00+00:00")
    store(path, "r1", "2025-01-01T12:00:00+00:00", RESULTS[:2])
    assert [r.id for r in history.list_runs(path)] == ["r1"]
    assert len(history.load_run(path, "r1").results) == 2


def test_resolve_run_by_id_prefix_and_last(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store(path, "20250101T120000Z-aaaaaa", "2025-01-01T12:00:00+00:00")
    store(path, "20250102T120000Z-bbbbbb", "2025-01-02T12:00:00+00:00")
    store(path, "20250102T130000Z-cccccc", "2025-01-02T13:00:00+00:00")
    assert history.resolve_run(path, "last") == "20250102T130000Z-cccccc"
    assert history.resolve_run(path, "last~2") == "20250101T120000Z-aaaaaa"
    assert history.resolve_run(path, "20250101") == "20250101T120000Z-aaaaaa"
    assert (
        history.resolve_run(path, "last", exclude="20250102T130000Z-cccccc")
        == "20250102T120000Z-bbbbbb"
    )
    with pytest.raises(history.HistoryError, match="ambiguous"):
        history.resolve_run(path, "20250102")
    with pytest.raises(history.HistoryError, match="no run 'zzz'"):
        history.resolve_run(path, "zzz")
    with pytest.raises(history.HistoryError, match="no run 'last~3'"):
        history.resolve_run(path, "last~3")


def test_last_run_with_needs_every_task(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store(path, "r1", "2025-01-01T12:00:00+00:00")
    other = [replace(r, task="other") for r in RESULTS]
    history.record_run(
        path, run_record("r2", "2025-01-02T12:00:00+00:00"), other, [rank_strict("other", other)]
    )
    assert history.last_run_with(path, ["grading"]) == "r1"
    assert history.last_run_with(path, ["other"]) == "r2"
    assert history.last_run_with(path, ["grading", "other"]) is None
    assert history.last_run_with(path, ["grading"], exclude="r1") is None


def test_last_run_with_skips_cache_only_runs(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store(path, "r1", "2025-01-01T12:00:00+00:00")
    cached = run_record("r2", "2025-01-02T12:00:00+00:00") | {"cache_only": True}
    history.record_run(path, cached, RESULTS, [rank_strict("grading", RESULTS)])
    assert history.last_run_with(path, ["grading"]) == "r1"
    assert history.resolve_run(path, "last") == "r2"  # `llmbench show last` still finds it


def test_unusable_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(history.HistoryError, match="no history at"):
        history.list_runs(tmp_path / "missing.sqlite")
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(history.HistoryError, match="schema version 99"):
        history.list_runs(newer)
    text = tmp_path / "text.sqlite"
    text.write_text("not a database at all" * 100)
    with pytest.raises(history.HistoryError, match="cannot use history"):
        history.list_runs(text)


def test_git_commit_inside_and_outside_a_repository(tmp_path: Path) -> None:
    assert head_commit(tmp_path) is None
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "f").write_text("x")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "add", "f"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "c"], cwd=tmp_path, check=True)
    commit = head_commit(tmp_path)
    assert commit is not None
    assert len(commit) == 40


# --------------------------------------------------------------------------- the plugin


def runs_in(path: Path) -> list[history.RunSummary]:
    return history.list_runs(path) if path.exists() else []


# --------------------------------------------------------------------------- llmbench


@pytest.fixture
def two_runs(tmp_path: Path) -> Path:
    path = tmp_path / "h.sqlite"
    store(path, "20250101T120000Z-aaaaaa", "2025-01-01T12:00:00+00:00")
    later = [
        res("p/a", "GRADE_PASS_001", True, 150.0),
        res("p/a", "GRADE_FAIL_001", False, 450.0),
        res("p/b", "GRADE_PASS_001", True, 800.0),
        res("p/b", "GRADE_FAIL_001", True, 1000.0),
    ]
    store(path, "20250102T120000Z-bbbbbb", "2025-01-02T12:00:00+00:00", later)
    return path


def test_history_command_shows_champion_over_time(
    two_runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--history", str(two_runs), "history", "--task", "grading"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "run",
        "date",
        "commit",
        "task",
        "champion",
        "mean",
        "ms",
        "change",
        "runner-up",
        "qualified",
    ]
    assert out[2].split() == [
        "20250101T120000Z-aaaaaa",
        "2025-01-01",
        "12:00",
        "01234567",
        "grading",
        "p/a",
        "200",
        "none",
        "1/2",
    ]
    assert out[3].split() == [
        "20250102T120000Z-bbbbbb",
        "2025-01-02",
        "12:00",
        "01234567",
        "grading",
        "p/b",
        "900",
        "+350%",
        "none",
        "1/2",
    ]


def test_history_command_for_one_model(two_runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["history", "--model", "p/a", "--history", str(two_runs)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "model p/a"
    assert out[3].split()[5:] == ["champion", "2/2", "200", "290"]
    assert out[4].split()[5:] == ["disqualified", "1/2", "300", "435", "+50%"]


def test_history_command_with_nothing_to_show(
    two_runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--history", str(two_runs), "history", "--task", "nope"]) == 0
    assert capsys.readouterr().out == "no run in the history for task nope\n"


def test_show_command_prints_the_run_and_its_ranking(
    two_runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--history", str(two_runs), "show", "20250101"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("run 20250101T120000Z-aaaaaa  2025-01-01 12:00 UTC\n")
    assert "commit 0123456789ab, host ci, pytest-llmbench 0.1.0, exit status 1" in out
    assert "task grading (strict policy, 2 cases)" in out
    assert "Champion:  p/a (2/2 correct, mean 200 ms, p95 290 ms)" in out
    assert "  p/b (1/2): too lenient on GRADE_FAIL_001" in out
    assert "Note: a note" in out


def test_compare_command_per_task_model_and_case(
    two_runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--history", str(two_runs), "compare", "last~1", "last"]) == 0
    out = capsys.readouterr().out
    champions = out.split("Champions\n")[1].split("\n\n")[0].splitlines()
    assert champions[2].split() == ["grading", "p/a", "200", "p/b", "900", "changed"]
    models = out.split("Models\n")[1].split("\n\n")[0].splitlines()
    assert models[2].split() == [
        "grading",
        "p/a",
        "2/2",
        "1/2",
        "champion",
        "disqualified",
        "200",
        "300",
        "+50%",
    ]
    cases = out.split("Cases that changed\n")[1].split("\n\n")[0].splitlines()
    assert [line.split() for line in cases[2:]] == [
        ["grading", "GRADE_FAIL_001", "p/a", "correct", "(FAIL)", "too", "lenient", "(PASS)"],
        ["grading", "GRADE_FAIL_001", "p/b", "too", "lenient", "(PASS)", "correct", "(FAIL)"],
    ]


def test_commands_fail_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--history", str(tmp_path / "none.sqlite"), "show", "last"]) == 1
    assert capsys.readouterr().err.startswith("llmbench: no history at ")
    with pytest.raises(SystemExit) as usage:
        cli.main(["compare", "only-one"])
    assert usage.value.code == 2


def test_console_script_is_installed(two_runs: Path) -> None:
    script = Path(sys.executable).parent / "llmbench"
    if not script.exists():
        pytest.skip(f"no llmbench script next to {sys.executable} (package not installed)")
    done = subprocess.run(
        [str(script), "show", "last", "--history", str(two_runs)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "run 20250102T120000Z-bbbbbb" in done.stdout
    assert "Champion:  p/b" in done.stdout
