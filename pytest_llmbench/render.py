"""Render rankings: terminal summary lines and the ``--llm-json`` document.

Pure module: data in, lines or dicts out (testable without a terminal).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tabulate import tabulate

from .ranking import ModelStanding, TaskRanking
from .results import Result

__all__ = ["json_document", "summary_lines"]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _champion_line(label: str, s: ModelStanding) -> str:
    return (
        f"{label} {s.model} ({s.score} correct, mean {_ms(s.mean_ms)} ms, p95 {_ms(s.p95_ms)} ms)"
    )


def task_lines(ranking: TaskRanking, cases: int | None = None) -> list[str]:
    """The summary block of one task: table, champion, runner-up, misses."""
    rows = [
        [s.model, s.score, _ms(s.mean_ms), _ms(s.p95_ms), _rate(s.tokens_per_s), s.status]
        for s in ranking.standings
    ]
    table = tabulate(
        rows,
        headers=["model", "correct", "mean ms", "p95 ms", "tok/s", "status"],
        colalign=("left", "right", "right", "right", "right", "left"),
        tablefmt="simple",
        disable_numparse=True,
    )
    count = f", {cases} case{'s' if cases != 1 else ''}" if cases is not None else ""
    lines = [f"task {ranking.task} ({ranking.policy} policy{count})", *table.splitlines()]
    champion, runner_up = ranking.champion, ranking.runner_up
    if champion is None:
        near = ranking.nearest_miss
        tail = f" (nearest miss: {near.model}, {near.score})" if near else ""
        lines.append(f"Champion:  none, no model qualified{tail}")
    else:
        lines.append(_champion_line("Champion: ", champion))
        if runner_up is not None:
            lines.append(_champion_line("Runner-up:", runner_up))
        else:
            lines.append("Runner-up: none, only one model qualified")
    misses = [s for s in ranking.disqualified if s.misses]
    if misses:
        lines.append("Did not qualify:")
        lines.extend(f"  {s.model} ({s.score}): {s.miss_summary()}" for s in misses)
    lines.extend(f"Note: {note}" for note in ranking.notes)
    return lines


def summary_lines(rankings: Sequence[TaskRanking], case_counts: Mapping[str, int]) -> list[str]:
    lines: list[str] = []
    for index, ranking in enumerate(rankings):
        if index:
            lines.append("")
        lines.extend(task_lines(ranking, case_counts.get(ranking.task)))
    return lines


def _standing_dict(s: ModelStanding) -> dict[str, Any]:
    return {
        "model": s.model,
        "status": s.status,
        "qualified": s.qualified,
        "correct": s.correct,
        "total": s.total,
        "errors": s.errors,
        "mean_ms": s.mean_ms,
        "p95_ms": s.p95_ms,
        "tokens_per_s": s.tokens_per_s,
        "failed_cases": [
            {
                "case_id": m.case_id,
                "direction": m.direction,
                "wrong": m.wrong,
                "runs": m.runs,
                "expected": m.expected,
                "got": m.got,
                "reason": m.reason,
            }
            for m in s.misses
        ],
    }


def json_document(
    run: Mapping[str, Any], results: Iterable[Result], rankings: Sequence[TaskRanking]
) -> dict[str, Any]:
    """The ``--llm-json`` document: ``{"run", "results", "tasks"}`` as in DESIGN.md."""
    tasks: dict[str, Any] = {}
    for ranking in rankings:
        champion, runner_up = ranking.champion, ranking.runner_up
        tasks[ranking.task] = {
            "policy": ranking.policy,
            "champion": champion.model if champion else None,
            "runner_up": runner_up.model if runner_up else None,
            "ranking": [_standing_dict(s) for s in ranking.qualified],
            "disqualified": [_standing_dict(s) for s in ranking.disqualified],
            "notes": list(ranking.notes),
        }
    return {"run": dict(run), "results": [r.to_dict() for r in results], "tasks": tasks}
