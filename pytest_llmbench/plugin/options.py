"""The ``Options`` record read from pytest's configuration.

:func:`read_options` reads every spec of the table
(:data:`~pytest_llmbench.settings.table.OPTIONS`) the same way (the option, else
the ini key, else the default), then builds the few attributes made of several
options (paths, selection rules, prices, endpoints) with one small function each.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.plugin.declare import resolve, usage
from pytest_llmbench.settings.options import Options
from pytest_llmbench.settings.table import OPTIONS, spec
from pytest_llmbench.settings.values import DEFAULT_REGISTRY_PATH, parse_gguf

__all__ = [
    "allowed_file_roots",
    "option_path",
    "options_record",
    "read_options",
    "registry_path",
]


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
    from pytest_llmbench.storage.locations import DEFAULT_REGISTRY

    return option_path(config, config.getoption("llm_registry", default=None)) or (
        config.rootpath / DEFAULT_REGISTRY
    )


def read_options(config: pytest.Config) -> Options:
    """The options of ``config``: every spec of the table read the same way (the option,
    else the ini key, else the default), then the attributes made of several options."""
    values: dict[str, Any] = {}
    for one in OPTIONS:
        if one.field:
            value = resolve(config, one)
            if one.cwd_path:
                value = option_path(config, value)
            values[one.field] = usage(one.convert)(value) if one.convert else value
    for build in BUILDERS:
        values.update(build(config, values))
    return Options(**values)


def options_record(config: pytest.Config) -> dict[str, Any]:
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
    except HistoryError as exc:  # the default one in the state folder: a warning at the end
        if config.getoption("llm_history"):
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
    """``--llm-eliminate`` (as given, else on with ``--llm-fail-on champion``), ``--llm-race``."""
    given = config.getoption("llm_eliminate")
    on = values["fail_on"] == "champion" if given is None else given == "on"
    return {"eliminate": on, "race": on and config.getoption("llm_race") != "off"}


def _gguf(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """``llm_gguf`` and ``--llm-gguf``: name -> path, and name -> chat format."""
    gguf, chat_formats = usage(parse_gguf)(resolve(config, spec("llm_gguf")), config.rootpath)
    return {"gguf": gguf, "gguf_chat_formats": chat_formats}


def _endpoints(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """``llm_openai_endpoints`` lines, then ``--llm-endpoint`` (a later NAME wins); their
    keys are kept out of every message at once."""
    from pytest_llmbench.providers.endpoints import EndpointError, endpoints_from_lines

    try:
        return {"endpoints": endpoints_from_lines(resolve(config, spec("llm_endpoint")))}
    except EndpointError as exc:
        raise pytest.UsageError(f"llm endpoint: {exc}") from None


def _rules(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """The selection rules from ``--llm-exclude``, ``--llm-max-size`` and the ini file."""
    from pytest_llmbench.selection.rules import rules_from

    rules = rules_from(
        resolve(config, spec("llm_exclude")),
        resolve(config, spec("llm_max_size")) or "",
        resolve(config, spec("llm_code_patterns")),
        resolve(config, spec("llm_vision_patterns")),
    )
    return {"rules": rules}


def _prices(config: pytest.Config, values: dict[str, Any]) -> dict[str, Any]:
    """``--llm-prices FILE`` entries, then the ``llm_prices`` ini lines (first match wins)."""
    from pytest_llmbench.execution.prices import PriceError, price_table

    path = config.getoption("llm_prices")
    try:
        file = config.invocation_params.dir / Path(path) if path else None
        return {"prices": price_table(file, config.getini("llm_prices"))}
    except PriceError as exc:
        raise pytest.UsageError(str(exc)) from None


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
