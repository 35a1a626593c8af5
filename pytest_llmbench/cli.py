"""The ``llmbench`` command: the run history, the champion registry, production calls.

    llmbench history [--task T] [--model M]   champion and latency over time
    llmbench show RUN                         one run: its ranking per task
    llmbench compare RUN_A RUN_B              what changed, per task, model and case
    llmbench rankings [--task T]              the registry: champion, runner-up, evidence, age
    llmbench run TASK --var name=value ...    one production call through the router
    llmbench feedback [--task T]              the router's calls: success, latency, fall-overs
    llmbench ab CASES.yaml --a v1 --b v2      A/B of two prompt versions (see ``ab``)
    llmbench optimize CASES.yaml --model M --interviewer I   the interviewer loop

RUN is a run id, a unique prefix of one, ``last`` or ``last~N``.  The history is
``.llmbench/history.sqlite`` in the working directory unless ``--history PATH``; the
registry ``llmbench-registry.yaml`` in the working directory or a parent unless
``--registry PATH``.  The ``*_lines`` functions are pure (data in, lines out);
:func:`main` prints them.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

from tabulate import tabulate

from pytest_llmbench import __version__
from pytest_llmbench.analysis.ranking import ModelStanding
from pytest_llmbench.execution.results import Result
from pytest_llmbench.optimize.command import (
    UsageError,
    add_endpoint_option,
    add_optimize,
    run_optimize,
)
from pytest_llmbench.providers.redaction import register_environment_secrets, shown
from pytest_llmbench.reporting.facts import run_date
from pytest_llmbench.reporting.terminal import summary_lines
from pytest_llmbench.router import Router, RouterError, RouterResult, default_settings
from pytest_llmbench.storage.champions import (
    DEFAULT_REGISTRY,
    Evidence,
    RegistryEntry,
    RegistryError,
    find_registry,
    load_registry,
)
from pytest_llmbench.storage.feedback import (
    DEFAULT_FEEDBACK,
    FeedbackStats,
    feedback_path,
    read_feedback,
    summarize_feedback,
)
from pytest_llmbench.storage.history import (
    DEFAULT_HISTORY,
    HistoryError,
    StoredRun,
    load_run,
    resolve_run,
    task_timeline,
)

__all__ = [
    "answer_text",
    "compare_lines",
    "feedback_lines",
    "history_lines",
    "main",
    "rankings_lines",
    "show_lines",
]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> list[str]:
    text = tabulate(rows, headers=list(headers), tablefmt="simple", disable_numparse=True)
    return text.splitlines()


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None or before == 0:
        return ""
    return f"{(after / before - 1.0) * 100:+.0f}%"


def _when(started_at: str) -> str:
    return run_date({"started_at": started_at}).removesuffix(" UTC")


# --------------------------------------------------------------------------- history


def history_lines(
    rows: Iterable[Mapping[str, Any]], task: str | None = None, model: str | None = None
) -> list[str]:
    """``llmbench history``: per run and task the champion, or one model's standing.

    :param rows: :func:`pytest_llmbench.storage.history.task_timeline` rows, in time order.
    """
    rows = list(rows)
    if not rows:
        what = " and ".join(
            part
            for part in (f"task {task}" if task else "", f"model {model}" if model else "")
            if part
        )
        return [f"no run in the history{' for ' + what if what else ''}"]
    if model is not None:
        table = []
        previous: dict[str, float | None] = {}
        for row in rows:
            s: ModelStanding = row["standing"]
            table.append(
                [
                    row["run"],
                    _when(row["started_at"]),
                    (row["git_commit"] or "")[:8],
                    row["task"],
                    s.status,
                    s.score,
                    _ms(s.mean_ms),
                    _ms(s.p95_ms),
                    _change(previous.get(row["task"]), s.mean_ms),
                ]
            )
            previous[row["task"]] = s.mean_ms
        return [
            f"model {model}",
            *_table(
                table,
                [
                    "run",
                    "date",
                    "commit",
                    "task",
                    "status",
                    "correct",
                    "mean ms",
                    "p95 ms",
                    "change",
                ],
            ),
        ]
    table = []
    champion_ms: dict[str, float | None] = {}
    for (run_id, task_name), group in groupby(rows, key=lambda r: (r["run"], r["task"])):
        members = list(group)
        standings: list[ModelStanding] = [m["standing"] for m in members]
        champion = next((s for s in standings if s.status == "champion"), None)
        runner_up = next((s for s in standings if s.status == "runner-up"), None)
        qualified = sum(1 for s in standings if s.qualified)
        mean = champion.mean_ms if champion else None
        table.append(
            [
                run_id,
                _when(members[0]["started_at"]),
                (members[0]["git_commit"] or "")[:8],
                task_name,
                champion.model if champion else "none",
                _ms(mean),
                _change(champion_ms.get(task_name), mean),
                runner_up.model if runner_up else "none",
                f"{qualified}/{len(standings)}",
            ]
        )
        if mean is not None:
            champion_ms[task_name] = mean
    return _table(
        table,
        [
            "run",
            "date",
            "commit",
            "task",
            "champion",
            "mean ms",
            "change",
            "runner-up",
            "qualified",
        ],
    )


# --------------------------------------------------------------------------- show


def _run_header(run: Mapping[str, Any]) -> list[str]:
    lines = [f"run {run.get('id')}  {run_date(run)}"]
    facts = [
        f"{label} {value}"
        for label, value in (
            ("commit", str(run.get("git_commit") or "")[:12]),
            ("host", run.get("host")),
            ("pytest-llmbench", run.get("plugin_version")),
            ("exit status", run.get("exitstatus")),
            ("resumed from", run.get("resumed_from")),
        )
        if value not in (None, "")
    ]
    if facts:
        lines.append(", ".join(facts))
    if run.get("args"):
        lines.append("args: " + " ".join(str(a) for a in run["args"]))
    return lines


def show_lines(stored: StoredRun) -> list[str]:
    """``llmbench show RUN``: the run's facts, then the terminal summary of each task."""
    return [*_run_header(stored.run), "", *summary_lines(stored.rankings, stored.case_counts())]


