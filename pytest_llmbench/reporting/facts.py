"""What the Markdown and HTML reports are made of, and the facts both derive from it.

Pure module: the run record, the results and the rankings in; numbers and sentences
out (relative speed, shown as the "speed score" column; correctness; the rows of the
top-results table; the notes such as size against speed).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_llmbench.analysis.ranking import LATENCY_LABELS, Miss, ModelStanding, TaskRanking
from pytest_llmbench.execution.results import Result
from pytest_llmbench.formatting import ms

__all__ = [
    "STREAMED_HEADERS",
    "TOP_RESULTS_HEADERS",
    "ReportData",
    "adds_reason",
    "correctness",
    "format_bytes",
    "notes",
    "partial_note",
    "ranked_by",
    "relative_speed",
    "run_date",
    "streamed_rows",
    "top_results_rows",
]


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows.

    :param run: the run record (``id``, ``started_at``, ``git_commit``, ``host``, ...).
    :param model_sizes: bytes on disk per model id, where the provider reports it.
    """

    run: Mapping[str, Any]
    results: Sequence[Result]
    rankings: Sequence[TaskRanking]
    case_counts: Mapping[str, int] = field(default_factory=dict)
    descriptions: Mapping[str, str] = field(default_factory=dict)
    model_sizes: Mapping[str, int | None] = field(default_factory=dict)

    def results_of(self, task: str) -> list[Result]:
        return [r for r in self.results if r.task == task]

    def models(self) -> list[str]:
        """Every model tested, in the order first seen (a combination is none)."""
        seen: dict[str, None] = {}
        for ranking in self.rankings:
            for s in ranking.standings:
                if s.combination is None:
                    seen.setdefault(s.model)
        for r in self.results:
            seen.setdefault(r.model)
        return list(seen)

    def cases(self, task: str) -> int:
        if task in self.case_counts:
            return self.case_counts[task]
        return len({r.case_id for r in self.results_of(task)})


def partial_note(run: Mapping[str, Any]) -> str | None:
    """What a report says of a run whose evidence is incomplete, or ``None``."""
    if run.get("partial"):
        return (
            f"Partial run: {run.get('partial_reason') or 'stopped early'}. Models that did "
            "not make every run are listed as incomplete; the champion registry was not updated."
        )
    if run.get("cache_only"):
        return (
            "Every answer came from the response cache: nothing was timed, so the order "
            "of qualified models says nothing about speed; the registry was not updated."
        )
    return None


def adds_reason(miss: Miss) -> bool:
    """Whether a miss's reason says more than "expected X, got Y" already does."""
    reason = miss.reason
    return bool(reason) and reason != miss.got and not reason.startswith("expected ")


