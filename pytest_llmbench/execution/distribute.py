"""Spreading a run over xdist workers and Ollama hosts: the pure part (no xdist here).

- :func:`parse_case_id`: which task, case, model and repeat a case item's node id names
  (the controller collects nothing under xdist: node ids are all it sees);
- :func:`pick_unit`: which model a worker takes next, so that every host stays busy;
- :func:`check_grouping`: whether a scheduler keeps each model's items on one worker;
- :class:`Distribution`: what happened on the workers (who ran and loaded which model,
  who crashed while running what), for the summary and the JSON document.

The xdist scheduler that uses these lives in :mod:`pytest_llmbench.plugin.scheduler`;
this module is plain data and functions (no xdist, no pytest), so the end of the run
(:mod:`pytest_llmbench.analysis.run`) and its tests use it without either.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_llmbench.cases.records import Task
from pytest_llmbench.execution.results import Result
from pytest_llmbench.formatting import one_line

__all__ = [
    "CaseId",
    "Crash",
    "Distribution",
    "GroupingCheck",
    "check_grouping",
    "parse_case_id",
    "pick_unit",
    "task_facts",
]

_CASE_ID = re.compile(
    r"(?P<path>.+?\.ya?ml)::(?P<task>[a-z0-9_-]+)::(?P<case>[A-Za-z0-9_.-]+)\[(?P<params>.+)\]"
)
_REPEAT = re.compile(r"(?P<model>.+)-rep(?P<repeat>[0-9]+)")


@dataclass(frozen=True)
class CaseId:
    """The parts of a case item's node id ``path.yaml::task::CASE[provider/model-repN]``."""

    path: str
    task: str
    case_id: str
    model: str
    repeat: int
    prompt_version: str = ""
    """The prompt version of ``[provider/model@v2]`` (``""`` without one)."""

    @property
    def provider(self) -> str:
        return self.model.partition("/")[0]


def parse_case_id(
    nodeid: str, providers: Collection[str] | None = None, models: Collection[str] = ()
) -> CaseId | None:
    """The case item a node id names, or ``None`` for any other test.

    ``providers``: the provider names a model id may start with (``None``: any).
    ``models``: the known model ids; they tell ``ollama/x-rep2`` (a model of that name)
    from repeat 2 of ``ollama/x``.  Without them a ``-repN`` suffix is a repeat.
    A group suffix (``...]@group``, added by ``--dist loadgroup``) is ignored.
    """
    at = nodeid.rfind("@")
    if at > nodeid.rfind("]"):
        nodeid = nodeid[:at]
    match = _CASE_ID.fullmatch(nodeid)
    if match is None:
        return None
    params = match["params"]
    provider, slash, name = params.partition("/")
    if not slash or not name or (providers is not None and provider not in providers):
        return None
    model, repeat = params, 1
    if params not in models:
        rep = _REPEAT.fullmatch(params)
        if rep is not None and (not models or rep["model"] in models):
            model, repeat = rep["model"], int(rep["repeat"])
    version = ""
    if model not in models and "@" in model:  # a prompt version: provider/model@v2
        model, _, version = model.rpartition("@")
    return CaseId(match["path"], match["task"], match["case"], model, repeat, version)


def pick_unit(hosts: Iterable[str | None], busy: Mapping[str, int]) -> int:
    """Which of the waiting work units (given by their model's host) a worker takes next.

    The first unit whose host has the fewest other workers on it: with as many workers
    as hosts, every host serves one model at a time; with more workers than hosts, the
    extra ones double up on the least busy hosts.  A unit without a host (an embedded
    model, a plain test) fits anywhere.
    """
    best, best_load = 0, None
    for index, host in enumerate(hosts):
        load = busy.get(host, 0) if host is not None else 0
        if best_load is None or load < best_load:
            best, best_load = index, load
            if load == 0:
                break
    return best


@dataclass(frozen=True)
class GroupingCheck:
    """Whether a distribution keeps each model on one worker."""

    models: dict[str, int]
    """Case items per model."""
    split: tuple[str, ...]
    """Models whose items may run on several workers at once (each one loading it)."""

    @property
    def grouped(self) -> bool:
        return not self.split


