"""storage/journal.py: lines that read back, damage, run ids, model fingerprints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.base import ModelInfo
from pytest_llmbench.storage import journal
from tests.support import factories


def result(case: str, model: str = "p/a", **kw: Any) -> Result:
    fields: dict[str, Any] = {"prompt_hash": "h1", **kw}
    return factories.result(model, case, **fields)


def test_journal_appends_lines_that_read_back(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "r.jsonl"
    log = journal.Journal(path)
    log.append(journal.Entry(result("C1"), "sha256:abc", "evals/g.yaml::grading::C1[p/a]"))
    log.append(journal.Entry(result("C2"), "sha256:abc"))
    # in the file as soon as appended: nothing waits for close (or a clean exit)
    assert [e.key[1] for e in journal.read_entries(path)] == ["C1", "C2"]
    log.close()
    entries = journal.read_entries(path)
    assert [e.key for e in entries] == [("grading", "C1", "p/a", 1), ("grading", "C2", "p/a", 1)]
    assert entries[0].result == result("C1")
    assert entries[0].fingerprint == "sha256:abc"
    assert entries[0].nodeid == "evals/g.yaml::grading::C1[p/a]"
    assert all(line.endswith("}") for line in path.read_text().splitlines())


def test_a_line_cut_short_is_ignored_then_repaired(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    log = journal.Journal(path)
    log.append(journal.Entry(result("C1")))
    log.close()
    whole = path.stat().st_size
    with path.open("ab") as handle:
        handle.write(b'{"v":1,"result":{"task":"grad')  # killed mid-write
    assert [e.key[1] for e in journal.read_entries(path)] == ["C1"]
    assert journal.repair(path) == whole
    assert path.stat().st_size == whole
    log = journal.Journal(path)
    log.append(journal.Entry(result("C2")))
    log.close()
    assert [e.key[1] for e in journal.read_entries(path)] == ["C1", "C2"]


def test_damaged_lines_and_limits(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    first = journal.Entry(result("C1")).to_line()
    path.write_text(
        first + "not json\n" + '{"no": "result"}\n' + journal.Entry(result("C2")).to_line()
    )
    assert [e.key[1] for e in journal.read_entries(path)] == ["C1", "C2"]
    assert [e.key[1] for e in journal.read_entries(path, limit=len(first))] == ["C1"]
    assert journal.read_entries(tmp_path / "missing.jsonl") == []
    assert journal.repair(tmp_path / "missing.jsonl") == 0


def test_run_ids_sort_by_time_and_the_latest_is_found(tmp_path: Path) -> None:
    import datetime as dt

    early = journal.new_run_id(dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone.utc))
    late = journal.new_run_id(dt.datetime(2025, 1, 2, 8, 30, tzinfo=dt.timezone.utc))
    assert early.startswith("20250101T120000Z-")
    assert early < late
    assert journal.latest_run(tmp_path) is None
    for run_id in (late, early):
        journal.Journal(journal.journal_path(tmp_path, run_id)).append(journal.Entry(result("C1")))
    assert journal.latest_run(tmp_path) == late


def test_model_fingerprint(tmp_path: Path) -> None:
    digest = ModelInfo("ollama", "qwen2.5:7b", details={"digest": "sha256:feed"})
    assert journal.model_fingerprint(digest) == "sha256:feed"
    package = ModelInfo("llamacpp", "x", details={"package": "pytest"})
    assert journal.model_fingerprint(package) == f"pytest=={pytest.__version__}"
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"1234")
    fingerprint = journal.model_fingerprint(ModelInfo("llamacpp", "m", details={"path": str(gguf)}))
    assert fingerprint.startswith(f"{gguf}:4:")
    assert journal.model_fingerprint(ModelInfo("fake", "right")) == ""
