"""The reports a run was asked for (``--llm-report``, ``--llm-html``), rendered on demand.

Pure: the run's record, results and rankings in, the
:class:`~pytest_llmbench.storage.outputs.Document` list that
:func:`~pytest_llmbench.storage.outputs.write_outputs` writes out.  A report's text
(and its module) is made only when it is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbench.storage.outputs import Document

if TYPE_CHECKING:
    from pytest_llmbench.analysis.ranking import TaskRanking
    from pytest_llmbench.execution.results import Result
    from pytest_llmbench.reporting.facts import ReportData

__all__ = ["report_documents"]


def report_documents(
    markdown_path: Path | None,
    html_path: Path | None,
    *,
    run: Mapping[str, Any],
    results: Sequence[Result],
    rankings: Sequence[TaskRanking],
    case_counts: Mapping[str, int],
    descriptions: Mapping[str, str],
) -> list[Document]:
    """The Markdown and HTML reports asked for (a path of ``None``: not asked)."""

    def data() -> ReportData:
        from pytest_llmbench.reporting.facts import ReportData

        return ReportData(
            run=run,
            results=results,
            rankings=rankings,
            case_counts=case_counts,
            descriptions=descriptions,
            model_sizes={k: v.get("size_bytes") for k, v in run["model_info"].items()},
        )

    def markdown() -> str:
        from pytest_llmbench.reporting.markdown import markdown_report

        return markdown_report(data())

    def html() -> str:
        from pytest_llmbench.reporting.html import html_report

        return html_report(data())

    return [
        Document(path, what, render)
        for path, what, render in (
            (markdown_path, "Markdown report", markdown),
            (html_path, "HTML report", html),
        )
        if path is not None
    ]
