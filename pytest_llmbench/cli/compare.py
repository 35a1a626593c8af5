"""``llmbench compare RUN_A RUN_B``: what changed between two runs, per task, model and
case."""

from __future__ import annotations

import argparse

from pytest_llmbench.cli.options import Commands, history_option, history_path
from pytest_llmbench.cli.output import answer, failure

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "compare", parents=[history_option()], help="differences per task, model and case"
    )
    parser.add_argument(
        "run_a", metavar="RUN_A", help="the earlier run: id, unique prefix, last or last~N"
    )
    parser.add_argument("run_b", metavar="RUN_B", help="the later run, written the same way")


def run(args: argparse.Namespace) -> int:
    from pytest_llmbench.reporting.compare import compare_lines
    from pytest_llmbench.storage.history import HistoryError, load_run, resolve_run

    path = history_path(args)
    try:
        first = load_run(path, resolve_run(path, args.run_a))
        second = load_run(path, resolve_run(path, args.run_b))
    except HistoryError as exc:
        return failure("llmbench", exc, 1)
    return answer(compare_lines(first, second))
