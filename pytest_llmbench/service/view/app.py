"""The Starlette app of ``llmbench view``: read-only, GET only, server-rendered pages.

Every request reads the history afresh (read-only), so a run recorded while the app is up
shows on the next page load.  Page work is synchronous (SQLite, rendering): Starlette runs
it in its thread pool.  Every response carries the Content-Security-Policy of
:mod:`.markup` (only the page's own inline script runs; nothing is fetched).
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from pytest_llmbench.service.view.markup import CSP, Links
from pytest_llmbench.service.view.pages import (
    case_page,
    compare_page,
    message_page,
    run_page,
    runs_page,
    task_page,
)
from pytest_llmbench.service.view.queries import run_rows, task_points
from pytest_llmbench.storage.champions import RegistryEntry, RegistryError, load_registry
from pytest_llmbench.storage.history import (
    HistoryError,
    StoredRun,
    list_runs,
    load_run,
    resolve_run,
)

__all__ = ["HEADERS", "create_app"]

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

LINKS = Links()


def _html(body: str, status: int = 200) -> Response:
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _missing(what: str, error: Exception | str) -> Response:
    return _html(message_page(what, str(error), LINKS), 404)


def create_app(history: Path, registry: Path | None = None) -> Starlette:
    """The app over the history file ``history`` (and the champion registry, when given)."""

    def previous_of(run_id: str) -> str | None:
        ids = [r.id for r in list_runs(history)]
        at = ids.index(run_id) if run_id in ids else 0
        return ids[at - 1] if at > 0 else None

    def stored(ref: str) -> StoredRun:
        return load_run(history, resolve_run(history, ref))

    def home(request: Request) -> Response:
        try:
            rows = run_rows(history)
        except HistoryError as exc:
            return _missing("No history", exc)
        return _html(runs_page(rows, LINKS, source=str(history)))

    def run(request: Request) -> Response:
        try:
            found = stored(request.path_params["run_id"])
            previous = previous_of(found.id)
        except HistoryError as exc:
            return _missing("No such run", exc)
        return _html(run_page(found, LINKS, previous=previous))

    def case(request: Request) -> Response:
        params = request.path_params
        try:
            found = stored(params["run_id"])
        except HistoryError as exc:
            return _missing("No such run", exc)
        shown = case_page(found, params["task"], params["case_id"], LINKS)
        if shown is None:
            return _missing(
                "No such case",
                f"run {found.id} has no case {params['case_id']!r} of task {params['task']!r}",
            )
        return _html(shown)

    def task(request: Request) -> Response:
        name = request.path_params["task"]
        try:
            points = task_points(history, name)
        except HistoryError as exc:
            return _missing("No history", exc)
        if not points:
            return _missing("No such task", f"no run in {history} ranked task {name!r}")
        return _html(task_page(name, points, LINKS, registry_entry(registry, name)))

    def compared(request: Request) -> Response:
        try:
            a, b = stored(request.path_params["a"]), stored(request.path_params["b"])
        except HistoryError as exc:
            return _missing("No such run", exc)
        return _html(compare_page(a, b, LINKS))

    return Starlette(
        routes=[
            Route("/", home),
            Route("/runs/{run_id}", run),
            Route("/cases/{run_id}/{task}/{case_id:path}", case),
            Route("/tasks/{task}", task),
            Route("/compare/{a}/{b}", compared),
        ]
    )


def registry_entry(registry: Path | None, task: str) -> RegistryEntry | None:
    """The registry's entry for ``task``, when there is a registry that can be read."""
    if registry is None:
        return None
    try:
        return load_registry(registry).get(task)
    except (RegistryError, OSError):
        return None
