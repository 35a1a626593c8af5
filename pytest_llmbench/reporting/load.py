"""The load table of a task with a load phase: data in, text out.

::

    load: x8, 64 requests per model, SLO p95 <= 1500 ms, TTFT <= 300 ms
      model         req/s  tok/s   p50   p95   p99  err  goodput
      ollama/b       24.1  310.0  150   160   170    0%   24.1  champion at load
      ollama/a        9.8  120.0  400   760   790    0%    9.1
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_llmbench.analysis.at_load import LoadStanding, TaskLoad
from pytest_llmbench.analysis.ranking import TaskRanking
from pytest_llmbench.formatting import ms

__all__ = ["load_lines"]


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


def _row(s: LoadStanding, champion: str | None, width: int) -> str:
    if s.skipped is not None:
        return f"  {s.model:<{width}}  not run under load: {s.skipped}"
    cells = (
        f"{_num(s.throughput_rps):>7}",
        f"{_num(s.tokens_per_s):>7}",
        f"{_ms(s.p50_ms):>8}",
        f"{_ms(s.p95_ms):>8}",
        f"{_ms(s.p99_ms):>8}",
        f"{s.error_rate:>5.0%}",
        f"{_num(s.goodput_rps):>8}",
    )
    mark = "  champion at load" if s.model == champion else ""
    if s.flag is not None:
        mark = f"  FLAGGED: {s.flag}"
    return f"  {s.model:<{width}}" + "".join(cells) + mark


def load_lines(rankings: Sequence[TaskRanking]) -> list[str]:
    """One table per task that ran a load phase (nothing for the others)."""
    lines: list[str] = []
    for ranking in rankings:
        load = ranking.at_load
        if load is None:
            continue
        width = max([len("model"), *(len(s.model) for s in load.standings)])
        lines.append(
            f"{ranking.task} under load: x{load.concurrency} in flight, "
            f"{load.requests} requests per model{_slo(load)}"
        )
        lines.append(
            f"  {'model':<{width}}"
            + "".join(
                f"{h:>{w}}"
                for h, w in (
                    ("req/s", 7),
                    ("tok/s", 7),
                    ("p50", 8),
                    ("p95", 8),
                    ("p99", 8),
                    ("err", 6),
                    ("goodput", 8),
                )
            )
        )
        lines.extend(_row(s, load.champion, width) for s in load.standings)
    return lines
