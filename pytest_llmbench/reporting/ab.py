"""The A/B report of ``llmbench ab``: a table per model and overall, and the decision.

Pure: an :class:`~pytest_llmbench.analysis.ab.ABReport` in, lines (or a JSON-ready
document) out.
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from pytest_llmbench.analysis.ab import ABComparison, ABReport
from pytest_llmbench.formatting import ms
from pytest_llmbench.storage.codec import encode

__all__ = ["ab_document", "ab_lines"]


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _change(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0%}"


def _cost(c: ABComparison) -> str:
    if c.a_cost is None or c.b_cost is None:
        return "-"
    return f"{(c.b_cost - c.a_cost) * 1000:+.4f} $/1k"


def _row(c: ABComparison) -> list[str]:
    return [
        c.model,
        str(c.pairs),
        _pct(c.a_accuracy),
        _pct(c.b_accuracy),
        f"{c.gain_points:+.1f}",
        f"{c.fixed}/{c.broken}",
        f"{c.p_value:.3f}",
        ms(c.a_ms),
        ms(c.b_ms),
        _change(c.latency_change),
        _cost(c),
        c.decision,
    ]


def ab_lines(report: ABReport) -> list[str]:
    """``task grading: A = v1, B = v2`` then the table, then ``Decision: ship B (...)``."""
    a, b = report.a, report.b
    headers = [
        "model", "pairs", f"A {a}", f"B {b}", "points", "fixed/broken", "McNemar p",
        "A ms", "B ms", "latency", "cost", "decision",
    ]  # fmt: skip
    rows = [_row(c) for c in report.models]
    if len(report.models) != 1:
        rows.append(_row(report.overall))
    table = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)
    rule = report.rule
    lines = [
        f"task {report.task}: A = {a}, B = {b} (same cases, same models, paired)",
        *table.splitlines(),
        "",
        f"Rule: ship B when accuracy improves by at least {rule.min_gain:g} points without "
        f"being more than {rule.latency_tolerance:.0%} slower or "
        f"{rule.cost_tolerance:.0%} costlier.",
        f"Decision: {report.decision} ({report.overall.why}; McNemar p = "
        f"{report.overall.p_value:.3f})",
    ]
    if report.unpaired:
        lines.append(f"Note: {report.unpaired} results without a partner were left out")
    return lines


def _comparison(c: ABComparison) -> dict[str, Any]:
    doc = encode(c)
    assert isinstance(doc, dict)
    doc.update(
        a_accuracy=c.a_accuracy,
        b_accuracy=c.b_accuracy,
        gain_points=c.gain_points,
        latency_change=c.latency_change,
        cost_change=c.cost_change if c.cost_change != float("inf") else None,
    )
    return doc


def ab_document(report: ABReport) -> dict[str, Any]:
    """The report as JSON-ready data (``llmbench ab --json``), decision on top."""
    return {
        "task": report.task,
        "a": report.a,
        "b": report.b,
        "decision": report.decision,
        "why": report.overall.why,
        "rule": encode(report.rule),
        "overall": _comparison(report.overall),
        "models": [_comparison(c) for c in report.models],
        "unpaired": report.unpaired,
    }