# --------------------------------------------------------------------------- compare


def _case_outcomes(results: Iterable[Result]) -> dict[tuple[str, str, str], list[Result]]:
    out: dict[tuple[str, str, str], list[Result]] = {}
    for r in results:
        out.setdefault((r.task, r.case_id, r.model), []).append(r)
    return out


def _outcome(results: Sequence[Result] | None) -> str:
    if not results:
        return "not run"
    right = sum(1 for r in results if r.correct)
    if len(results) == 1:
        r = results[0]
        return f"correct ({r.got})" if r.correct else f"{r.direction} ({r.got})"
    return f"{right}/{len(results)} correct"


def compare_lines(a: StoredRun, b: StoredRun) -> list[str]:
    """``llmbench compare A B``: champions, every model's standing, and changed cases."""
    lines = [f"A: run {a.id}  {run_date(a.run)}", f"B: run {b.id}  {run_date(b.run)}", ""]
    before = {r.task: r for r in a.rankings}
    after = {r.task: r for r in b.rankings}
    tasks = [*before, *(t for t in after if t not in before)]
    rows = []
    for task in tasks:
        ra, rb = before.get(task), after.get(task)
        ca = ra.champion if ra else None
        cb = rb.champion if rb else None
        name_a = ca.model if ca else ("not run" if ra is None else "none")
        name_b = cb.model if cb else ("not run" if rb is None else "none")
        change = "same" if name_a == name_b else "changed"
        rows.append(
            [
                task,
                name_a,
                _ms(ca.mean_ms if ca else None),
                name_b,
                _ms(cb.mean_ms if cb else None),
                change,
            ]
        )
    lines += ["Champions", *_table(rows, ["task", "A", "A ms", "B", "B ms", ""]), ""]
    rows = []
    for task in tasks:
        sa = {s.model: s for s in (before[task].standings if task in before else ())}
        sb = {s.model: s for s in (after[task].standings if task in after else ())}
        for model in [*sa, *(m for m in sb if m not in sa)]:
            x, y = sa.get(model), sb.get(model)
            rows.append(
                [
                    task,
                    model,
                    x.score if x else "-",
                    y.score if y else "-",
                    x.status if x else "not run",
                    y.status if y else "not run",
                    _ms(x.mean_ms if x else None),
                    _ms(y.mean_ms if y else None),
                    _change(x.mean_ms if x else None, y.mean_ms if y else None),
                ]
            )
    lines += [
        "Models",
        *_table(
            rows,
            [
                "task",
                "model",
                "A correct",
                "B correct",
                "A status",
                "B status",
                "A ms",
                "B ms",
                "change",
            ],
        ),
        "",
    ]
    oa, ob = _case_outcomes(a.results), _case_outcomes(b.results)
    ran_a = {(r.task, r.model) for r in a.results}
    ran_b = {(r.task, r.model) for r in b.results}
    rows = []
    for key in [*oa, *(k for k in ob if k not in oa)]:
        if (key[0], key[2]) not in ran_a or (key[0], key[2]) not in ran_b:
            continue  # the model did not run the task in one of the runs: see "Models"
        runs_a, runs_b = oa.get(key), ob.get(key)
        right_a = None if not runs_a else sum(r.correct for r in runs_a) / len(runs_a)
        right_b = None if not runs_b else sum(r.correct for r in runs_b) / len(runs_b)
        if runs_a and runs_b and right_a == right_b:
            continue
        rows.append([*key, _outcome(runs_a), _outcome(runs_b)])
    if rows:
        lines += ["Cases that changed", *_table(rows, ["task", "case", "model", "A", "B"])]
    else:
        lines.append("Cases that changed: none (every case and model the runs share agree)")
    return lines