def check_grouping(
    ids: Iterable[str],
    scope_of: Callable[[str], str] | None,
    parse: Callable[[str], CaseId | None],
    *,
    every_worker: bool = False,
) -> GroupingCheck:
    """Check the work units a scheduler makes of ``ids`` (xdist sends a unit to one worker).

    ``scope_of`` gives an item's unit (``None``: every item is a unit of its own, as
    under ``--dist load``); ``every_worker``: every worker runs every item (``each``).
    """
    items: Counter[str] = Counter()
    scopes: dict[str, set[str]] = {}
    for nodeid in ids:
        case = parse(nodeid)
        if case is None:
            continue
        items[case.model] += 1
        scopes.setdefault(case.model, set()).add(scope_of(nodeid) if scope_of else nodeid)
    split = tuple(m for m in items if every_worker or len(scopes[m]) > 1)
    return GroupingCheck(dict(items), split)


def task_facts(task: Task) -> dict[str, Any]:
    """What the controller needs to know of a task's cases to record a crashed one (plain data)."""
    verdict = task.output.kind == "verdict"
    return {
        "kind": task.output.kind,
        "case_file": str(task.path.resolve()),
        "pass_label": task.pass_label if verdict else None,
        "cases": {
            case.id: {
                "expected": case.expected.describe(),
                "expected_label": case.expected.verdict,
                "difficulty": case.difficulty,
                "prompt_hash": case.prompt_hash,
            }
            for case in task.cases
        },
    }


@dataclass(frozen=True)
class Crash:
    """A worker that died while running a case item."""

    worker: str
    nodeid: str
    reason: str
    case: CaseId | None = None

    def message(self) -> str:
        return (
            f"worker {self.worker} crashed while running this case ({self.reason}); "
            "xdist replaced it and the run went on"
        )


