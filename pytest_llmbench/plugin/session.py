"""State of one pytest-llmbench run, kept in ``config.stash``.

:class:`BenchSession` is a small composition, one object per concern:

- :class:`ModelCatalogue`: the providers and the models to run (discovery, selection,
  ``--llm-models=registry``), and the header lines that say what was chosen and why;
- :class:`ModelLifecycle`: loading and unloading models, and the pipeline that sends a
  remote model's next call ahead;
- :class:`ResultsLedger`: what the run owes (collected runs, skipped runs, per-task
  facts) and what it got (results), with the plain data xdist workers send.

Nothing outside this module writes into them; the hooks call their methods.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import platform
import threading
from concurrent.futures import Future
from typing import Any

import pytest

from pytest_llmbench._version import __version__
from pytest_llmbench.analysis.alerts import Limits
from pytest_llmbench.analysis.elimination import Eliminator
from pytest_llmbench.analysis.ranking import DEFAULT_WEIGHTS, TaskRanking
from pytest_llmbench.cases.records import Task
from pytest_llmbench.execution.cache import ResponseCache
from pytest_llmbench.execution.call import Call
from pytest_llmbench.execution.pipeline import Pipeline, worth_sending_ahead
from pytest_llmbench.execution.results import Result
from pytest_llmbench.plugin.consensus import consensus_settings
from pytest_llmbench.plugin.distribute import Distribution, task_facts
from pytest_llmbench.plugin.judging import Judging
from pytest_llmbench.plugin.options import Options
from pytest_llmbench.providers.base import (
    BuiltinSettings,
    Discovery,
    ModelInfo,
    ModelNotFound,
    ProviderError,
)
from pytest_llmbench.providers.registry import ProviderRegistry
from pytest_llmbench.safety.redaction import register_environment_secrets
from pytest_llmbench.safety.sanitising import shown
from pytest_llmbench.selection.newcomers import NEW_ENTRY, newcomers
from pytest_llmbench.selection.registry import REGISTRY_ENTRY, registered_models
from pytest_llmbench.selection.rules import LeftOut
from pytest_llmbench.selection.spec import SelectionError, parse_spec, providers_needed
from pytest_llmbench.storage.champions import RegistryEntry, RegistryError, load_registry

__all__ = [
    "BENCH_KEY",
    "BenchSession",
    "ModelCatalogue",
    "ModelLifecycle",
    "ResultsLedger",
    "get_bench",
]

Runs = dict[str, dict[tuple[str, int], set[str]]]
"""Per task, (case id, repeat) -> the models (``ResultsLedger.expected`` and ``skipped``)."""


class ModelCatalogue:
    """The run's providers and the models it runs, resolved once, on first use."""

    def __init__(self, config: pytest.Config, options: Options, cache: ResponseCache) -> None:
        self.config = config
        self.options = options
        self.cache = cache
        self.settings = BuiltinSettings(
            ollama_hosts=options.ollama_hosts,
            timeout_s=options.timeout_s,
            gguf_models=options.gguf,
            gguf_chat_formats=options.gguf_chat_formats,
            retries=options.retries,
            retry_backoff_s=options.retry_backoff_s,
            openai_endpoints=options.endpoints,
            lean_http=options.lean_http,
            provider_options=options.provider_options,
            state_dir=options.state_dir,
        )
        self._providers: ProviderRegistry | None = None
        self._models: list[ModelInfo] | None = None
        self.discoveries: dict[str, Discovery] = {}
        self.selection_error: str | None = None
        self.left_out: list[LeftOut] = []
        """Models the selection rules left out (filled by the default selection hook)."""
        self.task_models: dict[str, list[ModelInfo]] = {}
        """``--llm-models=registry``: per task, its registered models first, then the rest."""
        self.registry_notes: list[str] = []
        self._registry: dict[str, RegistryEntry] | None = None
        self.newcomers: dict[str, list[ModelInfo]] = {}
        """``--llm-models=new``: per task, the models not benchmarked on its current prompt."""
        self.new_notes: list[str] = []

    @property
    def providers(self) -> ProviderRegistry:
        """The provider registry, filled by ``pytest_llmbench_register_providers``."""
        if self._providers is None:
            providers = ProviderRegistry(self.settings)
            self.config.hook.pytest_llmbench_register_providers(
                registry=providers, config=self.config
            )
            self._providers = providers
        return self._providers

    def models(self) -> list[ModelInfo]:
        """The models to run, resolved once (on first use, i.e. when a case file is collected).

        A bad ``--llm-models`` is remembered in ``selection_error`` and raised as a
        usage error once collection is over (see the plugin's hooks).
        """
        if self._models is None:
            try:
                self._models = self._resolve()
            except SelectionError as exc:
                self.selection_error = str(exc)
                self._models = []
        return self._models

    def _resolve(self) -> list[ModelInfo]:
        entries = self.entries()
        if not entries and self.uses_registry():
            return []  # --llm-models=registry alone: each task's models, see models_for()
        for name in providers_needed(entries, self.providers.names()):
            if self.cache.offline:  # --llm-cache=read: the models the cache has answers for
                self.discoveries[name] = self.cache.discovery(name)
            else:
                self.discoveries[name] = self.providers.discover(name)
        available = [m for d in self.discoveries.values() for m in d.models]
        chosen: list[ModelInfo] = self.config.hook.pytest_llmbench_select_models(
            config=self.config, spec=self.options.models, available=available
        )
        return list(chosen)

    def _spec(self) -> list[str]:
        return parse_spec(self.options.models, self.config.invocation_params.dir)

    def entries(self) -> list[str]:
        """The ``--llm-models`` entries (``@file`` expanded), without ``registry`` and
        ``new`` (``new`` alone: ``all``, the models it picks the newcomers from)."""
        spec = self._spec()
        entries = [e for e in spec if e not in (REGISTRY_ENTRY, NEW_ENTRY)]
        if not entries and NEW_ENTRY in spec and REGISTRY_ENTRY not in spec:
            return ["all"]
        return entries

    def uses_new(self) -> bool:
        """``--llm-models`` names ``new``: each task runs only its newcomers."""
        try:
            return NEW_ENTRY in self._spec()
        except SelectionError:
            return False

    def uses_registry(self) -> bool:
        """``--llm-models`` names ``registry``: each task adds its champion and runner-up."""
        try:
            return REGISTRY_ENTRY in self._spec()
        except SelectionError:
            return False

    def models_for(self, task: Task) -> list[ModelInfo]:
        """The models to run on one task: the selection, with ``--llm-models=registry``
        the task's registered champion and runner-up first, and with ``new`` only the
        models the history lacks on the task's current prompt."""
        models = self._registered_first(task.name)
        if not self.uses_new() or self.selection_error:
            return models
        if task.name not in self.newcomers:
            from pytest_llmbench.storage.history import HistoryError, benchmarked

            source = self.options.history_read
            try:
                known = benchmarked(source, [task.name]).get(task.name, {}) if source else {}
            except HistoryError as exc:
                self.selection_error = f"--llm-models=new: {exc}"
                return []
            hashes = [case.prompt_hash for case in task.cases]
            found, notes = newcomers(task.name, models, known, hashes)
            self.newcomers[task.name] = found
            self.new_notes.extend(notes)
        return self.newcomers[task.name]

    def _registered_first(self, task: str) -> list[ModelInfo]:
        models = self.models()
        if not self.uses_registry() or self.selection_error:
            return models
        if task not in self.task_models:
            try:
                entries = self._registry_entries()
            except SelectionError as exc:
                self.selection_error = str(exc)
                return []
            entry = entries.get(task)
            registered, notes = registered_models(
                task,
                entry.models if entry is not None else None,
                self.providers.names(),
                self._discover,
                source=self.options.registry_path.name,
            )
            self.registry_notes.extend(notes)
            ids = {m.id for m in registered}
            self.task_models[task] = registered + [m for m in models if m.id not in ids]
        return self.task_models[task]

    def _registry_entries(self) -> dict[str, RegistryEntry]:
        """The champions file ``--llm-models=registry`` reads, loaded once."""
        if self._registry is None:
            path = self.options.registry_path
            if not path.is_file():
                raise SelectionError(
                    f"--llm-models=registry: no registry at {path}; write one with "
                    "--llm-update-registry (or name it with --llm-registry PATH)"
                )
            try:
                self._registry = load_registry(path)
            except RegistryError as exc:
                raise SelectionError(f"--llm-models=registry: {exc}") from None
        return self._registry

    def find_model(self, model_id: str) -> ModelInfo | None:
        """The model with this id (``:latest`` may be left out), if a provider offers it."""
        ids = (model_id, model_id + ":latest")
        found = next((m for m in self.all_models() if m.id in ids), None)
        provider = model_id.partition("/")[0]
        if found is None and provider in self.providers.names():
            found = next((m for m in self._discover(provider).models if m.id in ids), None)
        return found

    def _discover(self, provider: str) -> Discovery:
        if provider not in self.discoveries:
            self.discoveries[provider] = self.providers.discover(provider)
        return self.discoveries[provider]

    def all_models(self) -> list[ModelInfo]:
        """Every model resolved so far, each once: per-task models first, then the selection."""
        seen: dict[str, ModelInfo] = {}
        sources = [*self.task_models.values(), self._models or []]
        for models in list(self.newcomers.values()) if self.uses_new() else sources:
            for m in models:
                seen.setdefault(m.id, m)
        return list(seen.values())

    def resolved(self) -> dict[str, ModelInfo]:
        """The models resolved by the selection, by id (not those added per task)."""
        return {m.id: m for m in self._models or []}

    def header_lines(self) -> list[str]:
        models = self.all_models()
        lines = [f"llmbench: {len(models)} model(s): {', '.join(m.id for m in models) or 'none'}"]
        if self.left_out:
            lines.append(f"llmbench: left out {len(self.left_out)} model(s):")
            lines.extend(f"  {item.describe()}" for item in self.left_out)
        verbose = self.config.get_verbosity() > 0
        for name, found in self.discoveries.items():
            if found.problem and (verbose or not found.unconfigured):
                hint = f" ({found.hint})" if found.hint else ""
                lines.append(f"llmbench: {name} left out: {found.problem}{hint}")
            lines.extend(f"llmbench: {name}: {note}" for note in found.notes)
        if self.cache.mode != "off":
            what = {
                "read": "answers from the cache only, no model is called",
                "write": "live answers are stored",
                "readwrite": "stored answers are used, missing ones fetched and stored",
            }[self.cache.mode]
            lines.append(
                f"llmbench: response cache {self.cache.mode} ({what}): {self.cache.directory}"
            )
        if self.uses_registry():
            for task, task_models in self.task_models.items():
                names = ", ".join(m.id for m in task_models) or "none"
                lines.append(f"llmbench: registry: {task}: {names}")
            lines.extend(f"llmbench: {note}" for note in self.registry_notes)
        if self.uses_new():
            source = self.options.history_read
            if source is None or not source.is_file():
                lines.append(f"llmbench: new: no history at {source}: every model is new")
            lines.extend(f"llmbench: {note}" for note in self.new_notes)
        return [shown(line) for line in lines]