# --------------------------------------------------------------------------- rankings


def _age(date: str | None, today: _dt.date) -> str:
    if not date:
        return "-"
    try:
        days = (today - _dt.date.fromisoformat(date)).days
    except ValueError:
        return "-"
    return f"{days} day" if days == 1 else f"{days} days"


def rankings_lines(
    entries: Mapping[str, RegistryEntry], today: _dt.date, task: str | None = None
) -> list[str]:
    """``llmbench rankings``: per task its champion, runner-up and fallbacks, each with
    the evidence (correct/total, mean and p95 latency, the run and its date) and its age."""
    rows: list[list[Any]] = []
    for name in sorted(entries):
        if task is not None and name != task:
            continue
        entry = entries[name]
        places: list[tuple[str, str, Evidence | None]] = [
            ("champion", entry.champion.model, entry.champion)
        ]
        if entry.runner_up is not None:
            places.append(("runner-up", entry.runner_up.model, entry.runner_up))
        places += [("fallback", m, None) for m in entry.fallbacks if m not in entry.models]
        for place, model, ev in places:
            rows.append(
                [
                    name,
                    place,
                    model,
                    f"{ev.correct}/{ev.total}" if ev else "-",
                    _ms(ev.mean_ms) if ev else "-",
                    _ms(ev.p95_ms) if ev else "-",
                    (ev.run or "-") if ev else "-",
                    (ev.date or "-") if ev else "-",
                    _age(ev.date, today) if ev else "-",
                ]
            )
    if not rows:
        return [f"task {task} is not in the registry" if task else "the registry has no task"]
    headers = ["task", "place", "model", "correct", "mean ms", "p95 ms", "run", "date", "age"]
    return _table(rows, headers)


# --------------------------------------------------------------------------- run


def answer_text(result: RouterResult) -> str:
    """What ``llmbench run`` prints: the label, the JSON value, or the text."""
    if isinstance(result.value, str):
        return result.value
    return json.dumps(result.value, ensure_ascii=False)


