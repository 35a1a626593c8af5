"""Bind and run the application under uvicorn.

The socket is bound here (so ``--port 0`` is known before the first request, and the
address printed is the one served); uvicorn serves it and, on SIGINT or SIGTERM, stops
taking connections, finishes the calls in flight (up to ``graceful_s``), then runs the
application's shutdown: the router's threads end and its feedback log is written.
uvicorn's access log is off unless asked for (it never logs headers: no token in it).

The event loop is uvloop and the HTTP parser httptools when they are installed (the
``serve`` extra installs both; together they take about a quarter off the service's
CPU per request), else asyncio's loop and h11: the same answers, more CPU.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import socket
from typing import Any

import uvicorn

__all__ = ["bind", "is_loopback", "server", "stack"]


def stack() -> tuple[str, str]:
    """The event loop and HTTP parser uvicorn runs with here: uvloop and httptools
    when installed, else asyncio and h11."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
    return loop, http


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``OSError`` when it cannot be bound)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY on the connections of such a socket only
    # (without it, an answer written as head + body waits ~40 ms for a delayed ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server(app: Any, *, graceful_s: float = 30.0, access_log: bool = False) -> uvicorn.Server:
    """A uvicorn server for ``app`` (run it with ``.run(sockets=[bind(...)])``)."""
    loop, http = stack()
    config = uvicorn.Config(
        app,
        loop=loop,
        http=http,
        log_level="warning",
        access_log=access_log,
        timeout_graceful_shutdown=int(graceful_s) if graceful_s > 0 else None,
        lifespan="on",
        server_header=False,
        date_header=False,
        backlog=2048,
    )
    return uvicorn.Server(config)
