"""The lines of ``llmbench history`` (champion and latency over time, or one model's
standing in every run) and ``llmbench show`` (one run).  Pure: rows in, lines out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any

from pytest_llmbench.analysis.ranking import ModelStanding
from pytest_llmbench.formatting import ms
from pytest_llmbench.reporting.cells import change, table, when
from pytest_llmbench.reporting.facts import run_date
from pytest_llmbench.reporting.terminal import summary_lines
from pytest_llmbench.storage.history import StoredRun

__all__ = ["history_lines", "show_lines"]

MODEL_HEADERS = (
    "run",
    "date",
    "commit",
    "task",
    "status",
    "correct",
    "mean ms",
    "p95 ms",
    "change",
)
TASK_HEADERS = (
    "run",
    "date",
    "commit",
    "task",
    "champion",
    "mean ms",
    "change",
    "runner-up",
    "qualified",
)


def history_lines(
    rows: Iterable[Mapping[str, Any]], task: str | None = None, model: str | None = None
) -> list[str]:
    """``llmbench history``: per run and task the champion, or one model's standing.

    :param rows: :func:`pytest_llmbench.storage.history.task_timeline` rows, in time order.
    """
    rows = list(rows)
    if not rows:
        what = " and ".join(
            part
            for part in (f"task {task}" if task else "", f"model {model}" if model else "")
            if part
        )
        return [f"no run in the history{' for ' + what if what else ''}"]
    if model is not None:
        return [f"model {model}", *table(_model_rows(rows), MODEL_HEADERS)]
    return table(_champion_rows(rows), TASK_HEADERS)


LOADED_MARK = " (loaded)"
"""After a change of latency when this run or the one it is compared with ran on a loaded
machine (load average above the cores: see :mod:`pytest_llmbench.analysis.conditions`)."""


def _marked(row: Mapping[str, Any], previous_loaded: bool) -> str:
    return LOADED_MARK if row.get("loaded") or previous_loaded else ""


def _commit(row: Mapping[str, Any]) -> str:
    return (row["git_commit"] or "")[:8]


def _model_rows(rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """One model's standing per run and task, with the change of its mean latency."""
    out = []
    previous: dict[str, float | None] = {}
    was_loaded: dict[str, bool] = {}
    for row in rows:
        s: ModelStanding = row["standing"]
        marked = _marked(row, was_loaded.get(row["task"], False))
        out.append(
            [
                row["run"],
                when(row["started_at"]),
                _commit(row),
                row["task"],
                s.status,
                s.score,
                ms(s.mean_ms),
                ms(s.p95_ms),
                change(previous.get(row["task"]), s.mean_ms) + marked,
            ]
        )
        previous[row["task"]] = s.mean_ms
        was_loaded[row["task"]] = bool(row.get("loaded"))
    return out


def _champion_rows(rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Per run and task: the champion, its mean latency and its change, the runner-up."""
    out = []
    champion_ms: dict[str, float | None] = {}
    was_loaded: dict[str, bool] = {}
    for (run_id, task_name), group in groupby(rows, key=lambda r: (r["run"], r["task"])):
        members = list(group)
        standings: list[ModelStanding] = [m["standing"] for m in members]
        champion = next((s for s in standings if s.status == "champion"), None)
        runner_up = next((s for s in standings if s.status == "runner-up"), None)
        qualified = sum(1 for s in standings if s.qualified)
        mean = champion.mean_ms if champion else None
        out.append(
            [
                run_id,
                when(members[0]["started_at"]),
                _commit(members[0]),
                task_name,
                champion.model if champion else "none",
                ms(mean),
                change(champion_ms.get(task_name), mean)
                + _marked(members[0], was_loaded.get(task_name, False)),
                runner_up.model if runner_up else "none",
                f"{qualified}/{len(standings)}",
            ]
        )
        if mean is not None:
            champion_ms[task_name] = mean
            was_loaded[task_name] = bool(members[0].get("loaded"))
    return out


def _run_header(run: Mapping[str, Any]) -> list[str]:
    lines = [f"run {run.get('id')}  {run_date(run)}"]
    facts = [
        f"{label} {value}"
        for label, value in (
            ("commit", str(run.get("git_commit") or "")[:12]),
            ("host", run.get("host")),
            ("pytest-llmbench", run.get("plugin_version")),
            ("exit status", run.get("exitstatus")),
            ("resumed from", run.get("resumed_from")),
        )
        if value not in (None, "")
    ]
    if facts:
        lines.append(", ".join(facts))
    if run.get("args"):
        lines.append("args: " + " ".join(str(a) for a in run["args"]))
    return lines


def show_lines(stored: StoredRun) -> list[str]:
    """``llmbench show RUN``: the run's facts, then the terminal summary of each task."""
    return [*_run_header(stored.run), "", *summary_lines(stored.rankings, stored.case_counts())]
