"""``llmbench import DATA --task T --out FILE``: the rows of a JSON-lines or CSV file as
cases of a task, in a case file a human labels (the module is ``import_``: ``import`` is
a Python keyword).

Columns become case variables under their own names unless ``--var COLUMN=NAME`` maps
them; ``--id COLUMN`` names the case id column (default ``PREFIX_00001`` by row);
``--expected COLUMN`` the label column (``--expected-as verdict|contains|regex|json``).
A case without a label gets ``expected: {}``, and a file holding one is refused for
running until it is labelled.  Rows are read and written one at a time.  A row that
cannot be a case is one line on stderr naming it, and the others are written; the exit
status is then 1 (0 when every row became a case).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from pytest_llmbench.cli.options import Commands
from pytest_llmbench.cli.output import failure

__all__ = ["add_parser", "run"]

MAX_BAD_SHOWN = 50
"""Bad rows listed one by one; the rest are counted."""


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "import",
        help="a JSONL or CSV file of inputs (and labels) as the cases of a task",
        description="Turn the rows of a JSON-lines or CSV file into the cases of a task: a "
        "case file with the task's prompt and output, to label and run. A case without a "
        "label is refused for running until it has one.",
    )
    parser.add_argument("data", metavar="DATA", type=Path, help="a .jsonl or .csv file")
    parser.add_argument("--task", metavar="T", required=True, help="the task of the cases")
    parser.add_argument(
        "--out", metavar="FILE", type=Path, required=True, help="the case file to write"
    )
    parser.add_argument(
        "--case-file",
        metavar="PATH",
        type=Path,
        help="the task's case file, whose prompt and output the new file takes (default: "
        "the *.yaml under the working directory whose task: is T; none: a plain prompt)",
    )
    parser.add_argument(
        "--format", choices=("jsonl", "csv"), help="default: from the suffix of DATA"
    )
    parser.add_argument(
        "--var",
        metavar="COLUMN=NAME",
        action="append",
        default=[],
        help="column COLUMN is case variable NAME (repeatable; default: every column but "
        "the id and the label, under its own name)",
    )
    parser.add_argument("--id", metavar="COLUMN", help="the column of the case ids")
    parser.add_argument(
        "--id-prefix", metavar="P", help="ids by row number: P_00001 ... (default: T)"
    )
    parser.add_argument(
        "--expected", metavar="COLUMN", help="the column of the labels (empty: unlabelled)"
    )
    parser.add_argument(
        "--expected-as",
        choices=("verdict", "contains", "regex", "json"),
        default="verdict",
        help="what the label is (default: verdict)",
    )


def run(args: argparse.Namespace) -> int:
    from pytest_llmbench.cases.importing import DataFileError

    try:
        return _import(args)
    except DataFileError as exc:
        return failure("llmbench import", exc, 2)
    except UnicodeDecodeError as exc:
        return failure(
            "llmbench import", f"{args.data} is not UTF-8 text ({exc.reason}); save it as UTF-8", 2
        )
    except OSError as exc:
        return failure("llmbench import", f"{exc.filename or args.data}: {exc.strerror}", 2)


def _mapping(args: argparse.Namespace) -> dict[str, str]:
    from pytest_llmbench.cases.importing import DataFileError

    mapping: dict[str, str] = {}
    for item in args.var:
        column, sep, name = item.partition("=")
        if not sep or not column or not name:
            raise DataFileError(f"--var {item!r}: give COLUMN=NAME")
        mapping[column] = name
    return mapping


def _import(args: argparse.Namespace) -> int:
    import itertools
    import sys

    from pytest_llmbench.cases.importing import (
        BadRow,
        Candidate,
        ColumnMapping,
        candidates,
        read_rows,
    )
    from pytest_llmbench.cases.load import find_case_file
    from pytest_llmbench.cases.writing import case_file_pieces, task_header
    from pytest_llmbench.safety.atomic import write_atomic
    from pytest_llmbench.safety.redaction import redact, register_environment_secrets
    from pytest_llmbench.safety.sanitising import shown

    register_environment_secrets()
    mapping = ColumnMapping(
        vars=_mapping(args),
        id=args.id,
        expected=args.expected,
        expected_as=args.expected_as,
        id_prefix=args.id_prefix or args.task,
    )
    case_file = args.case_file or find_case_file(Path.cwd(), args.task)
    bad = 0
    written = 0

    def good() -> Iterator[Candidate]:
        nonlocal bad
        for item in candidates(read_rows(args.data, args.format), mapping):
            if isinstance(item, BadRow):
                bad += 1
                if bad <= MAX_BAD_SHOWN:
                    print(shown(item.format(str(args.data))), file=sys.stderr)
                continue
            yield Candidate(item.id, {k: redact(v) for k, v in item.vars.items()}, item.expected)

    stream = good()
    first = next(stream, None)
    if first is None:
        print(f"llmbench import: no case in {args.data}", file=sys.stderr)
        return 1
    header = task_header(args.task, case_file, args.out, list(first.vars))

    def counted() -> Iterator[Candidate]:
        nonlocal written
        for candidate in itertools.chain([first], stream):
            written += 1
            yield candidate

    comment = (
        f"Cases of task {args.task} imported from {args.data.name} by llmbench import.\n"
        "A case with expected: {} has no label yet: this file is refused for running "
        "until each has one."
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, case_file_pieces(header, counted(), comment))
    if bad > MAX_BAD_SHOWN:
        print(f"llmbench import: ... and {bad - MAX_BAD_SHOWN} more bad row(s)", file=sys.stderr)
    tail = f"; {bad} bad row(s) left out" if bad else ""
    print(f"{args.out}: {written} case(s) of task {args.task} from {args.data}{tail}")
    return 1 if bad else 0
