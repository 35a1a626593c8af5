"""Markdown and HTML reports: the pure renderers, the options, and the page in Chromium."""

from __future__ import annotations

import re
from typing import Any

from pytest_llmbench.analysis.ranking import rank_strict
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.facts import ReportData, notes, relative_speed
from pytest_llmbench.reporting.html import html_report
from pytest_llmbench.reporting.markdown import markdown_report
from tests.support import factories


def res(model: str, case: str, correct: bool, latency: float, **kw: Any) -> Result:
    expected = "FAIL" if case.startswith("FAIL") else "PASS"
    said = expected if correct else "PASS"
    return factories.verdict(
        model, case, said, gold=expected, correct=correct, latency_ms=latency, **kw
    )


# p/a: 100, 300 ms (mean 200); p/b: 1000, 1500 (mean 1,250); p/c fast but too lenient.
RESULTS = [
    res("p/a", "PASS1", True, 100.0),
    res("p/a", "FAIL1", True, 300.0),
    res("p/b", "PASS1", True, 1000.0),
    res("p/b", "FAIL1", True, 1500.0),
    res("p/c", "PASS1", True, 50.0),
    res("p/c", "FAIL1", False, 70.0, got="PASS | <b>sure</b>\nreally", got_label="PASS"),
]
RUN = {
    "id": "20250101T120000Z-abcdef",
    "started_at": "2025-01-01T12:00:00+00:00",
    "git_commit": "0123456789abcdef0123",
    "host": "ci-1",
    "plugin_version": "0.1.0",
}
SIZES = {"p/a": 1_000_000_000, "p/b": 4_700_000_000, "p/c": 500_000_000}


def data(**kw: Any) -> ReportData:
    values: dict[str, Any] = {
        "run": RUN,
        "results": RESULTS,
        "rankings": [rank_strict("grading", RESULTS)],
        "case_counts": {"grading": 2},
        "descriptions": {"grading": "Grade a summary."},
        "model_sizes": SIZES,
    }
    values.update(kw)
    return ReportData(**values)


# --------------------------------------------------------------------------- derived facts


def test_relative_speed_is_relative_to_the_champion() -> None:
    ranking = rank_strict("grading", RESULTS)
    scores = {s.model: relative_speed(ranking, s) for s in ranking.standings}
    assert scores == {"p/a": 100, "p/b": 16, "p/c": None}


def test_notes_are_derived_from_the_data() -> None:
    report = data()
    assert notes(report, report.rankings[0]) == [
        "Champion p/a is 6.2x faster than runner-up p/b (200 ms against 1,250 ms).",
        "The fastest model, p/c (60 ms), did not qualify: too lenient on FAIL1.",
        "Size against speed: p/a (1.0 GB, 200 ms) and p/b (4.7 GB, 1,250 ms): "
        "the smaller is 6.2x faster.",
        "Size against correctness: the smallest model that qualified is p/a (1.0 GB); "
        "smaller ones did not: p/c (500 MB).",
    ]


def test_notes_without_a_champion_name_the_nearest_miss_and_the_bias() -> None:
    results = [
        res("p/x", "FAIL1", False, 10.0),
        res("p/x", "FAIL2", False, 10.0),
        res("p/x", "PASS1", True, 10.0),
        res("p/y", "FAIL1", False, 20.0),
        res("p/y", "FAIL2", True, 20.0),
        res("p/y", "PASS1", False, 20.0, error="timeout after 5 s", got=""),
    ]
    report = data(results=results, rankings=[rank_strict("grading", results)], model_sizes={})
    assert notes(report, report.rankings[0]) == [
        "No model qualified; the nearest miss is p/x (1/3): too lenient on FAIL1, FAIL2.",
        "The fastest model, p/x (10 ms), did not qualify: too lenient on FAIL1, FAIL2.",
        "Hardest case: FAIL1, missed by 2 of 2 models (too lenient by all).",
        "3 of 3 wrong verdicts were too lenient (a passing label for a case that must fail).",
        "Errors (timeouts, server errors; counted as wrong): p/y 1.",
    ]


# --------------------------------------------------------------------------- Markdown


