"""``llmbench optimize``: the interviewer loop (:mod:`pytest_llmbench.optimize`) from the
command line.

    llmbench optimize evals/grading.yaml --model ollama/qwen2.5:7b \\
        --interviewer ollama/llama3.2:3b [--threshold 0.95] [--max-iterations 5] \\
        [--holdout 0.3] [--prompt v2] [--out .llmbench/optimize]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmbench.cli.options import (
    Commands,
    UsageError,
    add_model_settings,
    checked,
    provider_settings,
)
from pytest_llmbench.cli.output import cases_command, note

if TYPE_CHECKING:
    from pytest_llmbench.providers.base import Provider

__all__ = ["add_parser", "run", "run_optimize"]


def _share(value: str) -> float:
    """A held-out share: more than 0 (at least one case is held out) and less than 1."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share in (0, 1), got {value!r}") from None
    if not 0.0 < number < 1.0:
        raise argparse.ArgumentTypeError(
            f"expected a share in (0, 1), got {value!r} (at least one case is held out)"
        )
    return number


def _threshold(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a score in (0, 1], got {value!r}") from None
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
    parser.add_argument(
        "case_file", metavar="CASES.yaml", type=Path, help="the case file of the task"
    )
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="M",
        help="candidate model provider/name (repeatable: one session each)",
    )
    parser.add_argument("--interviewer", required=True, metavar="I", help="interviewer model")
    parser.add_argument(
        "--threshold",
        type=_threshold,
        default=0.95,
        metavar="SCORE",
        help="stop when the prompt scores at least this over all cases (default: 0.95)",
    )
    parser.add_argument(
        "--max-iterations",
        type=int,
        default=5,
        metavar="N",
        help="prompts evaluated at most, per model (default: 5)",
    )
    parser.add_argument(
        "--holdout",
        type=_share,
        default=0.3,
        metavar="SHARE",
        help="share of cases held out from the interviewer (default: 0.3)",
    )
    parser.add_argument(
        "--prompt",
        default="",
        metavar="VERSION",
        help="the prompt version to improve (default: the last)",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the split (default: 42)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="session folders go here (default: .llmbench/optimize)",
    )
    parser.add_argument(
        "--interviewer-max-tokens",
        type=int,
        default=1024,
        metavar="N",
        help="the longest answer of the interviewer, in tokens (default: 1024)",
    )
    add_model_settings(parser)


def run(args: argparse.Namespace) -> int:
    problems: list[str] = []
    status = cases_command("optimize", lambda: run_optimize(args, problems=problems))
    for line in problems:
        note(f"llmbench optimize: {line}")
    return status or (1 if problems else 0)


def _whole(value: str, name: str) -> int:
    from pytest_llmbench.settings.values import OptionError

    number = int(value)
    if number < 1:
        raise OptionError(f"{name}: expected a whole number of at least 1, got {value!r}")
    return number


def run_optimize(
    args: argparse.Namespace,
    providers: Mapping[str, Provider] | None = None,
    problems: list[str] | None = None,
) -> list[str]:
    """Run one session per ``--model``, each written as it goes; the lines to print
    (folders, comparison table).  What could not be written goes to ``problems``, one
    line per session (where the rest is)."""
    from pytest_llmbench.cases.load import load_task
    from pytest_llmbench.optimize.files import (
        DEFAULT_ROOT,
        SessionFiles,
        comparison_lines,
        write_suite,
    )
    from pytest_llmbench.optimize.loop import optimize
    from pytest_llmbench.providers.resolve import resolve_models

    checked(_whole, args.max_iterations, "--max-iterations")
    checked(_whole, args.interviewer_max_tokens, "--interviewer-max-tokens")
    task = load_task(args.case_file)
    names = [v.name for v in task.versions]
    if args.prompt and args.prompt not in names:
        known = ", ".join(names) if names else "none (it has one prompt:)"
        raise UsageError(
            f"{args.case_file}: no prompt version {args.prompt!r}; its versions: {known}"
        )
    version_file = None
    cases = task.cases
    if task.versions:
        version = task.version(args.prompt) if args.prompt else task.versions[-1]
        version_file, cases = version.file, version.cases
    if len(cases) < 2:
        raise UsageError(
            f"{args.case_file}: task {task.name} has {len(cases)} case(s); the optimizer "
            "needs at least 2 (one is held out from the interviewer)"
        )
    settings = provider_settings(args)
    [(interviewer, interviewer_model)] = resolve_models([args.interviewer], settings, providers)
    candidates = resolve_models(args.model, settings, providers)
    root = args.out or DEFAULT_ROOT
    session_id = f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    entries = []
    lines: list[str] = []
    for provider, model in candidates:
        try:
            files = SessionFiles(root, session_id, task.name, model.id)
        except OSError as exc:
            raise UsageError(
                f"cannot create a session folder in {root}: {exc.strerror or exc} "
                "(give a writable --out DIR)"
            ) from None
        note(f"llmbench optimize: {task.name} on {model.id} (session in {files.folder})")
        session = optimize(
            task, provider, model, interviewer, interviewer_model,
            prompt_version=args.prompt, threshold=args.threshold,
            max_iterations=args.max_iterations, holdout=args.holdout, seed=args.seed,
            timeout_s=args.timeout, interviewer_max_tokens=args.interviewer_max_tokens,
            progress=lambda line: note(f"  {line}"), record=files.record,
        )  # fmt: skip
        output = files.finish(session, args.case_file, version_file)
        if files.problems and problems is not None:
            problems.append(files.problem_line())
        entries.append((session, files.folder, output))
        lines.append(f"{model.id}: {session.stop_reason}; session in {files.folder}")
        if output is not None:
            lines.append(f"  new prompt version: {output} (see optimization_report.md)")
    lines += ["", *comparison_lines(entries)]
    if len(entries) > 1:
        try:
            lines.append(f"suite: {write_suite(root, session_id, entries)}")
        except OSError as exc:
            if problems is not None:
                problems.append(f"cannot write the suite file in {root} ({exc.strerror or exc})")
    return lines