def run_date(run: Mapping[str, Any]) -> str:
    """``2025-01-01 12:00 UTC`` from the run's ``started_at`` (ISO 8601)."""
    raw = str(run.get("started_at") or "")
    try:
        when = _dt.datetime.fromisoformat(raw)
    except ValueError:
        return raw or "unknown date"
    if when.tzinfo is not None:
        when = when.astimezone(_dt.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def format_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    if value >= 1e9:
        return f"{value / 1e9:.1f} GB"
    return f"{value / 1e6:.0f} MB"


def relative_speed(ranking: TaskRanking, standing: ModelStanding) -> int | None:
    """100 for the fastest qualified model, ``100 * fastest / this`` for the others: the
    reports' "speed score" column (not :func:`pytest_llmbench.analysis.stats.speed_score`,
    which is 1000 / seconds).

    ``None`` for a model that did not qualify or has no latency.
    """
    champion = ranking.champion
    if not standing.qualified or champion is None:
        return None
    if not champion.mean_ms or not standing.mean_ms:
        return None
    return round(100.0 * champion.mean_ms / standing.mean_ms)


def correctness(standing: ModelStanding) -> str:
    """``75% (3/4)``: the share of correct runs, then correct of all runs (and the mean
    score, ``75% (3/4), score 0.82``, when graded checks make it say more)."""
    share = 100.0 * standing.correct / standing.total if standing.total else 0.0
    graded = f", score {standing.mean_score:.2f}" if standing.graded else ""
    return f"{share:.0f}% ({standing.correct}/{standing.total}){graded}"


TOP_RESULTS_HEADERS = (
    "#",
    "model",
    "correctness",
    "mean latency",
    "p95 latency",
    "speed score",
    "size",
    "status",
)
"""The columns of a task's top-results table, in the order of :func:`top_results_rows`."""


def top_results_rows(
    data: ReportData,
    ranking: TaskRanking,
    model: Callable[[str], str],
    status: Callable[[ModelStanding], str],
) -> list[list[str]]:
    """One row a qualified model, fastest first, in the columns of :data:`TOP_RESULTS_HEADERS`.

    The report marks up the model name (``model``) and the status (``status``); the other
    cells are plain numbers and units, the same text in every format.
    """
    rows = []
    for position, s in enumerate(ranking.qualified, 1):
        score = relative_speed(ranking, s)
        rows.append(
            [
                str(position),
                model(s.model) + combination_mark(s),
                correctness(s),
                ms(s.mean_ms, " ms"),
                ms(s.p95_ms, " ms"),
                "-" if score is None else str(score),
                format_bytes(data.model_sizes.get(s.model)),
                status(s),
            ]
        )
    return rows


STREAMED_HEADERS = (
    "model",
    "ttft p50",
    "ttft p95",
    "inter-token",
    "prefill",
    "generation",
)
"""The columns of a task's streamed-timings table, in the order of :func:`streamed_rows`."""


def streamed_rows(ranking: TaskRanking, model: Callable[[str], str]) -> list[list[str]]:
    """One row per model with streamed or server-reported phase timings (warm calls, ms):
    time to first token (p50, p95), the mean time between tokens, prefill and generation
    (means); none when no model has any."""
    rows = []
    for s in ranking.standings:
        figures = (s.ttft_p50_ms, s.ttft_p95_ms, s.itl_ms, s.prefill_ms, s.generation_ms)
        if all(value is None for value in figures):
            continue
        itl = "-" if s.itl_ms is None else f"{s.itl_ms:,.1f} ms"
        rows.append(
            [
                model(s.model) + combination_mark(s),
                ms(s.ttft_p50_ms, " ms"),
                ms(s.ttft_p95_ms, " ms"),
                itl,
                ms(s.prefill_ms, " ms"),
                ms(s.generation_ms, " ms"),
            ]
        )
    return rows


def ranked_by(ranking: TaskRanking) -> str:
    """The latency the task's models are ordered by, as reports name it (``ttft p95``)."""
    return LATENCY_LABELS.get(ranking.latency, ranking.latency)


COMBINATION = " (combination)"
"""Follows the name of a consensus combination wherever a report lists it as a model."""


def combination_mark(s: ModelStanding) -> str:
    """:data:`COMBINATION` for a consensus combination's standing, else nothing."""
    return COMBINATION if s.combination is not None else ""


def _names(models: Sequence[str]) -> str:
    return models[0] if len(models) == 1 else f"{', '.join(models[:-1])} and {models[-1]}"


def combination_note(s: ModelStanding) -> str | None:
    """What a consensus combination is and how it reached its answers (``None`` for a
    single model): one sentence for every report."""
    combo = s.combination
    if combo is None:
        return None
    runs = s.total - (len(s.incomplete.missing) if s.incomplete else 0)
    first, rest = combo.models[:2], combo.models[2:]
    parts = [f"{combo.agreed} of {runs} runs agreed"]
    if rest:
        parts.append(f"{combo.tie_breaks} needed {_names(rest)}")
    parts.append(f"{combo.flagged} without agreement (the top model's answer, flagged)")
    calls = f"{combo.mean_calls:.1f}" if combo.mean_calls is not None else "-"
    concurrent = (
        f"; with {_names(first)} asked at once (different hosts) "
        f"{ms(combo.concurrent_mean_ms, ' ms')} mean"
        if combo.concurrent_mean_ms is not None
        else ""
    )
    return (
        f"{s.model} is a combination: the answers of {_names(combo.models)} combined by the "
        f"consensus rule, no extra calls; {', '.join(parts)}; its latency is the sum of the "
        f"calls it needed ({calls} a run){concurrent}."
    )


def _ratio(slow: float, fast: float) -> str:
    return f"{slow / fast:.1f}x"


def _size_notes(ranking: TaskRanking, sizes: Mapping[str, int | None]) -> list[str]:
    sized = [(s, sizes.get(s.model)) for s in ranking.standings]
    known = [(s, size) for s, size in sized if size]
    if len(known) < 2:
        return []
    out: list[str] = []
    qualified = sorted(((s, b) for s, b in known if s.qualified), key=lambda p: p[1])
    if len(qualified) >= 2:
        (small, small_b), (big, big_b) = qualified[0], qualified[-1]
        if small.mean_ms and big.mean_ms and small_b != big_b:
            if small.mean_ms <= big.mean_ms:
                verdict = f"the smaller is {_ratio(big.mean_ms, small.mean_ms)} faster"
            else:
                verdict = f"the larger is {_ratio(small.mean_ms, big.mean_ms)} faster"
            out.append(
                f"Size against speed: {small.model} ({format_bytes(small_b)}, "
                f"{ms(small.mean_ms, ' ms')}) and {big.model} ({format_bytes(big_b)}, "
                f"{ms(big.mean_ms, ' ms')}): {verdict}."
            )
    if qualified:
        smallest_ok, smallest_b = qualified[0]
        smaller_failed = [s for s, b in known if not s.qualified and b < smallest_b]
        if smaller_failed:
            names = ", ".join(
                f"{s.model} ({format_bytes(sizes.get(s.model))})" for s in smaller_failed
            )
            out.append(
                f"Size against correctness: the smallest model that qualified is "
                f"{smallest_ok.model} ({format_bytes(smallest_b)}); smaller ones did not: "
                f"{names}."
            )
    return out


def notes(data: ReportData, ranking: TaskRanking) -> list[str]:
    """Observations derived from the data of one task, most useful first."""
    out: list[str] = [n for s in ranking.standings if (n := combination_note(s))]
    champion, runner_up = ranking.champion, ranking.runner_up
    standings = ranking.standings
    if champion is None:
        near = ranking.nearest_miss
        if near is not None:
            why = near.miss_summary()
            out.append(
                f"No model qualified; the nearest miss is {near.model} ({near.score})"
                + (f": {why}." if why else ".")
            )
    elif runner_up is not None and champion.mean_ms and runner_up.mean_ms:
        out.append(
            f"Champion {champion.model} is {_ratio(runner_up.mean_ms, champion.mean_ms)} "
            f"faster than runner-up {runner_up.model} ({ms(champion.mean_ms, ' ms')} against "
            f"{ms(runner_up.mean_ms, ' ms')})."
        )
    elif champion is not None and runner_up is None:
        out.append(f"Only {champion.model} qualified: there is no fallback model for this task.")
    timed = [s for s in standings if s.mean_ms is not None]
    if timed:
        fastest = min(timed, key=lambda s: (s.mean_ms or 0.0, s.model))
        if not fastest.qualified:
            why = fastest.miss_summary() or "not every run was correct"
            out.append(
                f"The fastest model, {fastest.model} ({ms(fastest.mean_ms, ' ms')}), "
                f"did not qualify: {why}."
            )
    out.extend(_size_notes(ranking, data.model_sizes))
    missed_by: dict[str, list[str]] = {}
    for s in standings:
        for miss in s.misses:
            missed_by.setdefault(miss.case_id, []).append(miss.direction)
    if len(standings) >= 2 and missed_by:
        case, directions = max(missed_by.items(), key=lambda kv: (len(kv[1]), kv[0]))
        if len(directions) >= 2:
            kinds = sorted(set(directions))
            how = (
                f"{kinds[0]} by all"
                if len(kinds) == 1
                else ", ".join(f"{k} {directions.count(k)}" for k in kinds)
            )
            out.append(
                f"Hardest case: {case}, missed by {len(directions)} of {len(standings)} "
                f"models ({how})."
            )
    verdict_misses = [
        r.direction
        for r in data.results_of(ranking.task)
        if not r.correct and r.direction in ("too lenient", "too strict")
    ]
    if len(verdict_misses) >= 3:
        lenient = verdict_misses.count("too lenient")
        strict = len(verdict_misses) - lenient
        if lenient >= 0.75 * len(verdict_misses):
            out.append(
                f"{lenient} of {len(verdict_misses)} wrong verdicts were too lenient "
                "(a passing label for a case that must fail)."
            )
        elif strict >= 0.75 * len(verdict_misses):
            out.append(
                f"{strict} of {len(verdict_misses)} wrong verdicts were too strict "
                "(a failing label for a case that must pass)."
            )
    erring = [s for s in standings if s.errors]
    if erring:
        out.append(
            "Errors (timeouts, server errors; counted as wrong): "
            + ", ".join(f"{s.model} {s.errors}" for s in erring)
            + "."
        )
    return out
