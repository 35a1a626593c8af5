"""The ``llmbench`` parser and :func:`main`: the subcommands are known by name
(:data:`COMMANDS`); each is the module of that name in this package (see the package
docstring for the convention)."""

from __future__ import annotations

import argparse
import importlib
import keyword
from collections.abc import Sequence
from types import ModuleType

from pytest_llmbench._version import __version__
from pytest_llmbench.cli.options import history_option

__all__ = ["COMMANDS", "build_parser", "command", "main", "module_name"]

COMMANDS = (
    "history",
    "show",
    "compare",
    "view",
    "rankings",
    "run",
    "feedback",
    "import",
    "ab",
    "optimize",
    "serve",
)
"""The subcommands in the order ``llmbench --help`` lists them; ``NAME`` is declared and
run by the module ``pytest_llmbench.cli.NAME`` (``NAME_`` for a Python keyword:
``import_``)."""


def module_name(name: str) -> str:
    """The module of subcommand ``name``: ``pytest_llmbench.cli.NAME`` (``NAME_`` when
    ``NAME`` is a Python keyword)."""
    return f"{__package__}.{name}_" if keyword.iskeyword(name) else f"{__package__}.{name}"


def command(name: str) -> ModuleType:
    """The module of subcommand ``name`` (its parser and ``run``, not its implementation)."""
    return importlib.import_module(module_name(name))


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
