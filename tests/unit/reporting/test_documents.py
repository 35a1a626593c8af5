"""The reports a run was asked for, rendered on demand (reporting/documents.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_llmbench.analysis.ranking import rank_task
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.documents import report_documents

RUN: dict[str, Any] = {
    "id": "20260101-000000-abcd",
    "started_at": "2026-01-01T00:00:00+00:00",
    "models": ["p/m"],
    "model_info": {"p/m": {"size_bytes": 1000}},
}


def _documents(markdown: Path | None, html: Path | None) -> list[Any]:
    results = [Result("t", c, "p/m", 1, "PASS", "PASS", True, latency_ms=10.0) for c in "AB"]
    return report_documents(
        markdown,
        html,
        run=RUN,
        results=results,
        rankings=[rank_task("t", results)],
        case_counts={"t": 2},
        descriptions={"t": "grades postings"},
    )


def test_only_the_reports_asked_for_are_made(tmp_path: Path) -> None:
    assert _documents(None, None) == []
    (only,) = _documents(None, tmp_path / "r.html")
    assert (only.path, only.what) == (tmp_path / "r.html", "HTML report")


def test_each_report_renders_the_run_when_it_is_written(tmp_path: Path) -> None:
    markdown, html = _documents(tmp_path / "r.md", tmp_path / "r.html")
    assert (markdown.what, html.what) == ("Markdown report", "HTML report")
    text = markdown.render()
    assert "p/m" in text
    assert "grades postings" in text
    assert "<html" in html.render().lower()