_NOT_LOADED = object()


class ModelLifecycle:
    """Which models are loaded in this process, and the calls sent ahead for them."""

    def __init__(self, catalogue: ModelCatalogue) -> None:
        self.catalogue = catalogue
        self.options = catalogue.options
        self.cache = catalogue.cache
        self.loaded: dict[str, float | None] = {}
        """Models loaded in this process (and not unloaded since): id -> cold start ms."""
        self.unavailable: dict[str, str] = {}
        """Models the server does not have: id -> the reason their items are skipped."""
        self.loads: list[str] = []
        """Every model this process loaded, in order (an xdist worker reports it)."""
        self.pipeline: Pipeline[Call | None] = Pipeline()
        """Calls to remote models, one at a time, the next sent before pytest is done."""
        self.first_call: dict[str, float | None] = {}
        """Models loaded whose first call is still to come: id -> load ms (the cold start)."""
        self._switches: dict[str, tuple[str, Future[Call | None]]] = {}
        """Model id -> its load (and the previous model's unload) queued on the pipeline."""
        self._handed_over: set[str] = set()
        """Models whose unload the pipeline does (pytest's thread must not)."""
        self._last_answer_ms: dict[str, float | None] = {}
        """Model id -> the wall time of its last call made now (``None``: from the cache)."""
        self._lock = threading.Lock()

    def answered(self, model: ModelInfo, call: Call) -> None:
        """Note how long ``model``'s last call took (it decides :meth:`sends_ahead`)."""
        if call.cached:
            self._last_answer_ms[model.id] = 0.0  # a local lookup: nothing to overlap
        elif call.error is None:
            self._last_answer_ms[model.id] = call.latency_ms

    def sends_ahead(self, model: ModelInfo) -> bool:
        """Whether ``model``'s calls go through the pipeline now (see the pipeline module:
        a model answering in under 2 ms is called inline)."""
        return self.pipelined(model) and worth_sending_ahead(self._last_answer_ms.get(model.id))

    def ensure_loaded(self, model: ModelInfo) -> None:
        """Load a model before its first case in this process; its load time goes to
        ``first_call`` (the cold start of the model's first result).

        A model the server does not have goes into ``unavailable`` (its items are
        skipped); any other load failure is left for the first call to report.
        """
        if model.id in self.loaded or model.id in self.unavailable:
            return
        if self.cache.offline:  # answers come from the cache: nothing to load
            self.loaded[model.id] = None
            self.first_call[model.id] = None
            return
        provider = self.catalogue.providers.get(model.provider)
        load = getattr(provider, "load", None)
        load_ms: float | None = None
        if callable(load):
            try:
                load_ms = load(model.name)
            except ModelNotFound as exc:
                self.unavailable[model.id] = str(exc)
                return
            except ProviderError:
                load_ms = None  # the call itself says what is wrong, as a failed case
        self.loaded[model.id] = load_ms
        self.first_call[model.id] = load_ms
        self.loads.append(model.id)

    def release(self, model: ModelInfo) -> None:
        """Unload a model after its last case here (unless ``--llm-keep-loaded``).

        Nothing to do when the pipeline unloads it (see :meth:`switch_ahead`).
        An unload that fails (server gone) is ignored: nothing is left to free.
        """
        with self._lock:
            if model.id in self._handed_over:
                return
        self._release(model)

    def _release(self, model: ModelInfo) -> None:
        if self.options.keep_loaded or self.loaded.pop(model.id, _NOT_LOADED) is _NOT_LOADED:
            return
        if self.cache.offline:  # nothing was loaded: the answers came from the cache
            return
        provider = self.catalogue.providers.get(model.provider)
        unload = getattr(provider, "unload", None)
        if callable(unload):
            with contextlib.suppress(ProviderError):
                unload(model.name)

    def switch_ahead(self, current: ModelInfo, following: ModelInfo) -> None:
        """Queue on the pipeline: unload ``current`` after its last call, load ``following``.

        The item before a model switch calls this before it waits for its own answer,
        so the server goes from one model's last answer to the next model's load, and
        on to its first case, without waiting for pytest; one request at a time all
        the same.  The next model's first item waits for it (:meth:`await_switch`).
        """
        with self._lock:
            self._handed_over.add(current.id)

        def job() -> None:
            try:
                self._release(current)
            finally:
                with self._lock:
                    self._handed_over.discard(current.id)
            self.ensure_loaded(following)

        key = f"switch:{current.id}->{following.id}"
        self._switches[following.id] = (key, self.pipeline.submit(key, job))

    def await_switch(self, model: ModelInfo) -> None:
        """Wait for a load of ``model`` queued by :meth:`switch_ahead` (if there is one)."""
        queued = self._switches.pop(model.id, None)
        if queued is not None:
            key, future = queued
            self.pipeline.take(key)
            self.pipeline.wait(future)

    def pipelined(self, model: ModelInfo) -> bool:
        """Whether this model's calls go through the pipeline (a remote model, prefetch on)."""
        if not self.options.prefetch:
            return False
        provider = self.catalogue.providers.get(model.provider)
        return getattr(provider, "remote", False) is True

    def release_all(self) -> None:
        """Unload every model still loaded (a run stopped early: ``-x``, Ctrl-C).

        A request sent ahead for an item that will not run is cancelled first (one
        already on the wire is left to end on its own: the worker is not waited for).
        """
        self.pipeline.close()
        for _, future in list(self._switches.values()):  # a load on its way: let it land
            with contextlib.suppress(Exception):  # cancelled, failed or too slow
                future.result(timeout=self.options.timeout_s)
        self._switches.clear()
        with self._lock:  # a switch cancelled before it started unloads nothing itself
            self._handed_over.clear()
        models = self.catalogue.resolved()
        for model_id in list(self.loaded):
            if model_id in models:
                self.release(models[model_id])