def _answer_note(result: RouterResult) -> str:
    note = f"llmbench: {result.task} answered by {result.model} in {_ms(result.latency_ms)} ms"
    if result.fell_over_from:
        note += f" (fell over from {', '.join(result.fell_over_from)})"
    consensus = result.consensus
    if consensus is not None:
        if consensus.accepted:
            note += f"; consensus of {' and '.join(consensus.agreed)}"
        else:
            note += "; NO consensus: the top model's answer, flagged"
        if consensus.similarity is not None:
            note += f" (similarity {consensus.similarity:.2f})"
    return note


def _values(pairs: Sequence[str]) -> dict[str, str]:
    """``--var name=value`` and ``--var name=@file`` (``@@`` for a value that starts with @)."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--var expects name=value or name=@file, got {pair!r}")
        if value.startswith("@@"):
            value = value[1:]
        elif value.startswith("@"):
            try:
                value = Path(value[1:]).expanduser().read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else str(exc)
                raise UsageError(f"--var {name}: cannot read {value[1:]}: {why}") from None
        values[name.strip()] = value
    return values


# --------------------------------------------------------------------------- feedback


def feedback_lines(stats: Sequence[FeedbackStats], task: str | None = None) -> list[str]:
    """``llmbench feedback``: per task and model the calls, success rate, p50/p95
    latency of the answers, fall-overs from it, answers it gave as a backup, skips."""
    if not stats:
        return [f"no call of task {task} in the feedback log" if task else "no call logged"]
    rows = [
        [
            s.task,
            s.model,
            s.calls,
            "-" if s.success_rate is None else f"{s.success_rate * 100:.0f}%",
            _ms(s.p50_ms),
            _ms(s.p95_ms),
            s.fell_over,
            s.backup,
            s.skipped,
        ]
        for s in stats
    ]
    headers = [
        "task",
        "model",
        "calls",
        "success",
        "p50 ms",
        "p95 ms",
        "fell over",
        "backup",
        "skipped",
    ]
    return _table(rows, headers)


# --------------------------------------------------------------------------- ab


def _add_ab(commands: Any) -> None:
    ab = commands.add_parser(
        "ab",
        help="A/B of two prompt versions: paired accuracy, McNemar, latency, cost, decision",
        description="Run versions A and B of a task's prompt on the same cases and models "
        "(or read them from a run's --llm-json document with --results) and decide "
        "whether to ship B.",
    )
    ab.add_argument("case_file", metavar="CASES.yaml", type=Path)
    ab.add_argument("--a", required=True, metavar="VERSION", help="the current version")
    ab.add_argument("--b", required=True, metavar="VERSION", help="the candidate version")
    ab.add_argument(
        "--models", metavar="M1,M2", help="models to run both versions on (provider/name)"
    )
    ab.add_argument(
        "--results", metavar="RUN.json", type=Path, help="read the results of a run instead"
    )
    ab.add_argument("--repeat", metavar="N", type=int, default=1, help="runs per case")
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
    _add_model_settings(ab)


def _add_model_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=120.0)
    parser.add_argument("--ollama-host", metavar="URL", action="append", default=None)
    parser.add_argument(
        "--gguf",
        metavar="NAME=PATH",
        action="append",
        default=None,
        help="add a GGUF file as model llamacpp/NAME",
    )
    add_endpoint_option(parser)


def provider_settings(args: argparse.Namespace) -> Any:
    """The providers' settings from ``--ollama-host``, ``--gguf``, ``--endpoint``,
    ``--timeout``."""
    from pytest_llmbench.providers.endpoints import EndpointError
    from pytest_llmbench.providers.resolve import settings_from

    try:
        return settings_from(args.timeout, args.ollama_host, args.gguf, args.endpoint)
    except EndpointError as exc:
        raise UsageError(f"--endpoint: {exc}") from None


def run_ab(args: argparse.Namespace, providers: Mapping[str, Any] | None = None) -> list[str]:
    """``llmbench ab``: the report's lines (or its JSON)."""
    import json

    from pytest_llmbench.analysis.ab import ABRule, compare_versions
    from pytest_llmbench.cases.load import load_task
    from pytest_llmbench.execution.batch import run_cases
    from pytest_llmbench.providers.resolve import resolve_models
    from pytest_llmbench.reporting.ab import ab_document, ab_lines
    from pytest_llmbench.storage.json_report import results_from_json

    task = load_task(args.case_file)
    for version in (args.a, args.b):
        if args.results is None and version not in {v.name for v in task.versions}:
            names = ", ".join(v.name for v in task.versions) or "none (it has one prompt:)"
            raise UsageError(f"{args.case_file}: no prompt version {version!r}; it has {names}")
    if args.results is not None:
        results = results_from_json(json.loads(args.results.read_text("utf-8")))
    elif not args.models:
        raise UsageError("give --models to run, or --results RUN.json to read a run")
    else:
        results = []
        resolved = resolve_models(args.models.split(","), provider_settings(args), providers)
        for provider, model in resolved:
            for index, version in enumerate((args.a, args.b)):
                results += run_cases(
                    task, task.version(version).cases, provider, model,
                    repeat=args.repeat, timeout_s=args.timeout, cold=index == 0,
                )  # fmt: skip
    rule = ABRule(args.min_gain, args.latency_tolerance, args.cost_tolerance)
    report = compare_versions(task.name, results, args.a, args.b, rule)
    if not report.models:
        raise UsageError(f"no paired results of {args.a} and {args.b} for task {task.name}")
    if args.json:
        return [json.dumps(ab_document(report), indent=2)]
    return ab_lines(report)


