"""State of one pytest-llmbench run, kept in ``config.stash``."""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import platform
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench import __version__
from pytest_llmbench.analysis.cost import PriceError, PriceTable, load_price_file, parse_price_line
from pytest_llmbench.analysis.generic import DEFAULT_THRESHOLD
from pytest_llmbench.analysis.ranking import DEFAULT_WEIGHTS, TaskRanking
from pytest_llmbench.cases.model import Task
from pytest_llmbench.execution.cache import DEFAULT_DIR, MODES, ResponseCache
from pytest_llmbench.execution.call import Call
from pytest_llmbench.execution.pipeline import Pipeline
from pytest_llmbench.execution.results import Result
from pytest_llmbench.plugin.distribute import Distribution, task_facts
from pytest_llmbench.providers.base import (
    Discovery,
    ModelInfo,
    ModelNotFound,
    ProviderError,
    ProviderSettings,
)
from pytest_llmbench.providers.endpoints import (
    Endpoint,
    EndpointError,
    default_openai_endpoint,
    parse_endpoint,
)
from pytest_llmbench.providers.redaction import redact, register_secret
from pytest_llmbench.providers.registry import ProviderRegistry
from pytest_llmbench.selection.rules import (
    DEFAULT_CODE_PATTERNS,
    DEFAULT_VISION_PATTERNS,
    LeftOut,
    Rules,
    SizeError,
    parse_size,
)
from pytest_llmbench.selection.spec import SelectionError, parse_spec, providers_needed
from pytest_llmbench.storage.champions import REGISTRY_ENTRY, registry_models, registry_path

__all__ = ["BENCH_KEY", "BenchSession", "Options", "get_bench"]

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"

Runs = dict[str, dict[tuple[str, int], set[str]]]
"""Per task, (case id, repeat) -> the models (``BenchSession.expected`` and ``skipped``)."""


@dataclass(frozen=True)
class Options:
    """The plugin's command-line and ini options, parsed."""

    models: str = "all"
    ollama_hosts: tuple[str, ...] = (DEFAULT_OLLAMA_HOST,)
    timeout_s: float = 120.0
    json_path: Path | None = None
    repeat: int | None = None
    gguf: dict[str, str] = field(default_factory=dict)
    gguf_chat_formats: dict[str, str] = field(default_factory=dict)
    """``chat_format=FORMAT`` given with ``--llm-gguf``: name -> format."""
    rules: Rules = field(default_factory=Rules)
    keep_loaded: bool = False
    retries: int = 3
    retry_backoff_s: float = 0.5
    rank_policy: str | None = None
    """``--llm-rank``: the policy for every task (``None``: each task's own)."""
    generic_threshold: float | None = DEFAULT_THRESHOLD
    """``None`` switches the generic-answer check off."""
    prices: PriceTable = field(default_factory=PriceTable)
    endpoints: tuple[Endpoint, ...] = ()
    cache_mode: str = "off"
    cache_dir: Path = Path(DEFAULT_DIR)
    dist: str = "model"
    """``--llm-dist``: ``model`` (one worker per model, hosts spread) or ``xdist``."""
    prefetch: bool = True
    """``--llm-prefetch``: send a remote model's next request while pytest records an answer."""

    @classmethod
    def from_config(cls, config: pytest.Config) -> Options:
        hosts: list[str] = list(config.getoption("llm_ollama_host") or [])
        if not hosts:
            hosts = list(config.getini("llm_ollama_hosts"))
        if not hosts and os.environ.get("OLLAMA_HOST"):
            hosts = [os.environ["OLLAMA_HOST"]]
        gguf: dict[str, str] = {}
        chat_formats: dict[str, str] = {}
        for entry in [*config.getini("llm_gguf"), *(config.getoption("llm_gguf") or [])]:
            name, _, path = entry.partition("=")
            path, chat_format = _gguf_chat_format(path.strip())
            if not name.strip() or not path or chat_format == "":
                raise pytest.UsageError(
                    f"--llm-gguf expects NAME=PATH [chat_format=FORMAT], got {entry!r}"
                )
            target = Path(path).expanduser()
            if not target.is_absolute():
                target = config.rootpath / target
            gguf[name.strip()] = str(target)
            if chat_format is not None:
                chat_formats[name.strip()] = chat_format
        json_path = config.getoption("llm_json")
        timeout = config.getoption("llm_timeout")
        keep = config.getoption("llm_keep_loaded")
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
        threshold = config.getoption("llm_generic_threshold")
        if threshold is None:
            ini = str(config.getini("llm_generic_threshold"))
            threshold = parse_threshold(ini, "llm_generic_threshold")
        return cls(
            models=config.getoption("llm_models") or str(config.getini("llm_models")),
            ollama_hosts=tuple(hosts) or (DEFAULT_OLLAMA_HOST,),
            timeout_s=float(timeout if timeout is not None else config.getini("llm_timeout")),
            json_path=Path(json_path) if json_path else None,
            repeat=config.getoption("llm_repeat"),
            gguf=gguf,
            gguf_chat_formats=chat_formats,
            rules=_rules(config),
            keep_loaded=bool(keep if keep is not None else config.getini("llm_keep_loaded")),
            retries=_ini_number(config, "llm_retries", int, 0),
            retry_backoff_s=_ini_number(config, "llm_retry_backoff", float, 0.0),
            rank_policy=config.getoption("llm_rank"),
            generic_threshold=None if threshold == GENERIC_OFF else threshold,
            prices=_prices(config),
            endpoints=_endpoints(config),
            cache_mode=cache_mode,
            cache_dir=cache_dir,
            dist=_dist_mode(config),
            prefetch=_prefetch(config),
        )


