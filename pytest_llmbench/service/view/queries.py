"""Read-only queries over the history for the pages that span many runs.

The history is opened read-only (``mode=ro``): the view never writes it.  The runs list
and a task's timeline read the indexed columns and a few fields of the JSON (with SQLite's
``json_extract``), so 1,000 runs of 20 models are read without decoding a result record.
One run (its results and rankings) is read by :func:`pytest_llmbench.storage.history.load_run`.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmbench.execution.results import Result
from pytest_llmbench.storage.history import (
    SCHEMA_VERSION,
    HistoryError,
    StoredRun,
    decode_run,
    stored_rows,
)

__all__ = [
    "RunRow",
    "Standing",
    "TaskPoint",
    "case_results",
    "read_only",
    "read_run",
    "run_origin",
    "run_rows",
    "task_names",
    "task_points",
]


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """The history opened read-only; a file that is not one is a :class:`HistoryError`."""
    if not path.is_file():
        raise HistoryError(f"no history at {path} (run pytest with pytest-llmbench first)")
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot open history {path}: {exc}") from None
    with closing(connection) as db:
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                raise HistoryError(f"{path} is not a pytest-llmbench history")
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"history {path} has schema version {version}, this pytest-llmbench "
                    f"reads up to {SCHEMA_VERSION}: upgrade pytest-llmbench"
                )
            yield db
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"cannot use history {path}: {exc}") from None


@dataclass(frozen=True)
class RunRow:
    """One run on the runs list."""

    id: str
    started_at: str
    git_commit: str | None
    branch: str | None
    exitstatus: int | None
    gate: str | None
    """The gate's verdict when the run record holds one (``gate``), else ``None``."""
    partial: bool
    cache_only: bool
    tasks: tuple[str, ...]
    models: tuple[str, ...]
    champions: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    """task -> (champion, its mean latency)."""


