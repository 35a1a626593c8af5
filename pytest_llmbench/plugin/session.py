"""State of one pytest-llmbench run, kept in ``config.stash``.

:class:`BenchSession` is a small composition, one object per concern:

- :class:`ModelCatalogue`: the providers and the models to run (discovery, selection,
  ``--llm-models=registry``), and the header lines that say what was chosen and why;
- :class:`~pytest_llmbench.execution.lifecycle.ModelLifecycle`: loading and unloading
  models, and the pipeline that sends a remote model's next call ahead;
- :class:`~pytest_llmbench.analysis.ledger.ResultsLedger`: what the run owes and what
  it got, with the plain data xdist workers send;
- :class:`~pytest_llmbench.execution.judging.Judging`: the judge jobs, judged at the end;
- the :class:`~pytest_llmbench.analysis.run.RunOutcome` of :meth:`BenchSession.finish`.

Nothing outside this module writes into them; the hooks call their methods.
"""

from __future__ import annotations

import datetime as _dt
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmbench import __version__
from pytest_llmbench.analysis.elimination import Eliminator
from pytest_llmbench.analysis.ledger import ResultsLedger
from pytest_llmbench.cases.model import Case, Task
from pytest_llmbench.execution.cache import ResponseCache
from pytest_llmbench.execution.call import Call, fetch
from pytest_llmbench.execution.distribute import Distribution
from pytest_llmbench.execution.lifecycle import LifecycleSettings, ModelLifecycle
from pytest_llmbench.execution.results import Result
from pytest_llmbench.plugin.options import Options
from pytest_llmbench.providers.base import BuiltinSettings, Discovery, ModelInfo
from pytest_llmbench.providers.redaction import register_environment_secrets, shown
from pytest_llmbench.providers.registry import ProviderRegistry
from pytest_llmbench.selection.newcomers import NEW_ENTRY, newcomers
from pytest_llmbench.selection.registry import REGISTRY_ENTRY, registered_models
from pytest_llmbench.selection.rules import LeftOut
from pytest_llmbench.selection.spec import SelectionError, parse_spec, providers_needed
from pytest_llmbench.storage.champions import RegistryEntry, RegistryError, load_registry

if TYPE_CHECKING:
    from pytest_llmbench.analysis.ranking import TaskRanking
    from pytest_llmbench.analysis.run import RunOutcome
    from pytest_llmbench.execution.judging import Judging

__all__ = ["BENCH_KEY", "BenchSession", "ModelCatalogue", "get_bench", "header_lines"]


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


class BenchSession:
    """One run: its options, catalogue, model lifecycle, ledger, judging and outcome."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        register_environment_secrets()  # before anything can show or write one
        self.options = options = Options.from_config(config)
        self.cache = ResponseCache(options.cache_dir, options.cache_mode)
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self.catalogue = catalogue = ModelCatalogue(config, options, self.cache)
        self.lifecycle = ModelLifecycle(
            lambda: catalogue.providers,
            catalogue.resolved,
            self.cache,
            LifecycleSettings(options.keep_loaded, options.prefetch, options.timeout_s),
        )
        self.ledger = ResultsLedger()
        self.distribution = Distribution()
        """xdist controller: what happened on the workers."""
        self.eliminator = Eliminator()
        """The first wrong run of each (task, model) (``--llm-eliminate``)."""
        self.judging: Judging | None = None
        """The judge checks, run after the candidates (made for a task that uses a judge)."""
        self.outcome: RunOutcome | None = None
        """What the end of the run found (the controller's, after :meth:`finish`)."""
        self._guessed_formats: set[str] = set()
        """Embedded models warned about for a fallback chat format (once each)."""
        self.default_difficulty: dict[str, int] = {}
        """Per task collected here, its cases that give no difficulty (marked ``medium``)."""

    def add_task(self, task: Task) -> None:
        """A collected task: what ranking, judging and the header need of it."""
        self.ledger.add_task(task)
        if task.judge is not None or any(c.expected.quality.judge for c in task.cases):
            self._judging().add_task(task)
        defaults = sum(1 for case in task.cases if case.difficulty_default)
        if defaults:
            self.default_difficulty[task.name] = defaults

    def _judging(self) -> Judging:
        if self.judging is None:
            from pytest_llmbench.execution.judging import Judging

            self.judging = Judging()
        return self.judging

    def queue_judging(self, task: Task, case: Case, result: Result, call: Call) -> None:
        """Queue the judging of one answer (after the candidates), if its task has a judge."""
        if self.judging is not None:
            self.judging.queue(task, case, result, call)

    def first_guess(self, model: ModelInfo) -> bool:
        """Whether ``model`` is the first time a fallback chat format is used (warn once)."""
        first = model.id not in self._guessed_formats
        self._guessed_formats.add(model.id)
        return first

    def finish(self, stopped: str | None) -> RunOutcome:
        """The end of the run (controller): crashes recorded, judged, ranked, weighed."""
        from pytest_llmbench.analysis.run import finish_run

        ledger = self.ledger
        for crashed in self.distribution.crash_results(ledger.task_facts):
            ledger.add_result(crashed)
        config = self.config
        self.outcome = outcome = finish_run(
            ledger,
            lambda task, results, expected: config.hook.pytest_llmbench_rank(
                config=config, task=task, results=results, expected=expected
            ),
            judging=self.judging,
            judges=_Judges(self),
            registered=lambda task: _registered(self.options.registry_path, task),
            consensus_pairs=self.options.consensus_pairs,
            eliminator=self.eliminator if self.options.eliminate else None,
            stopped=stopped,
        )
        ledger.results[:] = outcome.results
        return outcome

    @property
    def rankings(self) -> list[TaskRanking]:
        return self.outcome.rankings if self.outcome is not None else []

    def worker_output(self) -> dict[str, Any]:
        """What an xdist worker sends the controller (tasks collected, models loaded)."""
        return {
            **self.ledger.worker_output(),
            "loads": list(self.lifecycle.loads),
            "judging": self.judging.worker_output() if self.judging is not None else {},
        }

    def merge_worker_output(self, data: dict[str, Any], worker: str | None = None) -> None:
        self.ledger.merge_worker_output(data)
        if data.get("judging"):
            self._judging().merge_worker_output(data["judging"])
        if worker is not None:
            self.distribution.loaded[worker] = list(data.get("loads", []))

    def run_info(self, exitstatus: int | None = None, run_id: str | None = None) -> dict[str, Any]:
        outcome = self.outcome
        partial = outcome.partial if outcome is not None else None
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
            "id": run_id,
            "partial": partial is not None,
            "partial_reason": partial,
            "cache_only": outcome.cache_only if outcome is not None else False,
            **({"xdist": self.distribution.to_json()} if self.distribution.active else {}),
        }