class ResultsLedger:
    """What the run owes (collected and skipped runs, per-task facts) and what it got."""

    def __init__(self) -> None:
        self.results: list[Result] = []
        self.case_counts: dict[str, int] = {}
        self.expected: Runs = {}
        """Per task, the (case id, repeat) runs collected for it, in order, with the models."""
        self.skipped: Runs = {}
        """Per task, the runs skipped (a skip mark, a missing model) and for which models."""
        self.task_ranking: dict[str, dict[str, Any]] = {}
        """Per task, from its case file: ``{"policy": ..., "weights": [q, s] or None}``."""
        self.task_facts: dict[str, dict[str, Any]] = {}
        """Per task, what a crashed case's record needs (see ``distribute.task_facts``)."""

    def add_result(self, result: Result) -> None:
        self.results.append(result)

    def add_task(self, task: Task) -> None:
        """Remember what ranking needs of a collected task (plain data: it crosses xdist)."""
        self.case_counts[task.name] = len(task.cases)
        weights = list(task.weights) if task.weights is not None else None
        self.task_ranking[task.name] = {
            "policy": task.policy,
            "weights": weights,
            "consensus": consensus_settings(task),
            "alerts": {
                "max_p95_ms": task.alerts.max_p95_ms,
                "max_error_rate": task.alerts.max_error_rate,
            },
        }
        self.task_facts[task.name] = task_facts(task)

    def expect(self, task: str, case_id: str, repeat: int, model: str) -> None:
        """Remember a collected run of a task: every model that runs the task owes it."""
        _add_run(self.expected, task, case_id, repeat, model)

    def skip(self, task: str, case_id: str, repeat: int, model: str) -> None:
        """Remember a run that was skipped without a result (it is owed by nobody then)."""
        _add_run(self.skipped, task, case_id, repeat, model)

    def expected_runs(self, task: str) -> tuple[tuple[str, int], ...]:
        """The (case id, repeat) runs of a task some model was to make (not skipped for all).

        Empty when none is known.  A run skipped for one model but made by another is
        owed by every model: a model that skipped it has not shown it gets it right.
        """
        skipped = self.skipped.get(task, {})
        return tuple(
            run
            for run, models in self.expected.get(task, {}).items()
            if models - skipped.get(run, set())
        )

    def models_owing(self, task: str) -> list[str]:
        """The models that owe a task some run (not those skipped on every run), by name."""
        skipped = self.skipped.get(task, {})
        owing: set[str] = set()
        for run, models in self.expected.get(task, {}).items():
            owing |= models - skipped.get(run, set())
        return sorted(owing)

    def models(self) -> list[str]:
        """Every model the run selected (collected for some task) or has a result of."""
        found = {r.model for r in self.results}
        for by_run in self.expected.values():
            for models in by_run.values():
                found |= models
        return sorted(found)

    def rank_settings(self, task: str, policy: str | None) -> tuple[str, tuple[float, float]]:
        """The policy (``policy``, i.e. ``--llm-rank``, wins over the task's) and the weights."""
        known = self.task_ranking.get(task, {})
        chosen = policy or known.get("policy") or "strict"
        weights = known.get("weights")
        return chosen, ((float(weights[0]), float(weights[1])) if weights else DEFAULT_WEIGHTS)

    def alert_limits(self, task: str, options: Options) -> Limits:
        """The task's alert limits: its case file's ``alerts:``, else the options'."""
        own = self.task_ranking.get(task, {}).get("alerts") or {}
        p95, rate = own.get("max_p95_ms"), own.get("max_error_rate")
        return Limits(
            max_p95_ms=options.max_p95_ms if p95 is None else float(p95),
            max_error_rate=options.max_error_rate if rate is None else float(rate),
        )

    def for_task(self, task: str) -> list[Result]:
        return [r for r in self.results if r.task == task]

    def task_names(self) -> list[str]:
        """The tasks that have results, in the order of their first result, then the tasks
        some model owes a run but none made (a run stopped early)."""
        seen: dict[str, None] = {}
        for r in self.results:
            seen.setdefault(r.task)
        for task in self.expected:
            if self.models_owing(task):
                seen.setdefault(task)
        return list(seen)

    def worker_output(self) -> dict[str, Any]:
        """What an xdist worker sends the controller about the tasks it collected."""
        return {
            "case_counts": dict(self.case_counts),
            "task_ranking": dict(self.task_ranking),
            "task_facts": dict(self.task_facts),
            "expected": _runs_data(self.expected),
            "skipped": _runs_data(self.skipped),
        }

    def merge_worker_output(self, data: dict[str, Any]) -> None:
        self.case_counts.update(data.get("case_counts", {}))
        self.task_ranking.update(data.get("task_ranking", {}))
        self.task_facts.update(data.get("task_facts", {}))
        _merge_runs(self.expected, data.get("expected", {}))
        _merge_runs(self.skipped, data.get("skipped", {}))


