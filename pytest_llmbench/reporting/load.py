"""The load table of a task with a load phase: data in, text out.

The terminal's lines (:func:`load_lines`)::

    grading under load: x8 in flight, 64 requests per model, SLO p95 <= 1500 ms
      model         req/s  tok/s   p50   p95   p99  err  goodput
      ollama/b       24.1  310.0  150   160   170    0%   24.1  champion at load
      ollama/a        9.8  120.0  400   760   790    0%    9.1

and the rows the Markdown and HTML reports make their tables of (:func:`load_rows`,
the cells escaped by the report's own function).  A ``ttft p95`` column joins them
where the answers under load were streamed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pytest_llmbench.analysis.ranking import TaskRanking
from pytest_llmbench.formatting import ms

if TYPE_CHECKING:  # a run without a load phase does not import it
    from pytest_llmbench.analysis.at_load import LoadStanding, TaskLoad

__all__ = ["load_caption", "load_headers", "load_lines", "load_rows", "load_verdict"]


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else ms(value)


def _slo(load: TaskLoad) -> str:
    parts = []
    if load.slo_p95_ms is not None:
        parts.append(f"p95 <= {load.slo_p95_ms:g} ms")
    if load.slo_ttft_ms is not None:
        parts.append(f"TTFT <= {load.slo_ttft_ms:g} ms")
    return f", SLO {', '.join(parts)}" if parts else ", SLO: a correct answer"


def load_caption(load: TaskLoad) -> str:
    """The load phase's settings: ``x4 in flight, 16 requests per model, SLO ...``."""
    return f"x{load.concurrency} in flight, {load.requests} requests per model{_slo(load)}"


def _streamed(load: TaskLoad) -> bool:
    return any(s.ttft_p95_ms is not None for s in load.standings)


def load_verdict(s: LoadStanding, champion: str | None) -> str:
    """What the load phase made of a model: champion at load, flagged, not run, or nothing."""
    if s.skipped is not None:
        return f"not run under load: {s.skipped}"
    if s.flag is not None:
        return f"FLAGGED: {s.flag}"
    return "champion at load" if s.model == champion else ""


def _row(s: LoadStanding, champion: str | None, width: int, ttft: bool) -> str:
    if s.skipped is not None:
        return f"  {s.model:<{width}}  {load_verdict(s, champion)}"
    cells = [
        f"{_num(s.throughput_rps):>7}",
        f"{_num(s.tokens_per_s):>7}",
        f"{_ms(s.p50_ms):>8}",
        f"{_ms(s.p95_ms):>8}",
        f"{_ms(s.p99_ms):>8}",
    ]
    if ttft:
        cells.append(f"{_ms(s.ttft_p95_ms):>10}")
    cells += [f"{s.error_rate:>6.0%}", f"{_num(s.goodput_rps):>8}"]
    verdict = load_verdict(s, champion)
    return f"  {s.model:<{width}}" + "".join(cells) + (f"  {verdict}" if verdict else "")


def load_lines(rankings: Sequence[TaskRanking]) -> list[str]:
    """One table per task that ran a load phase (nothing for the others)."""
    lines: list[str] = []
    for ranking in rankings:
        load = ranking.at_load
        if load is None:
            continue
        ttft = _streamed(load)
        width = max([len("model"), *(len(s.model) for s in load.standings)])
        columns = [("req/s", 7), ("tok/s", 7), ("p50", 8), ("p95", 8), ("p99", 8)]
        columns += [("ttft p95", 10)] if ttft else []
        columns += [("err", 6), ("goodput", 8)]
        lines.append(f"{ranking.task} under load: {load_caption(load)}")
        lines.append(f"  {'model':<{width}}" + "".join(f"{h:>{w}}" for h, w in columns))
        lines.extend(_row(s, load.champion, width, ttft) for s in load.standings)
    return lines


def load_headers(load: TaskLoad) -> list[str]:
    """The columns of :func:`load_rows` (``ttft p95`` only where answers were streamed)."""
    return [
        "model",
        "req/s",
        "tok/s",
        "p50",
        "p95",
        "p99",
        *(["ttft p95"] if _streamed(load) else []),
        "error rate",
        "goodput (req/s)",
        "within SLO",
        "at load",
    ]


def load_rows(
    load: TaskLoad, model: Callable[[str], str], text: Callable[[str], str]
) -> list[list[str]]:
    """One row per model under load, under :func:`load_headers`; ``model`` and ``text``
    make a model name and a sentence safe for the report (the numbers need nothing)."""
    ttft = _streamed(load)
    rows = []
    for s in load.standings:
        figures = [
            _num(s.throughput_rps),
            _num(s.tokens_per_s),
            ms(s.p50_ms, " ms"),
            ms(s.p95_ms, " ms"),
            ms(s.p99_ms, " ms"),
            *([ms(s.ttft_p95_ms, " ms")] if ttft else []),
            f"{s.error_rate:.0%}",
            _num(s.goodput_rps, 2),
            f"{s.good} of {s.requests}",
        ]
        if s.skipped is not None:
            figures = ["-"] * len(figures)
        rows.append([model(s.model), *figures, text(load_verdict(s, load.champion)) or "-"])
    return rows
