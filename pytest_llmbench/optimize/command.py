"""``llmbench optimize``: the interviewer loop from the command line.

    llmbench optimize evals/grading.yaml --model ollama/qwen2.5:7b \\
        --interviewer ollama/llama3.2:3b [--threshold 0.95] [--max-iterations 5] \\
        [--holdout 0.3] [--prompt v2] [--out .llmbench/optimize]

Light on purpose (imported by the ``llmbench`` command): the loop, the providers and
the case loader are imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["UsageError", "add_optimize", "run_optimize"]


class UsageError(Exception):
    """A bad argument the parser could not catch: one line, exit status 2."""


def _share(value: str) -> float:
    number = float(value)
    if not 0.0 <= number < 1.0:
        raise argparse.ArgumentTypeError(f"expected a share in [0, 1), got {value!r}")
    return number


def _threshold(value: str) -> float:
    number = float(value)
    if not 0.0 < number <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a score in (0, 1], got {value!r}")
    return number


def add_optimize(commands: Any) -> None:
    """Declare the ``optimize`` subcommand on the ``llmbench`` parser."""
    parser = commands.add_parser(
        "optimize",
        help="improve a task's prompt for a model with an interviewer model",
        description="Run the task's cases on MODEL; below the threshold, INTERVIEWER reads "
        "the prompt, the score and the failed training cases and proposes a better prompt; "
        "repeat. Held-out cases guard against overfitting. Writes a session folder and "
        "the best prompt as the next version file.",
    )
    parser.add_argument("case_file", metavar="CASES.yaml", type=Path)
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="M",
        help="candidate model provider/name (repeatable: one session each)",
    )
    parser.add_argument("--interviewer", required=True, metavar="I", help="interviewer model")
    parser.add_argument("--threshold", type=_threshold, default=0.95, metavar="SCORE")
    parser.add_argument("--max-iterations", type=int, default=5, metavar="N")
    parser.add_argument(
        "--holdout",
        type=_share,
        default=0.3,
        metavar="SHARE",
        help="share of cases held out from the interviewer (default 0.3)",
    )
    parser.add_argument(
        "--prompt",
        default="",
        metavar="VERSION",
        help="the prompt version to improve (default: the last)",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the split (default 42)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="session folders go here (default .llmbench/optimize)",
    )
    parser.add_argument("--interviewer-max-tokens", type=int, default=1024, metavar="N")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=120.0)
    parser.add_argument("--ollama-host", metavar="URL", action="append", default=None)
    parser.add_argument("--gguf", metavar="NAME=PATH", action="append", default=None)
    add_endpoint_option(parser)


def add_endpoint_option(parser: argparse.ArgumentParser) -> None:
    """``--endpoint 'NAME=URL ...'`` (repeatable), for every command that calls models."""
    parser.add_argument(
        "--endpoint",
        metavar="NAME=URL",
        action="append",
        default=None,
        help="an OpenAI-compatible endpoint as provider NAME (repeatable), as --llm-endpoint "
        "takes it: 'NAME=URL [key_env=VAR] [models=a,b]'",
    )


def run_optimize(args: argparse.Namespace, providers: Mapping[str, Any] | None = None) -> list[str]:
    """Run one session per ``--model``; the lines to print (folders, comparison table)."""
    from pytest_llmbench.cases.load import load_task
    from pytest_llmbench.optimize.files import (
        DEFAULT_ROOT,
        comparison_lines,
        write_session,
        write_suite,
    )
    from pytest_llmbench.optimize.loop import optimize
    from pytest_llmbench.providers.endpoints import EndpointError
    from pytest_llmbench.providers.resolve import resolve_models, settings_from

    task = load_task(args.case_file)
    if args.prompt and args.prompt not in {v.name for v in task.versions}:
        raise UsageError(f"{args.case_file}: no prompt version {args.prompt!r}")
    version_file = None
    if task.versions:
        version = task.version(args.prompt) if args.prompt else task.versions[-1]
        version_file = version.file
    try:
        settings = settings_from(args.timeout, args.ollama_host, args.gguf, args.endpoint)
    except EndpointError as exc:
        raise UsageError(f"--endpoint: {exc}") from None
    [(interviewer, interviewer_model)] = resolve_models([args.interviewer], settings, providers)
    root = args.out or DEFAULT_ROOT
    session_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    entries = []
    lines: list[str] = []
    for provider, model in resolve_models(args.model, settings, providers):
        print(f"llmbench optimize: {task.name} on {model.id}", file=sys.stderr)
        session = optimize(
            task, provider, model, interviewer, interviewer_model,
            prompt_version=args.prompt, threshold=args.threshold,
            max_iterations=args.max_iterations, holdout=args.holdout, seed=args.seed,
            timeout_s=args.timeout, interviewer_max_tokens=args.interviewer_max_tokens,
            progress=lambda line: print(f"  {line}", file=sys.stderr),
        )  # fmt: skip
        folder, output = write_session(root, session_id, session, args.case_file, version_file)
        entries.append((session, folder, output))
        lines.append(f"{model.id}: {session.stop_reason}; session in {folder}")
        if output is not None:
            lines.append(f"  new prompt version: {output} (see optimization_report.md)")
    lines += ["", *comparison_lines(entries)]
    if len(entries) > 1:
        lines.append(f"suite: {write_suite(root, session_id, entries)}")
    return lines
