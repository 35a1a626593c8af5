"""``llmbench view [--port N] [--static OUT]``: the history as pages in a browser.

Serves a read-only web app on 127.0.0.1 (needs the ``view`` extra: ``pip install
'pytest-llmbench[view]'``), or with ``--static OUT`` writes the same pages as files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_llmbench.cli.options import Commands, history_option, history_path, registry_option
from pytest_llmbench.cli.output import failure

__all__ = ["DEFAULT_PORT", "add_parser", "run"]

DEFAULT_PORT = 8642


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "view",
        parents=[history_option(), registry_option()],
        help="the history as pages: runs, a run, a task over time, compare",
        description="Serve the run history as pages on http://127.0.0.1:PORT (read-only, "
        "nothing fetched from elsewhere), or write them as files with --static.",
    )
    parser.add_argument(
        "--port", metavar="N", type=int, default=DEFAULT_PORT, help=f"(default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--cases",
        metavar="DIR",
        type=Path,
        default=None,
        help="where the case files are, to show each case's prompt (default: where each "
        "run was started, as the history recorded it)",
    )
    parser.add_argument(
        "--static",
        metavar="OUT",
        default=None,
        help="write the pages as files under OUT (index.html first) instead of serving them",
    )


def run(args: argparse.Namespace) -> int:
    from pytest_llmbench.storage.champions import find_registry
    from pytest_llmbench.storage.history import HistoryError

    history = history_path(args)
    registry = args.registry or find_registry()
    if args.static is not None:
        from pytest_llmbench.service.view.static import write_static

        try:
            count = write_static(history, Path(args.static), registry, args.cases)
        except (HistoryError, OSError) as exc:
            return failure("llmbench view", exc, 1)
        print(f"llmbench view: {count} page(s) written to {args.static} (open index.html)")
        return 0
    if not history.is_file():
        return failure("llmbench view", HistoryError(f"no history at {history}"), 1)
    try:
        import uvicorn

        from pytest_llmbench.service.view.app import create_app
    except ImportError as exc:
        return failure(
            "llmbench view",
            RuntimeError(f"{exc.name} is missing: pip install 'pytest-llmbench[view]'"),
            1,
        )
    print(f"llmbench view: http://127.0.0.1:{args.port}/ (Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(
        create_app(history, registry, args.cases),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
    )
    return 0