def _prefetch(config: pytest.Config) -> bool:
    value = config.getoption("llm_prefetch") or str(config.getini("llm_prefetch")).strip()
    if value not in ("on", "off"):
        raise pytest.UsageError(f"--llm-prefetch must be on or off, got {value!r}")
    return value == "on"


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


def _gguf_chat_format(value: str) -> tuple[str, str | None]:
    """``PATH [chat_format=FORMAT]`` -> (path, format or ``None``; ``""`` when left empty)."""
    path, _, last = value.rpartition(" ")
    if path.strip() and last.startswith("chat_format="):
        return path.strip(), last.removeprefix("chat_format=")
    return value, None


def _rules(config: pytest.Config) -> Rules:
    """The selection rules from ``--llm-exclude``, ``--llm-max-size`` and the ini file."""
    exclude: list[str] = []
    for entry in [*config.getini("llm_exclude"), *(config.getoption("llm_exclude") or [])]:
        exclude.extend(part.strip() for part in entry.split(",") if part.strip())
    size_text = config.getoption("llm_max_size") or str(config.getini("llm_max_size")).strip()
    size: int | None = None
    if size_text:
        try:
            size = parse_size(size_text)
        except SizeError as exc:
            raise pytest.UsageError(f"--llm-max-size: {exc}") from None
    code = tuple(config.getini("llm_code_patterns")) or DEFAULT_CODE_PATTERNS
    vision = tuple(config.getini("llm_vision_patterns")) or DEFAULT_VISION_PATTERNS
    return Rules(
        exclude=tuple(exclude),
        max_size_bytes=size,
        max_size_text=size_text,
        code_patterns=code,
        vision_patterns=vision,
    )


def _ini_number(config: pytest.Config, name: str, kind: type[int] | type[float], low: float) -> Any:
    text = str(config.getini(name)).strip()
    try:
        value = kind(text)
    except ValueError:
        raise pytest.UsageError(f"{name}: expected a number, got {text!r}") from None
    if value < low:
        raise pytest.UsageError(f"{name}: expected at least {low:g}, got {text!r}")
    return value


DIST_MODES = ("model", "xdist")


def parse_dist_mode(value: str, name: str = "--llm-dist") -> str:
    """``--llm-dist``: ``model`` or ``xdist``."""
    mode = value.strip().casefold()
    if mode not in DIST_MODES:
        raise pytest.UsageError(f"{name}: expected model or xdist, got {value!r}")
    return mode


def _dist_mode(config: pytest.Config) -> str:
    value = config.getoption("llm_dist")
    if value is None:
        return parse_dist_mode(str(config.getini("llm_dist")), "llm_dist")
    return str(value)


GENERIC_OFF = math.inf
"""What ``parse_threshold("off")`` returns: a similarity no answer reaches."""


def parse_threshold(value: str, name: str = "--llm-generic-threshold") -> float:
    """``--llm-generic-threshold``: a similarity in (0, 1], or ``off``."""
    if value.strip().casefold() == "off":
        return GENERIC_OFF
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0 < number <= 1:
        raise pytest.UsageError(
            f"{name}: expected a similarity above 0 and at most 1, or 'off', got {value!r}"
        )
    return number


def _prices(config: pytest.Config) -> PriceTable:
    """``--llm-prices FILE`` entries, then the ``llm_prices`` ini lines (first match wins)."""
    try:
        prices = []
        path = config.getoption("llm_prices")
        if path:
            prices.extend(load_price_file(config.invocation_params.dir / Path(path)))
        prices.extend(parse_price_line(line) for line in config.getini("llm_prices"))
    except PriceError as exc:
        raise pytest.UsageError(str(exc)) from None
    return PriceTable(tuple(prices))


