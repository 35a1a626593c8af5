"""Rows of a data set (JSON lines or CSV) as candidate cases of a task.

``llmbench import`` streams the rows of a file through :func:`read_rows` (one row in
memory at a time: a CSV field may hold newlines when quoted) and :func:`candidates`,
which maps the columns to case variables, an id and optionally a label; a row that
cannot be a case is a :class:`BadRow` (one line naming the row) and the others go on.
:mod:`.writing` writes the candidates as a case file.  Pure module apart from reading
the one file.

The same data as JSON lines and as CSV gives the same cases: values are text (a JSON
number or boolean is written as JSON writes it, a JSON object or list as JSON text,
``null`` as empty text, as a CSV cell holds them), and a row's number counts data rows
from 1 (blank JSON lines and the CSV header are not rows).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "EXPECTED_KINDS",
    "BadRow",
    "Candidate",
    "ColumnMapping",
    "DataFileError",
    "Row",
    "candidates",
    "csv_rows",
    "jsonl_rows",
    "read_rows",
]

EXPECTED_KINDS = ("verdict", "contains", "regex", "json")
"""How a label column fills ``expected``: ``{verdict: CELL}``, ``{contains: [CELL]}``,
``{regex: CELL}`` or ``{json: CELL}`` (a JSON object, or a cell holding one)."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


class DataFileError(ValueError):
    """A data file that cannot be imported at all (one line)."""


class Row(NamedTuple):
    """One data row: its number (from 1), the line it starts on, and its values (or why
    it could not be read)."""

    number: int
    line: int
    values: Mapping[str, Any] | str


class BadRow(NamedTuple):
    """A row that is no case: where, and why."""

    number: int
    line: int
    message: str

    def format(self, display: str) -> str:
        return f"{display}: row {self.number} (line {self.line}): {self.message}"


@dataclass(frozen=True)
class Candidate:
    """A case waiting to be written: ``expected`` ``None`` when it has no label yet."""

    id: str
    vars: Mapping[str, str]
    expected: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = ()
    """Comment lines written above its ``expected`` (what production answered)."""


@dataclass(frozen=True)
class ColumnMapping:
    """Which column is what.

    :param vars: column -> case variable; empty: every column that is not the id or the
        label, under its own name.
    :param id: the column holding the case id; ``None``: ``PREFIX_00001`` by row number.
    :param expected: the column holding the label; ``None``: every case unlabelled.  An
        empty cell leaves its case unlabelled.
    """

    vars: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None
    expected: str | None = None
    expected_as: str = "verdict"
    id_prefix: str = "case"

    def __post_init__(self) -> None:
        if self.expected_as not in EXPECTED_KINDS:
            raise DataFileError(
                f"expected as {self.expected_as!r}: give one of {', '.join(EXPECTED_KINDS)}"
            )
        for name in self.vars.values():
            if not _NAME.match(name):
                raise DataFileError(
                    f"variable name {name!r} is not a plain name (letters, digits, _)"
                )


# --------------------------------------------------------------------------- reading


