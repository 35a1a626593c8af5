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
from .cache import DEFAULT_DIR, MODES, ResponseCache
from .endpoints import Endpoint, EndpointError, default_openai_endpoint, parse_endpoint
from .models import SelectionError, parse_spec, providers_needed
from .pricing import PriceError, PriceTable
from .providers import ProviderRegistry
from .providers.base import Discovery, ModelInfo, ProviderSettings
from .ranking import TaskRanking
from .redaction import redact, register_secret
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
    endpoints: tuple[Endpoint, ...] = ()
    cache_mode: str = "off"
    cache_dir: Path = Path(DEFAULT_DIR)
    prices: PriceTable = field(default_factory=PriceTable)

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
        cache_mode = config.getoption("llm_cache") or str(config.getini("llm_cache")).strip()
        if cache_mode not in MODES:
            raise pytest.UsageError(
                f"llm_cache must be one of {', '.join(MODES)}, got {cache_mode!r}"
            )
        cache_dir = Path(
            config.getoption("llm_cache_dir") or str(config.getini("llm_cache_dir")) or DEFAULT_DIR
        ).expanduser()
        if not cache_dir.is_absolute():
            cache_dir = config.rootpath / cache_dir
        try:
            prices = PriceTable.parse(config.getini("llm_prices"))
        except PriceError as exc:
            raise pytest.UsageError(str(exc)) from None
        return cls(
            models=config.getoption("llm_models") or str(config.getini("llm_models")),
            ollama_hosts=tuple(hosts) or (DEFAULT_OLLAMA_HOST,),
            timeout_s=float(timeout if timeout is not None else config.getini("llm_timeout")),
            json_path=Path(json_path) if json_path else None,
            repeat=config.getoption("llm_repeat"),
            gguf=gguf,
            endpoints=_endpoints(config),
            cache_mode=cache_mode,
            cache_dir=cache_dir,
            prices=prices,
        )


def _endpoints(config: pytest.Config) -> tuple[Endpoint, ...]:
    """``llm_openai_endpoints`` lines, then ``--llm-endpoint`` (a later NAME wins).

    Every key the endpoints name is registered for redaction at once, so that no
    message of this process can show it.
    """
    found: dict[str, Endpoint] = {}
    lines = [
        *config.getini("llm_openai_endpoints"),
        *(config.getoption("llm_endpoint") or []),
    ]
    for line in lines:
        if not line.strip() or line.strip().startswith("#"):
            continue
        try:
            endpoint = parse_endpoint(line)
        except EndpointError as exc:
            raise pytest.UsageError(f"llm endpoint: {exc}") from None
        found[endpoint.name] = endpoint
    for endpoint in (*found.values(), default_openai_endpoint()):
        register_secret(endpoint.api_key())
    return tuple(found.values())


class BenchSession:
    """Everything one run needs: providers, chosen models, results, rankings."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.options = Options.from_config(config)
        self.settings = ProviderSettings(
            ollama_hosts=self.options.ollama_hosts,
            timeout_s=self.options.timeout_s,
            gguf_models=self.options.gguf,
            openai_endpoints=self.options.endpoints,
        )
        self.cache = ResponseCache(self.options.cache_dir, self.options.cache_mode)
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self._registry: ProviderRegistry | None = None
        self._models: list[ModelInfo] | None = None
        self.discoveries: dict[str, Discovery] = {}
        self.selection_error: str | None = None
        self.loaded: dict[str, float | None] = {}
        self.results: list[Result] = []
        self.case_counts: dict[str, int] = {}
        self.rankings: list[TaskRanking] = []

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
        entries = parse_spec(spec, self.config.invocation_params.dir)
        for name in providers_needed(entries, self.registry.names()):
            if self.cache.offline:  # --llm-cache=read: the models the cache has answers for
                self.discoveries[name] = self.cache.discovery(name)
            else:
                self.discoveries[name] = self.registry.discover(name)
        available = [m for d in self.discoveries.values() for m in d.models]
        chosen: list[ModelInfo] = self.config.hook.pytest_llmbench_select_models(
            config=self.config, spec=spec, available=available
        )
        return list(chosen)

    def entries(self) -> list[str]:
        """The ``--llm-models`` entries (``@file`` expanded)."""
        return parse_spec(self.options.models, self.config.invocation_params.dir)

    def header_lines(self) -> list[str]:
        models = self._models or []
        lines = [f"llmbench: {len(models)} model(s): {', '.join(m.id for m in models) or 'none'}"]
        for name, found in self.discoveries.items():
            if found.problem:
                hint = f" ({found.hint})" if found.hint else ""
                lines.append(f"llmbench: {name} left out: {found.problem}{hint}")
        if self.cache.mode != "off":
            what = {
                "read": "answers from the cache only, no model is called",
                "write": "live answers are stored",
                "readwrite": "stored answers are used, missing ones fetched and stored",
            }[self.cache.mode]
            lines.append(
                f"llmbench: response cache {self.cache.mode} ({what}): {self.cache.directory}"
            )
        return [redact(line) for line in lines]

    def ensure_loaded(self, model: ModelInfo) -> float | None:
        """Load a model before its first case in this process; the load time, once."""
        if model.id in self.loaded:
            return None
        if self.cache.offline:  # answers come from the cache: nothing to load
            self.loaded[model.id] = None
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
            "cache": self.cache.mode,
        }


BENCH_KEY = pytest.StashKey[BenchSession]()


def get_bench(config: pytest.Config) -> BenchSession:
    return config.stash[BENCH_KEY]


def results_for(results: Sequence[Result], task: str) -> list[Result]:
    return [r for r in results if r.task == task]
