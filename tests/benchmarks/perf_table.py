"""The docs' performance table (``docs/performance.md``), written from the benchmarks' own output.

Run the benchmarks with pytest-benchmark's JSON output, then this command::

    pytest tests/benchmarks -m performance -p no:randomly --benchmark-json=bench.json
    python tests/benchmarks/perf_table.py bench.json

Each benchmark puts its table row in ``benchmark.extra_info["readme"]`` with
:func:`readme_row`: a key naming the row, what is measured, the target and the
measured figures as the benchmark printed them.  The command rewrites the table
between the ``<!-- perf-table:start -->`` and ``<!-- perf-table:end -->`` lines of
``docs/performance.md`` (``--readme`` names another file) and leaves every other line as it is:

- a row from the JSON replaces the row with the same key; rows in the order of
  :data:`ORDER` (keys it does not name come last);
- the rows of benchmarks that are not in the JSON (a run of some of them, or one
  skipped here) stay as they were; a row without a key (typed by hand) is dropped;
- each row starts with an HTML comment that GitHub does not show: its key and the
  run it comes from (the JSON's date and git commit), e.g.
  ``<!-- perf:startup-cpu 2026-11-25 611aa40 -->``.

Several JSON files may be given (later ones win for the same key).  Exit status 2 and
one line on stderr when the page has no markers, or the JSON no table row.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START = "<!-- perf-table:start -->"
END = "<!-- perf-table:end -->"
HEADER = ("| what | target | measured |", "|---|---|---|")
ORDER = (
    "collection",
    "harness-per-call",
    "pytest-item",
    "startup-import",
    "startup-cpu",
    "ollama-schedule-small-gpu-model",
    "ollama-schedule-stress",
    "call-cpu",
    "outside-cpu",
    "benchmark-per-item",
    "embedded-prefix-reuse",
    "parallel-hosts",
    "elimination",
    "memory-defaults",
    "memory-json",
    "history-size",
)
"""The table's row order, by key."""

FIGURES: list[tuple[str, str, str, float]] = []
"""(key, measured, target, load average) of each :func:`readme_row` of this process, in
order: the benchmarks' summary at the end of the run (``tests/benchmarks/conftest.py``)."""

_KEY = re.compile(r"^\|\s*<!-- perf:(\S+)(?: ([^>]*?))? -->\s*")


class TableError(Exception):
    """Why the table cannot be written (one line)."""


@dataclass(frozen=True)
class Row:
    key: str
    what: str
    target: str
    measured: str
    source: str = ""
    """The run the figures come from: ``date commit`` (empty: not known)."""

    def line(self) -> str:
        comment = f"<!-- perf:{self.key}{' ' + self.source if self.source else ''} -->"
        cells = (_cell(self.what), _cell(self.target), _cell(self.measured))
        return f"| {comment} {cells[0]} | {cells[1]} | {cells[2]} |"


def readme_row(benchmark: Any, key: str, *, what: str, target: str, measured: str) -> None:
    """Keep a benchmark's table row in its ``extra_info["readme"]`` (see the module doc).

    ``what``: what is measured and how (Markdown, one line); ``target``: the target
    (empty for a reference figure); ``measured``: the figures, as the benchmark printed
    them.  The machine's load average when the benchmark ended is added to ``measured``
    (the machine the docs' figures come from has 2 cores shared with other jobs).
    """
    load = os.getloadavg()[0]
    FIGURES.append((key, measured, target, load))
    benchmark.extra_info["readme"] = {
        "key": key,
        "what": what,
        "target": target,
        "measured": f"{measured} (load average {load:.1f})",
    }


def _cell(text: str) -> str:
    """One table cell: on one line, ``|`` escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def rows_from(doc: Mapping[str, Any]) -> list[Row]:
    """The table rows in one ``--benchmark-json`` document, in its order."""
    commit = str((doc.get("commit_info") or {}).get("id") or "")[:7]
    date = str(doc.get("datetime") or "")[:10]
    source = " ".join(part for part in (date, commit) if part)
    rows = []
    for bench in doc.get("benchmarks") or []:
        row = (bench.get("extra_info") or {}).get("readme")
        if not isinstance(row, Mapping):
            continue
        rows.append(
            Row(
                key=str(row["key"]),
                what=str(row["what"]),
                target=str(row.get("target") or ""),
                measured=str(row["measured"]),
                source=source,
            )
        )
    return rows


def _split(text: str) -> tuple[list[str], list[str], list[str]]:
    """The lines before the table's start marker (marker included), between the
    markers, and from the end marker on."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if not starts or not ends:
        missing = " and ".join(m for m, found in ((START, starts), (END, ends)) if not found)
        raise TableError(
            f"no {missing} line: put {START} and {END} on lines of their own around the table"
        )
    if len(starts) > 1 or len(ends) > 1 or ends[0] < starts[0]:
        raise TableError(f"one {START} line, then one {END} line, are expected")
    return lines[: starts[0] + 1], lines[starts[0] + 1 : ends[0]], lines[ends[0] :]


def _kept_rows(table: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """The rows of the current table by key, and the rows without a key."""
    keyed: dict[str, str] = {}
    unkeyed: list[str] = []
    for raw in table:
        line = raw.rstrip("\n")
        if not line.startswith("|") or line in HEADER:
            continue
        match = _KEY.match(line)
        if match:
            keyed[match[1]] = line
        else:
            unkeyed.append(line)
    return keyed, unkeyed


def rewrite(text: str, rows: Sequence[Row]) -> tuple[str, list[str]]:
    """``text`` (a page: README or docs) with its table rewritten from ``rows``; and what changed,
    one line per row (``updated``, ``added``, ``kept``, ``dropped``)."""
    if not rows:
        raise TableError("no benchmark row to write (benchmark.extra_info['readme'])")
    before, table, after = _split(text)
    kept, unkeyed = _kept_rows(table)
    fresh = {row.key: row for row in rows}
    lines: dict[str, str] = dict(kept)
    report = []
    for key, row in fresh.items():
        report.append(f"{'updated' if key in kept else 'added'}: {key}")
        lines[key] = row.line()
    report += [f"kept: {key}" for key in kept if key not in fresh]
    report += [f"dropped (no key): {line[:60]}" for line in unkeyed]
    rank = {key: i for i, key in enumerate(ORDER)}
    ordered = sorted(lines, key=lambda key: rank.get(key, len(ORDER)))
    body = [
        "\n",
        *(line + "\n" for line in HEADER),
        *(lines[key] + "\n" for key in ordered),
        "\n",
    ]
    return "".join(before + body + after), report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tests/benchmarks/perf_table.py",
        description="Rewrite the docs' performance table from --benchmark-json output.",
    )
    parser.add_argument("json", nargs="+", type=Path, help="pytest-benchmark JSON file(s)")
    parser.add_argument(
        "--readme",
        type=Path,
        default=Path("docs/performance.md"),
        help="the page holding the table (default: docs/performance.md)",
    )
    args = parser.parse_args(argv)
    rows: list[Row] = []
    try:
        for path in args.json:
            try:
                rows += rows_from(json.loads(path.read_text("utf-8")))
            except (OSError, ValueError) as exc:
                raise TableError(f"cannot read {path}: {exc}") from None
        text, report = rewrite(args.readme.read_text("utf-8"), rows)
    except TableError as exc:
        print(f"perf_table: {args.readme}: {exc}", file=sys.stderr)
        return 2
    args.readme.write_text(text, "utf-8")
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
