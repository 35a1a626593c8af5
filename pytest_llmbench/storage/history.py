"""Run history: every run, its results and its rankings in one SQLite file.

Pure storage (stdlib ``sqlite3``), no pytest.  Only the controller process writes
(see :mod:`pytest_llmbench.storage.outputs`); the ``llmbench`` command reads.

Schema (``PRAGMA user_version`` holds :data:`SCHEMA_VERSION`):

- ``runs``: one row per run (id, times, git commit, host, plugin version, options,
  tasks, the whole run record as JSON);
- ``results``: one row per (task, case, model, repeat) call, the record as JSON;
- ``rankings``: one row per (task, model) standing, in rank order.

Every record is stored in the codec's canonical form (:mod:`.codec`: a dataclass as the
object of its fields, as ``dataclasses.asdict`` gives it): the results and standings as
JSON in their rows, the rest of each task's ranking under ``rankings`` in the run's
``info``.  Reading goes through the same codec; data that does not fit raises
:class:`HistoryError` naming the run and the field.  Everything is masked before it is
written (:func:`~pytest_llmbench.safety.redaction.redact_data`, as the JSON document is):
no password of an endpoint URL, no registered secret.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmbench.analysis.elimination import FailureRates
from pytest_llmbench.analysis.ranking import ModelStanding, TaskRanking
from pytest_llmbench.execution.results import Result
from pytest_llmbench.safety.redaction import redact, redact_data, registered_secrets
from pytest_llmbench.storage.codec import decode, encode

__all__ = [
    "SCHEMA_VERSION",
    "HistoryError",
    "RunSummary",
    "StoredRun",
    "benchmarked",
    "failure_rates",
    "known_failure_rates",
    "last_run_with",
    "list_runs",
    "load_run",
    "record_run",
    "resolve_run",
    "task_timeline",
]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    git_commit TEXT,
    host TEXT,
    plugin_version TEXT,
    exitstatus INTEGER,
    tasks TEXT NOT NULL,
    options TEXT NOT NULL,
    info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    task TEXT NOT NULL,
    case_id TEXT NOT NULL,
    model TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    correct INTEGER NOT NULL,
    latency_ms REAL,
    prompt_hash TEXT,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS results_by_task_model ON results (task, model);
CREATE TABLE IF NOT EXISTS rankings (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task TEXT NOT NULL,
    position INTEGER NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    qualified INTEGER NOT NULL,
    correct INTEGER NOT NULL,
    total INTEGER NOT NULL,
    mean_ms REAL,
    p95_ms REAL,
    standing TEXT NOT NULL,
    PRIMARY KEY (run_id, task, position)
);
CREATE INDEX IF NOT EXISTS rankings_by_task ON rankings (task, status);
"""


class HistoryError(Exception):
    """A history file that cannot be used, or a run that is not in it; ``str()`` says which."""


@dataclass(frozen=True)
class RunSummary:
    """One row of ``runs``."""

    id: str
    started_at: str
    git_commit: str | None
    host: str | None
    plugin_version: str | None
    exitstatus: int | None
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class StoredRun:
    """A run read back: its record, every result and the ranking of each task."""

    run: Mapping[str, Any]
    results: tuple[Result, ...]
    rankings: tuple[TaskRanking, ...]

    @property
    def id(self) -> str:
        return str(self.run["id"])

    def case_counts(self) -> dict[str, int]:
        """Distinct cases per task, as the terminal summary shows them."""
        cases: dict[str, set[str]] = {}
        for r in self.results:
            cases.setdefault(r.task, set()).add(r.case_id)
        return {task: len(ids) for task, ids in cases.items()}


# --------------------------------------------------------------------------- connection


@contextmanager
def _connect(path: Path, *, create: bool) -> Iterator[sqlite3.Connection]:
    if not create and not path.is_file():
        raise HistoryError(f"no history at {path} (run pytest with pytest-llmbench first)")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = sqlite3.connect(path, timeout=30)
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot open history {path}: {exc}") from None
    with closing(connection) as db:
        try:
            db.execute("PRAGMA foreign_keys = ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"history {path} has schema version {version}, this pytest-llmbench "
                    f"reads up to {SCHEMA_VERSION}: upgrade pytest-llmbench"
                )
            if version == 0 and create:
                _refuse_foreign(db, path)
            if version < SCHEMA_VERSION and create:
                with db:
                    db.executescript(_SCHEMA)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version == 0:
                raise HistoryError(f"{path} is not a pytest-llmbench history")
            yield db
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"cannot use history {path}: {exc}") from None


