"""Concurrent writers of the champion registry lose nothing (issue 22): every
read-modify-write runs under the registry's lock and each writer writes through a
temporary name of its own, renamed over the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pytest_llmbench.storage.champions import load_registry

UPDATES = 100

WRITER = """
import sys
from pathlib import Path

from pytest_llmbench.analysis.ranking import rank_strict
from pytest_llmbench.execution.results import Result
from pytest_llmbench.storage.champions import update_registry

path, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
run = {"id": f"run-{name}", "started_at": "2025-01-01T12:00:00+00:00"}
for i in range(count):
    task = f"{name}{i:03d}"
    results = [
        Result(task, case, model, 1, "PASS", "PASS", True, "", ms)
        for model, ms in (("p/fast", 100.0), ("p/slow", 300.0))
        for case in ("C1", "C2")
    ]
    update_registry(path, [rank_strict(task, results)], run)
print("done")
"""


def test_two_processes_updating_one_registry_lose_nothing(tmp_path: Path) -> None:
    registry = tmp_path / "llmbench-registry.yaml"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(registry), name, str(UPDATES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = [w.communicate(timeout=300) for w in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert (writer.returncode, out.strip()) == (0, "done"), err
    entries = load_registry(registry)  # valid YAML, a valid registry
    expected = {f"{name}{i:03d}" for name in ("a", "b") for i in range(UPDATES)}
    assert set(entries) == expected
    assert {e.champion.model for e in entries.values()} == {"p/fast"}
    assert [p.name for p in tmp_path.iterdir()] == [registry.name]  # no temporary left
