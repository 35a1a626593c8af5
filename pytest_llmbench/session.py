"""State of one pytest-llmbench run, kept in ``config.stash``."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import __version__
from .models import SelectionError, parse_spec, providers_needed
from .providers import ProviderRegistry
from .providers.base import Discovery, ModelInfo, ProviderSettings
from .ranking import TaskRanking
from .registry import REGISTRY_ENTRY, registry_models, registry_path
from .results import Result

__all__ = ["BENCH_KEY", "BenchSession", "Options", "get_bench"]

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


@dataclass(frozen=True)
class Options:
    """The plugin's command-line and ini options, parsed."""

    models: str = "all"
    ollama_hosts: tuple[str, ...] = (DEFAULT_OLLAMA_HOST,)
    timeout_s: float = 120.0
    json_path: Path | None = None
    repeat: int | None = None
    gguf: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: pytest.Config) -> Options:
        hosts: list[str] = list(config.getoption("llm_ollama_host") or [])
        if not hosts:
            hosts = list(config.getini("llm_ollama_hosts"))
        if not hosts and os.environ.get("OLLAMA_HOST"):
            hosts = [os.environ["OLLAMA_HOST"]]
        gguf: dict[str, str] = {}
        for entry in [*config.getini("llm_gguf"), *(config.getoption("llm_gguf") or [])]:
            name, _, path = entry.partition("=")
            if not name.strip() or not path.strip():
                raise pytest.UsageError(f"--llm-gguf expects NAME=PATH, got {entry!r}")
            target = Path(path.strip()).expanduser()
            if not target.is_absolute():
                target = config.rootpath / target
            gguf[name.strip()] = str(target)
        json_path = config.getoption("llm_json")
        timeout = config.getoption("llm_timeout")
        return cls(
            models=config.getoption("llm_models") or str(config.getini("llm_models")),
            ollama_hosts=tuple(hosts) or (DEFAULT_OLLAMA_HOST,),
            timeout_s=float(timeout if timeout is not None else config.getini("llm_timeout")),
            json_path=Path(json_path) if json_path else None,
            repeat=config.getoption("llm_repeat"),
            gguf=gguf,
        )


class BenchSession:
    """Everything one run needs: providers, chosen models, results, rankings."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.options = Options.from_config(config)
        self.settings = ProviderSettings(
            ollama_hosts=self.options.ollama_hosts,
            timeout_s=self.options.timeout_s,
            gguf_models=self.options.gguf,
        )
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self._registry: ProviderRegistry | None = None
        self._models: list[ModelInfo] | None = None
        self.discoveries: dict[str, Discovery] = {}
        self.selection_error: str | None = None
        self.loaded: dict[str, float | None] = {}
        self.results: list[Result] = []
        self.case_counts: dict[str, int] = {}
        self.rankings: list[TaskRanking] = []
        self.run_id: str | None = None
        """Names this run in the journal, the history and the reports (set by ``tracking``)."""
        self.task_models: dict[str, list[ModelInfo]] = {}
        self.registry_notes: list[str] = []

    # -- providers and models -------------------------------------------------

    @property
    def registry(self) -> ProviderRegistry:
        if self._registry is None:
            registry = ProviderRegistry(self.settings)
            self.config.hook.pytest_llmbench_register_providers(
                registry=registry, config=self.config
            )
            self._registry = registry
        return self._registry

    def models(self) -> list[ModelInfo]:
        """The models to run, resolved once (on first use, i.e. when a case file is collected).

        A bad ``--llm-models`` is remembered in ``selection_error`` and raised as a
        usage error once collection is over (see ``plugin``).
        """
        if self._models is None:
            try:
                self._models = self._resolve()
            except SelectionError as exc:
                self.selection_error = str(exc)
                self._models = []
        return self._models

    def _resolve(self) -> list[ModelInfo]:
        spec = self.options.models
        entries = self.entries()
        if not entries and self.uses_registry():
            return []  # --llm-models=registry alone: each task's models, see models_for()
        for name in providers_needed(entries, self.registry.names()):
            self.discoveries[name] = self.registry.discover(name)
        available = [m for d in self.discoveries.values() for m in d.models]
        chosen: list[ModelInfo] = self.config.hook.pytest_llmbench_select_models(
            config=self.config, spec=spec, available=available
        )
        return list(chosen)

    def entries(self) -> list[str]:
        """The ``--llm-models`` entries (``@file`` expanded), without ``registry``."""
        entries = parse_spec(self.options.models, self.config.invocation_params.dir)
        return [e for e in entries if e != REGISTRY_ENTRY]

    def uses_registry(self) -> bool:
        """``--llm-models`` names ``registry``: each task adds its champion and runner-up."""
        try:
            entries = parse_spec(self.options.models, self.config.invocation_params.dir)
        except SelectionError:
            return False
        return REGISTRY_ENTRY in entries

    def models_for(self, task: str) -> list[ModelInfo]:
        """The models to run on one task: the selection, and with ``--llm-models=registry``
        the task's registered champion and runner-up first."""
        models = self.models()
        if not self.uses_registry() or self.selection_error:
            return models
        if task not in self.task_models:
            try:
                registered, notes = registry_models(
                    registry_path(self.config), task, self.registry.names(), self._discover
                )
            except SelectionError as exc:
                self.selection_error = str(exc)
                return []
            self.registry_notes.extend(notes)
            ids = {m.id for m in registered}
            self.task_models[task] = registered + [m for m in models if m.id not in ids]
        return self.task_models[task]

    def _discover(self, provider: str) -> Discovery:
        if provider not in self.discoveries:
            self.discoveries[provider] = self.registry.discover(provider)
        return self.discoveries[provider]

    def all_models(self) -> list[ModelInfo]:
        """Every model resolved so far, each once: per-task models first, then the selection."""
        seen: dict[str, ModelInfo] = {}
        for models in [*self.task_models.values(), self._models or []]:
            for m in models:
                seen.setdefault(m.id, m)
        return list(seen.values())

    def header_lines(self) -> list[str]:
        models = self.all_models()
        lines = [f"llmbench: {len(models)} model(s): {', '.join(m.id for m in models) or 'none'}"]
        for name, found in self.discoveries.items():
            if found.problem:
                hint = f" ({found.hint})" if found.hint else ""
                lines.append(f"llmbench: {name} left out: {found.problem}{hint}")
        return lines

    def ensure_loaded(self, model: ModelInfo) -> float | None:
        """Load a model before its first case in this process; the load time, once."""
        if model.id in self.loaded:
            return None
        provider = self.registry.get(model.provider)
        load = getattr(provider, "load", None)
        load_ms: float | None = load(model.name) if callable(load) else None
        self.loaded[model.id] = load_ms
        return load_ms

    # -- results --------------------------------------------------------------

    def add_result(self, result: Result) -> None:
        self.results.append(result)

    def task_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.results:
            seen.setdefault(r.task)
        return list(seen)

    def run_info(self, exitstatus: int | None = None) -> dict[str, Any]:
        return {
            "started_at": self.started.isoformat(timespec="seconds"),
            "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "plugin_version": __version__,
            "host": platform.node(),
            "python": platform.python_version(),
            "models": sorted({r.model for r in self.results}),
            "args": list(self.config.invocation_params.args),
            "exitstatus": exitstatus,
            "id": self.run_id,
        }


BENCH_KEY = pytest.StashKey[BenchSession]()


def get_bench(config: pytest.Config) -> BenchSession:
    return config.stash[BENCH_KEY]


def results_for(results: Sequence[Result], task: str) -> list[Result]:
    return [r for r in results if r.task == task]
