"""What moved below the plugin into storage/: the run record (storage/outputs.py
``run_record``), ``--llm-resume``'s run (storage/journal.py ``resume_id``), the registry
reads (storage/champions.py), the document's ``run`` (storage/json_report.py
``run_info``) and the history's failure rates (storage/history.py
``known_failure_rates``)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench._version import __version__
from pytest_llmbench.analysis.elimination import FailureRates
from pytest_llmbench.analysis.ranking import rank_task
from pytest_llmbench.execution.results import Result
from pytest_llmbench.safety.redaction import register_secret
from pytest_llmbench.selection.spec import SelectionError
from pytest_llmbench.storage import history, journal, json_report
from pytest_llmbench.storage.champions import registered_chain, registered_models
from pytest_llmbench.storage.outputs import run_record


def test_the_run_record_adds_the_run_and_keeps_only_the_run_models_info(tmp_path: Path) -> None:
    record = run_record(
        {"exitstatus": 0, "models": ["p/a"]},
        run_id="20260101-000000-abcd",
        rootdir=tmp_path,
        options={"llm_models": "p/a"},
        tasks=["t"],
        resumed_from=None,
        model_info={"p/b": {"size_bytes": 2}, "p/a": {"size_bytes": 1}},
    )
    assert record == {
        "exitstatus": 0,
        "models": ["p/a"],
        "id": "20260101-000000-abcd",
        "git_commit": None,  # not a repository
        "rootdir": str(tmp_path),
        "options": {"llm_models": "p/a"},
        "tasks": ["t"],
        "resumed_from": None,
        "model_info": {"p/a": {"size_bytes": 1}},
    }


def test_the_run_record_shows_no_secret(tmp_path: Path) -> None:
    register_secret("sk-run-record-secret")
    record = run_record(
        {"models": []},
        run_id="r",
        rootdir=tmp_path,
        options={"llm_ollama_host": "http://u:sk-run-record-secret@host"},
        tasks=[],
        resumed_from=None,
        model_info={},
    )
    assert "sk-run-record-secret" not in repr(record)


def test_resume_latest_is_the_last_journal_and_a_named_one_must_exist(tmp_path: Path) -> None:
    with pytest.raises(journal.ResumeError, match="no run journal in"):
        journal.resume_id(tmp_path, "latest")
    for run_id in ("20260101-000000-aaaa", "20260102-000000-bbbb"):
        journal.journal_path(tmp_path, run_id).write_text("")
    assert journal.resume_id(tmp_path, "latest") == "20260102-000000-bbbb"
    assert journal.resume_id(tmp_path, "20260101-000000-aaaa") == "20260101-000000-aaaa"
    with pytest.raises(journal.ResumeError, match="runs: 20260101-000000-aaaa, 20260102"):
        journal.resume_id(tmp_path, "nope")


def test_registered_models_of_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    broken = tmp_path / "llmbench-registry.yaml"
    broken.write_text("tasks: [not, a, mapping\n")
    with pytest.raises(SelectionError):
        registered_models(broken)
    assert registered_models(broken, quiet=True) == {}
    assert registered_chain(broken, "t") == []
    assert registered_chain(tmp_path / "missing.yaml", "t") == []


def test_failure_rates_without_a_readable_history_are_none(tmp_path: Path) -> None:
    assert history.known_failure_rates(None, ["t"]) == FailureRates.empty()
    assert history.known_failure_rates(tmp_path / "none.sqlite", ["t"]).by_model == {}
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_text("not a database")
    assert history.known_failure_rates(garbage, ["t"]).by_model == {}


def test_failure_rates_come_from_the_history(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    results = [
        Result("t", "A", "p/m", 1, "PASS", "FAIL", False, latency_ms=1.0),
        Result("t", "B", "p/m", 1, "PASS", "PASS", True, latency_ms=1.0),
    ]
    history.record_run(path, {"id": "r1"}, results, [rank_task("t", results)])
    rates = history.known_failure_rates(path, ["t"])
    assert rates.by_model[("t", "A", "p/m")] == 1.0
    assert rates.by_model[("t", "B", "p/m")] == 0.0


def test_the_documents_run_says_when_where_and_how() -> None:
    started = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)
    info = json_report.run_info(
        started=started,
        models=["p/m"],
        args=("evals", "-q"),
        exitstatus=0,
        cache="off",
        run_id="r",
        partial="stopped early (-x)",
        cache_only=False,
        xdist=None,
    )
    assert list(info) == [
        "started_at",
        "finished_at",
        "plugin_version",
        "host",
        "python",
        "models",
        "args",
        "exitstatus",
        "cache",
        "id",
        "partial",
        "partial_reason",
        "cache_only",
    ]
    assert info["started_at"] == "2026-01-01T00:00:00+00:00"
    assert (info["plugin_version"], info["args"]) == (__version__, ["evals", "-q"])
    assert (info["partial"], info["partial_reason"]) == (True, "stopped early (-x)")
    distributed = json_report.run_info(**{**_RUN_INFO, "xdist": {"workers": ["gw0"]}})
    assert distributed["xdist"] == {"workers": ["gw0"]}
    assert distributed["partial"] is False


_RUN_INFO: dict[str, Any] = {
    "started": _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc),
    "models": [],
    "args": (),
    "exitstatus": None,
    "cache": "off",
    "run_id": None,
    "partial": None,
    "cache_only": False,
    "xdist": None,
}


def test_the_history_masks_an_endpoint_password_in_every_record(tmp_path: Path) -> None:
    url = "https://bench:Hunter2-endpoint-pw@llm.example/v1"
    results = [Result("t", "A", "emu/m", 1, "PASS", "PASS", True, latency_ms=1.0, host=url)]
    run = {"id": "r1", "started_at": "2026-01-01T00:00:00+00:00", "options": {"ep": url}}
    path = tmp_path / "history.sqlite"
    history.record_run(path, run, results, [rank_task("t", results)])
    assert b"Hunter2-endpoint-pw" not in path.read_bytes()
    stored = history.load_run(path, "r1")
    assert stored.results[0].host == "https://bench:***@llm.example/v1"
