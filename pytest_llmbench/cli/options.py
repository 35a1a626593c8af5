"""What several ``llmbench`` subcommands share on the parsing side: the common options
(history, registry, feedback log, models and endpoints) and :class:`UsageError`.

Light on purpose: argparse and the storage defaults named in the help; the providers are
imported when a command resolves its settings.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from pytest_llmbench.storage.champions import DEFAULT_REGISTRY
from pytest_llmbench.storage.feedback import DEFAULT_FEEDBACK
from pytest_llmbench.storage.locations import DEFAULT_HISTORY

if TYPE_CHECKING:
    from pytest_llmbench.providers.base import BuiltinSettings

__all__ = [
    "Commands",
    "UsageError",
    "add_endpoint_option",
    "add_model_settings",
    "add_router_settings",
    "checked",
    "feedback_option",
    "history_option",
    "history_path",
    "provider_settings",
    "register_secrets",
    "registry_option",
    "share",
]

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``add_parser(commands)`` of a subcommand module receives."""


class UsageError(Exception):
    """A bad argument the parser could not catch: one line, exit status 2."""


def history_option() -> argparse.ArgumentParser:
    """``--history PATH``, a parent of the top-level parser and of the history commands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--history",
        metavar="PATH",
        type=Path,
        default=argparse.SUPPRESS,  # given before or after the command, never reset
        help=f"the history file (default: {DEFAULT_HISTORY})",
    )
    return common


def history_path(args: argparse.Namespace) -> Path:
    """The history file ``--history`` names, before or after the command, or the default."""
    path: Path = getattr(args, "history", None) or DEFAULT_HISTORY
    return path


def registry_option() -> argparse.ArgumentParser:
    """``--registry PATH``, a parent of the commands that read the champion registry."""
    registry = argparse.ArgumentParser(add_help=False)
    registry.add_argument(
        "--registry",
        metavar="PATH",
        type=Path,
        help=f"the registry file (default: {DEFAULT_REGISTRY} here or in a parent directory)",
    )
    return registry


def feedback_option() -> argparse.ArgumentParser:
    """``--feedback PATH``, a parent of the commands that write or read the feedback log."""
    log = argparse.ArgumentParser(add_help=False)
    log.add_argument(
        "--feedback",
        metavar="PATH",
        type=Path,
        help=f"the feedback log (default: {DEFAULT_FEEDBACK} beside the registry)",
    )
    return log


def add_endpoint_option(parser: argparse.ArgumentParser) -> None:
    """``--endpoint 'NAME=URL ...'`` (repeatable), for every command that calls models."""
    parser.add_argument(
        "--endpoint",
        metavar="NAME=URL",
        action="append",
        default=None,
        help="an OpenAI-compatible endpoint as provider NAME (repeatable), as --llm-endpoint "
        "takes it: 'NAME=URL [key_env=VAR] [models=a,b]'",
    )


def add_router_settings(parser: argparse.ArgumentParser) -> None:
    """``--ollama-host``, ``--timeout`` and ``--endpoint``: where the champions of the
    commands that call them through the router (``run``, ``serve``) are found."""
    parser.add_argument(
        "--ollama-host",
        metavar="URL",
        action="append",
        help="Ollama server (repeatable; default: $OLLAMA_HOST, else http://127.0.0.1:11434)",
    )
    parser.add_argument(
        "--timeout", metavar="S", type=float, default=120.0, help="per call (default: 120)"
    )
    add_endpoint_option(parser)


def add_model_settings(parser: argparse.ArgumentParser) -> None:
    """``--timeout``, ``--ollama-host``, ``--gguf`` and ``--endpoint``: where the models of
    a command that runs cases (``ab``, ``optimize``) are found."""
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=120.0,
        help="per model call, in seconds (default: 120)",
    )
    parser.add_argument(
        "--ollama-host",
        metavar="URL",
        action="append",
        default=None,
        help="Ollama server (repeatable; default: $OLLAMA_HOST, else http://127.0.0.1:11434)",
    )
    parser.add_argument(
        "--gguf",
        metavar="NAME=PATH",
        action="append",
        default=None,
        help="add a GGUF file as model llamacpp/NAME",
    )
    add_endpoint_option(parser)


def checked(parse: Callable[[str, str], Any], value: object, name: str) -> Any:
    """``parse(str(value), name)`` (a ``parse_*`` check of :mod:`pytest_llmbench.settings.values`)
    with its :class:`~pytest_llmbench.settings.values.OptionError` as a :class:`UsageError`:
    the range checks the parser's ``type=`` cannot make, named after the option."""
    from pytest_llmbench.settings.values import OptionError

    text = (
        value
        if isinstance(value, str)
        else f"{value:g}"
        if isinstance(value, float)
        else str(value)
    )
    try:
        return parse(text, name)
    except OptionError as exc:
        raise UsageError(str(exc)) from None


def register_secrets(endpoints: Iterable[str] = (), hosts: Iterable[str] = ()) -> None:
    """Mask from now on what a command that calls models must never show or write: the
    values of secret-named environment variables, every endpoint's API key and the
    passwords in the endpoint and host URLs."""
    import urllib.parse

    from pytest_llmbench.providers.endpoints import (
        EndpointError,
        default_openai_endpoint,
        parse_endpoint,
    )
    from pytest_llmbench.safety.redaction import register_environment_secrets, register_secret

    register_environment_secrets()
    urls = list(hosts)
    for line in (*endpoints, None):
        try:
            endpoint = default_openai_endpoint() if line is None else parse_endpoint(line)
        except EndpointError:
            continue  # reported where the endpoints are read
        register_secret(endpoint.api_key())
        urls.append(endpoint.base_url)
    for url in urls:
        try:
            register_secret(
                urllib.parse.urlsplit(url if "://" in url else f"http://{url}").password
            )
        except ValueError:
            continue


def provider_settings(args: argparse.Namespace) -> BuiltinSettings:
    """The providers' settings from ``--ollama-host``, ``--gguf``, ``--endpoint``,
    ``--timeout`` (a positive, finite number of seconds, else a :class:`UsageError`); the
    secrets they name are registered (:func:`register_secrets`)."""
    from pytest_llmbench.providers.endpoints import EndpointError
    from pytest_llmbench.providers.resolve import settings_from
    from pytest_llmbench.settings.values import parse_timeout

    checked(parse_timeout, args.timeout, "--timeout")
    register_secrets(args.endpoint or (), args.ollama_host or ())
    try:
        return settings_from(args.timeout, args.ollama_host, args.gguf, args.endpoint)
    except EndpointError as exc:
        raise UsageError(f"--endpoint: {exc}") from None


def share(text: str) -> float:
    """A share between 0 and 1 (``0.8``), or a percentage (``80%``): an argparse type."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share (0.8 or 80%)") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1 (0% and 100%)")
    return value
