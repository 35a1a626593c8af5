"""docs/reference/cli.md: made from the llmbench parser, every command and argument with help."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pytest_llmbench.cli.main import COMMANDS
from pytest_llmbench.cli.reference import PAGE, Argument, commands, render

ROOT = Path(__file__).resolve().parents[3]
ARGUMENTS = [argument for one in commands() for argument in one.arguments]


def test_the_cli_reference_is_up_to_date() -> None:
    committed = (ROOT / PAGE).read_text(encoding="utf-8")
    assert committed == render(), (
        f"{PAGE} is stale: run `python -m pytest_llmbench.cli.reference --all` "
        "at the repository root and commit the page"
    )


def test_every_subcommand_has_help_and_a_section() -> None:
    found = commands()
    assert [one.name for one in found] == ["", *COMMANDS]
    page = render()
    for one in found:
        assert one.help.strip(), f"llmbench {one.name}: no help"
        title = f"llmbench {one.name}".strip()
        assert f"## `{title}`" in page


@pytest.mark.parametrize("argument", ARGUMENTS, ids=lambda a: f"{a.command}:{a.usage}")
def test_every_argument_has_help_on_the_page(argument: Argument) -> None:
    assert argument.help.strip(), f"llmbench {argument.command} {argument.usage}: no help"
    assert f"| `{argument.usage}` | " in render()


def test_an_argument_without_help_is_found() -> None:
    parser = argparse.ArgumentParser(prog="llmbench", description="top")
    sub = parser.add_subparsers(dest="command")
    new = sub.add_parser("new", help="a new command")
    new.add_argument("--flag", metavar="N")
    (_, one) = commands(parser)
    assert (one.name, one.help) == ("new", "a new command")
    assert [(a.usage, a.help) for a in one.arguments] == [("--flag N", "")]
