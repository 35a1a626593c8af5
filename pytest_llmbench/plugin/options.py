"""The ``Options`` record: the plugin's options and ini keys, read and checked.

:meth:`Options.from_config` reads every spec of the table
(:data:`~pytest_llmbench.settings.table.OPTIONS`) the same way (the option, else
the ini key, else the default), then builds the few attributes made of several
options (paths, selection rules, prices, endpoints) with one small function each.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmbench.plugin.declare import resolve, usage
from pytest_llmbench.settings.table import OPTIONS, spec
from pytest_llmbench.settings.values import DEFAULT_REGISTRY_PATH

if TYPE_CHECKING:
    from pytest_llmbench.execution.prices import PriceTable
    from pytest_llmbench.providers.endpoints import Endpoint
    from pytest_llmbench.selection.rules import Rules

__all__ = ["Options", "allowed_file_roots", "option_path", "registry_path"]


def option_path(config: pytest.Config, value: str | None) -> Path | None:
    """A path option as given, relative to where pytest was started."""
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else config.invocation_params.dir / path


def _rootdir_path(config: pytest.Config, value: str | Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else config.rootpath / path


def allowed_file_roots(config: pytest.Config) -> tuple[Path, ...]:
    """``llm_allowed_file_roots``: trusted directories outside the rootdir, absolute."""
    return tuple(
        config.rootpath / Path(line.strip()).expanduser()
        for line in config.getini("llm_allowed_file_roots")
        if line.strip()
    )


def registry_path(config: pytest.Config) -> Path:
    """``--llm-registry``, else ``llmbench-registry.yaml`` at the rootdir."""
    from pytest_llmbench.storage.champions import DEFAULT_REGISTRY

    return option_path(config, config.getoption("llm_registry", default=None)) or (
        config.rootpath / DEFAULT_REGISTRY
    )


@dataclass(frozen=True)
class Options:
    """The plugin's command-line and ini options, parsed and checked.

    Each attribute is declared in the table (its flag, ini key, default and help) and
    typed here; ``tests/test_plugin_options.py`` checks that the two agree.
    """

    models: str
    ollama_hosts: tuple[str, ...]
    lean_http: bool
    """``llm_ollama_lean_http``: Ollama generation over the plugin's own HTTP client."""
    provider_options: dict[str, dict[str, str]]
    """``llm_provider_options``: provider name -> its own options."""
    timeout_s: float
    json_path: Path | None
    repeat: int | None
    keep_loaded: bool
    retries: int
    retry_backoff_s: float
    rank_policy: str | None
    """``--llm-rank``: the policy for every task (``None``: each task's own)."""
    generic_threshold: float | None
    """``None`` switches the generic-answer check off."""
    cache_mode: str
    dist: str
    """``--llm-dist``: ``model`` (one worker per model, hosts spread) or ``xdist``."""
    prefetch: bool
    """``--llm-prefetch``: send a remote model's next request while pytest records an answer."""
    report_md: Path | None
    report_html: Path | None
    changed_since: str | None
    baseline: str | None
    max_slowdown: float
    min_lead: float
    """``--llm-min-lead`` as a fraction: a smaller paired lead is a tie."""
    fail_on: str
    resume: str | None
    journal: bool
    """``False`` with ``--llm-no-journal``."""
    prompt_versions: tuple[str, ...]
    """``--llm-prompt``: the prompt versions to run (empty: all)."""
    consensus_pairs: int
    """``--llm-consensus-pairs``: combinations ranked per task that declares consensus."""
    max_p95_ms: float | None
    """``--llm-max-p95``: the alert limit on a production model's p95 (``None``: none)."""
    max_error_rate: float | None
    """``--llm-max-error-rate`` as a fraction (``None``: none)."""
    # -- made of several options, by the functions of BUILDERS
    state_dir: Path
    """``--llm-state-dir``: the journals (``runs/``), and by default the history and cache."""
    cache_dir: Path
    history: Path | None
    """``None`` with ``--llm-no-history``."""
    history_read: Path
    """Where ``--llm-baseline last`` looks, even with ``--llm-no-history``."""
    registry_path: Path
    """``--llm-registry``: the champions file ``--llm-models=registry`` reads."""
    update_registry: Path | None
    gguf: dict[str, str]
    gguf_chat_formats: dict[str, str]
    """``chat_format=FORMAT`` given with ``--llm-gguf``: name -> format."""
    rules: Rules
    """The selection rules (``--llm-exclude``, ``--llm-max-size``, code/vision patterns)."""
    prices: PriceTable
    endpoints: tuple[Endpoint, ...]
    eliminate: bool
    """``--llm-eliminate``: skip a model's runs of a strict task after its first wrong one."""

    @property
    def runs_dir(self) -> Path:
        """Where the run journals are (``--llm-resume`` reads them)."""
        return self.state_dir / "runs"

    @classmethod
    def from_config(cls, config: pytest.Config) -> Options:
        values: dict[str, Any] = {}
        for one in OPTIONS:
            if one.field:
                value = resolve(config, one)
                if one.cwd_path:
                    value = option_path(config, value)
                values[one.field] = usage(one.convert)(value) if one.convert else value
        for build in BUILDERS:
            values.update(build(config, values))
        return cls(**values)

    def record(self, config: pytest.Config) -> dict[str, Any]:
        """The plugin's options as given (``llm_*``), JSON-ready, for the history."""
        return {
            key: (str(value) if isinstance(value, os.PathLike) else value)
            for key, value in sorted(vars(config.option).items())
            if key.startswith("llm_")
        }


# -- the attributes made of several options: config and the values so far -> attributes


