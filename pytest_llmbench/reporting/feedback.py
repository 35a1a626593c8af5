"""The lines of ``llmbench feedback``: the router's calls per task and model.  Pure:
feedback statistics in, lines out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pytest_llmbench.formatting import ms
from pytest_llmbench.reporting.cells import table
from pytest_llmbench.storage.champions import RegistryEntry
from pytest_llmbench.storage.feedback import FeedbackStats

__all__ = ["feedback_lines"]

HEADERS = (
    "task",
    "model",
    "calls",
    "success",
    "p50 ms",
    "p95 ms",
    "fell over",
    "backup",
    "skipped",
)


def _benchmark(entry: RegistryEntry | None, model: str) -> str:
    """The registry's evidence of a model: ``10/10, p95 150 ms``."""
    if entry is None:
        return "-"
    for evidence in (entry.champion, entry.runner_up):
        if evidence is not None and evidence.model == model:
            p95 = f", p95 {ms(evidence.p95_ms)} ms" if evidence.p95_ms else ""
            return f"{evidence.correct}/{evidence.total}{p95}"
    return "-"


def feedback_lines(
    stats: Sequence[FeedbackStats],
    task: str | None = None,
    entries: Mapping[str, RegistryEntry] | None = None,
) -> list[str]:
    """``llmbench feedback``: per task and model the calls, success rate, p50/p95
    latency of the answers, fall-overs from it, answers it gave as a backup, skips; and,
    when any answer was checked, the agreement of the checked answers (and the mean
    judge score when a shadow judge scored any), beside the benchmark's evidence in the
    registry (``entries``: correct of total, p95) when there is any."""
    if not stats:
        return [f"no call of task {task} in the feedback log" if task else "no call logged"]
    rows = [
        [
            s.task,
            s.model,
            s.calls,
            "-" if s.success_rate is None else f"{s.success_rate * 100:.0f}%",
            ms(s.p50_ms),
            ms(s.p95_ms),
            s.fell_over,
            s.backup,
            s.skipped,
        ]
        for s in stats
    ]
    headers = list(HEADERS)
    if any(s.checked for s in stats):
        headers.append("agreement")
        for row, s in zip(rows, stats, strict=True):
            agreement = s.agreement
            row.append("-" if agreement is None else f"{agreement * 100:.0f}% of {s.checked}")
    if any(s.judge_scores for s in stats):
        headers.append("judge")
        for row, s in zip(rows, stats, strict=True):
            score = s.judge_score
            row.append("-" if score is None else f"{score:.2f}")
    if entries and any(_benchmark(entries.get(s.task), s.model) != "-" for s in stats):
        headers.append("benchmark")
        for row, s in zip(rows, stats, strict=True):
            row.append(_benchmark(entries.get(s.task), s.model))
    return table(rows, headers)
