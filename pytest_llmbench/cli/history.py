"""``llmbench history [--task T] [--model M]``: champion and latency over time, or one
model's standing in every run."""

from __future__ import annotations

import argparse

from pytest_llmbench.cli.options import Commands, history_option, history_path
from pytest_llmbench.cli.output import answer, failure

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "history", parents=[history_option()], help="champion and latency over time"
    )
    parser.add_argument("--task", metavar="T", help="only this task")
    parser.add_argument("--model", metavar="M", help="this model's standing in every run")


def run(args: argparse.Namespace) -> int:
    from pytest_llmbench.reporting.history import history_lines
    from pytest_llmbench.storage.history import HistoryError, task_timeline

    try:
        rows = task_timeline(history_path(args), task=args.task, model=args.model)
    except HistoryError as exc:
        return failure("llmbench", exc, 1)
    return answer(history_lines(rows, task=args.task, model=args.model))