def _state(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """The state directory (an option from where pytest was started, an ini key from the
    rootdir) and the cache directory in it unless given."""
    given = option_path(config, config.getoption("llm_state_dir"))
    state_dir = given or _rootdir_path(config, resolve(config, spec("llm_state_dir")))
    cache_dir = resolve(config, spec("llm_cache_dir")) or state_dir / "cache"
    return {"state_dir": state_dir, "cache_dir": _rootdir_path(config, cache_dir)}


def _history(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """The history file (checked unless ``--llm-no-history``) and where baselines look."""
    path = option_path(config, config.getoption("llm_history"))
    path = path or values["state_dir"] / "history.sqlite"
    if config.getoption("llm_no_history"):
        return {"history": None, "history_read": path}
    from pytest_llmbench.storage.history import HistoryError, check_history

    try:
        check_history(path)
    except HistoryError as exc:
        raise pytest.UsageError(f"--llm-history: {exc}") from None
    return {"history": path, "history_read": path}


def _registry(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """The registry read, and the one written with ``--llm-update-registry``."""
    registry = registry_path(config)
    update = config.getoption("llm_update_registry")
    if update == DEFAULT_REGISTRY_PATH:
        return {"registry_path": registry, "update_registry": registry}
    return {"registry_path": registry, "update_registry": option_path(config, update)}


def _eliminate(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """``--llm-eliminate``: as given, else on exactly when ``--llm-fail-on champion``."""
    given = config.getoption("llm_eliminate")
    return {"eliminate": values["fail_on"] == "champion" if given is None else given == "on"}


def _gguf(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """``llm_gguf`` and ``--llm-gguf``: name -> path, and name -> chat format."""
    gguf: dict[str, str] = {}
    chat_formats: dict[str, str] = {}
    for entry in resolve(config, spec("llm_gguf")):
        name, _, path = entry.partition("=")
        path, chat_format = _gguf_chat_format(path.strip())
        if not name.strip() or not path or chat_format == "":
            raise pytest.UsageError(
                f"--llm-gguf expects NAME=PATH [chat_format=FORMAT], got {entry!r}"
            )
        target = _rootdir_path(config, path)
        if not target.is_file():
            raise pytest.UsageError(
                f"--llm-gguf {name.strip()}: no GGUF file at {target}; give the path of a "
                ".gguf file (relative to the rootdir)"
            )
        gguf[name.strip()] = str(target)
        if chat_format is not None:
            chat_formats[name.strip()] = chat_format
    return {"gguf": gguf, "gguf_chat_formats": chat_formats}


def _gguf_chat_format(value: str) -> tuple[str, str | None]:
    """``PATH [chat_format=FORMAT]`` -> (path, format or ``None``; ``""`` when left empty)."""
    path, _, last = value.rpartition(" ")
    if path.strip() and last.startswith("chat_format="):
        return path.strip(), last.removeprefix("chat_format=")
    return value, None


def _endpoints(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """``llm_openai_endpoints`` lines, then ``--llm-endpoint`` (a later NAME wins).

    Every key the endpoints name is registered for redaction at once, so that no
    message of this process can show it.
    """
    from pytest_llmbench.providers.endpoints import (
        EndpointError,
        default_openai_endpoint,
        parse_endpoint,
    )
    from pytest_llmbench.safety.redaction import register_secret

    found: dict[str, Endpoint] = {}
    for line in resolve(config, spec("llm_endpoint")):
        if not line.strip() or line.strip().startswith("#"):
            continue
        try:
            endpoint = parse_endpoint(line)
        except EndpointError as exc:
            raise pytest.UsageError(f"llm endpoint: {exc}") from None
        found[endpoint.name] = endpoint
    for endpoint in (*found.values(), default_openai_endpoint()):
        register_secret(endpoint.api_key())
    return {"endpoints": tuple(found.values())}


def _rules(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """The selection rules from ``--llm-exclude``, ``--llm-max-size`` and the ini file."""
    from pytest_llmbench.selection.rules import (
        DEFAULT_CODE_PATTERNS,
        DEFAULT_VISION_PATTERNS,
        Rules,
        parse_size,
    )

    exclude = [
        part.strip()
        for entry in resolve(config, spec("llm_exclude"))
        for part in entry.split(",")
        if part.strip()
    ]
    size_text = resolve(config, spec("llm_max_size")) or ""
    rules = Rules(
        exclude=tuple(exclude),
        max_size_bytes=parse_size(size_text) if size_text else None,
        max_size_text=size_text,
        code_patterns=tuple(resolve(config, spec("llm_code_patterns")) or DEFAULT_CODE_PATTERNS),
        vision_patterns=tuple(
            resolve(config, spec("llm_vision_patterns")) or DEFAULT_VISION_PATTERNS
        ),
    )
    return {"rules": rules}


def _prices(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """``--llm-prices FILE`` entries, then the ``llm_prices`` ini lines (first match wins)."""
    from pytest_llmbench.execution.prices import (
        PriceError,
        PriceTable,
        load_price_file,
        parse_price_line,
    )

    try:
        prices = []
        path = config.getoption("llm_prices")
        if path:
            prices.extend(load_price_file(config.invocation_params.dir / Path(path)))
        prices.extend(parse_price_line(line) for line in config.getini("llm_prices"))
    except PriceError as exc:
        raise pytest.UsageError(str(exc)) from None
    return {"prices": PriceTable(tuple(prices))}


BUILDERS: tuple[Callable[[pytest.Config, dict[str, Any]], dict[str, Any]], ...] = (
    _state,
    _history,
    _registry,
    _eliminate,
    _gguf,
    _endpoints,
    _rules,
    _prices,
)
"""The attributes made of several options, in order (``_history`` reads the state dir)."""
