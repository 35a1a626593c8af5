"""The lines that end a run's terminal output: the rankings, why a green run fails, the gate.

Pure: records in, ``(text, style)`` lines out; the plugin only writes them (``style``
holds the terminal's markup keywords: ``red``, ``green``, ``yellow``, ``bold``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_llmbench.analysis.conditions import describe_loaded
from pytest_llmbench.analysis.gate import GateVerdict
from pytest_llmbench.analysis.run import RunOutcome
from pytest_llmbench.execution.results import Result, judge_failures
from pytest_llmbench.reporting.load import load_lines
from pytest_llmbench.reporting.terminal import detail_lines, summary_lines
from pytest_llmbench.safety.sanitising import shown

__all__ = ["Line", "failure_lines", "gate_lines", "judge_lines", "ranking_lines"]

Line = tuple[str, Mapping[str, bool]]
"""A line and its markup."""


def nothing_to_run(changed_since: object, newcomers_only: bool) -> str | None:
    """Why no test was collected when nothing was to run (then the run passes), if so."""
    if changed_since is not None:
        return f"llmbench: no task changed since {changed_since}; nothing to benchmark"
    if newcomers_only:
        return "llmbench: no new model for any task; nothing to benchmark"
    return None


def ranking_lines(
    outcome: RunOutcome,
    case_counts: Mapping[str, int],
    verbose: bool,
    xdist: Sequence[str],
    conditions: Mapping[str, Any] | None = None,
) -> list[Line]:
    """The ``llmbench ranking`` section: a table per task (details with ``-v``), then
    where the xdist workers ran what, then whether the machine was loaded."""
    lines = [shown(line) for line in summary_lines(outcome.rankings, case_counts)]
    lines += [shown(line) for line in load_lines(outcome.rankings)]
    if verbose:
        lines += [shown(line) for line in detail_lines(outcome.rankings)]
    marked: list[Line] = []
    loaded = describe_loaded(conditions)
    if loaded is not None:
        marked += [(line, {"yellow": True}) for line in loaded_lines(loaded)]
    return [*((line, {}) for line in [*lines, *xdist]), *marked]


def loaded_lines(loaded: str) -> list[str]:
    """The summary's mark of a run on a loaded machine, in lines that fit 120 columns."""
    return [
        "Warning: this run ran on a loaded machine: its latencies are inflated and timeouts "
        "may be the machine's;",
        f"compare them with care ({loaded})",
    ]


def failure_lines(outcome: RunOutcome) -> list[Line]:
    """Why a run whose items passed fails (the judge, generic answers), and a partial run."""
    lines: list[Line] = []
    if outcome.judged_wrong:
        why = judge_lines(outcome.results)
        lines.append(
            (
                f"llmbench: the judge failed {outcome.judged_wrong} run(s) or could not judge "
                "them, so the run fails" + (":" if why else ""),
                {"red": True},
            )
        )
        lines += [(line, {"red": True}) for line in why]
    if outcome.generic_failures:
        lines.append(
            (
                f"llmbench: {outcome.generic_failures} run(s) failed the generic-answer check "
                "(see above), so the run fails",
                {"red": True},
            )
        )
    if outcome.partial:
        lines.append((f"llmbench: partial run: {outcome.partial}", {"yellow": True}))
    return lines


JUDGE_LINES = 20
"""At most this many judge failures are listed (the rest: the ``--llm-json`` document)."""


def judge_lines(results: Sequence[Result]) -> list[str]:
    """A line per run the judge failed or could not judge: the run, the judge and why."""
    failures = judge_failures(results)
    lines = []
    for r in failures[:JUDGE_LINES]:
        where = f"  {r.task} {r.case_id} {r.model}" + (
            f" (repeat {r.repeat})" if r.repeat > 1 else ""
        )
        part = next((p for p in r.parts if p.name == "judge" and not p.passed), None)
        if r.error or part is None:
            lines.append(shown(f"{where}: {r.error}"))
            continue
        why = f"{r.judge_model} scored {part.score:g} < {part.threshold:g}"
        lines.append(shown(f"{where}: {why}" + (f": {r.judge_reason}" if r.judge_reason else "")))
    if len(failures) > JUDGE_LINES:
        lines.append(f"  ... and {len(failures) - JUDGE_LINES} more (every reason: --llm-json)")
    return lines


def gate_lines(verdict: GateVerdict) -> list[Line]:
    """The ``llmbench gate`` section: what was compared, then the verdict."""
    lines: list[Line] = [(line, {}) for line in verdict.lines]
    if verdict.reasons:
        lines.append((f"FAILED: {len(verdict.reasons)} reason(s)", {"red": True, "bold": True}))
        lines += [(shown(f"  {reason}"), {"red": True}) for reason in verdict.reasons]
    elif verdict.checks():
        lines.append(("passed: " + ", ".join(verdict.checks()), {"green": True}))
    return lines
