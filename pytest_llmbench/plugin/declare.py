"""The option table declared to pytest, and read back from its config.

:func:`add_options` declares every option and ini key of
:data:`~pytest_llmbench.settings.table.OPTIONS` (``pytest_addoption``); :func:`resolve`
reads one: the option, else the ini key, else the environment, else the default. A
value the table's ``parse_*`` function refuses is a ``pytest.UsageError`` naming it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from pytest_llmbench.settings.table import OPTIONS, Spec
from pytest_llmbench.settings.values import OptionError

__all__ = ["add_options", "resolve", "usage"]


def usage(parse: Callable[..., Any]) -> Callable[..., Any]:
    """``parse`` whose :class:`OptionError` is a usage error (pytest prints one line)."""

    def checked(*args: Any) -> Any:
        try:
            return parse(*args)
        except OptionError as exc:
            raise pytest.UsageError(str(exc)) from None

    return checked


# -- declaring


def add_options(parser: pytest.Parser) -> None:
    """Declare every option and ini key of the plugin (``pytest_addoption``)."""
    group = parser.getgroup("llmbench", "pytest-llmbench: benchmark LLMs on YAML gold cases")
    for one in OPTIONS:
        if one.flag:
            group.addoption(one.flag, **_argparse(one))
        if one.ini:
            ini_help = one.ini_help or (f"default for {one.flag}" if one.flag else one.help)
            parser.addini(one.ini, ini_help, type=one.ini_type, default=one.ini_default)  # type: ignore[arg-type]


def _argparse(one: Spec) -> dict[str, Any]:
    """``addoption``'s keywords for ``one``."""
    kwargs: dict[str, Any] = {"default": one.option_default}
    if one.action:
        kwargs["action"] = one.action
    if one.metavar:
        kwargs["metavar"] = one.metavar
    if one.const is not None:
        kwargs.update(nargs="?", const=one.const)
    if one.choices:
        kwargs["choices"] = one.choices
    elif one.parse:
        kwargs["type"] = usage(one.parse)
    kwargs["help"] = one.help
    return kwargs


# -- reading


def resolve(config: pytest.Config, one: Spec) -> Any:
    """``one``'s value: the option's, else the ini key's, else the environment's, else default."""
    given = config.getoption(one.dest) if one.dest else None
    if one.merge:
        return [*(_ini(config, one) or ()), *(given or ())]
    if not _unset(given):
        return given
    if one.ini and not _unset(value := _ini(config, one)):
        return value
    if one.env and one.parse and os.environ.get(one.env):
        value = usage(one.parse)(os.environ[one.env], one.env)
        return [value] if one.action == "append" else value
    return one.default


def _ini(config: pytest.Config, one: Spec) -> Any:
    """The ini value, checked by ``one.parse`` (``None`` when empty)."""
    assert one.ini is not None
    value = config.getini(one.ini)
    name = one.errors_as or one.ini
    if one.ini_type == "linelist":
        return [usage(one.parse)(line, name) for line in value] if one.parse else list(value)
    if one.ini_type == "bool":
        return value
    text = str(value).strip()
    return (usage(one.parse)(text, name) if one.parse else text) if text else None


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str | list) and not value)