# --------------------------------------------------------------------------- main


def _registry_arg(given: Path | None) -> Path:
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
    path = _registry_arg(args.registry)
    entries = load_registry(path)
    if args.task is not None and args.task not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise RegistryError(f"task {args.task!r} is not in registry {path} (tasks: {known})")
    today = _dt.datetime.now(_dt.timezone.utc).date()
    return [f"registry {path}", *rankings_lines(entries, today, args.task)]


def _run(args: argparse.Namespace) -> tuple[list[str], str]:
    from pytest_llmbench.providers.endpoints import EndpointError

    values = _values(args.var or [])
    try:
        settings = default_settings(args.timeout, args.ollama_host or (), args.endpoint or ())
    except EndpointError as exc:
        raise UsageError(f"--endpoint: {exc}") from None
    router = Router.from_registry(
        args.registry,
        evals=args.evals,
        settings=settings,
        feedback=args.feedback,
    )
    result = router.run(args.task, consensus=True if args.consensus else None, variables=values)
    if args.json:
        return [json.dumps(result.to_dict(), ensure_ascii=False, indent=2)], _answer_note(result)
    return [answer_text(result)], _answer_note(result)


def _feedback(args: argparse.Namespace) -> list[str]:
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
    lines = [
        f"feedback {path}: {len(records)} call(s)",
        *feedback_lines(summarize_feedback(records, args.task), args.task),
    ]
    if bad:
        lines.append(f"({bad} line(s) could not be read and were left out)")
    return lines


