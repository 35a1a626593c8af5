"""``llmbench serve``: each task's champion over HTTP (the ``serve`` extra: Starlette,
uvicorn with uvloop and httptools, prometheus-client); the implementation is
:mod:`pytest_llmbench.service.serve`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pytest_llmbench.cli.options import (
    Commands,
    UsageError,
    add_router_settings,
    feedback_option,
    registry_option,
    share,
)
from pytest_llmbench.cli.output import failure

__all__ = ["add_parser", "run"]

EXTRA = "pip install 'pytest-llmbench[serve]'"
SWITCH_INTERVAL_S = 0.0005


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "serve",
        parents=[registry_option(), feedback_option()],
        help="serve the champions over HTTP (OpenAI-compatible too)",
        description="POST /v1/tasks/TASK, POST /v1/chat/completions (model: task:NAME), "
        "GET /healthz, GET /metrics.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine)"
    )
    parser.add_argument("--port", type=int, default=8080, help="(default: 8080; 0: any free)")
    parser.add_argument(
        "--token-env",
        metavar="VAR",
        help="require 'Authorization: Bearer <token>' (the value of $VAR) on every endpoint "
        "but /healthz",
    )
    parser.add_argument(
        "--concurrency",
        metavar="N",
        type=int,
        default=64,
        help="calls in flight per model; more are answered 503 with Retry-After (default: 64)",
    )
    parser.add_argument(
        "--threads",
        metavar="N",
        type=int,
        default=None,
        help="threads that make the model calls (default: the --concurrency)",
    )
    parser.add_argument(
        "--reload-every",
        metavar="S",
        type=float,
        default=1.0,
        help="look for a changed registry file every S seconds (0: never; default: 1)",
    )
    parser.add_argument(
        "--cool-down",
        metavar="S",
        type=float,
        default=60.0,
        help="how long a model's open circuit skips it (default: 60)",
    )
    parser.add_argument(
        "--graceful",
        metavar="S",
        type=float,
        default=30.0,
        help="on SIGTERM, wait this long for the calls in flight (default: 30)",
    )
    parser.add_argument(
        "--shadow-rate",
        metavar="SHARE",
        type=share,
        default=None,
        help="check this share of every task's calls again off the caller's path (0.05 or "
        "5%%; 0: none), over the case files' shadow: rate (default: theirs)",
    )
    parser.add_argument(
        "--shadow-check",
        choices=("runner_up", "consensus", "judge"),
        default=None,
        help="how, for a task whose case file names no check (default: runner_up)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--evals", metavar="DIR", type=Path, help="find the tasks' case files here, by name"
    )
    add_router_settings(parser)


def run(args: argparse.Namespace) -> int:
    from pytest_llmbench.router import RouterError
    from pytest_llmbench.storage.champions import RegistryError

    try:
        return _serve(args)
    except UsageError as exc:
        return failure("llmbench serve", exc, 2)
    except (RegistryError, RouterError) as exc:
        return failure("llmbench serve", exc, 1)


def _serve(args: argparse.Namespace) -> int:
    for name, value in (("--concurrency", args.concurrency), ("--threads", args.threads or 1)):
        if value < 1:
            raise UsageError(f"{name} must be at least 1, got {value}")
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env, "").strip()
        if not token:
            raise UsageError(f"--token-env {args.token_env}: ${args.token_env} is not set")
    try:
        from pytest_llmbench.service.serve.app import Served, create_app
        from pytest_llmbench.service.serve.server import bind, is_loopback, server
    except ImportError as exc:
        raise UsageError(f"llmbench serve needs the serve extra ({exc.name}): {EXTRA}") from None
    from pytest_llmbench.providers.endpoints import EndpointError
    from pytest_llmbench.router import Router, ShadowOptions, default_settings

    try:
        settings = default_settings(args.timeout, args.ollama_host or (), args.endpoint or ())
    except EndpointError as exc:
        raise UsageError(f"--endpoint: {exc}") from None
    router = Router.from_registry(
        args.registry,
        evals=args.evals,
        settings=settings,
        feedback=args.feedback,
        cool_down_s=args.cool_down,
        workers=args.threads or args.concurrency,
        shadow=ShadowOptions(rate=args.shadow_rate, check=args.shadow_check),
    )
    served = Served(
        router, per_model=args.concurrency, reload_s=args.reload_every, token=token or None
    )
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    host, port = sock.getsockname()[:2]
    where = f"[{host}]" if ":" in host else host
    guard = f"bearer token from ${args.token_env}" if token else "no token"
    print(
        f"llmbench serve: {len(router.tasks())} task(s) of {router.registry} on "
        f"http://{where}:{port} ({guard})",
        file=sys.stderr,
        flush=True,
    )
    if not token and not is_loopback(args.host):
        print(
            f"llmbench serve: warning: {args.host} is reachable from other machines and no "
            "--token-env is set: anyone who reaches it can call the models",
            file=sys.stderr,
            flush=True,
        )
    # The event loop hands each call to a worker thread and back: with Python's default
    # 5 ms switch interval it waits up to that long for the GIL under load (measured:
    # p99 200 -> 60 ms at 64 clients with 0.5 ms).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    server(create_app(served), graceful_s=args.graceful, access_log=args.access_log).run(
        sockets=[sock]
    )
    return 0
