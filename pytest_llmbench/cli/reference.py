"""``docs/reference/cli.md``, made from the ``llmbench`` parser (:func:`build_parser`).

``python -m pytest_llmbench.cli.reference [PATH]`` writes it (run at the repository root);
``python -m pytest_llmbench.cli.reference --all`` writes every generated reference page:
the options (``settings/reference.py``), the case file (``cases/reference.py``), the CLI
and the hooks (``reporting/hooks_page.py``, from ``plugin/hookspec.py``). ``tests/unit/cli/
test_reference.py`` fails when the committed page is stale or an argument has no help.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pytest_llmbench.cases.reference import write
from pytest_llmbench.cli.main import build_parser

PAGE = Path("docs/reference/cli.md")

GENERATORS = (
    "pytest_llmbench.settings.reference",
    "pytest_llmbench.cases.reference",
    "pytest_llmbench.cli.reference",
    "pytest_llmbench.reporting.hooks_page",
)
"""Every reference page's generator, for ``--all``."""

HEADER = """\
# `llmbench` command reference

<!-- Generated from the parser of pytest_llmbench/cli/main.py by
     `python -m pytest_llmbench.cli.reference`; do not edit by hand. -->

`llmbench COMMAND --help` prints the same text. Exit status: 0 on success, 1 when the
command cannot answer, 2 for bad usage; errors are one line on stderr."""


@dataclass(frozen=True)
class Argument:
    """One argument of one command: how it is written and its help."""

    command: str
    usage: str
    help: str


@dataclass(frozen=True)
class Command:
    """One subcommand (or ``llmbench`` itself, named ``""``) and its arguments."""

    name: str
    help: str
    arguments: tuple[Argument, ...]


def commands(parser: argparse.ArgumentParser | None = None) -> list[Command]:
    """``llmbench``'s own arguments, then each subcommand's, in ``--help`` order."""
    top = build_parser() if parser is None else parser
    found = [Command("", top.description or "", _arguments("", top))]
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append(Command(name, helps.get(name, ""), _arguments(name, sub)))
    return found


def _arguments(name: str, parser: argparse.ArgumentParser) -> tuple[Argument, ...]:
    formatter = parser._get_formatter()
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        metavar = formatter._format_args(action, action.dest.upper())
        usage = ", ".join(f"{flag} {metavar}".strip() for flag in action.option_strings)
        if not action.option_strings or action.nargs == 0:
            usage = usage.replace(f" {metavar}", "") if action.nargs == 0 else metavar
        text = formatter._expand_help(action) if action.help else ""
        found.append(Argument(name, usage, text))
    return tuple(found)


def render(parser: argparse.ArgumentParser | None = None) -> str:
    """The reference page: a section per command, a table row per argument."""
    lines = [HEADER]
    for one in commands(parser):
        title = f"llmbench {one.name}".strip()
        lines += ["", f"## `{title}`", "", one.help, ""]
        lines += ["| Argument | What it does |", "| --- | --- |"]
        for argument in one.arguments:
            lines.append(f"| `{_cell(argument.usage)}` | {_cell(argument.help)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    """Write the page to ``argv[0]``, else :data:`PAGE`; ``--all``: every reference page."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--all"]:
        for module in GENERATORS:
            subprocess.run([sys.executable, "-m", module], check=True)
        return 0
    return write(Path(args[0]) if args else PAGE, render())


if __name__ == "__main__":
    raise SystemExit(main())
