"""``llmbench feedback [--task T]``: the router's calls from the feedback log, per task
and model: success, latency, fall-overs."""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_llmbench.cli.options import Commands, feedback_option, registry_option
from pytest_llmbench.cli.output import answer, failure

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "feedback",
        parents=[registry_option(), feedback_option()],
        help="the router's calls: success, latency, fall-overs",
    )
    parser.add_argument("--task", metavar="T", help="only this task")


def run(args: argparse.Namespace) -> int:
    from pytest_llmbench.storage.champions import RegistryError

    try:
        lines = _feedback(args)
    except RegistryError as exc:
        return failure("llmbench", exc, 1)
    return answer(lines)


def _feedback(args: argparse.Namespace) -> list[str]:
    from pytest_llmbench.reporting.feedback import feedback_lines
    from pytest_llmbench.storage.champions import RegistryError, find_registry
    from pytest_llmbench.storage.feedback import (
        DEFAULT_FEEDBACK,
        feedback_path,
        read_feedback,
        summarize_feedback,
    )

    path: Path | None = args.feedback
    if path is None:
        registry = args.registry or find_registry()
        path = feedback_path(registry) if registry is not None else DEFAULT_FEEDBACK
    try:
        records, bad = read_feedback(path)
    except FileNotFoundError:
        raise RegistryError(
            f"no feedback log at {path}; the router writes one as it answers calls"
        ) from None
    except OSError as exc:  # a folder, no permission
        raise RegistryError(
            f"cannot read the feedback log {path}: {exc.strerror or exc} "
            "(name the log file with --feedback PATH)"
        ) from None
    lines = [
        f"feedback {path}: {len(records)} call(s)",
        *feedback_lines(summarize_feedback(records, args.task), args.task),
    ]
    if bad:
        lines.append(f"({bad} line(s) could not be read and were left out)")
    return lines
