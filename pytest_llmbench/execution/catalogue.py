"""The run's providers and the models it runs: :class:`ModelCatalogue`.

Resolved once, on first use: the providers (filled by whoever drives the run: the
pytest plugin's ``pytest_llmbench_register_providers`` hook), discovery (or the
response cache's models with ``--llm-cache=read``), the selection (``--llm-models``
and the selection rules), and per task ``--llm-models=registry`` (the registered
champion and runner-up first) and ``--llm-models=new`` (only the models the history
lacks on the task's current prompt).  What it reads of the run's stores (the
champions file, the history) comes in through :class:`CatalogueSources`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_llmbench.cases.records import Task
from pytest_llmbench.execution.cache import ResponseCache
from pytest_llmbench.providers.base import BuiltinSettings, Discovery, ModelInfo
from pytest_llmbench.providers.registry import ProviderRegistry
from pytest_llmbench.safety.sanitising import shown
from pytest_llmbench.selection.newcomers import NEW_ENTRY, newcomers
from pytest_llmbench.selection.registry import REGISTRY_ENTRY, registered_models
from pytest_llmbench.selection.rules import LeftOut
from pytest_llmbench.selection.spec import SelectionError, parse_spec, providers_needed

__all__ = ["CatalogueSources", "ModelCatalogue", "header_lines"]


@dataclass(frozen=True)
class CatalogueSources:
    """Where the catalogue's models come from: settings, spec, and how to read the rest.

    ``registered`` and ``benchmarked`` raise :class:`SelectionError` for a champions
    file or a history that cannot be read.
    """

    settings: BuiltinSettings
    spec: str
    """``--llm-models`` as given."""
    start: Path
    """Where the run started (``@file`` entries are relative to it)."""
    registry_path: Path
    history_read: Path | None
    register: Callable[[ProviderRegistry], None]
    """Fills the provider registry."""
    select: Callable[[list[ModelInfo]], Sequence[ModelInfo]]
    """The models to run, of those the providers offer."""
    registered: Callable[[Path], Mapping[str, Sequence[str]]]
    """Per task, its registered model ids (champion first), from a champions file."""
    benchmarked: Callable[[str], Mapping[str, set[str]]]
    """Per model id, the prompt hashes the history has a task benchmarked on."""
    changed: Callable[[str, Sequence[ModelInfo]], Mapping[str, str]] | None = None
    """Of a task's models, those whose weights changed since the registry recorded them:
    model id -> ``old -> new`` (``--llm-models=new`` runs them again)."""


def _spec(sources: CatalogueSources) -> list[str]:
    return parse_spec(sources.spec, sources.start)


class ModelCatalogue:
    """The run's providers and the models it runs, resolved once, on first use."""

    def __init__(self, sources: CatalogueSources, cache: ResponseCache) -> None:
        self.sources = sources
        self.cache = cache
        self._providers: ProviderRegistry | None = None
        self._models: list[ModelInfo] | None = None
        self.discoveries: dict[str, Discovery] = {}
        self.selection_error: str | None = None
        self.left_out: list[LeftOut] = []
        """Models the selection rules left out (told by the default selection)."""
        self.task_models: dict[str, list[ModelInfo]] = {}
        """``--llm-models=registry``: per task, its registered models first, then the rest."""
        self.registry_notes: list[str] = []
        self._registry: Mapping[str, Sequence[str]] | None = None
        self.newcomers: dict[str, list[ModelInfo]] = {}
        """``--llm-models=new``: per task, the models not benchmarked on its current prompt."""
        self.new_notes: list[str] = []

    @property
    def providers(self) -> ProviderRegistry:
        """The provider registry, filled by ``pytest_llmbench_register_providers``."""
        if self._providers is None:
            providers = ProviderRegistry(self.sources.settings)
            self.sources.register(providers)
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
        return list(self.sources.select(available))

    def entries(self) -> list[str]:
        """The ``--llm-models`` entries (``@file`` expanded), without ``registry`` and
        ``new`` (``new`` alone: ``all``, the models it picks the newcomers from)."""
        spec = _spec(self.sources)
        entries = [e for e in spec if e not in (REGISTRY_ENTRY, NEW_ENTRY)]
        if not entries and NEW_ENTRY in spec and REGISTRY_ENTRY not in spec:
            return ["all"]
        return entries

    def uses_new(self) -> bool:
        """``--llm-models`` names ``new``: each task runs only its newcomers."""
        try:
            return NEW_ENTRY in _spec(self.sources)
        except SelectionError:
            return False

    def uses_registry(self) -> bool:
        """``--llm-models`` names ``registry``: each task adds its champion and runner-up."""
        try:
            return REGISTRY_ENTRY in _spec(self.sources)
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
            try:
                known = self.sources.benchmarked(task.name)
            except SelectionError as exc:
                self.selection_error = f"--llm-models=new: {exc}"
                return []
            hashes = [case.prompt_hash for case in task.cases]
            changed = self.sources.changed(task.name, models) if self.sources.changed else {}
            found, notes = newcomers(task.name, models, known, hashes, changed)
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
            registered, notes = registered_models(
                task,
                entries.get(task),
                self.providers.names(),
                self._discover,
                source=self.sources.registry_path.name,
            )
            self.registry_notes.extend(notes)
            ids = {m.id for m in registered}
            self.task_models[task] = registered + [m for m in models if m.id not in ids]
        return self.task_models[task]

    def _registry_entries(self) -> Mapping[str, Sequence[str]]:
        """The champions file ``--llm-models=registry`` reads, loaded once."""
        if self._registry is None:
            path = self.sources.registry_path
            if not path.is_file():
                raise SelectionError(
                    f"--llm-models=registry: no registry at {path}; write one with "
                    "--llm-update-registry (or name it with --llm-registry PATH)"
                )
            try:
                self._registry = self.sources.registered(path)
            except SelectionError as exc:
                raise SelectionError(f"--llm-models=registry: {exc}") from None
        return self._registry

    def leave_out(self, left_out: Sequence[LeftOut]) -> None:
        """What the selection rules left out (the header lists them)."""
        self.left_out = list(left_out)

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


def header_lines(catalogue: ModelCatalogue, verbose: bool = False) -> list[str]:
    """What the run chose and why: the header lines after collection."""
    models = catalogue.all_models()
    lines = [f"llmbench: {len(models)} model(s): {', '.join(m.id for m in models) or 'none'}"]
    if catalogue.left_out:
        lines.append(f"llmbench: left out {len(catalogue.left_out)} model(s):")
        lines.extend(f"  {item.describe()}" for item in catalogue.left_out)
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
        source = catalogue.sources.history_read
        if source is None or not source.is_file():
            lines.append(f"llmbench: new: no history at {source}: every model is new")
        lines.extend(f"llmbench: {note}" for note in catalogue.new_notes)
    return [shown(line) for line in lines]
