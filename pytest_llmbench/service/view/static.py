"""``llmbench view --static OUT``: the same pages as files, for a CI artifact.

    OUT/index.html                   the runs
    OUT/runs/<run>.html              a run
    OUT/cases/<run>--<task>--<case>.html
    OUT/tasks/<task>.html            a task over time
    OUT/compare/<a>--<b>.html        each run against the one before it

Links between the files are relative, so OUT can be opened from disk or served as is.
One run is read at a time.
"""

from __future__ import annotations

from pathlib import Path

from pytest_llmbench.execution.results import Result
from pytest_llmbench.safety.atomic import write_atomic
from pytest_llmbench.service.view.markup import Links
from pytest_llmbench.service.view.pages import (
    case_page,
    compare_page,
    run_page,
    runs_page,
    task_page,
)
from pytest_llmbench.service.view.prompts import PromptFinder
from pytest_llmbench.service.view.queries import read_run, run_rows, task_names, task_points
from pytest_llmbench.storage.champions import RegistryEntry, RegistryError, load_registry
from pytest_llmbench.storage.history import StoredRun, list_runs

__all__ = ["write_static"]


def _file(out: Path, href: str) -> Path:
    """The file a static link (``../runs/x.html``) names, under ``out``."""
    return out / href.removeprefix("../")


def write_static(
    history: Path, out: Path, registry: Path | None = None, cases: Path | None = None
) -> int:
    """Write every page under ``out``; the number of pages written.

    :raises HistoryError: when ``history`` is not a history.
    """
    root, inner = Links(static=True), Links(static=True, depth=1)
    prompts = PromptFinder(cases)
    for folder in ("runs", "cases", "tasks", "compare"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    written = 0

    def put(href: str, html: str) -> None:
        nonlocal written
        write_atomic(_file(out, href), [html])
        written += 1

    put(root.home(), runs_page(run_rows(history), root, source=history.name))
    entries: dict[str, RegistryEntry] = {}
    if registry is not None:
        try:
            entries = load_registry(registry)
        except (RegistryError, OSError):
            entries = {}
    for task in task_names(history):
        put(inner.task(task), task_page(task, task_points(history, task), inner, entries.get(task)))
    before: StoredRun | None = None
    for summary in list_runs(history):
        stored = read_run(history, summary.id)
        put(inner.run(stored.id), run_page(stored, inner, previous=before.id if before else None))
        by_case: dict[tuple[str, str], list[Result]] = {}
        for r in stored.results:
            by_case.setdefault((r.task, r.case_id), []).append(r)
        for (task, case_id), results in by_case.items():
            recorded = [(r.prompt_version, r.prompt_hash) for r in results]
            prompt = prompts.find(stored.run, task, case_id, recorded)
            shown = case_page(stored.id, task, case_id, results, inner, prompt)
            if shown is not None:
                put(inner.case(stored.id, task, case_id), shown)
        if before is not None:
            put(inner.compare(before.id, stored.id), compare_page(before, stored, inner))
        before = stored
    return written
