"""pytest-llmbench's xdist scheduler: each model's items on one worker, every host busy.

``pytest_xdist_make_scheduler`` (see :mod:`pytest_llmbench.plugin`) returns a
:class:`LLMBenchScheduling` for every ``-n`` run:

- with ``--dist load`` (what ``-n`` means by default) or ``loadgroup``, and
  ``--llm-dist=model`` (the default), a run that has case items is scheduled by
  :class:`ModelScheduling`: a model's items are one work unit, which xdist sends to one
  worker, so no model is loaded by two workers at once; a worker that needs work takes
  the next model whose host has the fewest other workers on it, so with as many
  workers as Ollama hosts every host serves one model at a time.  Other tests of the
  same run keep xdist's rule (each on its own, or its ``xdist_group``);
- a run without case items, another ``--dist`` mode or ``--llm-dist=xdist`` gets
  xdist's own scheduler, unchanged.

Either way, once the items are spread the controller checks whether each model's items
went to one worker and says so (``report``).

Why not ``--dist loadgroup`` with the ``xdist_group`` marks the items carry: on pytest
9.2 it does not group (pytest-xdist#1386: it renames node ids, which pytest 9.2 builds
from structured ids); this scheduler reads the model from the node id instead.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from xdist.remote import Producer
from xdist.scheduler import (
    EachScheduling,
    LoadFileScheduling,
    LoadGroupScheduling,
    LoadScheduling,
    LoadScopeScheduling,
    WorkStealingScheduling,
)

from pytest_llmbench.execution.distribute import (
    CaseId,
    Distribution,
    check_grouping,
    parse_case_id,
    pick_unit,
)

__all__ = [
    "MODEL_SCOPE",
    "LLMBenchScheduling",
    "ModelScheduling",
    "make_scheduler",
    "xdist_scheduler",
]

MODEL_SCOPE = "llmbench:"
"""Prefix of a model's work unit (scope) name: ``llmbench:ollama/qwen2.5:7b``."""
BY_MODEL_MODES = ("load", "loadgroup")
"""``--dist`` modes that pytest-llmbench schedules by model (``-n`` alone means ``load``)."""

Hosts = Mapping[str, "str | None"]


def xdist_scheduler(config: pytest.Config, log: Producer | None, dist: str) -> Any:
    """The scheduler xdist itself would make for ``--dist dist``."""
    kinds: dict[str, Any] = {
        "each": EachScheduling,
        "load": LoadScheduling,
        "loadscope": LoadScopeScheduling,
        "loadfile": LoadFileScheduling,
        "loadgroup": LoadGroupScheduling,
        "worksteal": WorkStealingScheduling,
    }
    return kinds.get(dist, LoadScheduling)(config, log)


class ModelScheduling(LoadScopeScheduling):  # type: ignore[misc]
    """xdist's scope scheduling with one scope per model, handed out host by host.

    ``hosts()`` gives each model id its host (``None``: no host, e.g. embedded); it is
    asked once, when the items are spread.  A worker that crashes does not get the item
    it died on again (its replacement would die too): that item is reported as crashed,
    the rest of its model goes back into the queue as one unit.
    """

    def __init__(
        self,
        config: pytest.Config,
        log: Producer | None = None,
        *,
        providers: Sequence[str] | None = None,
        hosts: Callable[[], Hosts] = dict,
    ) -> None:
        super().__init__(config, log)
        self.log = log.llmbenchsched if log is not None else Producer("llmbenchsched")
        self.dist = str(config.getvalue("dist"))
        self.providers = set(providers) if providers is not None else None
        self._hosts_of: Callable[[], Hosts] = hosts
        self.hosts: Hosts = {}
        self.has_hosts = False
        self._scopes: dict[str, str] = {}

    def parse(self, nodeid: str) -> CaseId | None:
        return parse_case_id(nodeid, self.providers, self.hosts.keys())

    def _split_scope(self, nodeid: str) -> str:
        scope = self._scopes.get(nodeid)
        if scope is None:
            case = self.parse(nodeid)
            if case is not None:
                scope = MODEL_SCOPE + case.model
            elif self.dist == "loadgroup" and nodeid.rfind("@") > nodeid.rfind("]"):
                scope = nodeid.split("@")[-1]  # an xdist_group, as LoadGroupScheduling does
            else:
                scope = nodeid  # any other test: a unit of its own, as under --dist load
            self._scopes[nodeid] = scope
        return scope

    def host_of(self, scope: str) -> str | None:
        if not scope.startswith(MODEL_SCOPE):
            return None
        return self.hosts.get(scope[len(MODEL_SCOPE) :])

    def schedule(self) -> None:
        if self.collection is None and not self.hosts:
            try:
                self.hosts = dict(self._hosts_of())
            except Exception as exc:  # placement is an optimisation: never fail the run
                self.log(f"no hosts for the models: {exc}")
                self.hosts = {}
            self.has_hosts = any(host is not None for host in self.hosts.values())
        super().schedule()

    def _assign_work_unit(self, node: Any) -> None:
        """Give ``node`` the first waiting unit whose host the fewest other workers use."""
        if self.has_hosts and len(self.workqueue) > 1:
            busy: Counter[str] = Counter()
            for other, workload in self.assigned_work.items():
                if other is not node:
                    busy.update(
                        {
                            host
                            for scope, unit in workload.items()
                            if (host := self.host_of(scope)) is not None and not all(unit.values())
                        }
                    )
            index = pick_unit((self.host_of(scope) for scope in self.workqueue), busy)
            scope = next(itertools.islice(self.workqueue, index, None))
            self.workqueue.move_to_end(scope, last=False)
        super()._assign_work_unit(node)

    def remove_node(self, node: Any) -> str | None:
        workload: dict[str, dict[str, bool]] = self.assigned_work.pop(node)
        crashitem = next(
            (nodeid for unit in workload.values() for nodeid, done in unit.items() if not done),
            None,
        )
        if crashitem is None:
            return None
        # Not again: the item a worker died on would take its replacement down too.
        workload[self._split_scope(crashitem)][crashitem] = True
        for scope, unit in workload.items():
            if not all(unit.values()):
                self.workqueue[scope] = unit
                self.workqueue.move_to_end(scope, last=False)
        for other in self.assigned_work:
            self._reschedule(other)
        return crashitem