def sections(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def test_markdown_report_has_the_cookbook_sections() -> None:
    text = markdown_report(data())
    assert sections(text) == [
        "# LLM benchmark report, 2025-01-01 12:00 UTC",
        "## Summary",
        "## Models tested (3)",
        "## Task: grading",
        "### Top results",
        "### Failed to qualify",
        "### Notes",
    ]
    assert (
        "**Run:** `20250101T120000Z-abcdef` · **Commit:** `0123456789ab` · **Host:** ci-1 · "
        "pytest-llmbench 0.1.0" in text
    )
    assert "| grading | 2 | 2 of 3 | `p/a` (200 ms) | `p/b` (1,250 ms) |" in text
    assert "| `p/b` | 4.7 GB |" in text
    assert (
        "**Models tested:** 3 · **Qualified:** 2 of 3 · **Cases:** 2 · **Runs per case:** 1 · "
        "**Policy:** strict" in text
    )
    assert "| 1 | `p/a` | 100% (2/2) | 200 ms | 290 ms | 100 | 1.0 GB | champion |" in text
    assert "| 2 | `p/b` | 100% (2/2) | 1,250 ms | 1,475 ms | 16 | 4.7 GB | runner-up |" in text
    assert "- Size against speed: p/a (1.0 GB, 200 ms) and p/b (4.7 GB, 1,250 ms)" in text


def test_markdown_failed_to_qualify_names_case_direction_and_escapes_output() -> None:
    text = markdown_report(data())
    [row] = [line for line in text.splitlines() if line.startswith("| `p/c` | 50%")]
    assert row == (
        "| `p/c` | 50% (1/2) | 60 ms | too lenient on FAIL1: expected FAIL, "
        "got PASS \\| \\<b\\>sure\\</b\\> really |"
    )
    assert row.count(" | ") == 3  # the model's pipe did not open a column


def test_markdown_report_without_qualifiers() -> None:
    results = [res("p/x", "FAIL1", False, 10.0)]
    text = markdown_report(data(results=results, rankings=[rank_strict("grading", results)]))
    assert "**Champion:** none, no model qualified" in text
    assert "No model was correct on every case and every run." in text
    assert "- No model qualified; the nearest miss is p/x (0/1): too lenient on FAIL1." in text


def test_reports_say_a_stopped_model_was_incomplete() -> None:
    # -x stopped the run after p/c's PASS1 (expected: every collected run).
    results = RESULTS[:5]
    ranking = rank_strict("grading", results, expected=[("PASS1", 1), ("FAIL1", 1), ("PASS2", 1)])
    report = data(results=results, rankings=[ranking], model_sizes={})
    text = markdown_report(report)
    [row] = [line for line in text.splitlines() if line.startswith("| `p/c` |")]
    assert row == "| `p/c` | 33% (1/3) | 50 ms | incomplete: 2 of 3 cases not run |"
    assert (
        "- No model qualified; the nearest miss is p/a (2/3): incomplete: 1 of 3 cases not run."
        in text
    )
    assert "<b>incomplete: 2 of 3 cases not run</b>" in html_report(report)


# --------------------------------------------------------------------------- HTML


def test_html_report_is_self_contained_and_escapes_model_output() -> None:
    page = html_report(data())
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)\s*=\s*\"?(https?:|//)", page)
    assert "@import" not in page
    # the only URL is the SVG namespace, which is never fetched
    assert set(re.findall(r"https?://[^\"' )]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "<b>sure</b>" not in page
    assert "PASS | &lt;b&gt;sure&lt;/b&gt;" in page


def test_html_report_draws_both_charts_per_task() -> None:
    page = html_report(data())
    assert page.count('class="chart accuracy"') == 1
    assert page.count('class="chart latency"') == 1
    accuracy = page.split('class="chart accuracy"')[1].split("</svg>")[0]
    # one point per model (+ the four legend swatches), each with a tooltip
    assert accuracy.count("<circle") == 3 + 4
    assert "<title>p/a: 2/2 correct, mean 200 ms, champion</title>" in accuracy
    latency = page.split('class="chart latency"')[1].split("</svg>")[0]
    assert latency.count("<circle") == len(RESULTS)
    assert latency.count('stroke="#cf222e" stroke-width="1.5"') == 1  # the one wrong answer
    assert "Task: grading" in page
    assert "Size against speed" in page


def test_html_escapes_names_everywhere() -> None:
    results = [res("p/<i>x</i>", "PASS1", True, 10.0)]
    page = html_report(
        data(
            results=results,
            rankings=[rank_strict("grading", results)],
            descriptions={"grading": "<script>alert(1)</script>"},
        )
    )
    assert "<i>x</i>" not in page
    assert "<script>" not in page
    assert "p/&lt;i&gt;x&lt;/i&gt;" in page


# --------------------------------------------------------------------------- Chromium
