"""``llmbench show RUN``: one run's facts and its ranking per task."""

from __future__ import annotations

import argparse

from pytest_llmbench.cli.options import Commands, history_option, history_path
from pytest_llmbench.cli.output import answer, failure

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "show", parents=[history_option()], help="one run's ranking per task"
    )
    parser.add_argument("run", metavar="RUN", help="run id, unique prefix, last or last~N")


def run(args: argparse.Namespace) -> int:
    from pytest_llmbench.reporting.history import show_lines
    from pytest_llmbench.storage.history import HistoryError, load_run, resolve_run

    path = history_path(args)
    try:
        stored = load_run(path, resolve_run(path, args.run))
    except HistoryError as exc:
        return failure("llmbench", exc, 1)
    return answer(show_lines(stored))
