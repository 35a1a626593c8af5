"""The ``llmbench`` parser and :func:`main`: the subcommands are known by name
(:data:`COMMANDS`); each is the module of that name in this package (see the package
docstring for the convention)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from types import ModuleType

from pytest_llmbench._version import __version__
from pytest_llmbench.cli.options import history_option

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = (
    "history",
    "show",
    "compare",
    "rankings",
    "run",
    "feedback",
    "ab",
    "optimize",
    "serve",
)
"""The subcommands in the order ``llmbench --help`` lists them; ``NAME`` is declared and
run by the module ``pytest_llmbench.cli.NAME``."""


def command(name: str) -> ModuleType:
    """The module of subcommand ``name`` (its parser and ``run``, not its implementation)."""
    return importlib.import_module(f"{__package__}.{name}")


def build_parser() -> argparse.ArgumentParser:
    """The ``llmbench`` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="llmbench",
        description="The run history, the champion registry and production calls of "
        "pytest-llmbench.",
        parents=[history_option()],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        command(name).add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; 0 on success, 1 when it cannot answer, 2 for bad usage.

    Errors are one line on stderr (``llmbench: ...``), never a traceback.
    """
    args = build_parser().parse_args(argv)
    status: int = command(args.command).run(args)
    return status