class BenchSession:
    """Everything one run needs: providers, chosen models, results, rankings."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.options = Options.from_config(config)
        self.settings = ProviderSettings(
            ollama_hosts=self.options.ollama_hosts,
            timeout_s=self.options.timeout_s,
            gguf_models=self.options.gguf,
            gguf_chat_formats=self.options.gguf_chat_formats,
            retries=self.options.retries,
            retry_backoff_s=self.options.retry_backoff_s,
            openai_endpoints=self.options.endpoints,
            lean_http=bool(config.getini("llm_ollama_lean_http")),
            state_dir=config.rootpath / ".llmbench",
        )
        self.cache = ResponseCache(self.options.cache_dir, self.options.cache_mode)
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self._registry: ProviderRegistry | None = None
        self._models: list[ModelInfo] | None = None
        self.discoveries: dict[str, Discovery] = {}
        self.selection_error: str | None = None
        self.left_out: list[LeftOut] = []
        """Models the selection rules left out (filled by the default selection hook)."""
        self.loaded: dict[str, float | None] = {}
        """Models loaded in this process (and not unloaded since): id -> cold start ms."""
        self.unavailable: dict[str, str] = {}
        """Models the server does not have: id -> the reason their items are skipped."""
        self.results: list[Result] = []
        self.case_counts: dict[str, int] = {}
        self.expected: Runs = {}
        """Per task, the (case id, repeat) runs collected for it, in order, with the models."""
        self.skipped: Runs = {}
        """Per task, the runs skipped (a skip mark, a missing model) and for which models."""
        self.rankings: list[TaskRanking] = []
        self.task_ranking: dict[str, dict[str, Any]] = {}
        """Per task, from its case file: ``{"policy": ..., "weights": [q, s] or None}``."""
        self.run_id: str | None = None
        """Names this run in the journal, the history and the reports (set by ``tracking``)."""
        self.task_models: dict[str, list[ModelInfo]] = {}
        self.registry_notes: list[str] = []
        self.task_facts: dict[str, dict[str, Any]] = {}
        """Per task, what a crashed case's record needs (see ``distribute.task_facts``)."""
        self.loads: list[str] = []
        """Every model this process loaded, in order (an xdist worker reports it)."""
        self.distribution = Distribution()
        """xdist controller: what happened on the workers."""
        self.pipeline: Pipeline[Call | None] = Pipeline()
        """Calls to remote models, one at a time, the next sent before pytest is done."""
        self.first_call: dict[str, float | None] = {}
        """Models loaded whose first call is still to come: id -> load ms (the cold start)."""
        self._switches: dict[str, tuple[str, Future[Call | None]]] = {}
        """Model id -> its load (and the previous model's unload) queued on the pipeline."""
        self._handed_over: set[str] = set()
        """Models whose unload the pipeline does (pytest's thread must not)."""
        self._lock = threading.Lock()

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
        if self.left_out:
            lines.append(f"llmbench: left out {len(self.left_out)} model(s):")
            lines.extend(f"  {item.describe()}" for item in self.left_out)
        for name, found in self.discoveries.items():
            if found.problem:
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
        return [redact(line) for line in lines]

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
        provider = self.registry.get(model.provider)
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
        provider = self.registry.get(model.provider)
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
            future.result()

    def pipelined(self, model: ModelInfo) -> bool:
        """Whether this model's calls go through the pipeline (a remote model, prefetch on)."""
        if not self.options.prefetch:
            return False
        provider = self.registry.get(model.provider)
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
        models = {m.id: m for m in self._models or []}
        for model_id in list(self.loaded):
            if model_id in models:
                self.release(models[model_id])

    # -- results --------------------------------------------------------------

    def add_result(self, result: Result) -> None:
        self.results.append(result)

    def add_task(self, task: Task) -> None:
        """Remember what ranking needs of a collected task (plain data: it crosses xdist)."""
        self.case_counts[task.name] = len(task.cases)
        weights = list(task.weights) if task.weights is not None else None
        self.task_ranking[task.name] = {"policy": task.policy, "weights": weights}
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

    def rank_settings(self, task: str) -> tuple[str, tuple[float, float]]:
        """The policy (``--llm-rank`` wins over the task's) and the weights of a task."""
        known = self.task_ranking.get(task, {})
        policy = self.options.rank_policy or known.get("policy") or "strict"
        weights = known.get("weights")
        return policy, ((float(weights[0]), float(weights[1])) if weights else DEFAULT_WEIGHTS)

    def worker_output(self) -> dict[str, Any]:
        """What an xdist worker sends the controller about the tasks it collected."""
        return {
            "case_counts": dict(self.case_counts),
            "task_ranking": dict(self.task_ranking),
            "task_facts": dict(self.task_facts),
            "expected": _runs_data(self.expected),
            "skipped": _runs_data(self.skipped),
            "loads": list(self.loads),
        }

    def merge_worker_output(self, data: dict[str, Any], worker: str | None = None) -> None:
        self.case_counts.update(data.get("case_counts", {}))
        self.task_ranking.update(data.get("task_ranking", {}))
        self.task_facts.update(data.get("task_facts", {}))
        _merge_runs(self.expected, data.get("expected", {}))
        _merge_runs(self.skipped, data.get("skipped", {}))
        if worker is not None:
            self.distribution.loaded[worker] = list(data.get("loads", []))

    def generic_failures(self) -> int:
        """How many runs the ranking failed for a generic answer (all tasks)."""
        return sum(len(r.generic) for r in self.rankings)

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
            "id": self.run_id,
            **({"xdist": self.distribution.to_json()} if self.distribution.active else {}),
        }


_NOT_LOADED = object()

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


def results_for(results: Sequence[Result], task: str) -> list[Result]:
    return [r for r in results if r.task == task]
