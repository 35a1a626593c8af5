"""``llmbench ab CASES.yaml --a v1 --b v2``: A/B of two prompt versions on the same cases
and models (or read from a run's ``--llm-json`` document): paired accuracy, McNemar,
latency, cost, and whether to ship B."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmbench.cli.options import (
    Commands,
    UsageError,
    add_model_settings,
    checked,
    provider_settings,
)
from pytest_llmbench.cli.output import cases_command

if TYPE_CHECKING:
    from pytest_llmbench.cases.records import Task
    from pytest_llmbench.execution.results import Result
    from pytest_llmbench.providers.base import Provider

__all__ = ["add_parser", "run", "run_ab"]


def add_parser(commands: Commands) -> None:
    ab = commands.add_parser(
        "ab",
        help="A/B of two prompt versions: paired accuracy, McNemar, latency, cost, decision",
        description="Run versions A and B of a task's prompt on the same cases and models "
        "(or read them from a run's --llm-json document with --results) and decide "
        "whether to ship B.",
    )
    ab.add_argument(
        "case_file", metavar="CASES.yaml", type=Path, help="the case file with the prompt versions"
    )
    ab.add_argument("--a", required=True, metavar="VERSION", help="the current version")
    ab.add_argument("--b", required=True, metavar="VERSION", help="the candidate version")
    ab.add_argument(
        "--models", metavar="M1,M2", help="models to run both versions on (provider/name)"
    )
    ab.add_argument(
        "--results", metavar="RUN.json", type=Path, help="read the results of a run instead"
    )
    ab.add_argument("--repeat", metavar="N", type=int, default=1, help="runs per case (default: 1)")
    ab.add_argument(
        "--min-gain",
        metavar="POINTS",
        type=float,
        default=5.0,
        help="accuracy gain B needs, in percentage points (default 5)",
    )
    ab.add_argument(
        "--latency-tolerance",
        metavar="SHARE",
        type=float,
        default=0.10,
        help="how much slower B may be (default 0.10)",
    )
    ab.add_argument(
        "--cost-tolerance",
        metavar="SHARE",
        type=float,
        default=0.10,
        help="how much costlier B may be (default 0.10)",
    )
    ab.add_argument("--json", action="store_true", help="print the report as JSON")
    add_model_settings(ab)


def run(args: argparse.Namespace) -> int:
    return cases_command("ab", lambda: run_ab(args))


def run_ab(args: argparse.Namespace, providers: Mapping[str, Provider] | None = None) -> list[str]:
    """``llmbench ab``: the report's lines (or its JSON)."""
    import json

    from pytest_llmbench.analysis.ab import ABRule, compare_versions
    from pytest_llmbench.cases.load import load_task
    from pytest_llmbench.reporting.ab import ab_document, ab_lines

    _check_numbers(args)
    task = load_task(args.case_file)
    for version in (args.a, args.b):
        if args.results is None and version not in {v.name for v in task.versions}:
            names = ", ".join(v.name for v in task.versions) or "none (it has one prompt:)"
            raise UsageError(f"{args.case_file}: no prompt version {version!r}; it has {names}")
    results = _results(args, task, providers)
    rule = ABRule(args.min_gain, args.latency_tolerance, args.cost_tolerance)
    report = compare_versions(task.name, results, args.a, args.b, rule)
    if not report.models:
        raise UsageError(f"no paired results of {args.a} and {args.b} for task {task.name}")
    if args.json:
        return [json.dumps(ab_document(report), indent=2)]
    return ab_lines(report)


def _check_numbers(args: argparse.Namespace) -> None:
    """``--repeat`` (1 to 1000), ``--min-gain`` (finite) and the tolerances (finite, 0 or
    more): a :class:`UsageError` naming the option."""
    import math

    from pytest_llmbench.settings.values import parse_repeat

    checked(parse_repeat, args.repeat, "--repeat")
    if not math.isfinite(args.min_gain):
        raise UsageError(f"--min-gain: expected a finite number, got {args.min_gain:g}")
    for name, value in (
        ("--latency-tolerance", args.latency_tolerance),
        ("--cost-tolerance", args.cost_tolerance),
    ):
        if not math.isfinite(value) or value < 0:
            raise UsageError(f"{name}: expected a finite number of at least 0, got {value:g}")


def _results(
    args: argparse.Namespace, task: Task, providers: Mapping[str, Provider] | None
) -> list[Result]:
    """The results of both versions: read from ``--results``, else run on ``--models``."""
    from pytest_llmbench.execution.batch import run_cases
    from pytest_llmbench.providers.resolve import resolve_models

    if args.results is not None:
        return _read_results(args.results)
    if not args.models:
        raise UsageError("give --models to run, or --results RUN.json to read a run")
    results: list[Result] = []
    resolved = resolve_models(args.models.split(","), provider_settings(args), providers)
    for provider, model in resolved:
        for index, version in enumerate((args.a, args.b)):
            results += run_cases(
                task, task.version(version).cases, provider, model,
                repeat=args.repeat, timeout_s=args.timeout, cold=index == 0,
            )  # fmt: skip
    return results


def _read_results(path: Path) -> list[Result]:
    """The results of the ``--llm-json`` document at ``path``; anything else is one
    :class:`UsageError` line naming the file and what to give instead."""
    import json

    from pytest_llmbench.storage.json_report import ReportError, results_from_json

    advice = "give --results the file pytest --llm-json=PATH wrote"
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise UsageError(f"--results {path}: no such file; {advice}") from None
    except OSError as exc:
        raise UsageError(f"--results {path}: cannot read it ({exc.strerror}); {advice}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--results {path} is not UTF-8 text; {advice}") from None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise UsageError(f"--results {path} is not JSON ({why}); {advice}") from None
    try:
        return results_from_json(document)
    except ReportError as exc:
        raise UsageError(f"--results {path}: {exc}; {advice}") from None