@dataclass
class Distribution:
    """What the controller learns about the workers of one xdist run."""

    scheduler: str = ""
    """Who spread the items: ``pytest-llmbench`` or xdist's ``--dist`` mode."""
    check: GroupingCheck | None = None
    ran: dict[str, Counter[str]] = field(default_factory=dict)
    """Model -> worker -> case items it ran there."""
    loaded: dict[str, list[str]] = field(default_factory=dict)
    """Worker -> the models it loaded (from the workers that finished)."""
    down: dict[str, str] = field(default_factory=dict)
    """Worker -> why it went down (only workers that did not finish normally)."""
    crashes: list[Crash] = field(default_factory=list)
    hosts: dict[str, str | None] = field(default_factory=dict)
    """Model id -> the host that serves it, as the controller placed it."""

    @property
    def active(self) -> bool:
        return bool(self.scheduler or self.ran or self.crashes)

    def scheduled(
        self, scheduler: str, check: GroupingCheck, hosts: Mapping[str, str | None] | None
    ) -> None:
        """Who spreads the items, whether it keeps models together, and (by model) where."""
        self.scheduler = scheduler
        self.check = check
        if hosts is not None:
            self.hosts = dict(hosts)

    def went_down(self, worker: str, error: object) -> None:
        """A worker that did not finish normally, and why (on one line)."""
        self.down[worker] = one_line(error)

    def crashed(self, crash: Crash) -> None:
        self.crashes.append(crash)

    def record(self, model: str, worker: str) -> None:
        self.ran.setdefault(model, Counter())[worker] += 1

    def crashed_workers(self) -> set[str]:
        return {c.worker for c in self.crashes}

    def split_models(self) -> dict[str, list[str]]:
        """Models that ran on several workers that were up at the same time.

        A worker that crashed does not count: the rest of its model went to another.
        """
        crashed = self.crashed_workers()
        split = {}
        for model, workers in self.ran.items():
            alive = sorted(w for w in workers if w not in crashed)
            if len(alive) > 1:
                split[model] = alive
        return split

    def startup_lines(self, workers: int, hint: str = "") -> list[str]:
        """What the controller says once the items are spread over the workers."""
        check = self.check
        if check is None or not check.models:
            return []
        models = len(check.models)
        if check.grouped:
            return [
                f"llmbench: xdist: {models} model(s) on {workers} worker(s), "
                f"each model's items on one worker ({self.scheduler})"
            ]
        return [
            f"llmbench: xdist: WARNING: {self._ungrouped(check)}",
            *([f"llmbench: xdist: {hint}"] if hint else []),
        ]

    def _ungrouped(self, check: GroupingCheck) -> str:
        names = ", ".join(check.split[:5]) + (" ..." if len(check.split) > 5 else "")
        return (
            f"{self.scheduler} does not keep a model on one worker: "
            f"{len(check.split)} of {len(check.models)} model(s) may be loaded by several "
            f"workers at once ({names})"
        )

    @staticmethod
    def _split(split: Mapping[str, Sequence[str]]) -> str:
        parts = [f"{m} ({', '.join(ws)})" for m, ws in sorted(split.items())]
        return f"{len(split)} model(s) ran on several workers (each loaded it): {'; '.join(parts)}"

    def warnings(self) -> list[str]:
        """What deserves a warning (``LLMBenchWarning``): models not kept on one worker."""
        found = []
        if self.check is not None and self.check.models and not self.check.grouped:
            found.append(f"xdist: {self._ungrouped(self.check)}")
        split = self.split_models()
        if split:
            found.append(f"xdist: {self._split(split)}")
        return found

    def summary_lines(self, results: Sequence[Result]) -> list[str]:
        """The summary's lines about workers, hosts and crashes."""
        if not self.active:
            return []
        workers = sorted({w for counts in self.ran.values() for w in counts})
        lines: list[str] = []
        split = self.split_models()
        if split:
            lines.append(f"llmbench: xdist: WARNING: {self._split(split)}")
        elif self.ran:
            lines.append(
                f"llmbench: xdist: {len(self.ran)} model(s) on {len(workers)} worker(s), "
                "each model on one worker"
            )
        lines.extend(host_lines(results))
        for crash in self.crashes:
            where = crash.nodeid.split("::", 1)[-1]
            lines.append(
                f"llmbench: xdist: worker {crash.worker} crashed while running {where} "
                f"({crash.reason}); that case counts as an error"
            )
        return lines

    def to_json(self) -> dict[str, Any]:
        workers = sorted({w for c in self.ran.values() for w in c} | set(self.loaded))
        return {
            "scheduler": self.scheduler,
            "grouped": not self.split_models(),
            "workers": {
                w: {
                    "models": sorted(m for m, counts in self.ran.items() if w in counts),
                    "loaded": list(self.loaded.get(w, [])),
                }
                for w in workers
            },
            "crashed": [
                {"worker": c.worker, "nodeid": c.nodeid, "reason": c.reason} for c in self.crashes
            ],
        }

    def crash_results(self, tasks: Mapping[str, Mapping[str, Any]]) -> list[Result]:
        """One error record per crashed case item, from what the workers said of its task."""
        found = []
        for crash in self.crashes:
            case = crash.case
            if case is None:
                continue
            task = tasks.get(case.task, {})
            facts = task.get("cases", {}).get(case.case_id, {})
            found.append(
                Result(
                    task=case.task,
                    case_id=case.case_id,
                    model=case.model,
                    repeat=case.repeat,
                    expected=str(facts.get("expected", "")),
                    got="",
                    correct=False,
                    reason=crash.message(),
                    error=crash.message(),
                    prompt_hash=str(facts.get("prompt_hash", "")),
                    host=self.hosts.get(case.model),
                    kind=str(task.get("kind", "text")),
                    expected_label=facts.get("expected_label"),
                    pass_label=task.get("pass_label"),
                    difficulty=str(facts.get("difficulty", "medium")),
                    prompt_version=case.prompt_version,
                )
            )
        return found


def host_lines(results: Sequence[Result]) -> list[str]:
    """One line per host when results came from several: its models and calls."""
    per_host: dict[str, Counter[str]] = {}
    for r in results:
        if r.host and r.host != "local":
            per_host.setdefault(r.host, Counter())[r.model] += 1
    if len(per_host) < 2:
        return []
    lines = [f"llmbench: {len(per_host)} hosts:"]
    for host, models in sorted(per_host.items()):
        lines.append(
            f"  {host}: {sum(models.values())} call(s), {len(models)} model(s): "
            + ", ".join(sorted(models))
        )
    return lines