class _Judges:
    """The models judging may use: this run's providers, lifecycle and response cache."""

    def __init__(self, bench: BenchSession) -> None:
        self.bench = bench

    def find(self, model_id: str) -> ModelInfo | None:
        return self.bench.catalogue.find_model(model_id)

    def registered(self) -> Mapping[str, Sequence[str]]:
        try:
            entries = load_registry(self.bench.options.registry_path)
        except RegistryError:
            return {}  # a task:NAME judge then says it has no registered champion
        return {task: entry.models for task, entry in entries.items()}

    def load(self, model: ModelInfo) -> str | None:
        lifecycle = self.bench.lifecycle
        lifecycle.ensure_loaded(model)
        return lifecycle.unavailable.get(model.id)

    def ask(self, model: ModelInfo, prompt: str) -> Call:
        from pytest_llmbench.execution.judge import judge_request

        bench = self.bench
        provider = bench.catalogue.providers.get(model.provider)
        request = judge_request(model, prompt, bench.options.timeout_s)
        cache = bench.cache if bench.cache.mode != "off" else None
        return fetch(provider, model, request, 1, cache=cache)

    def release(self, model: ModelInfo) -> None:
        self.bench.lifecycle.release(model)
        self.bench.lifecycle.first_call.pop(model.id, None)


def _registered(path: Path, task: str) -> list[str]:
    """The task's registered models (champion, runner-up, fallbacks), if the registry
    can be read (else none: this run's order alone)."""
    try:
        entry = load_registry(path).get(task) if path.is_file() else None
    except (RegistryError, OSError):
        return []
    return list(entry.chain) if entry is not None else []


BENCH_KEY = pytest.StashKey[BenchSession]()


def get_bench(config: pytest.Config) -> BenchSession:
    return config.stash[BENCH_KEY]


def header_lines(catalogue: ModelCatalogue) -> list[str]:
    """What the run chose and why: the header lines after collection."""
    models = catalogue.all_models()
    lines = [f"llmbench: {len(models)} model(s): {', '.join(m.id for m in models) or 'none'}"]
    if catalogue.left_out:
        lines.append(f"llmbench: left out {len(catalogue.left_out)} model(s):")
        lines.extend(f"  {item.describe()}" for item in catalogue.left_out)
    verbose = catalogue.config.get_verbosity() > 0
    for name, found in catalogue.discoveries.items():
        if found.problem and (verbose or not found.unconfigured):
            hint = f" ({found.hint})" if found.hint else ""
            lines.append(f"llmbench: {name} left out: {found.problem}{hint}")
        lines.extend(f"llmbench: {name}: {note}" for note in found.notes)
    if catalogue.cache.mode != "off":
        what = {
            "read": "answers from the cache only, no model is called",
            "write": "live answers are stored",
            "readwrite": "stored answers are used, missing ones fetched and stored",
        }[catalogue.cache.mode]
        lines.append(
            f"llmbench: response cache {catalogue.cache.mode} ({what}): {catalogue.cache.directory}"
        )
    if catalogue.uses_registry():
        for task, task_models in catalogue.task_models.items():
            names = ", ".join(m.id for m in task_models) or "none"
            lines.append(f"llmbench: registry: {task}: {names}")
        lines.extend(f"llmbench: {note}" for note in catalogue.registry_notes)
    if catalogue.uses_new():
        source = catalogue.options.history_read
        if source is None or not source.is_file():
            lines.append(f"llmbench: new: no history at {source}: every model is new")
        lines.extend(f"llmbench: {note}" for note in catalogue.new_notes)
    return [shown(line) for line in lines]
