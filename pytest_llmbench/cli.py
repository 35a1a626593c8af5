"""The ``llmbench`` command: read the run history that pytest-llmbench writes.

    llmbench history [--task T] [--model M]   champion and latency over time
    llmbench show RUN                         one run: its ranking per task
    llmbench compare RUN_A RUN_B              what changed, per task, model and case

RUN is a run id, a unique prefix of one, ``last`` or ``last~N``.  The history is
``.llmbench/history.sqlite`` in the working directory unless ``--history PATH``.
The ``*_lines`` functions are pure (data in, lines out); :func:`main` prints them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

from tabulate import tabulate

from pytest_llmbench import __version__
from pytest_llmbench.analysis.ranking import ModelStanding
from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.redaction import register_environment_secrets, shown
from pytest_llmbench.reporting.facts import run_date
from pytest_llmbench.reporting.terminal import summary_lines
from pytest_llmbench.storage.history import (
    DEFAULT_HISTORY,
    HistoryError,
    StoredRun,
    load_run,
    resolve_run,
    task_timeline,
)

__all__ = ["compare_lines", "history_lines", "main", "show_lines"]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> list[str]:
    text = tabulate(rows, headers=list(headers), tablefmt="simple", disable_numparse=True)
    return text.splitlines()


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None or before == 0:
        return ""
    return f"{(after / before - 1.0) * 100:+.0f}%"


def _when(started_at: str) -> str:
    return run_date({"started_at": started_at}).removesuffix(" UTC")


# --------------------------------------------------------------------------- history


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
        table = []
        previous: dict[str, float | None] = {}
        for row in rows:
            s: ModelStanding = row["standing"]
            table.append(
                [
                    row["run"],
                    _when(row["started_at"]),
                    (row["git_commit"] or "")[:8],
                    row["task"],
                    s.status,
                    s.score,
                    _ms(s.mean_ms),
                    _ms(s.p95_ms),
                    _change(previous.get(row["task"]), s.mean_ms),
                ]
            )
            previous[row["task"]] = s.mean_ms
        return [
            f"model {model}",
            *_table(
                table,
                [
                    "run",
                    "date",
                    "commit",
                    "task",
                    "status",
                    "correct",
                    "mean ms",
                    "p95 ms",
                    "change",
                ],
            ),
        ]
    table = []
    champion_ms: dict[str, float | None] = {}
    for (run_id, task_name), group in groupby(rows, key=lambda r: (r["run"], r["task"])):
        members = list(group)
        standings: list[ModelStanding] = [m["standing"] for m in members]
        champion = next((s for s in standings if s.status == "champion"), None)
        runner_up = next((s for s in standings if s.status == "runner-up"), None)
        qualified = sum(1 for s in standings if s.qualified)
        mean = champion.mean_ms if champion else None
        table.append(
            [
                run_id,
                _when(members[0]["started_at"]),
                (members[0]["git_commit"] or "")[:8],
                task_name,
                champion.model if champion else "none",
                _ms(mean),
                _change(champion_ms.get(task_name), mean),
                runner_up.model if runner_up else "none",
                f"{qualified}/{len(standings)}",
            ]
        )
        if mean is not None:
            champion_ms[task_name] = mean
    return _table(
        table,
        [
            "run",
            "date",
            "commit",
            "task",
            "champion",
            "mean ms",
            "change",
            "runner-up",
            "qualified",
        ],
    )


# --------------------------------------------------------------------------- show


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


# --------------------------------------------------------------------------- compare


def _case_outcomes(results: Iterable[Result]) -> dict[tuple[str, str, str], list[Result]]:
    out: dict[tuple[str, str, str], list[Result]] = {}
    for r in results:
        out.setdefault((r.task, r.case_id, r.model), []).append(r)
    return out


def _outcome(results: Sequence[Result] | None) -> str:
    if not results:
        return "not run"
    right = sum(1 for r in results if r.correct)
    if len(results) == 1:
        r = results[0]
        return f"correct ({r.got})" if r.correct else f"{r.direction} ({r.got})"
    return f"{right}/{len(results)} correct"


def compare_lines(a: StoredRun, b: StoredRun) -> list[str]:
    """``llmbench compare A B``: champions, every model's standing, and changed cases."""
    lines = [f"A: run {a.id}  {run_date(a.run)}", f"B: run {b.id}  {run_date(b.run)}", ""]
    before = {r.task: r for r in a.rankings}
    after = {r.task: r for r in b.rankings}
    tasks = [*before, *(t for t in after if t not in before)]
    rows = []
    for task in tasks:
        ra, rb = before.get(task), after.get(task)
        ca = ra.champion if ra else None
        cb = rb.champion if rb else None
        name_a = ca.model if ca else ("not run" if ra is None else "none")
        name_b = cb.model if cb else ("not run" if rb is None else "none")
        change = "same" if name_a == name_b else "changed"
        rows.append(
            [
                task,
                name_a,
                _ms(ca.mean_ms if ca else None),
                name_b,
                _ms(cb.mean_ms if cb else None),
                change,
            ]
        )
    lines += ["Champions", *_table(rows, ["task", "A", "A ms", "B", "B ms", ""]), ""]
    rows = []
    for task in tasks:
        sa = {s.model: s for s in (before[task].standings if task in before else ())}
        sb = {s.model: s for s in (after[task].standings if task in after else ())}
        for model in [*sa, *(m for m in sb if m not in sa)]:
            x, y = sa.get(model), sb.get(model)
            rows.append(
                [
                    task,
                    model,
                    x.score if x else "-",
                    y.score if y else "-",
                    x.status if x else "not run",
                    y.status if y else "not run",
                    _ms(x.mean_ms if x else None),
                    _ms(y.mean_ms if y else None),
                    _change(x.mean_ms if x else None, y.mean_ms if y else None),
                ]
            )
    lines += [
        "Models",
        *_table(
            rows,
            [
                "task",
                "model",
                "A correct",
                "B correct",
                "A status",
                "B status",
                "A ms",
                "B ms",
                "change",
            ],
        ),
        "",
    ]
    oa, ob = _case_outcomes(a.results), _case_outcomes(b.results)
    ran_a = {(r.task, r.model) for r in a.results}
    ran_b = {(r.task, r.model) for r in b.results}
    rows = []
    for key in [*oa, *(k for k in ob if k not in oa)]:
        if (key[0], key[2]) not in ran_a or (key[0], key[2]) not in ran_b:
            continue  # the model did not run the task in one of the runs: see "Models"
        runs_a, runs_b = oa.get(key), ob.get(key)
        right_a = None if not runs_a else sum(r.correct for r in runs_a) / len(runs_a)
        right_b = None if not runs_b else sum(r.correct for r in runs_b) / len(runs_b)
        if runs_a and runs_b and right_a == right_b:
            continue
        rows.append([*key, _outcome(runs_a), _outcome(runs_b)])
    if rows:
        lines += ["Cases that changed", *_table(rows, ["task", "case", "model", "A", "B"])]
    else:
        lines.append("Cases that changed: none (every case and model the runs share agree)")
    return lines