def _history(args: argparse.Namespace) -> list[str]:
    path: Path = getattr(args, "history", None) or DEFAULT_HISTORY
    if args.command == "history":
        rows = task_timeline(path, task=args.task, model=args.model)
        return history_lines(rows, task=args.task, model=args.model)
    if args.command == "show":
        return show_lines(load_run(path, resolve_run(path, args.run)))
    first = load_run(path, resolve_run(path, args.run_a))
    second = load_run(path, resolve_run(path, args.run_b))
    return compare_lines(first, second)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--history",
        metavar="PATH",
        type=Path,
        default=argparse.SUPPRESS,  # given before or after the command, never reset
        help=f"the history file (default: {DEFAULT_HISTORY})",
    )
    parser = argparse.ArgumentParser(
        prog="llmbench",
        description="The run history, the champion registry and production calls of "
        "pytest-llmbench.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    history = commands.add_parser(
        "history", parents=[common], help="champion and latency over time"
    )
    history.add_argument("--task", metavar="T", help="only this task")
    history.add_argument("--model", metavar="M", help="this model's standing in every run")
    show = commands.add_parser("show", parents=[common], help="one run's ranking per task")
    show.add_argument("run", metavar="RUN", help="run id, unique prefix, last or last~N")
    compare = commands.add_parser(
        "compare", parents=[common], help="differences per task, model and case"
    )
    compare.add_argument("run_a", metavar="RUN_A")
    compare.add_argument("run_b", metavar="RUN_B")

    registry = argparse.ArgumentParser(add_help=False)
    registry.add_argument(
        "--registry",
        metavar="PATH",
        type=Path,
        help=f"the registry file (default: {DEFAULT_REGISTRY} here or in a parent directory)",
    )
    log = argparse.ArgumentParser(add_help=False)
    log.add_argument(
        "--feedback",
        metavar="PATH",
        type=Path,
        help=f"the feedback log (default: {DEFAULT_FEEDBACK} beside the registry)",
    )
    rankings = commands.add_parser(
        "rankings", parents=[registry], help="the registry: champion, runner-up, evidence, age"
    )
    rankings.add_argument("--task", metavar="T", help="only this task")
    run = commands.add_parser(
        "run", parents=[registry, log], help="one production call through the router"
    )
    run.add_argument("task", metavar="TASK")
    run.add_argument(
        "--var",
        metavar="NAME=VALUE",
        action="append",
        help="a template value (repeatable); NAME=@FILE reads it from a file",
    )
    run.add_argument(
        "--consensus", action="store_true", help="ask several models and let them agree"
    )
    run.add_argument("--json", action="store_true", help="the answer and how it came, as JSON")
    run.add_argument(
        "--evals", metavar="DIR", type=Path, help="find the task's case file here, by name"
    )
    run.add_argument(
        "--ollama-host",
        metavar="URL",
        action="append",
        help="Ollama server (repeatable; default: $OLLAMA_HOST, else http://127.0.0.1:11434)",
    )
    run.add_argument(
        "--timeout", metavar="S", type=float, default=120.0, help="per call (default: 120)"
    )
    add_endpoint_option(run)
    feedback = commands.add_parser(
        "feedback", parents=[registry, log], help="the router's calls: success, latency, fall-overs"
    )
    feedback.add_argument("--task", metavar="T", help="only this task")
    _add_ab(commands)
    add_optimize(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; 0 on success, 1 when it cannot answer, 2 for bad usage.

    Errors are one line on stderr (``llmbench: ...``), never a traceback.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command in ("ab", "optimize"):
        return _run_models_command(args)
    note = ""
    try:
        if args.command == "rankings":
            lines = _rankings(args)
        elif args.command == "run":
            lines, note = _run(args)
        elif args.command == "feedback":
            lines = _feedback(args)
        else:
            lines = _history(args)
    except UsageError as exc:
        print(shown(f"llmbench: {exc}"), file=sys.stderr)
        return 2
    except (HistoryError, RegistryError, RouterError) as exc:
        print(shown(f"llmbench: {exc}"), file=sys.stderr)
        return 1
    _show(lines, note)
    return 0


def _show(lines: Sequence[str], note: str = "") -> None:
    """Print a command's answer, masked and with control characters escaped (older
    history files may hold what is masked now: a host URL's password, escapes)."""
    register_environment_secrets()
    print(shown("\n".join(lines)))
    if note:
        print(shown(note), file=sys.stderr)


def _run_models_command(args: argparse.Namespace) -> int:
    """``ab`` and ``optimize``: commands that call models; one clear line on failure."""
    from pytest_llmbench.cases.problems import CaseFileError
    from pytest_llmbench.providers.base import ProviderError

    try:
        lines = run_ab(args) if args.command == "ab" else run_optimize(args)
    except (UsageError, CaseFileError, FileNotFoundError) as exc:
        print(shown(f"llmbench {args.command}: {exc}"), file=sys.stderr)
        return 2
    except ProviderError as exc:
        print(shown(f"llmbench {args.command}: {exc}"), file=sys.stderr)
        return 1
    _show(lines)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
