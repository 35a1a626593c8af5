"""Streamed timings in the reports: the summary's ``ttft p95`` column and the latency a
task is ranked by, the ``-v`` table, Markdown and HTML."""

from __future__ import annotations

from typing import Any

from pytest_llmbench.analysis.ranking import rank_task
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.facts import ReportData
from pytest_llmbench.reporting.html import html_report
from pytest_llmbench.reporting.markdown import markdown_report
from pytest_llmbench.reporting.terminal import detail_lines, task_lines
from tests.support.factories import result


def runs(model: str, latency: float, ttft: float | None) -> list[Result]:
    return [
        result(
            model,
            f"C{i}",
            latency_ms=latency,
            ttft_ms=ttft,
            itl_ms=None if ttft is None else 12.5,
            prompt_eval_ms=ttft,
            eval_ms=latency - (ttft or 0.0),
        )
        for i in range(3)
    ]


STREAMED = [*runs("p/a", 600.0, 505.0), *runs("p/b", 850.0, 90.0)]
PLAIN = [*runs("p/a", 600.0, None), *runs("p/b", 850.0, None)]


def report_data(results: list[Result], latency: str = "mean") -> ReportData:
    values: dict[str, Any] = {
        "run": {"started_at": "2025-01-01T00:00:00Z"},
        "results": results,
        "rankings": [rank_task("grading", results, latency=latency)],
        "case_counts": {"grading": 3},
    }
    return ReportData(**values)


def test_the_summary_gains_ttft_p95_when_answers_were_streamed() -> None:
    header = task_lines(rank_task("grading", STREAMED), 3)[1]
    assert "ttft p95 ms" in header
    assert "ttft p95" not in task_lines(rank_task("grading", PLAIN), 3)[1]


def test_the_summary_names_the_latency_it_ranks_by() -> None:
    lines = task_lines(rank_task("grading", STREAMED, latency="ttft_p95"), 3)
    assert lines[0] == "task grading (strict policy, ranked by ttft p95, 3 cases)"
    champion = next(line for line in lines if line.startswith("Champion:"))
    assert champion == ("Champion:  p/b (3/3 correct, mean 850 ms, p95 850 ms, ttft p95 90 ms)")
    assert task_lines(rank_task("grading", STREAMED), 3)[0] == (
        "task grading (strict policy, 3 cases)"  # the mean: as ever
    )


def test_the_ranked_latency_stays_in_a_narrow_table() -> None:
    header = task_lines(rank_task("grading", STREAMED, latency="ttft_p95"), 3, width=60)[1]
    assert "ttft p95 ms" in header


def test_verbose_shows_ttft_itl_prefill_and_generation() -> None:
    lines = detail_lines([rank_task("grading", STREAMED)])
    title = lines.index(
        "task grading: time to first token, between tokens (itl), prefill and generation "
        "(warm calls)"
    )
    header, _, first = lines[title + 1 : title + 4]
    assert header.split()[1:] == [
        "ttft", "p50", "ms", "ttft", "p95", "ms", "itl", "ms", "prefill", "ms", "generation", "ms"
    ]  # fmt: skip
    assert first.split() == ["p/a", "505", "505", "12.5", "505", "95"]
    bare = detail_lines([rank_task("grading", [result("p/a", "C1", latency_ms=100.0)])])
    assert not any("time to first token" in line for line in bare)  # nothing to show


def test_markdown_and_html_carry_the_streamed_figures() -> None:
    data = report_data(STREAMED, latency="ttft_p95")
    markdown = markdown_report(data)
    assert "### Streamed timings" in markdown
    assert "| `p/b` | 90 ms | 90 ms | 12.5 ms | 90 ms | 760 ms |" in markdown
    assert "**Ranked by:** ttft p95" in markdown
    html = html_report(data)
    assert "<h3>Streamed timings</h3>" in html
    assert "ranked by: ttft p95" in html
    plain = markdown_report(report_data(PLAIN))
    assert "Streamed timings" in plain  # the server reported prefill and generation
    assert "Ranked by" not in plain
