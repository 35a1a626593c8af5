"""A run's start-up checks do not read the history: their cost does not grow with its size.

Issue 22, "Cost that grows with the history": the output-path check read every existing
output file (the history among them) whole before looking at its suffix.
"""

from __future__ import annotations

import builtins
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.storage import history
from pytest_llmbench.storage.outputs import output_problem, run_problem

SIZE = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def large_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real history padded to 50 MB (one table of blobs the history does not read)."""
    path = tmp_path_factory.mktemp("state") / "history.sqlite"
    history.check_history(path)  # a missing file: nothing to check
    with history._connect(path, create=True):  # the schema, as the first run makes it
        pass
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE padding (data BLOB)")
        chunk = b"x" * (1024 * 1024)
        db.executemany("INSERT INTO padding VALUES (?)", [(chunk,)] * 50)
    db.close()
    assert path.stat().st_size >= SIZE
    return path


def _no_read_of(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any read of ``path`` through Python's file API fails the test."""
    real_open = builtins.open
    real_read_bytes = Path.read_bytes
    real_read_text = Path.read_text

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        assert not (Path(str(file)) == path and "r" in mode), f"{path} was read"
        return real_open(file, mode, *args, **kwargs)

    def guarded_read_bytes(self: Path) -> bytes:
        assert self != path, f"{path} was read whole"
        return real_read_bytes(self)

    def guarded_read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        assert self != path, f"{path} was read whole"
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(Path, "read_bytes", guarded_read_bytes)
    monkeypatch.setattr(Path, "read_text", guarded_read_text)


def _bytes_read() -> int:
    """This process's bytes read so far, by any system call (``rchar``), SQLite's too."""
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


def test_the_output_path_check_does_not_read_the_history(
    large_history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_read_of(large_history, monkeypatch)
    assert output_problem(large_history) is None


def test_the_checks_at_start_read_a_few_pages_of_a_50_mb_history(
    large_history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path("/proc/self/io").exists():
        pytest.skip("no /proc/self/io to count the bytes read")
    outputs = {"--llm-json": tmp_path / "out.json", "--llm-history": large_history}
    before = _bytes_read()
    history.check_history(large_history)
    problem = run_problem(outputs, tmp_path, tmp_path / "cache", "last", None, large_history)
    read = _bytes_read() - before
    assert problem is None
    assert read < 1024 * 1024, f"{read} bytes read of a {SIZE}-byte history at start"
    _no_read_of(large_history, monkeypatch)
    history.check_history(large_history)  # SQLite opens it, Python never reads it whole
    assert run_problem(outputs, tmp_path, None, "last", None, large_history) is None


def test_a_yaml_output_is_still_told_a_case_file_by_its_content(tmp_path: Path) -> None:
    cases = tmp_path / "t.yml"
    cases.write_text("task: t\nprompt: hi\ncases: []\n")
    assert "case file" in (output_problem(cases) or "")
    other = tmp_path / "notes.yaml"
    other.write_text("just: data\n")
    assert output_problem(other) is None