def make_scheduler(
    config: pytest.Config,
    log: Producer | None,
    *,
    mode: str,
    providers: Sequence[str],
    hosts: Callable[[], Hosts],
    distribution: Distribution,
    report: Callable[[list[str]], None],
) -> LLMBenchScheduling:
    """The scheduler for an ``-n`` run; ``mode`` is ``--llm-dist`` (``model`` or ``xdist``)."""
    dist = str(config.getvalue("dist"))
    return LLMBenchScheduling(
        config,
        log,
        by_model=mode == "model" and dist in BY_MODEL_MODES,
        by_model_possible=mode == "model",
        providers=providers,
        hosts=hosts,
        distribution=distribution,
        report=report,
    )


class LLMBenchScheduling:
    """The scheduler xdist gets: :class:`ModelScheduling` or xdist's own (see module doc).

    Whether a run has case items is only known once the workers have collected: until
    then the nodes and collections go to :class:`ModelScheduling`; a run without case
    items then moves them to xdist's own scheduler.  Everything else is passed through.
    """

    def __init__(
        self,
        config: pytest.Config,
        log: Producer | None,
        *,
        by_model: bool,
        by_model_possible: bool = True,
        providers: Sequence[str],
        hosts: Callable[[], Hosts],
        distribution: Distribution,
        report: Callable[[list[str]], None],
    ) -> None:
        self.config = config
        self._log = log
        self.dist = str(config.getvalue("dist"))
        self.by_model_possible = by_model_possible
        self.providers = list(providers)
        self.distribution = distribution
        self._report = report
        self._ids: list[str] | None = None
        self._decided = not by_model
        self._reported = False
        self.active: Any = (
            ModelScheduling(config, log, providers=providers, hosts=hosts)
            if by_model
            else xdist_scheduler(config, log, self.dist)
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.active, name)

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        if self._ids is None:
            self._ids = list(collection)
        self.active.add_node_collection(node, collection)

    def schedule(self) -> None:
        if not self._decided:
            self._decided = True
            if not any(parse_case_id(i, self.providers) for i in self._ids or ()):
                self._fall_back()
        self.active.schedule()
        if not self._reported and self.active.collection_is_completed:
            self._reported = True
            self._check()

    def _fall_back(self) -> None:
        """No case items: hand the nodes and collections to xdist's own scheduler."""
        previous = self.active
        fallback = xdist_scheduler(self.config, self._log, self.dist)
        for node in previous.nodes:
            fallback.add_node(node)
        for node, ids in previous.registered_collections.items():
            fallback.add_node_collection(node, ids)
        self.active = fallback

    def describe(self) -> str:
        if isinstance(self.active, ModelScheduling):
            return "pytest-llmbench scheduler: one unit per model, hosts spread"
        return f"xdist --dist {self.dist}"

    def _check(self) -> None:
        active = self.active
        parse: Callable[[str], CaseId | None]
        if isinstance(active, ModelScheduling):
            parse = active.parse
        else:
            providers = self.providers

            def parse(nodeid: str) -> CaseId | None:
                return parse_case_id(nodeid, providers)

        scope_of = getattr(active, "_split_scope", None)
        check = check_grouping(
            self._ids or (),
            scope_of,
            parse,
            every_worker=isinstance(active, EachScheduling),
        )
        if not check.models:
            return  # no case items: nothing of ours to check
        hosts = dict(active.hosts) if isinstance(active, ModelScheduling) else None
        self.distribution.scheduled(self.describe(), check, hosts)
        if self.by_model_possible:
            hint = "leave --dist out (or use --dist load) to keep each model on one worker"
        else:
            hint = "drop --llm-dist=xdist to keep each model on one worker"
        if self.dist == "loadgroup":
            hint += "; --dist loadgroup does not group on pytest 9.2 (pytest-xdist#1386)"
        lines = self.distribution.startup_lines(len(active.nodes), hint)
        if lines:
            self._report(lines)
