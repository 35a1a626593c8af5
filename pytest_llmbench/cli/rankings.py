"""``llmbench rankings [--task T]``: the champion registry, per task its champion,
runner-up and fallbacks with their evidence and its age."""

from __future__ import annotations

import argparse
import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmbench.cli.options import Commands, registry_option
from pytest_llmbench.cli.output import answer, failure

if TYPE_CHECKING:
    from pytest_llmbench.storage.champions import RegistryEntry

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "rankings",
        parents=[registry_option()],
        help="the registry: champion, runner-up, evidence, age",
    )
    parser.add_argument("--task", metavar="T", help="only this task")
    parser.add_argument(
        "--ollama-host",
        metavar="URL",
        help="the Ollama host whose installed models are compared with the benchmarked "
        "ones (default: $OLLAMA_HOST or http://127.0.0.1:11434)",
    )


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
    installed = _installed(entries, args.task, args.ollama_host)
    return [f"registry {path}", *rankings_lines(entries, today, args.task, installed)]


def _installed(
    entries: Mapping[str, RegistryEntry], task: str | None, host: str | None
) -> dict[str, str | None] | None:
    """The identity of each Ollama model the registry records one for, as installed now
    (``None`` when no model has one recorded or the host does not answer)."""
    import os

    from pytest_llmbench.providers.identity import installed_ollama_identities

    wanted = [
        ev
        for name, entry in entries.items()
        if task is None or name == task
        for ev in (entry.champion, entry.runner_up)
        if ev is not None and ev.identity and ev.model.startswith("ollama/")
    ]
    if not wanted:
        return None
    try:
        listed = installed_ollama_identities(host or os.environ.get("OLLAMA_HOST"))
    except (OSError, ValueError):
        return None
    from pytest_llmbench.providers.identity import tagged

    # a model the host does not list is left out: the report says "gone"
    return {ev.model: listed[tagged(ev.model)] for ev in wanted if tagged(ev.model) in listed}
