"""The load table in the terminal, Markdown and HTML reports, and the HTML's latency
against concurrency (issue 23, point 4)."""

from __future__ import annotations

import re
from typing import Any

from pytest_llmbench.analysis.load import LoadSettings, rank_at_load, task_load
from pytest_llmbench.analysis.ranking import TaskRanking, rank_strict
from pytest_llmbench.execution.load import LoadRun
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.facts import ReportData
from pytest_llmbench.reporting.html import concurrency_chart, html_report
from pytest_llmbench.reporting.load import load_lines
from pytest_llmbench.reporting.markdown import markdown_report
from tests.support.factories import result

SETTINGS = LoadSettings(concurrency=4, requests=4, slo_p95_ms=250.0)
HOSTILE = "p/<b>x|y</b>"


def answers(model: str, *latencies: float, **fields: Any) -> tuple[Result, ...]:
    return tuple(
        result(model, f"C{i}", latency_ms=ms, completion_tokens=10, **fields)
        for i, ms in enumerate(latencies)
    )


def ranked(b_name: str = "p/b", **fields: Any) -> TaskRanking:
    """A alone 100 ms, B 150 ms; under load A queues (100-400 ms), B stays at 150 ms."""
    serial = [*answers("p/a", 100, 100), *answers(b_name, 150, 150)]
    load = task_load(
        [
            LoadRun("p/a", answers("p/a", 100, 200, 300, 400, **fields), 0.4),
            LoadRun(b_name, answers(b_name, 150, 150, 150, 150, **fields), 0.15),
            LoadRun("p/e", skipped="an embedded model serves one request at a time"),
        ],
        SETTINGS,
    )
    return rank_at_load(rank_strict("grading", serial), load)


def data(ranking: TaskRanking) -> ReportData:
    return ReportData(
        run={"started_at": "2025-01-01T00:00:00Z"},
        results=[],
        rankings=[ranking],
        case_counts={"grading": 2},
    )


def test_markdown_carries_the_load_table_and_the_champion_at_load() -> None:
    text = markdown_report(data(ranked()))
    assert "### Under load" in text
    assert "x4 in flight, 4 requests per model, SLO p95 \\<= 250 ms" in text
    assert "**Champion at load:** `p/b`" in text
    header = next(line for line in text.splitlines() if line.startswith("| model | req/s"))
    assert header == (
        "| model | req/s | tok/s | p50 | p95 | p99 | error rate | goodput (req/s) "
        "| within SLO | at load |"
    )
    # B: 4 answers in 0.15 s, all within the SLO; A: 2 of 4 within 250 ms in 0.4 s.
    assert "| `p/b` | 26.7 | 266.7 | 150 ms | 150 ms | 150 ms | 0% | 26.67 | 4 of 4 " in text
    assert "| `p/a` | 10.0 | 100.0 | 250 ms | 385 ms | 397 ms | 0% | 5.00 | 2 of 4 | - |" in text
    assert "champion at load" in text
    assert "| `p/e` | - | - | - | - | - | - | - | - | not run under load: an embedded" in text


def test_no_load_phase_no_load_table_nor_chart() -> None:
    ranking = rank_strict("grading", [*answers("p/a", 100), *answers("p/b", 150)])
    assert "Under load" not in markdown_report(data(ranking))
    assert "Under load" not in html_report(data(ranking))
    assert concurrency_chart(ranking) is None
    assert load_lines([ranking]) == []


def test_html_carries_the_load_table_and_draws_latency_against_concurrency() -> None:
    ranking = ranked()
    page = html_report(data(ranking))
    assert "<h3>Under load</h3>" in page
    assert "champion at load: <b>p/b</b>" in page
    assert "<td>p/b</td>" in page
    assert "<td>champion at load</td>" in page
    chart = concurrency_chart(ranking)
    assert chart is not None
    assert chart in page
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # Two models ran under load (the embedded one did not): a p50 and a p95 line each,
    # from one request at a time to four in flight.
    assert chart.count("<polyline") == 4
    assert "1 (alone)" in chart
    assert "4 (load)" in chart
    assert "p/a: p95 100 ms alone" in chart
    assert "p/a: p95 385 ms x4 in flight" in chart
    assert "p/e" not in chart
    # A's p95 rises with concurrency (its line climbs: a smaller y), B's stays put.  The
    # lines come in the load table's order (B, the champion at load, first), p95 first.
    points = re.findall(r'<polyline points="([^"]+)"', chart)
    b_p95 = [float(p.split(",")[1]) for p in points[0].split()]
    a_p95 = [float(p.split(",")[1]) for p in points[2].split()]
    assert a_p95[1] < a_p95[0]
    assert b_p95[1] == b_p95[0]


def test_every_model_name_is_escaped_in_the_reports() -> None:
    ranking = ranked(HOSTILE)
    page = html_report(data(ranking))
    assert "<b>x|y</b>" not in page.replace("<b>p/", "")
    assert "p/&lt;b&gt;x|y&lt;/b&gt;" in page
    assert "p/&lt;b&gt;x|y&lt;/b&gt;" in (concurrency_chart(ranking) or "")
    text = markdown_report(data(ranking))
    under_load = text[text.index("### Under load") : text.index("### Failed to qualify")]
    rows = [line for line in under_load.splitlines() if line.startswith("| `p/")]
    assert len(rows) == 3
    # Ten cells each: no cell split by the pipe in the name (escaped, inside code).
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 11 for line in rows), rows


def test_ttft_under_load_shows_where_the_answers_were_streamed() -> None:
    ranking = ranked(ttft_ms=40.0)
    lines = load_lines([ranking])
    assert lines[0] == "grading under load: x4 in flight, 4 requests per model, SLO p95 <= 250 ms"
    assert "ttft p95" in lines[1]
    assert re.search(r"p/b\s.*\b40\s.*champion at load$", lines[2])
    assert "| ttft p95 |" in markdown_report(data(ranking))
    assert "<th>ttft p95</th>" in html_report(data(ranking))
    assert "ttft p95" not in load_lines([ranked()])[1]