# --------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--history",
        metavar="PATH",
        type=Path,
        default=argparse.SUPPRESS,  # given before or after the command, never reset
        help=f"the history file (default: {DEFAULT_HISTORY})",
    )
    parser = argparse.ArgumentParser(
        prog="llmbench",
        description="Read the run history of pytest-llmbench.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    history = commands.add_parser(
        "history", parents=[common], help="champion and latency over time"
    )
    history.add_argument("--task", metavar="T", help="only this task")
    history.add_argument("--model", metavar="M", help="this model's standing in every run")
    show = commands.add_parser("show", parents=[common], help="one run's ranking per task")
    show.add_argument("run", metavar="RUN", help="run id, unique prefix, last or last~N")
    compare = commands.add_parser(
        "compare", parents=[common], help="differences per task, model and case"
    )
    compare.add_argument("run_a", metavar="RUN_A")
    compare.add_argument("run_b", metavar="RUN_B")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; 0 on success, 1 when the history cannot answer, 2 for bad usage."""
    parser = _parser()
    args = parser.parse_args(argv)
    path: Path = getattr(args, "history", None) or DEFAULT_HISTORY
    try:
        if args.command == "history":
            rows = task_timeline(path, task=args.task, model=args.model)
            lines = history_lines(rows, task=args.task, model=args.model)
        elif args.command == "show":
            lines = show_lines(load_run(path, resolve_run(path, args.run)))
        else:
            first = load_run(path, resolve_run(path, args.run_a))
            second = load_run(path, resolve_run(path, args.run_b))
            lines = compare_lines(first, second)
    except HistoryError as exc:
        print(shown(f"llmbench: {exc}"), file=sys.stderr)
        return 1
    # Older history files may hold what is masked now (a host URL's password, escapes).
    register_environment_secrets()
    print(shown("\n".join(lines)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
