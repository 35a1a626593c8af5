"""``llmbench``'s start-up: the parser knows every subcommand, but ``llmbench --help`` (and
each subcommand's ``--help``) loads no subcommand's implementation, only the ``cli/``
entry modules and the storage defaults the help names.  Each check runs in a fresh
interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.cli.main import COMMANDS, build_parser, command, module_name

ROOT = Path(__file__).resolve().parents[3]

ENTRY = {
    "pytest_llmbench",
    "pytest_llmbench.cli",
    "pytest_llmbench.cli.main",
    "pytest_llmbench.cli.options",
    "pytest_llmbench.cli.output",
    *(module_name(name) for name in COMMANDS),
}
"""The command's own light modules: the package, the parser and one module a subcommand."""

PARSER_NEEDS = {
    "pytest_llmbench._version",  # --version
    "pytest_llmbench.storage",
    "pytest_llmbench.storage.locations",  # the history file's default
    "pytest_llmbench.storage.champions",  # the registry file's default
    "pytest_llmbench.storage.feedback",  # the feedback log's default
    "pytest_llmbench.analysis",
    "pytest_llmbench.analysis.stats",  # imported by storage.feedback
    # the bottom layer those modules import (masking the feedback log, one-line errors):
    # small, standard library only
    "pytest_llmbench.safety",
    "pytest_llmbench.safety.redaction",
    "pytest_llmbench.formatting",
}
"""What the parser may load besides: the defaults its help names (``_version`` is the
version's leaf module where the package has one)."""

IMPLEMENTATION = ("tabulate", "yaml", "jsonschema", "httpx", "ollama", "openai", "llama_cpp")


def run_cli(*argv: str) -> dict[str, Any]:
    """``llmbench ARGV`` in a fresh interpreter: exit status, stdout, and what it loaded."""
    code = (
        "import contextlib, io, json, sys\n"
        "from pytest_llmbench.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        f"        status = main({list(argv)!r})\n"
        "    except SystemExit as exc:\n"
        "        status = exc.code\n"
        "print(json.dumps({'status': status, 'out': out.getvalue(),\n"
        "                  'modules': sorted(sys.modules)}))\n"
    )
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=60,
    )
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def package_modules(modules: list[str]) -> set[str]:
    return {m for m in modules if m == "pytest_llmbench" or m.startswith("pytest_llmbench.")}


@pytest.mark.parametrize("argv", [("--help",), *((name, "--help") for name in COMMANDS)])
def test_help_loads_no_subcommand_implementation(argv: tuple[str, ...]) -> None:
    done = run_cli(*argv)
    assert done["status"] == 0
    assert done["out"].startswith("usage: llmbench")
    loaded = package_modules(done["modules"])
    assert loaded >= ENTRY
    assert loaded - ENTRY - PARSER_NEEDS == set()
    assert {m.split(".")[0] for m in done["modules"]} & set(IMPLEMENTATION) == set()


def test_the_top_level_help_lists_every_subcommand_in_order() -> None:
    lines = run_cli("--help")["out"].splitlines()
    listed = [line.split()[0] for line in lines if line[:4] == "    " and line[4:5].isalpha()]
    assert listed == list(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_each_subcommand_module_follows_the_convention(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``pytest_llmbench.cli.NAME`` declares subcommand NAME (``add_parser``) and runs it
    (``run``)."""
    module = command(name)
    assert callable(module.add_parser)
    assert callable(module.run)
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([name, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: llmbench {name} ")
