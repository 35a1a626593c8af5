"""Render rankings: the terminal summary lines and the detail tables (``-v``).

Pure module: data in, lines out (testable without a terminal).  The ``--llm-json``
document is written by :mod:`pytest_llmbench.storage.json_report`.

The summary is one table per task and stays within :data:`WIDTH` columns however many
models there are: when the table would be wider, the cost and tok/s columns go first,
then long model names are shortened in the middle (to 32 characters), then the speed,
load, cold and p50 columns go, then names are shortened further; long lists of cases
are cut (``… +3 more``) and other lines are wrapped.  Everything dropped is in the JSON
document and in the detail tables (``-v``).  When a table shows the cold or load
column, one line after the last task says what they are (:data:`COLUMN_LEGEND`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pytest_llmbench.analysis.paired import MIN_UNITS
from pytest_llmbench.analysis.ranking import (
    LATENCY_LABELS,
    ModelStanding,
    TaskRanking,
    best_versions,
    rank_ms,
)
from pytest_llmbench.analysis.stats import LatencyStats
from pytest_llmbench.analysis.verdicts import VerdictMetrics
from pytest_llmbench.formatting import ms
from pytest_llmbench.reporting.facts import combination_mark, combination_note
from pytest_llmbench.reporting.plain_table import simple_table

__all__ = ["WIDTH", "detail_lines", "summary_lines", "task_lines"]

WIDTH = 120
"""The widest a summary line may be."""
MIN_NAME = 16
"""Model names are never shortened below this."""
SOFT_NAME = 32
"""Model names are shortened to this before the optional columns below EARLY_DROP go."""
EARLY_DROP = 5
COLUMN_LEGEND = {
    "ttft p95 ms": "time to the first token of a streamed answer, 95th percentile",
    "cold ms": "the first answer after loading (not in mean, p50, p95)",
    "load ms": "loading the model before its first case",
}
"""What the columns a newcomer cannot guess mean: one line under the summary."""


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ratio(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _dollars(value: float | None) -> str:
    return "-" if value is None else f"{value:,.3f}"


def _speed(stats: LatencyStats | None) -> str:
    """The speed score; ``-`` below a mean of 1 ms, where 1000 / seconds says nothing
    (a scripted or cached answer), as for no latency at all."""
    return "-" if stats is None or stats.mean < 1.0 else ms(stats.speed)


def _shorten(name: str, limit: int) -> str:
    """``ollama/qwen2.5-coder:7b-instruct-q4_K_M`` -> ``ollama/qwen2…ct-q4_K_M`` (middle cut)."""
    if len(name) <= limit:
        return name
    head = (limit - 1) // 2
    tail = limit - 1 - head
    return name[:head] + "…" + name[len(name) - tail :]


def _shorten_all(names: Sequence[str], limit: int) -> list[str]:
    """Every name cut to ``limit`` and still distinct, if it can be done.

    First the middle of each name is cut; when that makes two names alike, the prefix
    all names share is cut instead (``ollama/qwen2.5-coder-06:7b`` -> ``…06:7b``); when
    that fails too, the names are left longer.
    """
    distinct = len(set(names))
    shared = 0
    for chars in zip(*names, strict=False) if distinct > 1 else ():
        if len(set(chars)) > 1:
            break
        shared += 1
    longest = max(map(len, names), default=0)
    while True:
        short = [_shorten(name, limit) for name in names]
        if len(set(short)) == distinct or limit >= longest:
            return short
        if shared > 1:
            short = [_shorten("…" + name[shared:], limit) for name in names]
            if len(set(short)) == distinct:
                return short
        limit += 1


def _listed(prefix: str, pairs: Sequence[tuple[str, str]], width: int) -> str:
    """``prefix`` + ``label item, item; label item``, as many items as fit in ``width``.

    ``pairs`` are (label, item) in order; the items that do not fit are counted
    (``… +3 more``).
    """

    def join(shown: Sequence[tuple[str, str]]) -> str:
        merged: dict[str, list[str]] = {}
        for label, item in shown:
            merged.setdefault(label, []).append(item)
        return "; ".join(f"{label} {', '.join(items)}".lstrip() for label, items in merged.items())

    line = prefix + join(pairs)
    count = len(pairs)
    while len(line) > width and count > 1:
        count -= 1
        line = f"{prefix}{join(pairs[:count])} … +{len(pairs) - count} more"
    return line


def _wrap(line: str, width: int) -> list[str]:
    if len(line) <= width:
        return [line]
    indent = " " * (len(line) - len(line.lstrip(" ")) + 4)
    return textwrap.wrap(line, width=width, subsequent_indent=indent, break_on_hyphens=False) or [
        line
    ]


@dataclass(frozen=True)
class _Column:
    header: str
    value: Callable[[ModelStanding], str]
    align: str = "right"
    drop: int = 0
    """0: always kept; otherwise dropped when too wide, highest number first."""


def _table(
    standings: Sequence[ModelStanding], names: Sequence[str], columns: Sequence[_Column]
) -> list[str]:
    rows = [
        [name, *(c.value(s) for c in columns)] for name, s in zip(names, standings, strict=True)
    ]
    return simple_table(
        rows, ["model", *(c.header for c in columns)], ("left", *(c.align for c in columns))
    )


def _fit(standings: Sequence[ModelStanding], columns: list[_Column], width: int) -> list[str]:
    """The table of ``columns`` within ``width``, if it can be done.

    In turn: drop the optional columns of priority :data:`EARLY_DROP` and up, shorten model
    names down to :data:`SOFT_NAME`, drop the other optional columns, shorten names down
    to :data:`MIN_NAME`.  Names are cut in the middle and stay distinct.
    """
    columns = list(columns)
    names = [s.model for s in standings]

    def longest(limit: int) -> int:
        return max(map(len, _shorten_all(names, limit)), default=0)

    limit = longest(max(map(len, names), default=0))
    while True:
        table = _table(standings, _shorten_all(names, limit), columns)
        too_wide = max(map(len, table)) - width
        if too_wide <= 0:
            return table
        droppable = [c for c in columns if c.drop]
        first = max(droppable, key=lambda c: c.drop, default=None)
        if first is not None and first.drop >= EARLY_DROP:
            columns.remove(first)
            continue
        current = longest(limit)
        target = max(SOFT_NAME if droppable else MIN_NAME, current - too_wide)
        if target < current and longest(target) < current:
            limit = target
        elif first is not None:
            columns.remove(first)
        else:
            return table


def _summary_columns(ranking: TaskRanking) -> list[_Column]:
    standings = ranking.standings
    columns = [_Column("correct", lambda s: s.score)]
    if any(s.graded for s in standings):
        columns.append(_Column("mean score", lambda s: _ratio(s.mean_score)))
    if ranking.repeats > 1:
        k = ranking.repeats
        columns.append(
            _Column(
                f"pass^{k}",
                lambda s: _ratio(s.repeats.pass_hat_k if s.repeats and s.repeats.k == k else None),
            )
        )
        columns.append(
            _Column("consist.", lambda s: _ratio(s.repeats.consistency if s.repeats else None))
        )
    if ranking.policy == "weighted":
        columns.append(_Column("score", lambda s: _ratio(s.weighted_score, 3)))
    by = ranking.latency
    columns += [
        _Column("mean ms", lambda s: ms(s.mean_ms)),
        # the latency the task is ranked by is never dropped
        _Column(
            "p50 ms",
            lambda s: ms(s.latency.p50 if s.latency else None),
            drop=0 if by == "p50" else 1,
        ),
        _Column("p95 ms", lambda s: ms(s.p95_ms)),
        # 1000 / the mean in seconds: what goes first of the columns below
        _Column("speed", lambda s: _speed(s.latency), drop=4),
    ]
    if by == "ttft_p50":
        columns.append(_Column("ttft p50 ms", lambda s: ms(s.ttft_p50_ms)))
    if any(s.ttft is not None for s in standings):  # streamed answers
        drop = 0 if by == "ttft_p95" else 3
        columns.append(_Column("ttft p95 ms", lambda s: ms(s.ttft_p95_ms), drop=drop))
    if any(s.cold is not None for s in standings):
        columns.append(_Column("cold ms", lambda s: ms(s.cold.mean if s.cold else None), drop=2))
    if any(s.load_ms is not None for s in standings):
        columns.append(_Column("load ms", lambda s: ms(s.load_ms), drop=3))
    columns.append(_Column("tok/s", lambda s: _rate(s.tokens_per_s), drop=5))
    if any(s.cost is not None and s.cost.basis in ("tokens", "hourly") for s in standings):
        columns.append(
            _Column("$/1k", lambda s: _dollars(s.cost.per_1k if s.cost else None), drop=6)
        )
    columns.append(
        _Column("status", lambda s: s.status + combination_mark(s).rstrip(), align="left")
    )
    return columns


def _champion_line(label: str, s: ModelStanding, latency: str = "mean") -> str:
    score = f"score {s.weighted_score:.3f}, " if s.weighted_score is not None else ""
    if s.graded:
        score += f"mean score {s.mean_score:.2f}, "
    ranked = ""
    if latency not in ("mean", "p95"):  # the figure it was ranked by, too
        ranked = f", {LATENCY_LABELS[latency]} {ms(rank_ms(s, latency))} ms"
    return (
        f"{label} {s.model} ({score}{s.score} correct, mean {ms(s.mean_ms)} ms, "
        f"p95 {ms(s.p95_ms)} ms{ranked})"
    )


def _bar(ranking: TaskRanking) -> str:
    bar = 1.0 if ranking.min_correct is None else ranking.min_correct
    return "every run right" if bar >= 1.0 else f"{bar:.0%} of runs right"


def _best_unqualified_line(ranking: TaskRanking, s: ModelStanding) -> str:
    """``Best score, not qualified: p/x (score 0.812, 1/2 correct; the bar: every run
    right); never the champion, never in the registry``."""
    return (
        f"Best score, not qualified: {s.model} (score {s.weighted_score or 0.0:.3f}, "
        f"{s.score} correct; the bar: {_bar(ranking)}); not champion, not in the registry"
    )


def _versions_line(ranking: TaskRanking) -> str:
    """``Best prompt per model: p/a v2 (10/10, 120 ms), p/b v1 (8/10, 95 ms)``."""
    parts = [
        f"{model} {s.prompt_version} ({s.score}, {ms(s.mean_ms)} ms)"
        for model, s in best_versions(ranking).items()
    ]
    return "Best prompt per model: " + ", ".join(parts)


def _heading(ranking: TaskRanking, cases: int | None) -> str:
    parts = [f"{ranking.policy} policy"]
    if ranking.weights is not None:
        quality, speed = ranking.weights
        parts[0] += f": quality {quality:g}, speed {speed:g}"
    if ranking.latency != "mean":  # the latency the table is ordered by
        parts.append(f"ranked by {LATENCY_LABELS.get(ranking.latency, ranking.latency)}")
    if cases is not None:
        parts.append(f"{cases} case{'s' if cases != 1 else ''}")
    if ranking.repeats > 1:
        parts.append(f"{ranking.repeats} runs each")
    return f"task {ranking.task} ({', '.join(parts)})"


def _miss_line(s: ModelStanding, width: int) -> str:
    """``  model (3/10): incomplete: 2 of 10 cases not run; too lenient on A (2/3), B; too
    strict on C``, cut to ``width``."""
    pairs = [
        (f"{m.direction} on", m.case_id + (f" ({m.wrong}/{m.runs})" if m.runs > 1 else ""))
        for m in s.misses
    ]
    prefix = f"  {s.model} ({s.score}): "
    for why in (s.incomplete, s.eliminated):
        if why is not None:
            prefix += why.describe() + ("; " if pairs else "")
    # A failed call is no wrong answer: its cause (a timeout, with the machine's load).
    causes = list(dict.fromkeys(m.reason for m in s.misses if m.direction == "error" and m.reason))
    if not causes:
        return _listed(prefix, pairs, width)
    kind = "judge" if all(c.startswith("judge ") for c in causes) else "call"
    what = (
        f"{kind} errors, not wrong answers"
        if len(causes) > 1
        else f"a {kind} error, not a wrong answer"
    )
    more = f" (and {len(causes) - 1} other cause{'s' if len(causes) > 2 else ''})"
    return f"{_listed(prefix, pairs, width)}; {what}: {causes[0]}{more if len(causes) > 1 else ''}"


def _flaky_line(s: ModelStanding, width: int) -> str | None:
    flaky = s.repeats.flaky if s.repeats else ()
    if not flaky:
        return None
    pairs = [("", f"{c.case_id} ({c.passes}/{c.runs} right)") for c in flaky]
    return _listed(f"  {s.model}: ", pairs, width)


def task_lines(ranking: TaskRanking, cases: int | None = None, width: int = WIDTH) -> list[str]:
    """The summary block of one task: table, champion, runner-up, misses, warnings."""
    lines = [_heading(ranking, cases), *_fit(ranking.standings, _summary_columns(ranking), width)]
    text: list[str] = []
    champion, runner_up = ranking.champion, ranking.runner_up
    if champion is None:
        near = ranking.nearest_miss
        tail = f" (nearest miss: {near.model}, {near.score})" if near else ""
        if ranking.policy == "weighted":
            tail = f" ({_bar(ranking)})"
        text.append(f"Champion:  none, no model qualified{tail}")
    else:
        text.append(_champion_line("Champion: ", champion, ranking.latency))
        if runner_up is not None:
            text.append(_champion_line("Runner-up:", runner_up, ranking.latency))
        else:
            text.append("Runner-up: none, only one model qualified")
    best = ranking.best_unqualified
    if best is not None:
        text.append(_best_unqualified_line(ranking, best))
    if ranking.versioned:
        text.append(_versions_line(ranking))
    roles = {s.model: f"the {s.status}" for s in ranking.qualified[:2]}
    lead = ranking.lead
    if lead is not None and lead.units >= MIN_UNITS:
        # The paired comparison supersedes the overlap of the two intervals (on enough
        # cases; on fewer the JSON has it, the summary keeps the overlap rule's line).
        text.append(f"Speed:     {lead.describe()}")
    else:
        text.extend(f"Tied: {tie.describe(roles)}" for tie in ranking.ties if tie.first in roles)
    raced = [s for s in ranking.standings if s.raced is not None and s.eliminated is None]
    if raced:
        text.append("Raced out (slower than the champion and the runner-up beyond the noise):")
        text.extend(f"  {s.model} ({s.score}): {s.raced.describe()}" for s in raced if s.raced)
    misses = [s for s in ranking.disqualified if s.misses or s.incomplete]
    if misses:
        text.append("Did not qualify:")
        text.extend(_miss_line(s, width) for s in misses)
    if ranking.policy == "weighted":
        ranked_misses = [s for s in ranking.qualified if s.misses or s.incomplete]
        if ranked_misses:
            missing = " or missing" if any(s.incomplete for s in ranked_misses) else ""
            text.append(f"Wrong{missing} answers of ranked models:")
            text.extend(_miss_line(s, width) for s in ranked_misses)
    flaky = [line for s in ranking.standings if (line := _flaky_line(s, width))]
    if flaky:
        text.append("Flaky cases (right in some runs, wrong in others):")
        text.extend(flaky)
    text.extend(f"Combination: {n}" for s in ranking.standings if (n := combination_note(s)))
    text.extend(f"Warning: {warning}" for warning in ranking.warnings)
    text.extend(
        f"Suspect gold: {suspect.describe()}; recheck the label" for suspect in ranking.suspect_gold
    )
    text.extend(f"Note: {note}" for note in ranking.notes)
    if ranking.judge is not None:
        text.extend(ranking.judge.lines())
        text.extend(f"Warning: {warning}" for warning in ranking.judge.warnings())
    for line in text:
        lines.extend(_wrap(line, width))
    return lines


def summary_lines(
    rankings: Sequence[TaskRanking], case_counts: Mapping[str, int], width: int = WIDTH
) -> list[str]:
    lines: list[str] = []
    headers = ""
    for index, ranking in enumerate(rankings):
        if index:
            lines.append("")
        block = task_lines(ranking, case_counts.get(ranking.task), width)
        headers += block[1]  # the table's header row (the columns that fitted)
        lines.extend(block)
    legend = [f"{header}: {text}" for header, text in COLUMN_LEGEND.items() if header in headers]
    if legend:
        lines.extend(["", *_wrap("; ".join(legend), width)])
    return lines


# --------------------------------------------------------------------------- details (-v)


def _interval(stats: LatencyStats | None) -> str:
    if stats is None or stats.ci is None:
        return "-"
    low, high = stats.ci
    return f"{low:,.0f}..{high:,.0f}"


def _metric(s: ModelStanding, read: Callable[[VerdictMetrics], float | int | None]) -> str:
    if s.metrics is None:
        return "-"
    value = read(s.metrics)
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def _latency_columns() -> list[_Column]:
    return [
        _Column("runs", lambda s: str(s.latency.n) if s.latency else "0"),
        _Column("mean ms", lambda s: ms(s.mean_ms)),
        _Column("sd ms", lambda s: ms(s.latency.stdev if s.latency else None)),
        _Column("95% CI ms", lambda s: _interval(s.latency)),
        _Column("p99 ms", lambda s: ms(s.latency.p99 if s.latency else None)),
        _Column("cold ms", lambda s: ms(s.cold.mean if s.cold else None), drop=2),
        _Column("load ms", lambda s: ms(s.load_ms), drop=3),
        _Column("pass@1", lambda s: _ratio(s.repeats.pass_at_1 if s.repeats else None), drop=1),
        _Column("$/1k", lambda s: _dollars(s.cost.per_1k if s.cost else None), drop=4),
        _Column("cost basis", lambda s: s.cost.basis if s.cost else "-", "left", drop=5),
    ]


def _streamed_columns() -> list[_Column]:
    return [
        _Column("ttft p50 ms", lambda s: ms(s.ttft_p50_ms)),
        _Column("ttft p95 ms", lambda s: ms(s.ttft_p95_ms)),
        _Column("itl ms", lambda s: _fine_ms(s.itl_ms)),
        _Column("prefill ms", lambda s: ms(s.prefill_ms)),
        _Column("generation ms", lambda s: ms(s.generation_ms)),
    ]


def _fine_ms(value: float | None) -> str:
    """A time between tokens: a few ms, shown with one decimal."""
    return "-" if value is None else f"{value:,.1f}"


def has_streamed(ranking: TaskRanking) -> bool:
    """Whether any model of the task has streamed or server-reported phase timings."""
    return any(
        s.ttft is not None or s.prefill_ms is not None or s.generation_ms is not None
        for s in ranking.standings
    )


def _metric_columns() -> list[_Column]:
    return [
        _Column("accuracy", lambda s: _metric(s, lambda m: m.accuracy)),
        _Column("precision", lambda s: _metric(s, lambda m: m.precision)),
        _Column("recall", lambda s: _metric(s, lambda m: m.recall)),
        _Column("F1", lambda s: _metric(s, lambda m: m.f1)),
        _Column("tp", lambda s: _metric(s, lambda m: m.tp)),
        _Column("fn", lambda s: _metric(s, lambda m: m.fn)),
        _Column("fp", lambda s: _metric(s, lambda m: m.fp)),
        _Column("tn", lambda s: _metric(s, lambda m: m.tn)),
        _Column("none", lambda s: _metric(s, lambda m: m.unanswered_fail + m.unanswered_pass)),
    ]


METRICS_LEGEND = (
    "tp: bad item caught, fn: bad item let through (too lenient), fp: good item failed "
    "(too strict), tn: good item passed, none: no label"
)


def detail_lines(rankings: Sequence[TaskRanking], width: int = WIDTH) -> list[str]:
    """The detail tables per task (shown with ``-v``): latency spread, cost, verdict metrics."""
    lines: list[str] = []
    for ranking in rankings:
        lines.append("")
        lines.append(f"task {ranking.task}: latency (warm calls), pass rate and cost")
        lines.extend(_fit(ranking.standings, _latency_columns(), width))
        if has_streamed(ranking):
            lines.append(
                f"task {ranking.task}: time to first token, between tokens (itl), "
                "prefill and generation (warm calls)"
            )
            lines.extend(_fit(ranking.standings, _streamed_columns(), width))
        if any(s.metrics is not None for s in ranking.standings):
            lines.append(f"task {ranking.task}: verdicts, positive = the FAIL side (bad items)")
            lines.extend(_fit(ranking.standings, _metric_columns(), width))
            lines.extend(_wrap(METRICS_LEGEND, width))
        if ranking.accuracy:
            lines.append(f"task {ranking.task}: paired accuracy (exact McNemar)")
            lines.extend(
                line for a in ranking.accuracy for line in _wrap(f"  {a.describe()}", width)
            )
        compared = [lead for lead in ranking.leads if lead.pairs]
        if compared:
            lines.append(f"task {ranking.task}: the champion's paired latency leads (95% interval)")
            for lead in compared:
                lines.extend(_wrap(f"  {lead.describe()}", width))
    return lines
