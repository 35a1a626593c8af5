"""``llmbench optimize``: the interviewer loop (:mod:`pytest_llmbench.optimize`) from the
command line.

    llmbench optimize evals/grading.yaml --model ollama/qwen2.5:7b \\
        --interviewer ollama/llama3.2:3b [--threshold 0.95] [--max-iterations 5] \\
        [--holdout 0.3] [--prompt v2] [--out .llmbench/optimize]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmbench.cli.options import Commands, UsageError, add_model_settings, provider_settings
from pytest_llmbench.cli.output import cases_command

if TYPE_CHECKING:
    from pytest_llmbench.providers.base import Provider

__all__ = ["add_parser", "run", "run_optimize"]


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


def add_parser(commands: Commands) -> None:
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
    add_model_settings(parser)


def run(args: argparse.Namespace) -> int:
    return cases_command("optimize", lambda: run_optimize(args))


def run_optimize(
    args: argparse.Namespace, providers: Mapping[str, Provider] | None = None
) -> list[str]:
    """Run one session per ``--model``; the lines to print (folders, comparison table)."""
    from pytest_llmbench.cases.load import load_task
    from pytest_llmbench.optimize.files import (
        DEFAULT_ROOT,
        comparison_lines,
        write_session,
        write_suite,
    )
    from pytest_llmbench.optimize.loop import optimize
    from pytest_llmbench.providers.resolve import resolve_models

    task = load_task(args.case_file)
    if args.prompt and args.prompt not in {v.name for v in task.versions}:
        raise UsageError(f"{args.case_file}: no prompt version {args.prompt!r}")
    version_file = None
    if task.versions:
        version = task.version(args.prompt) if args.prompt else task.versions[-1]
        version_file = version.file
    settings = provider_settings(args)
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
