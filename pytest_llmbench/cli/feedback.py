"""``llmbench feedback [--task T] [--since 7d]``: the router's calls from the feedback log,
per task and model: success, latency, fall-overs, and the agreement of checked answers.

``--check`` compares them with the benchmark's evidence in the registry and exits 1 with
one line per breach (see :mod:`pytest_llmbench.reporting.drift` for the measures), so a
cron job or CI can act.  ``--export-cases TASK --out FILE`` writes the task's captured
calls whose answer is in doubt (failures, fall-overs, disagreements, low judge scores)
as candidate cases of the task, ``expected`` left for a human to fill.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmbench.cli.options import Commands, feedback_option, registry_option
from pytest_llmbench.cli.options import share as _share
from pytest_llmbench.cli.output import answer, failure

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pytest_llmbench.reporting.drift import DriftLimits
    from pytest_llmbench.storage.champions import RegistryEntry
    from pytest_llmbench.storage.feedback import FeedbackRecord

__all__ = ["add_parser", "run"]


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(text)


def _since(text: str) -> str:
    from pytest_llmbench.storage.feedback import parse_since

    try:
        parse_since(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give an age (7d, 12h, 30m) or a date (2025-06-01)"
        ) from None
    return text


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "feedback",
        parents=[registry_option(), feedback_option()],
        help="the router's calls: success, latency, fall-overs",
        description="The router's calls from the feedback log, per task and model. With "
        "--check: exit 1 with one line per breach of the limits below, against the "
        "benchmark's evidence in the registry. With --export-cases: the task's captured "
        "calls in doubt as candidate cases to label.",
    )
    parser.add_argument("--task", metavar="T", help="only this task")
    parser.add_argument(
        "--since", metavar="AGE", type=_since, help="only calls since: 7d, 12h, 30m or a date"
    )
    check = parser.add_argument_group("drift check (--check)")
    check.add_argument(
        "--check",
        action="store_true",
        help="exit 1 with one line per task and model whose production has drifted",
    )
    check.add_argument(
        "--min-agreement",
        metavar="SHARE",
        type=_share,
        default=0.8,
        help="the least share of checked answers (consensus, shadow checks) another model "
        "agrees with (default: 0.8)",
    )
    check.add_argument(
        "--min-judge-score",
        metavar="SHARE",
        type=_share,
        default=0.7,
        help="the least mean score of a shadow judge (default: 0.7)",
    )
    check.add_argument(
        "--max-error-rate",
        metavar="SHARE",
        type=_share,
        default=0.1,
        help="the highest share of calls that fail (default: 0.1)",
    )
    check.add_argument(
        "--max-p95-ratio",
        metavar="X",
        type=_positive,
        default=2.0,
        help="the highest production p95 as a multiple of the benchmark's (default: 2)",
    )
    check.add_argument(
        "--min-calls",
        metavar="N",
        type=_count,
        default=20,
        help="judge a measure over at least N calls or checked answers (default: 20)",
    )
    export = parser.add_argument_group("candidate cases (--export-cases)")
    export.add_argument(
        "--export-cases",
        metavar="TASK",
        help="write TASK's captured calls in doubt as candidate cases (needs --out)",
    )
    export.add_argument("--out", metavar="FILE", type=Path, help="the candidates file")
    export.add_argument(
        "--all-calls",
        action="store_true",
        help="every captured call, not only those in doubt",
    )
    export.add_argument(
        "--max", metavar="N", type=_count, default=1000, help="at most N cases (default: 1000)"
    )


def run(args: argparse.Namespace) -> int:
    from pytest_llmbench.storage.champions import RegistryError

    if args.export_cases is not None and args.out is None:
        return failure("llmbench feedback", "--export-cases needs --out FILE", 2)
    try:
        if args.export_cases is not None:
            return _export(args)
        lines, note, breaches = _feedback(args)
    except RegistryError as exc:
        return failure("llmbench", exc, 1)
    if args.check:
        return _checked(lines, note, breaches)
    return answer(lines, note)


def _checked(lines: list[str], note: str, breaches: list[str]) -> int:
    import sys

    from pytest_llmbench.safety.sanitising import shown

    if not breaches:
        return answer([*lines, "drift check: no breach"], note)
    answer(lines, note)
    for line in breaches:
        print(shown(f"llmbench feedback --check: {line}"), file=sys.stderr)
    return 1


def _log_path(args: argparse.Namespace) -> tuple[Path, Path | None]:
    from pytest_llmbench.storage.champions import find_registry
    from pytest_llmbench.storage.feedback import DEFAULT_FEEDBACK, feedback_path

    registry: Path | None = args.registry or find_registry()
    path: Path | None = args.feedback
    if path is None:
        path = feedback_path(registry) if registry is not None else DEFAULT_FEEDBACK
    return path, registry


def _records(args: argparse.Namespace, path: Path) -> tuple[list[FeedbackRecord], int]:
    from pytest_llmbench.storage.champions import RegistryError
    from pytest_llmbench.storage.feedback import parse_since, read_feedback, records_since

    try:
        records, bad = read_feedback(path)
    except FileNotFoundError:
        raise RegistryError(
            f"no feedback log at {path}; the router writes one as it answers calls"
        ) from None
    except OSError as exc:
        raise RegistryError(
            f"cannot read the feedback log {path}: {exc.strerror}; name the log file "
            "with --feedback PATH"
        ) from None
    if args.since is not None:
        records = records_since(records, parse_since(args.since))
    return records, bad


def _feedback(args: argparse.Namespace) -> tuple[list[str], str, list[str]]:
    from pytest_llmbench.reporting.drift import DriftLimits, drift_breaches
    from pytest_llmbench.reporting.feedback import feedback_lines
    from pytest_llmbench.storage.champions import load_registry
    from pytest_llmbench.storage.feedback import summarize_feedback

    path, registry = _log_path(args)
    records, bad = _records(args, path)
    stats = summarize_feedback(records, args.task)
    entries = load_registry(registry) if registry is not None else {}
    window = f" since {args.since}" if args.since else ""
    lines = [
        f"feedback {path}: {len(records)} call(s){window}",
        *feedback_lines(stats, args.task, entries),
    ]
    note = ""
    if bad:
        lines.append(f"({bad} line(s) could not be read and were left out)")
        note = (
            f"llmbench feedback: {path}: {bad} line(s) are not records of a router call "
            "(a torn write, or edited by hand); they are left out: remove them, or move the "
            "log aside and the router starts a new one"
        )
    breaches: list[str] = []
    if args.check:
        limits = DriftLimits(
            min_agreement=args.min_agreement,
            min_judge_score=args.min_judge_score,
            max_error_rate=args.max_error_rate,
            max_p95_ratio=args.max_p95_ratio,
            min_calls=args.min_calls,
        )
        per_task, unread = _task_limits(limits, {s.task for s in stats}, entries, registry)
        breaches = drift_breaches(stats, entries, limits, per_task, window)
        if unread:
            note = "\n".join(n for n in (note, *unread) if n)
    return lines, note, breaches


def _task_limits(
    limits: DriftLimits,
    tasks: set[str],
    entries: Mapping[str, RegistryEntry],
    registry: Path | None,
) -> tuple[dict[str, DriftLimits], list[str]]:
    """The limits of each task whose case file sets ``alerts: {min_agreement,
    min_judge_score}``, and a note per case file that could not be read (the command's
    limits hold for that task)."""
    from dataclasses import replace

    from pytest_llmbench.cases.load import load_task
    from pytest_llmbench.cases.problems import CaseFileError

    found: dict[str, DriftLimits] = {}
    notes: list[str] = []
    for task in sorted(tasks):
        entry = entries.get(task)
        path = entry.case_path(registry) if entry is not None and registry is not None else None
        if path is None or not path.is_file():
            continue
        try:
            alerts = load_task(path).alerts
        except (CaseFileError, OSError) as exc:
            first = str(exc).splitlines()[0]
            notes.append(
                f"llmbench feedback: task {task}: cannot read {path} ({first}); its "
                "alerts: are left out, the options hold"
            )
            continue
        if alerts.min_agreement is None and alerts.min_judge_score is None:
            continue
        found[task] = replace(
            limits,
            min_agreement=limits.min_agreement
            if alerts.min_agreement is None
            else alerts.min_agreement,
            min_judge_score=limits.min_judge_score
            if alerts.min_judge_score is None
            else alerts.min_judge_score,
            source=_shown_path(path),
        )
    return found, notes


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _export(args: argparse.Namespace) -> int:
    import sys

    from pytest_llmbench.cases.load import find_case_file
    from pytest_llmbench.cases.writing import case_file_pieces, task_header
    from pytest_llmbench.reporting.candidates import candidate_cases
    from pytest_llmbench.safety.atomic import write_atomic
    from pytest_llmbench.safety.redaction import register_environment_secrets
    from pytest_llmbench.storage.champions import RegistryError, load_registry
    from pytest_llmbench.storage.feedback import captured_calls

    register_environment_secrets()
    task: str = args.export_cases
    path, registry = _log_path(args)
    records, _ = _records(args, path)
    calls, uncaptured = captured_calls(
        records, task, min_judge_score=args.min_judge_score, everything=args.all_calls
    )
    if not calls:
        hint = (
            f" ({uncaptured} call(s) without captured inputs: turn on capture for the task)"
            if uncaptured
            else ""
        )
        raise RegistryError(f"no captured call of task {task} to export from {path}{hint}")
    case_file = None
    if registry is not None:
        entry = load_registry(registry).get(task)
        case_file = entry.case_path(registry) if entry is not None else None
    if case_file is None or not case_file.is_file():
        case_file = find_case_file(Path.cwd(), task)
    cases = candidate_cases(calls[: args.max])
    try:
        header = task_header(task, case_file, args.out, list(cases[0].vars))
    except (OSError, ValueError) as exc:
        raise RegistryError(f"cannot read the case file of task {task}: {exc}") from None
    comment = (
        f"Candidate cases of task {task}: production calls from {path} whose answer is in "
        "doubt,\nwritten by llmbench feedback --export-cases. Each case's comments show the "
        "answers seen.\nFill in expected for each (or delete the case): this file is refused "
        "for running until then."
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, case_file_pieces(header, cases, comment))
    more = f" (the first {args.max} of {len(calls)})" if len(calls) > args.max else ""
    print(f"{args.out}: {len(cases)} candidate case(s) of task {task}{more}; label them")
    if uncaptured:
        print(f"({uncaptured} call(s) without captured inputs left out)", file=sys.stderr)
    return 0
