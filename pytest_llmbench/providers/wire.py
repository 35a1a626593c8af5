"""A lean JSON-over-HTTP/1.1 client for Ollama's hot calls (``/api/chat``, loads).

The official ``ollama`` client goes through httpx, which costs about 1 ms of CPU per
call on a small machine; against a fast model (a 20 ms answer) that is 5 % of the run,
and it sits between one answer and the next request.  This client does the same
POST with :mod:`http.client` on a kept-alive connection (about 0.25 ms) and raises
exactly what the ``ollama`` client raises, so the provider's retry, dead-host and
error-message logic treats both alike:

* no connection (refused, unreachable, no such host): :class:`httpx.ConnectError`;
  none within the connect timeout: :class:`httpx.ConnectTimeout`;
* no answer within the read timeout: :class:`httpx.ReadTimeout`;
* the connection closed or reset after the request went out:
  :class:`httpx.RemoteProtocolError` (nothing came back) or :class:`httpx.ReadError`;
* an HTTP error status: :class:`ollama.ResponseError` with the server's ``error`` text;
* a reply that is not JSON: :class:`json.JSONDecodeError` (the provider builds the
  ``ollama`` client's reply types from it, with the same errors for a wrong shape).

It is used only where it can do all the ``ollama`` client would: plain ``http://``
hosts that no proxy variable applies to (:func:`usable_for`).  A redirect (which
the ``ollama`` client would follow) raises :class:`Redirected`; the provider then
falls back to the ``ollama`` client for that host.

One connection per thread; a connection the server closed while it was idle is
noticed before it is reused.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import select
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_llmbench import __version__

if TYPE_CHECKING:
    import httpx

__all__ = ["ChatWire", "Redirected", "usable_for"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Redirected(Exception):
    """The server answered with a redirect: use a client that follows it."""


def usable_for(host: str) -> bool:
    """Whether the lean client can talk to ``host`` as the ``ollama`` client would."""
    split = urllib.parse.urlsplit(host)
    if split.scheme != "http" or not split.hostname:
        return False
    proxies = urllib.request.getproxies_environment()
    if not any(key in proxies for key in ("http", "all")):
        return True
    return bool(urllib.request.proxy_bypass(split.hostname))


def _headers() -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": f"pytest-llmbench/{__version__} (python http.client)",
    }
    api_key = os.environ.get("OLLAMA_API_KEY")
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


class ChatWire:
    """JSON ``POST`` requests to one Ollama host over kept-alive connections."""

    def __init__(self, host: str, *, timeout_s: float, connect_timeout_s: float) -> None:
        split = urllib.parse.urlsplit(host)
        if split.hostname is None:
            raise ValueError(f"no host name in {host!r}")
        self.host = host
        self._address = (split.hostname, split.port or 80)
        self._timeout_s = timeout_s
        self._connect_timeout_s = min(connect_timeout_s, timeout_s)
        self._prefix = split.path.rstrip("/")
        lines = [f"Host: {split.netloc}"]
        lines += [f"{name}: {value}" for name, value in _headers().items()]
        self._headers = "\r\n".join(lines) + "\r\nContent-Length: "
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []

    def close(self) -> None:
        """Close every connection (they reopen on demand)."""
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._local = threading.local()

    def post(self, path: str, payload: Mapping[str, Any]) -> Any:
        """POST ``payload`` as JSON to ``path`` (``/api/chat``); the reply's JSON."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        # Head and body in one write: two would cost the server an extra wake-up.
        head = f"POST {self._prefix}{path} HTTP/1.1\r\n{self._headers}{len(body)}\r\n\r\n"
        message = head.encode("latin-1") + body
        # --llm-timeout is a deadline for the whole call: connect, send and every read
        # (a server trickling its answer a byte at a time is cut off at the deadline).
        deadline = time.monotonic() + self._timeout_s
        sock = self._socket()
        try:
            sock.settimeout(_remaining(deadline))
            sock.sendall(message)
        except OSError as exc:
            self._drop(sock)
            raise _send_error(exc) from exc
        response = http.client.HTTPResponse(
            _Deadline(sock, deadline),  # type: ignore[arg-type]
            method="POST",
        )
        try:
            response.begin()
            data = response.read()
        except (http.client.HTTPException, OSError) as exc:
            self._drop(sock)
            raise _read_error(exc, self._timeout_s) from exc
        finally:
            response.close()  # the socket stays open: the response only had a file on it
        if response.will_close:
            self._drop(sock)
        status = response.status
        if status in _REDIRECTS:
            raise Redirected(f"HTTP {status} to {response.getheader('Location')}")
        if status >= 400:
            from ollama import ResponseError

            # what the ollama client raises: ResponseError picks the JSON "error" out
            raise ResponseError(data.decode("utf-8", errors="replace"), status)
        return json.loads(data)

    # -- connections ---------------------------------------------------------------

    def _socket(self) -> socket.socket:
        sock: socket.socket | None = getattr(self._local, "sock", None)
        # As httpx does before it reuses a connection: a server that closed it (or died)
        # while it was idle shows now, not as a request that got no answer.
        if sock is not None and not _idle_and_open(sock):
            self._drop(sock)
            sock = None
        if sock is None:
            sock = self._connect()
            self._local.sock = sock
            with self._lock:
                self._open.append(sock)
        return sock

    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection(self._address, timeout=self._connect_timeout_s)
        except OSError as exc:
            raise _connect_error(exc, self._connect_timeout_s) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self._timeout_s)
        return sock

    def _drop(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.close()
        with self._lock:
            if sock in self._open:
                self._open.remove(sock)
        if getattr(self._local, "sock", None) is sock:
            self._local.sock = None


def _remaining(deadline: float) -> float:
    """Seconds left before ``deadline``; ``TimeoutError`` when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


class _DeadlineReader(io.RawIOBase):
    """Reads a socket, each read given only the time left before the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(_remaining(self._deadline))
        return self._sock.recv_into(buffer)


class _Deadline:
    """What :class:`http.client.HTTPResponse` reads from: the socket, under a deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))


def _idle_and_open(sock: socket.socket) -> bool:
    """A kept-alive connection is reusable when the server has not closed it meanwhile.

    An idle connection has nothing to read; if it is readable, the server closed it
    (or sent something unasked): either way it is not used again.
    """
    if sock.fileno() < 0:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


# -- what the ollama client (httpx) raises for the same failures ----------------------
# httpx is imported here, on the first failure: ollama has loaded it by then anyway.


def _connect_error(exc: OSError, timeout_s: float) -> httpx.TransportError:
    import httpx

    if isinstance(exc, TimeoutError):
        return httpx.ConnectTimeout(f"no connection within {timeout_s:g} s")
    return httpx.ConnectError(str(exc))


def _send_error(exc: OSError) -> httpx.TransportError:
    import httpx

    if isinstance(exc, TimeoutError):
        return httpx.WriteTimeout(f"sending the request timed out: {exc}")
    return httpx.WriteError(f"sending the request failed: {exc}")


def _read_error(exc: Exception, timeout_s: float) -> httpx.TransportError:
    import httpx

    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(f"no complete answer within {timeout_s:g} s")
    if isinstance(exc, http.client.RemoteDisconnected):
        return httpx.RemoteProtocolError("Server disconnected without sending a response.")
    return httpx.ReadError(f"reading the answer failed: {exc}")
