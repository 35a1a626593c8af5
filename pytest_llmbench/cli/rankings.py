"""``llmbench rankings [--task T]``: the champion registry, per task its champion,
runner-up and fallbacks with their evidence and its age."""

from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path

from pytest_llmbench.cli.options import Commands, registry_option
from pytest_llmbench.cli.output import answer, failure

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "rankings",
        parents=[registry_option()],
        help="the registry: champion, runner-up, evidence, age",
    )
    parser.add_argument("--task", metavar="T", help="only this task")


def run(args: argparse.Namespace) -> int:
    from pytest_llmbench.storage.champions import RegistryError

    try:
        lines = _rankings(args)
    except RegistryError as exc:
        return failure("llmbench", exc, 1)
    return answer(lines)


def _registry_path(given: Path | None) -> Path:
    from pytest_llmbench.storage.champions import DEFAULT_REGISTRY, RegistryError, find_registry

    path = given or find_registry()
    if path is None:
        raise RegistryError(
            f"no {DEFAULT_REGISTRY} in {Path.cwd()} or its parents; write one with "
            "pytest --llm-update-registry (or name it with --registry PATH)"
        )
    if not path.is_file():
        raise RegistryError(f"no registry at {path}")
    return path


def _rankings(args: argparse.Namespace) -> list[str]:
    from pytest_llmbench.reporting.rankings import rankings_lines
    from pytest_llmbench.storage.champions import RegistryError, load_registry

    path = _registry_path(args.registry)
    entries = load_registry(path)
    if args.task is not None and args.task not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise RegistryError(f"task {args.task!r} is not in registry {path} (tasks: {known})")
    today = _dt.datetime.now(_dt.timezone.utc).date()
    return [f"registry {path}", *rankings_lines(entries, today, args.task)]
