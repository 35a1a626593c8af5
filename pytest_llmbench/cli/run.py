"""``llmbench run TASK --var name=value ...``: one production call through the router;
the answer on stdout, who answered and how fast on stderr."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmbench.cli.options import (
    Commands,
    UsageError,
    add_router_settings,
    checked,
    feedback_option,
    register_secrets,
    registry_option,
)
from pytest_llmbench.cli.output import answer, failure

if TYPE_CHECKING:
    from pytest_llmbench.router import RouterResult
    from pytest_llmbench.safety.confinement import Confinement

__all__ = ["add_parser", "answer_text", "run"]


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "run",
        parents=[registry_option(), feedback_option()],
        help="one production call through the router",
    )
    parser.add_argument("task", metavar="TASK", help="the task to answer (its registry entry)")
    parser.add_argument(
        "--var",
        metavar="NAME=VALUE",
        action="append",
        help="a template value (repeatable); NAME=@FILE reads it from a file inside the "
        "project (or under an --allowed-root), never from /proc, /sys or /dev",
    )
    parser.add_argument(
        "--allowed-root",
        metavar="DIR",
        action="append",
        type=Path,
        default=None,
        help="a directory outside the project that --var NAME=@FILE and the registry's "
        "case_file may read from (repeatable)",
    )
    parser.add_argument(
        "--consensus", action="store_true", help="ask several models and let them agree"
    )
    parser.add_argument("--json", action="store_true", help="the answer and how it came, as JSON")
    parser.add_argument(
        "--evals", metavar="DIR", type=Path, help="find the task's case file here, by name"
    )
    add_router_settings(parser)


def run(args: argparse.Namespace) -> int:
    from pytest_llmbench.router import RouterError
    from pytest_llmbench.storage.champions import RegistryError

    try:
        result = _call(args)
    except UsageError as exc:
        return failure("llmbench", exc, 2)
    except (RegistryError, RouterError) as exc:
        return failure("llmbench", exc, 1)
    if args.json:
        text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
    else:
        text = answer_text(result)
    return answer([text], _answer_note(result))


def _call(args: argparse.Namespace) -> RouterResult:
    from pytest_llmbench.providers.endpoints import EndpointError
    from pytest_llmbench.router import Router, default_settings
    from pytest_llmbench.safety.confinement import Confinement, default_root
    from pytest_llmbench.settings.values import parse_timeout

    checked(parse_timeout, args.timeout, "--timeout")
    register_secrets(args.endpoint or (), args.ollama_host or ())
    confinement = Confinement(default_root(Path.cwd() / "-"), _allowed_roots(args))
    values = _values(args.var or [], confinement)
    try:
        settings = default_settings(args.timeout, args.ollama_host or (), args.endpoint or ())
    except EndpointError as exc:
        raise UsageError(f"--endpoint: {exc}") from None
    with Router.from_registry(
        args.registry,
        evals=args.evals,
        settings=settings,
        feedback=args.feedback,
        allowed_roots=args.allowed_root or (),
    ) as router:  # the feedback log written before the answer is printed
        return router.run(args.task, consensus=True if args.consensus else None, variables=values)


def _allowed_roots(args: argparse.Namespace) -> list[Path]:
    """Where ``--var NAME=@FILE`` may read besides the working directory's project: the
    registry's project and every ``--allowed-root``."""
    from pytest_llmbench.safety.confinement import default_root
    from pytest_llmbench.storage.champions import find_registry

    registry = args.registry or find_registry()
    roots = [default_root(registry)] if registry is not None else []
    return [*roots, *(args.allowed_root or ())]


def answer_text(result: RouterResult) -> str:
    """What ``llmbench run`` prints: the label, the JSON value, or the text."""
    if isinstance(result.value, str):
        return result.value
    return json.dumps(result.value, ensure_ascii=False)


def _answer_note(result: RouterResult) -> str:
    from pytest_llmbench.formatting import ms

    note = f"llmbench: {result.task} answered by {result.model} in {ms(result.latency_ms)} ms"
    if result.fell_over_from:
        note += f" (fell over from {', '.join(result.fell_over_from)})"
    consensus = result.consensus
    if consensus is not None:
        if consensus.accepted:
            note += f"; consensus of {' and '.join(consensus.agreed)}"
        else:
            note += "; NO consensus: the top model's answer, flagged"
        if consensus.similarity is not None:
            note += f" (similarity {consensus.similarity:.2f})"
    return note


def _values(pairs: Sequence[str], confinement: Confinement) -> dict[str, str]:
    """``--var name=value`` and ``--var name=@file`` (``@@`` for a value that starts with @);
    a file is read as a case file's ``{file:}`` is: inside ``confinement`` only."""
    from pytest_llmbench.safety.confinement import OutsideRoot

    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--var expects name=value or name=@file, got {pair!r}")
        if value.startswith("@@"):
            value = value[1:]
        elif value.startswith("@"):
            given = value[1:]
            try:
                if not Path(given).expanduser().exists():
                    raise FileNotFoundError(2, "No such file or directory")
                path = confinement.check(Path(given).expanduser())
                value = path.read_text(encoding="utf-8")
            except OutsideRoot as exc:
                raise UsageError(
                    f"--var {name}: may not read {given}: {exc}".replace(
                        "list a trusted directory in the ini option llm_allowed_file_roots",
                        "give --allowed-root DIR",
                    ).replace("case files never read", "--var never reads")
                ) from None
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else str(exc)
                raise UsageError(f"--var {name}: cannot read {given}: {why}") from None
        values[name.strip()] = value
    return values
