"""Cells and tables of the ``llmbench`` command reports (history, compare, rankings,
feedback): a relative change, a run's date, a plain table.  Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from pytest_llmbench.reporting.facts import run_date

__all__ = ["change", "table", "when"]


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> list[str]:
    """A plain ``tabulate`` table as lines; cells are shown as given (no number parsing)."""
    text = tabulate(rows, headers=list(headers), tablefmt="simple", disable_numparse=True)
    return text.splitlines()


def change(before: float | None, after: float | None) -> str:
    """``+35%``: how much ``after`` differs from ``before``; empty when it cannot be said."""
    if before is None or after is None or before == 0:
        return ""
    return f"{(after / before - 1.0) * 100:+.0f}%"


def when(started_at: str) -> str:
    """A run's start as ``2025-01-01 12:00`` (UTC, without the suffix)."""
    return run_date({"started_at": started_at}).removesuffix(" UTC")