@contextmanager
def _readable(path: Path, what: str) -> Iterator[None]:
    """Data of ``what`` that is not JSON or not the record it should be: a HistoryError."""
    try:
        yield
    except ValueError as exc:  # json.JSONDecodeError, CodecError
        raise HistoryError(f"history {path}: {what} cannot be read: {exc}") from None


def _refuse_foreign(db: sqlite3.Connection, path: Path) -> None:
    """A database without our version that already has tables belongs to someone else."""
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise HistoryError(
            f"{path} is another program's SQLite database (tables: {shown}), not a "
            "pytest-llmbench history; it is left untouched: give --llm-history a new file"
        )


def check_history(path: Path) -> None:
    """Before a run: the file the run will be recorded in is a history, or is not there yet.

    :raises HistoryError: another program's SQLite database, or not SQLite at all.
    """
    if not path.exists():
        return
    with _connect(path, create=True):  # only reads when the file is a history already
        pass


# --------------------------------------------------------------------------- writing


def record_run(
    path: Path,
    run: Mapping[str, Any],
    results: Sequence[Result],
    rankings: Sequence[TaskRanking],
) -> None:
    """Append one run (``run["id"]`` names it; a run recorded again replaces the old record)."""
    run_id = str(run["id"])
    tasks = [r.task for r in rankings]
    info = dict(run)
    # Everything of a task's ranking but the standings (those have a table of their own,
    # so they are not encoded here at all).
    info["rankings"] = {
        r.task: {
            k: v
            for k, v in encode(dataclasses.replace(r, standings=())).items()
            if k not in ("task", "standings")
        }
        for r in rankings
    }
    # A registered secret that JSON escapes is not found in the text: mask record by record.
    whole = not any(json.dumps(s)[1:-1] != s for s in registered_secrets())
    with _connect(path, create=True) as db, db:
        db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        db.execute(
            "INSERT INTO runs (id, started_at, finished_at, git_commit, host, plugin_version,"
            " exitstatus, tasks, options, info) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                str(run.get("started_at") or ""),
                run.get("finished_at"),
                run.get("git_commit"),
                run.get("host"),
                run.get("plugin_version"),
                run.get("exitstatus"),
                json.dumps(tasks),
                json.dumps(redact_data(run.get("options") or {}), sort_keys=True, default=str),
                json.dumps(redact_data(info), default=str, ensure_ascii=False),
            ),
        )
        db.executemany(  # row by row: 20,000 records are never all encoded at once
            "INSERT INTO results (run_id, seq, task, case_id, model, repeat, correct,"
            " latency_ms, prompt_hash, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    run_id,
                    seq,
                    r.task,
                    r.case_id,
                    r.model,
                    r.repeat,
                    int(r.correct),
                    r.latency_ms,
                    r.prompt_hash,
                    _masked_json(r.to_dict(), whole),  # = encode(r), made faster
                )
                for seq, r in enumerate(results)
            ),
        )
        db.executemany(
            "INSERT INTO rankings (run_id, task, position, model, status, qualified, correct,"
            " total, mean_ms, p95_ms, standing) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    ranking.task,
                    position,
                    s.model,
                    s.status,
                    int(s.qualified),
                    s.correct,
                    s.total,
                    s.mean_ms,
                    s.p95_ms,
                    _masked_json(encode(s), whole),  # its per-case figures grow with the run
                )
                for ranking in rankings
                for position, s in enumerate(ranking.standings)
            ],
        )


def _masked_json(record: Mapping[str, Any], whole: bool) -> str:
    """``record`` as JSON, masked as :func:`redact_data` masks it.  ``whole``: every
    registered secret reads the same in JSON, so the text is looked at once and only a
    record that holds something to mask is masked field by field (most hold nothing)."""
    text = json.dumps(record, ensure_ascii=False)
    if whole and redact(text) == text:
        return text
    return json.dumps(redact_data(record), ensure_ascii=False)