def read_rows(path: Path, kind: str | None = None) -> Iterator[Row]:
    """The rows of a ``.jsonl`` / ``.ndjson`` or ``.csv`` file (``kind`` overrides the
    suffix: ``jsonl`` or ``csv``), one at a time.

    :raises DataFileError: for a kind it cannot tell; :raises OSError: reading.
    """
    kind = kind or {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(path.suffix.lower())
    if kind == "jsonl":
        with path.open(encoding="utf-8-sig", errors="strict", newline="") as handle:
            yield from jsonl_rows(handle)
    elif kind == "csv":
        with path.open(encoding="utf-8-sig", errors="strict", newline="") as handle:
            yield from csv_rows(handle)
    else:
        raise DataFileError(
            f"cannot tell the format of {path}: name it .jsonl or .csv, or give --format"
        )


def jsonl_rows(lines: Iterable[str]) -> Iterator[Row]:
    """One row per non-blank line; a line that is not a JSON object is a row that says so."""
    number = 0
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        number += 1
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield Row(number, line_number, f"not JSON ({_first_line(str(exc))})")
            continue
        if not isinstance(data, dict):
            yield Row(number, line_number, f"a JSON {type(data).__name__}, not an object")
            continue
        yield Row(number, line_number, data)


def csv_rows(handle: Iterable[str]) -> Iterator[Row]:
    """One row per CSV record after the header (a quoted field may span lines); a record
    with more or fewer fields than the header is a row that says so."""
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise DataFileError(f"cannot read the CSV header: {exc}") from None
    width = len(header)
    number = 0
    start = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            yield Row(number, start, f"not CSV: {exc}")
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not record or not any(cell.strip() for cell in record):
            continue  # a blank line
        number += 1
        if len(record) != width:
            yield Row(number, line, f"{len(record)} field(s); the header has {width}")
            continue
        yield Row(number, line, dict(zip(header, record, strict=True)))


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else text


# --------------------------------------------------------------------------- mapping


def _text(value: Any) -> str:
    """A value as the text a CSV cell holds."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def candidates(rows: Iterable[Row], mapping: ColumnMapping) -> Iterator[Candidate | BadRow]:
    """Each row as a :class:`Candidate`, or a :class:`BadRow` saying why not (a missing
    column, an id that is not one or is used twice, a label that does not fit)."""
    seen: dict[str, int] = {}
    for row in rows:
        if isinstance(row.values, str):
            yield BadRow(row.number, row.line, row.values)
            continue
        try:
            candidate = _candidate(row.number, row.values, mapping)
        except ValueError as exc:
            yield BadRow(row.number, row.line, str(exc))
            continue
        if candidate.id in seen:
            yield BadRow(
                row.number,
                row.line,
                f"id {candidate.id!r} is used by row {seen[candidate.id]} already",
            )
            continue
        seen[candidate.id] = row.number
        yield candidate


def _candidate(number: int, values: Mapping[str, Any], mapping: ColumnMapping) -> Candidate:
    missing = [c for c in (*mapping.vars, mapping.id, mapping.expected) if c and c not in values]
    if missing:
        raise ValueError(f"no column {', '.join(repr(c) for c in missing)}")
    variables = _variables(values, mapping)
    if mapping.id is not None:
        case_id = _text(values[mapping.id]).strip()
        if not _ID.match(case_id):
            raise ValueError(
                f"id {case_id!r} (column {mapping.id!r}) is not letters, digits, _ . -"
            )
    else:
        case_id = f"{mapping.id_prefix}_{number:05d}"
    expected = None
    if mapping.expected is not None:
        expected = _expected(values[mapping.expected], mapping)
    return Candidate(case_id, variables, expected)


def _variables(values: Mapping[str, Any], mapping: ColumnMapping) -> dict[str, str]:
    if mapping.vars:
        return {name: _text(values[column]) for column, name in mapping.vars.items()}
    out: dict[str, str] = {}
    for column, value in values.items():
        if column in (mapping.id, mapping.expected):
            continue
        if not _NAME.match(str(column)):
            raise ValueError(
                f"column {column!r} is no variable name; map it with --var {column}=NAME"
            )
        out[str(column)] = _text(value)
    return out


def _expected(value: Any, mapping: ColumnMapping) -> dict[str, Any] | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # no label: a candidate
    kind = mapping.expected_as
    if kind == "json":
        data = value
        if isinstance(value, str):
            try:
                data = json.loads(value)
            except ValueError:
                data = None
        if not isinstance(data, dict):
            raise ValueError(
                f"label (column {mapping.expected!r}) is not a JSON object: {_text(value)!r}"
            )
        return {"json": data}
    text = _text(value).strip()
    if kind == "regex":
        try:
            re.compile(text)
        except re.error as exc:
            raise ValueError(f"label {text!r} is no regular expression: {exc}") from None
        return {"regex": text}
    if kind == "contains":
        return {"contains": [text]}
    return {"verdict": text}