def _loads(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _gate(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        verdict = value.get("verdict") or ("passed" if value.get("passed") else "failed")
        return str(verdict)
    return str(value)


def run_rows(path: Path) -> list[RunRow]:
    """Every run, newest first, with its champions."""
    with read_only(path) as db:
        rows = db.execute(
            "SELECT id, started_at, git_commit, exitstatus, tasks,"
            " json_extract(info, '$.git_branch'), json_extract(info, '$.gate'),"
            " json_extract(info, '$.partial'), json_extract(info, '$.cache_only'),"
            " json_extract(info, '$.models')"
            " FROM runs ORDER BY started_at DESC, id DESC"
        ).fetchall()
        tasks = sorted({t for row in rows for t in _loads(row[4], [])})
        champions: dict[str, dict[str, tuple[str, float | None]]] = {}
        for task in tasks:  # the (task, status) index: no scan of the standings
            for run_id, model, mean_ms in db.execute(
                "SELECT run_id, model, mean_ms FROM rankings WHERE task = ? AND status = ?",
                (task, "champion"),
            ):
                champions.setdefault(run_id, {})[task] = (model, mean_ms)
    return [
        RunRow(
            id=run_id,
            started_at=started,
            git_commit=commit,
            branch=None if branch is None else str(branch),
            exitstatus=exitstatus,
            gate=_gate(_loads(gate, gate) if isinstance(gate, str) and gate[:1] == "{" else gate),
            partial=bool(partial),
            cache_only=bool(cache_only),
            tasks=tuple(_loads(tasks_json, [])),
            models=tuple(str(m) for m in _loads(models, [])),
            champions=champions.get(run_id, {}),
        )
        for (
            run_id,
            started,
            commit,
            exitstatus,
            tasks_json,
            branch,
            gate,
            partial,
            cache_only,
            models,
        ) in rows
    ]


def task_names(path: Path) -> list[str]:
    """Every task some run ranked."""
    with read_only(path) as db:
        return [t for (t,) in db.execute("SELECT DISTINCT task FROM rankings ORDER BY task")]


@dataclass(frozen=True)
class Standing:
    """One model's place in one run of a task."""

    model: str
    status: str
    qualified: bool
    correct: int
    total: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class TaskPoint:
    """One run of a task: its standings in rank order."""

    run: str
    started_at: str
    git_commit: str | None
    standings: tuple[Standing, ...]

    def holder(self, status: str) -> Standing | None:
        return next((s for s in self.standings if s.status == status), None)


_P50 = re.compile(r'"latency": (?:null|\{"n": \d+, "mean": [-+.\deE]+, "p50": ([-+.\deE]+))')
"""The median latency at the head of a standing's ``latency`` (the codec writes its fields
in order): read without parsing the whole standing, 20,000 of which make a task's page."""


def _medians(db: sqlite3.Connection, heads: list[tuple[str | None, int]]) -> list[float | None]:
    """The p50 of each standing from the head of its ``latency``; a standing whose head
    does not read so (another layout) is asked of SQLite's JSON functions."""
    found: list[float | None] = []
    for head, rowid in heads:
        match = _P50.match(head or "")
        if match:
            found.append(float(match.group(1)) if match.group(1) else None)
        else:
            (value,) = db.execute(
                "SELECT json_extract(standing, '$.latency.p50') FROM rankings WHERE rowid = ?",
                (rowid,),
            ).fetchone()
            found.append(value)
    return found


def task_points(path: Path, task: str) -> list[TaskPoint]:
    """Every run that ranked ``task``, oldest first (the runs' order is applied here: a
    sort in SQL would first copy 20,000 standings into a temporary tree)."""
    with read_only(path) as db:
        runs = {
            run_id: (order, started, commit)
            for order, (run_id, started, commit) in enumerate(
                db.execute("SELECT id, started_at, git_commit FROM runs ORDER BY started_at, id")
            )
        }
        rows = db.execute(
            "SELECT run_id, position, model, status, qualified, correct, total, mean_ms,"
            " substr(standing, instr(standing, '\"latency\": '), 120), p95_ms, rowid"
            " FROM rankings WHERE task = ?",
            (task,),
        ).fetchall()
        rows.sort(key=lambda row: (runs[row[0]][0], row[1]))
        medians = _medians(db, [(row[8], row[10]) for row in rows])
    points: list[TaskPoint] = []
    current: list[Standing] = []
    last: str | None = None
    for row, p50 in zip(rows, medians, strict=True):
        run_id, _, model, status, qualified, correct, total, mean, _, p95, _ = row
        if run_id != last:
            if last is not None:
                points.append(TaskPoint(last, *runs[last][1:], tuple(current)))
            last, current = run_id, []
        current.append(Standing(model, status, bool(qualified), correct, total, mean, p50, p95))
    if last is not None:
        points.append(TaskPoint(last, *runs[last][1:], tuple(current)))
    return points


# --------------------------------------------------------------------------- one run


def _results(path: Path, run_id: str, records: list[str]) -> tuple[Result, ...]:
    """The records through :meth:`Result.from_dict`, the inverse of the writer's
    ``to_dict`` (twice as fast as the codec on 1,000 records); one that does not fit is
    a :class:`HistoryError` naming the run."""
    try:
        return tuple(Result.from_dict(json.loads(record)) for record in records)
    except (ValueError, TypeError) as exc:
        raise HistoryError(f"history {path}: run {run_id} cannot be read: {exc}") from None


def read_run(path: Path, run_id: str) -> StoredRun:
    """One run as :func:`pytest_llmbench.storage.history.load_run` reads it (the same rows,
    the rankings through the codec), its results read faster (:func:`_results`)."""
    with read_only(path) as db:
        rows = stored_rows(db, path, run_id)
    return decode_run(path, run_id, rows, lambda records: _results(path, run_id, records))


def case_results(path: Path, run_id: str, task: str, case_id: str) -> tuple[Result, ...]:
    """The results of one case of one run, in the order they were recorded (the run's
    other results are not decoded)."""
    with read_only(path) as db:
        records = [
            record
            for (record,) in db.execute(
                "SELECT record FROM results WHERE run_id = ? AND task = ? AND case_id = ?"
                " ORDER BY seq",
                (run_id, task, case_id),
            )
        ]
    return _results(path, run_id, records)


def run_origin(path: Path, run_id: str) -> dict[str, Any]:
    """Where the run was started: its ``rootdir`` and ``args`` as recorded (``{}`` when
    the run is not there)."""
    with read_only(path) as db:
        row = db.execute(
            "SELECT json_extract(info, '$.rootdir'), json_extract(info, '$.args')"
            " FROM runs WHERE id = ?",
            (run_id,),
        ).fetchone()
    if row is None:
        return {}
    return {"rootdir": row[0], "args": _loads(row[1], [])}