# --------------------------------------------------------------------------- reading


def _summary(row: sqlite3.Row | tuple[Any, ...]) -> RunSummary:
    run_id, started_at, commit, host, version, exitstatus, tasks = row
    return RunSummary(
        run_id, started_at, commit, host, version, exitstatus, tuple(json.loads(tasks))
    )


def list_runs(path: Path) -> list[RunSummary]:
    """Every run, oldest first."""
    with _connect(path, create=False) as db:
        rows = db.execute(
            "SELECT id, started_at, git_commit, host, plugin_version, exitstatus, tasks"
            " FROM runs ORDER BY started_at, id"
        ).fetchall()
    return [_summary(row) for row in rows]


def resolve_run(path: Path, ref: str, *, exclude: str | None = None) -> str:
    """A run id from ``ref``: an id, a unique prefix of one, ``last`` or ``last~N``.

    :param exclude: a run id to leave out (the current run).
    """
    runs = [r.id for r in list_runs(path) if r.id != exclude]
    if not runs:
        raise HistoryError(f"no run in history {path}")
    if ref == "last" or ref.startswith("last~"):
        back = ref.removeprefix("last").removeprefix("~") or "0"
        if not back.isdigit() or int(back) >= len(runs):
            raise HistoryError(f"no run {ref!r} in history {path} ({len(runs)} run(s))")
        return runs[-1 - int(back)]
    if ref in runs:
        return ref
    matches = [r for r in runs if r.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise HistoryError(f"run {ref!r} is ambiguous: {', '.join(matches)}")
    raise HistoryError(f"no run {ref!r} in history {path}; `llmbench history` lists the runs")


RunRows = tuple[str, list[str], dict[str, list[str]]]
"""One run as stored: its info, its result records, its standings by task (JSON text)."""


def stored_rows(db: sqlite3.Connection, path: Path, run_id: str) -> RunRows:
    """The rows of one run, read from ``db`` (any connection to the history at ``path``)."""
    row = db.execute("SELECT info FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise HistoryError(f"no run {run_id!r} in history {path}")
    records = [
        record
        for (record,) in db.execute(
            "SELECT record FROM results WHERE run_id = ? ORDER BY seq", (run_id,)
        )
    ]
    by_task: dict[str, list[str]] = {}
    for task, standing in db.execute(
        "SELECT task, standing FROM rankings WHERE run_id = ? ORDER BY rowid", (run_id,)
    ):
        by_task.setdefault(task, []).append(standing)
    return row[0], records, by_task


def decode_run(
    path: Path,
    run_id: str,
    rows: RunRows,
    results: Callable[[list[str]], tuple[Result, ...]] | None = None,
) -> StoredRun:
    """The run of ``rows`` through the codec (its results through ``results`` when given:
    a faster reader of the same records)."""
    info, records, by_task = rows
    with _readable(path, f"run {run_id}"):
        run = decode(dict[str, Any], json.loads(info), "info")
        meta = decode(dict[str, dict[str, Any]], run.get("rankings", {}), "info.rankings")
        decoded = (
            results(records)
            if results is not None
            else tuple(
                decode(Result, json.loads(record), f"results[{seq}]")
                for seq, record in enumerate(records)
            )
        )
        rankings = tuple(
            decode(
                TaskRanking,
                {
                    **meta.get(task, {}),
                    "task": task,
                    "standings": [json.loads(standing) for standing in standings],
                },
                f"rankings[{task!r}]",
            )
            for task, standings in by_task.items()
        )
    return StoredRun(run=run, results=decoded, rankings=rankings)


def load_run(path: Path, run_id: str) -> StoredRun:
    """One run with its results and rankings, as they were recorded."""
    with _connect(path, create=False) as db:
        rows = stored_rows(db, path, run_id)
    return decode_run(path, run_id, rows)


def failure_rates(path: Path, tasks: Sequence[str]) -> FailureRates:
    """Per case of ``tasks``, the share of wrong runs in every run of the history, over
    all models and per model (``--llm-eliminate`` runs the likeliest misses first).

    Read from the indexed columns only (no record is decoded); no history: no rates.
    """
    if not tasks or not path.is_file():
        return FailureRates.empty()
    marks = ", ".join("?" for _ in tasks)
    query = (
        "SELECT task, case_id, model, SUM(1 - correct), COUNT(*) FROM results"
        f" WHERE task IN ({marks}) GROUP BY task, case_id, model"
    )
    with _connect(path, create=False) as db:
        rows = db.execute(query, list(tasks)).fetchall()
    by_model: dict[tuple[str, str, str], float] = {}
    wrong: dict[tuple[str, str], int] = {}
    runs: dict[tuple[str, str], int] = {}
    for task, case_id, model, bad, count in rows:
        by_model[(task, case_id, model)] = bad / count
        wrong[(task, case_id)] = wrong.get((task, case_id), 0) + bad
        runs[(task, case_id)] = runs.get((task, case_id), 0) + count
    return FailureRates({key: wrong[key] / runs[key] for key in runs}, by_model)


def known_failure_rates(path: Path | None, tasks: Sequence[str]) -> FailureRates:
    """:func:`failure_rates`, or none when there is no history or it cannot be read (a
    history that cannot be read is reported at the end of the run)."""
    if path is not None and path.is_file():
        with contextlib.suppress(HistoryError, sqlite3.Error, OSError):
            return failure_rates(path, tasks)
    return FailureRates.empty()


def last_run_with(path: Path, tasks: Sequence[str], *, exclude: str | None = None) -> str | None:
    """The latest run (other than ``exclude``) that ranked every one of ``tasks`` and
    timed its answers: a cache-only run (every answer from the response cache) is never
    a baseline."""
    wanted = set(tasks)
    with _connect(path, create=False) as db:
        cached = {
            run_id
            for (run_id,) in db.execute(
                "SELECT id FROM runs WHERE json_extract(info, '$.cache_only')"
            )
        }
    for summary in reversed(list_runs(path)):
        if summary.id not in (exclude, *cached) and wanted <= set(summary.tasks):
            return summary.id
    return None


def task_timeline(
    path: Path, task: str | None = None, model: str | None = None
) -> list[dict[str, Any]]:
    """Rows of (run, task, standing) in time order, optionally for one task and one model;
    ``loaded``: the run ran on a loaded machine (its ``conditions``)."""
    query = (
        "SELECT runs.id, runs.started_at, runs.git_commit, rankings.task, rankings.standing,"
        " json_extract(runs.info, '$.conditions.loaded')"
        " FROM rankings JOIN runs ON runs.id = rankings.run_id"
    )
    where: list[str] = []
    params: list[str] = []
    if task is not None:
        where.append("rankings.task = ?")
        params.append(task)
    if model is not None:
        where.append("rankings.model = ?")
        params.append(model)
    if where:
        query += " WHERE " + " AND ".join(where)
    query += " ORDER BY runs.started_at, runs.id, rankings.task, rankings.position"
    with _connect(path, create=False) as db:
        rows = db.execute(query, params).fetchall()
    timeline: list[dict[str, Any]] = []
    for run_id, started, commit, task_name, standing, loaded in rows:
        with _readable(path, f"run {run_id}"):
            data = json.loads(standing)
            timeline.append(
                {
                    "run": run_id,
                    "started_at": started,
                    "git_commit": commit,
                    "task": task_name,
                    "standing": decode(ModelStanding, data, f"rankings[{task_name!r}]"),
                    "loaded": bool(loaded),
                }
            )
    return timeline


def benchmarked(path: Path, tasks: Sequence[str]) -> dict[str, dict[str, set[str]]]:
    """Per task, per model: the prompt hashes of every case some run benchmarked it on.

    ``{}`` when there is no history file yet.
    """
    if not path.is_file() or not tasks:
        return {}
    marks = ", ".join("?" for _ in tasks)
    query = f"SELECT DISTINCT task, model, prompt_hash FROM results WHERE task IN ({marks})"
    with _connect(path, create=False) as db:
        rows = db.execute(query, list(tasks)).fetchall()
    found: dict[str, dict[str, set[str]]] = {}
    for task, model, prompt_hash in rows:
        if prompt_hash:
            found.setdefault(str(task), {}).setdefault(str(model), set()).add(str(prompt_hash))
    return found
