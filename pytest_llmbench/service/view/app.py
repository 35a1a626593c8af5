"""The Starlette app of ``llmbench view``: read-only, GET only, server-rendered pages.

Every request reads the history (read-only), so a run recorded while the app is up shows
on the next page load; the last few runs read are kept (:class:`RecentRuns`, keyed by the
file's size and time as well: a run recorded again is read again), so going from a run to
its cases and to a compare reads each run once.  Page work is synchronous (SQLite,
rendering): Starlette runs it in its thread pool.  Every response carries the
Content-Security-Policy of :mod:`.markup` (only the page's own inline script runs;
nothing is fetched).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
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
from pytest_llmbench.service.view.prompts import PromptFinder
from pytest_llmbench.service.view.queries import (
    case_results,
    read_run,
    run_origin,
    run_rows,
    task_points,
)
from pytest_llmbench.storage.champions import RegistryEntry, RegistryError, load_registry
from pytest_llmbench.storage.history import HistoryError, StoredRun, list_runs, resolve_run

__all__ = ["HEADERS", "RecentRuns", "create_app"]

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


class RecentRuns:
    """The last ``size`` runs read (a run of 1,000 results is about 2 MB: memory stays
    bounded), each for the history file as it was when it was read."""

    def __init__(self, history: Path, size: int = 4) -> None:
        self.history = history
        self.size = size
        self._runs: OrderedDict[tuple[str, int, int], StoredRun] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_id: str) -> StoredRun:
        state = self.history.stat()
        key = (run_id, state.st_size, state.st_mtime_ns)
        with self._lock:
            if key in self._runs:
                self._runs.move_to_end(key)
                return self._runs[key]
        found = read_run(self.history, run_id)
        with self._lock:
            self._runs[key] = found
            while len(self._runs) > self.size:
                self._runs.popitem(last=False)
        return found


def create_app(history: Path, registry: Path | None = None, cases: Path | None = None) -> Starlette:
    """The app over the history file ``history`` (and the champion registry, when given;
    ``cases``: where the case files are, default where each run was started)."""
    recent = RecentRuns(history)
    prompts = PromptFinder(cases)

    def previous_of(run_id: str) -> str | None:
        ids = [r.id for r in list_runs(history)]
        at = ids.index(run_id) if run_id in ids else 0
        return ids[at - 1] if at > 0 else None

    def stored(ref: str) -> StoredRun:
        return recent.get(resolve_run(history, ref))

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
        task, case_id = params["task"], params["case_id"]
        try:
            run_id = resolve_run(history, params["run_id"])
            results = case_results(history, run_id, task, case_id)
            origin = run_origin(history, run_id)
        except HistoryError as exc:
            return _missing("No such run", exc)
        recorded = [(r.prompt_version, r.prompt_hash) for r in results]
        prompt = prompts.find(origin, task, case_id, recorded)
        shown = case_page(run_id, task, case_id, results, LINKS, prompt)
        if shown is None:
            return _missing(
                "No such case", f"run {run_id} has no case {case_id!r} of task {task!r}"
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