class BenchSession:
    """One run: its options, catalogue, model lifecycle, ledger and rankings."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        register_environment_secrets()  # before anything can show or write one
        self.options = Options.from_config(config)
        self.cache = ResponseCache(self.options.cache_dir, self.options.cache_mode)
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self.catalogue = ModelCatalogue(config, self.options, self.cache)
        self.lifecycle = ModelLifecycle(self.catalogue)
        self.ledger = ResultsLedger()
        self.distribution = Distribution()
        """xdist controller: what happened on the workers."""
        self.eliminator = Eliminator()
        """The first wrong run of each (task, model) (``--llm-eliminate``)."""
        self.rankings: list[TaskRanking] = []
        self.run_id: str | None = None
        """Names this run in the journal, the history and the reports."""
        self.guessed_formats: set[str] = set()
        """Embedded models warned about for a fallback chat format (once each)."""
        self.judging = Judging()
        """The judge checks, run after the candidates (plugin/judging.py)."""
        self.partial: str | None = None
        """Why the run's evidence is incomplete (stopped early, interrupted), else ``None``."""
        self.cache_only = False
        """Every answer came from the response cache: nothing was timed."""
        self.default_difficulty: dict[str, int] = {}
        """Per task collected here, its cases that give no difficulty (marked ``medium``)."""

    def judge_evidence(self, stopped: str | None) -> None:
        """After ranking: is the evidence complete enough to replace a champion?

        ``stopped``: why the run stopped before its last item, if it did.  The run is
        partial when it was interrupted, or stopped early with runs not made.
        """
        not_run = sorted(
            {s.model for r in self.rankings for s in r.standings if s.incomplete is not None}
        )
        if stopped == "interrupted" or (stopped and not_run):
            detail = f"; incomplete: {', '.join(not_run)}" if not_run else ""
            self.partial = f"{stopped}{detail}"
        results = self.ledger.results
        self.cache_only = bool(results) and all(r.cached for r in results)

    def worker_output(self) -> dict[str, Any]:
        """What an xdist worker sends the controller (tasks collected, models loaded)."""
        return {
            **self.ledger.worker_output(),
            "loads": list(self.lifecycle.loads),
            "judging": self.judging.worker_output(),
        }

    def merge_worker_output(self, data: dict[str, Any], worker: str | None = None) -> None:
        self.ledger.merge_worker_output(data)
        self.judging.merge_worker_output(data.get("judging", {}))
        if worker is not None:
            self.distribution.loaded[worker] = list(data.get("loads", []))

    def generic_failures(self) -> int:
        """How many runs the ranking failed for a generic answer (all tasks)."""
        return sum(len(r.generic) for r in self.rankings)

    def run_info(self, exitstatus: int | None = None) -> dict[str, Any]:
        return {
            "started_at": self.started.isoformat(timespec="seconds"),
            "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "plugin_version": __version__,
            "host": platform.node(),
            "python": platform.python_version(),
            "models": self.ledger.models(),
            "args": list(self.config.invocation_params.args),
            "exitstatus": exitstatus,
            "cache": self.cache.mode,
            "id": self.run_id,
            "partial": self.partial is not None,
            "partial_reason": self.partial,
            "cache_only": self.cache_only,
            **({"xdist": self.distribution.to_json()} if self.distribution.active else {}),
        }


BENCH_KEY = pytest.StashKey[BenchSession]()


def _add_run(runs: Runs, task: str, case_id: str, repeat: int, model: str) -> None:
    runs.setdefault(task, {}).setdefault((case_id, repeat), set()).add(model)


def _runs_data(runs: Runs) -> dict[str, list[Any]]:
    """Runs per task as plain data (for xdist): ``[[case_id, repeat, [models]], ...]``."""
    return {
        task: [[case_id, repeat, sorted(models)] for (case_id, repeat), models in by_run.items()]
        for task, by_run in runs.items()
    }


def _merge_runs(runs: Runs, data: dict[str, list[Any]]) -> None:
    """Add what :func:`_runs_data` made (on an xdist worker) to ``runs``."""
    for task, listed in data.items():
        for case_id, repeat, models in listed:
            for model in models:
                _add_run(runs, str(task), str(case_id), int(repeat), str(model))


def get_bench(config: pytest.Config) -> BenchSession:
    return config.stash[BENCH_KEY]
