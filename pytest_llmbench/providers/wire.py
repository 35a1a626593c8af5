"""A lean JSON-over-HTTP/1.1 client for the HTTP providers' hot calls.

The SDK clients go through httpx: the ``ollama`` client costs about 1 ms of CPU per
call on a small machine, the ``openai`` client about 2 ms (its parameter transform,
a uuid per request, httpx).  Against a fast model (a 20 ms answer) that is 5-10 % of
the run, and it sits inside the measured latency, between the request going out and
the answer being read.  This client does the same request with :mod:`http.client`
on a kept-alive connection, head and body in one write, and reads the reply with
its own small HTTP/1.1 reader (status line, headers, a ``Content-Length`` or chunked
body, or everything up to the end of a connection the server closes).

:class:`JsonWire` is the transport: one base URL, fixed headers, ``request()``
returns the status, headers and body of the reply, whatever the status, and raises
a :class:`WireError` when no reply came: each a :class:`~.transport.TransportError`
of the kind named (:mod:`.transport`, the taxonomy the SDK clients' errors map into too):

* no connection (refused, unreachable, no such host): :class:`ConnectFailed`
  (``CONNECT``); none within the connect timeout: :class:`ConnectTimedOut`
  (``CONNECT_TIMEOUT``);
* sending failed: :class:`WriteFailed` (``CUT``); not within the timeout:
  :class:`WriteTimedOut` (``TIMEOUT``);
* no complete answer within the timeout: :class:`ReadTimedOut` (``TIMEOUT``);
* the connection closed or reset after the request went out: :class:`Disconnected`
  (nothing came back) or :class:`ReadFailed` (``CUT``).

So the providers' retry and error-message logic treats both transports alike.

It is used only where it can do all the SDK client would: plain ``http://`` URLs
that no proxy variable applies to (:func:`usable_for`).  A redirect (which both SDK
clients follow) is the caller's to hand over: :class:`ChatWire` raises
:class:`Redirected`, and the provider falls back to its SDK client for that host.

One connection per thread; a connection the server closed while it was idle is
noticed before it is reused.  Nothing here imports an SDK: a run that never uses
Ollama does not pay for importing ``ollama``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import socket
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_llmbench._version import __version__
from pytest_llmbench.providers.transport import HttpStatus, Kind, TransportError

__all__ = [
    "REDIRECTS",
    "USER_AGENT",
    "ChatWire",
    "ConnectFailed",
    "ConnectTimedOut",
    "Disconnected",
    "JsonWire",
    "ReadFailed",
    "ReadTimedOut",
    "Redirected",
    "Reply",
    "WireError",
    "WriteFailed",
    "WriteTimedOut",
    "error_text",
    "usable_for",
]

REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = f"pytest-llmbench/{__version__} (python http.client)"


class Redirected(Exception):
    """The server answered with a redirect: use a client that follows it."""


class WireError(TransportError):
    """No reply: the request could not be sent or its answer not read."""


class ConnectFailed(WireError):
    """No connection (refused, unreachable, unknown host); the message has the OS's reason."""

    kind = Kind.CONNECT


class ConnectTimedOut(WireError):
    """No connection within the connect timeout."""

    kind = Kind.CONNECT_TIMEOUT


class WriteFailed(WireError):
    """Sending the request failed."""

    kind = Kind.CUT


class WriteTimedOut(WriteFailed):
    """Sending the request took longer than the timeout."""

    kind = Kind.TIMEOUT


class ReadTimedOut(WireError):
    """No answer (or no more of it) within the read timeout."""

    kind = Kind.TIMEOUT


class Disconnected(WireError):
    """The server closed the connection without sending a response."""

    kind = Kind.CUT


class ReadFailed(WireError):
    """Reading the answer failed (connection reset, broken HTTP)."""

    kind = Kind.CUT


class Headers(Mapping[str, str]):
    """A reply's headers: names matched whatever their case, as HTTP has it."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._by_name: dict[str, str] = {}
        for name, value in pairs:  # a repeated header: its values joined, as HTTP allows
            key = name.lower()
            self._by_name[key] = f"{self._by_name[key]}, {value}" if key in self._by_name else value

    def __getitem__(self, name: str) -> str:
        return self._by_name[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._pairs))

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str, default: Any = None) -> Any:  # Mapping.get: a KeyError a miss
        return self._by_name.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __repr__(self) -> str:
        return f"Headers({self._pairs!r})"


@dataclass(frozen=True)
class Reply:
    """One HTTP reply, whatever its status."""

    status: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        """The body as JSON (:class:`json.JSONDecodeError`, a ``ValueError``, if it is not)."""
        return json.loads(self.body)


def usable_for(url: str) -> bool:
    """Whether the lean client can talk to ``url`` as an SDK client would: plain http,
    no proxy in the environment that applies to the host."""
    split = urllib.parse.urlsplit(url)
    if split.scheme != "http" or not split.hostname:
        return False
    if not any(value and name.lower().endswith("_proxy") for name, value in os.environ.items()):
        return True  # no proxy variable at all (urllib.request, ~5 ms to import, not needed)
    from urllib.request import getproxies_environment, proxy_bypass

    proxies = getproxies_environment()
    if not any(key in proxies for key in ("http", "all")):
        return True
    return bool(proxy_bypass(split.hostname))


class JsonWire:
    """JSON requests to one base URL over kept-alive connections (one per thread).

    ``headers`` go with every request (``Host`` and ``Content-Length`` are added);
    ``timeout_s`` is the default read timeout, ``connect_timeout_s`` caps connecting.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        timeout_s: float,
        connect_timeout_s: float,
    ) -> None:
        split = urllib.parse.urlsplit(base_url)
        if split.hostname is None:
            raise ValueError(f"no host name in {base_url!r}")
        self.base_url = base_url
        self._address = (split.hostname, split.port or 80)
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._prefix = split.path.rstrip("/")
        lines = [f"Host: {split.netloc}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._headers = "\r\n".join(lines) + "\r\n"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        # A wire dropped without close() (its provider was) closes its sockets too.
        weakref.finalize(self, _close_sockets, self._open)

    def close(self) -> None:
        """Close every connection (they reopen on demand)."""
        with self._lock:
            sockets = list(self._open)
            self._open.clear()
        _close_sockets(sockets)
        self._local = threading.local()

    def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        timeout_s: float | None = None,
        on_line: Callable[[bytes], None] | None = None,
    ) -> Reply:
        """``method`` ``path`` (below the base URL) with ``payload`` as JSON (``None``:
        no body); the reply.  ``timeout_s`` overrides the read timeout for this request.

        With ``on_line``, a successful (2xx) reply's body is streamed: each line (NDJSON,
        Server-Sent Events) is handed to ``on_line`` as soon as it has arrived, without
        its line end, and the reply's ``body`` is empty; any other reply is read whole.
        An exception ``on_line`` raises ends the request (the connection is dropped).
        """
        if payload is None:
            body = b""
            head = f"{method} {self._prefix}{path} HTTP/1.1\r\n{self._headers}\r\n"
        else:
            body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
            head = (
                f"{method} {self._prefix}{path} HTTP/1.1\r\n{self._headers}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
        timeout = self._timeout_s if timeout_s is None else timeout_s
        # The timeout is a deadline for the whole call: connect, send and every read (a
        # server trickling its answer a byte at a time is cut off at the deadline).
        deadline = time.monotonic() + timeout
        sock = self._socket(timeout)
        try:
            # Head and body in one write: two would cost the server an extra wake-up.
            _send_all(sock, head.encode("latin-1") + body, deadline)
        except TimeoutError as exc:
            self._drop(sock)
            raise WriteTimedOut(f"sending the request timed out: {exc}") from exc
        except OSError as exc:
            self._drop(sock)
            raise WriteFailed(f"sending the request failed: {exc}") from exc
        reader = io.BufferedReader(_DeadlineReader(sock, deadline))
        try:
            status, headers, data, will_close = _read_reply(reader, method, on_line)
        except _LineFailed as failed:  # on_line gave up on the stream: the rest is unread
            self._drop(sock)
            raise failed.error from None
        except TimeoutError as exc:
            self._drop(sock)
            raise ReadTimedOut(f"no complete answer within {timeout:g} s") from exc
        except WireError:
            self._drop(sock)
            raise
        except (OSError, ValueError) as exc:
            self._drop(sock)
            raise ReadFailed(f"reading the answer failed: {exc}") from exc
        if will_close:
            self._drop(sock)
        return Reply(status, headers, data)

    # -- connections ---------------------------------------------------------------

    def _socket(self, timeout_s: float) -> socket.socket:
        sock: socket.socket | None = getattr(self._local, "sock", None)
        # As httpx does before it reuses a connection: a server that closed it (or died)
        # while it was idle shows now, not as a request that got no answer.
        if sock is not None and not _idle_and_open(sock):
            self._drop(sock)
            sock = None
        if sock is None:
            sock = self._connect(timeout_s)
            self._local.sock = sock
            with self._lock:
                self._open.append(sock)
        return sock

    def _connect(self, timeout_s: float) -> socket.socket:
        within = min(self._connect_timeout_s, timeout_s)
        try:
            sock = socket.create_connection(self._address, timeout=within)
        except TimeoutError as exc:
            raise ConnectTimedOut(f"no connection within {within:g} s") from exc
        except OSError as exc:
            raise ConnectFailed(str(exc)) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Non-blocking: each send and read is tried at once and waits (poll, to the call's
        # deadline) only when it must; a socket with a timeout would poll before every
        # one and need a settimeout (a system call) per read to keep the deadline.
        sock.setblocking(False)
        return sock

    def _drop(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.close()
        with self._lock:
            if sock in self._open:
                self._open.remove(sock)
        if getattr(self._local, "sock", None) is sock:
            self._local.sock = None


def _close_sockets(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.close()


def _idle_and_open(sock: socket.socket) -> bool:
    """A kept-alive connection is reusable when the server has not closed it meanwhile.

    An idle connection has nothing to read; if it is readable, the server closed it
    (or sent something unasked): either way it is not used again.
    """
    if sock.fileno() < 0:
        return False
    try:  # the socket is non-blocking: nothing to read raises at once
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except (OSError, ValueError):
        return False
    return False


# -- Ollama ---------------------------------------------------------------------------


def _ollama_headers() -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    api_key = os.environ.get("OLLAMA_API_KEY")
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


class ChatWire(JsonWire):
    """JSON ``POST`` requests to one Ollama host:

    * no reply: the :class:`WireError` kinds;
    * an HTTP error status: :class:`~.transport.HttpStatus` with the server's ``error``
      text (:func:`error_text`);
    * a redirect: :class:`Redirected`;
    * a reply that is not JSON: :class:`json.JSONDecodeError` (the provider reads it as
      a malformed reply, as it reads one of the wrong shape).
    """

    def __init__(self, host: str, *, timeout_s: float, connect_timeout_s: float) -> None:
        super().__init__(
            host,
            headers=_ollama_headers(),
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
        )
        self.host = host

    def post(self, path: str, payload: Mapping[str, Any]) -> Any:
        """POST ``payload`` as JSON to ``path`` (``/api/chat``); the reply's JSON."""
        reply = self.reply("POST", path, payload)
        if reply.status >= 400:
            raise HttpStatus(reply.status, error_text(reply))
        return reply.json()

    def stream_post(
        self, path: str, payload: Mapping[str, Any], on_line: Callable[[bytes], None]
    ) -> None:
        """POST ``payload`` to ``path`` and hand each line of the streamed reply to
        ``on_line`` as it arrives (an error status: :class:`~.transport.HttpStatus`)."""
        reply = self.request("POST", path, payload, on_line=on_line)
        if reply.status in REDIRECTS:
            raise Redirected(f"HTTP {reply.status} to {reply.headers.get('Location')}")
        if reply.status >= 400:
            raise HttpStatus(reply.status, error_text(reply))

    def reply(
        self,
        method: str,
        path: str,
        payload: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Reply:
        """The reply to one request, whatever its status but a redirect
        (:class:`Redirected`); no reply: the :class:`WireError` kinds."""
        reply = self.request(method, path, payload, timeout_s=timeout_s)
        if reply.status in REDIRECTS:
            raise Redirected(f"HTTP {reply.status} to {reply.headers.get('Location')}")
        return reply


def error_text(reply: Reply) -> str:
    """An Ollama error reply's reason, as ``ollama.ResponseError`` reads it: the JSON
    ``error`` field, else the body as text."""
    text = reply.body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text
    found = data.get("error", text) if isinstance(data, dict) else text
    return found if isinstance(found, str) else str(found)


MAX_LINE = 65536
MAX_HEADERS = 100


def _line(reader: io.BufferedReader[Any]) -> bytes:
    line = reader.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ReadFailed("reading the answer failed: a header line longer than 64 KiB")
    return line


def _read_reply(
    reader: io.BufferedReader[Any],
    method: str,
    on_line: Callable[[bytes], None] | None = None,
) -> tuple[int, Headers, bytes, bool]:
    """Status, headers, body and whether the server closes the connection after it.

    Interim ``1xx`` replies are skipped; the body is what ``Content-Length`` says, the
    chunks of a chunked reply (trailers dropped), or everything up to the end of a
    connection the server closes.  With ``on_line``, a 2xx body goes to it line by line
    as it arrives (the body returned is empty).
    """
    while True:
        line = _line(reader)
        if not line:
            raise Disconnected("Server disconnected without sending a response.")
        parts = line.decode("latin-1").rstrip("\r\n").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ReadFailed(f"reading the answer failed: not an HTTP status line: {line[:80]!r}")
        version, status = parts[0], int(parts[1])
        pairs: list[tuple[str, str]] = []
        while True:
            header = reader.readline(MAX_LINE + 1)  # _line() inlined: a dozen a reply
            if len(header) > MAX_LINE:
                raise ReadFailed("reading the answer failed: a header line longer than 64 KiB")
            if header in (b"\r\n", b"\n", b""):
                break
            if len(pairs) >= MAX_HEADERS:
                raise ReadFailed(f"reading the answer failed: more than {MAX_HEADERS} headers")
            name, colon, value = header.decode("latin-1").partition(":")
            if colon:
                pairs.append((name.strip(), value.strip()))
        if not 100 <= status < 200:
            break
    headers = Headers(pairs)
    connection = headers.get("Connection", "").lower()
    will_close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
    if method == "HEAD" or status in (204, 304):
        return status, headers, b"", will_close
    if on_line is not None and 200 <= status < 300:
        return status, headers, b"", _stream_lines(reader, headers, on_line) or will_close
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return status, headers, _read_chunks(reader), will_close
    length = headers.get("Content-Length")
    if length is None:  # the body ends where the connection does
        return status, headers, reader.read(), True
    if not length.strip().isdigit():
        raise ReadFailed(f"reading the answer failed: Content-Length {length!r}")
    return status, headers, _read_exactly(reader, int(length)), will_close


def _read_exactly(reader: io.BufferedReader, size: int) -> bytes:
    data = reader.read(size)
    if len(data) < size:
        raise ReadFailed(
            f"reading the answer failed: the connection closed after {len(data)} of {size} bytes"
        )
    return data


def _read_chunks(reader: io.BufferedReader[Any]) -> bytes:
    body = bytearray()
    while True:
        size_line = _line(reader)
        if not size_line:
            raise ReadFailed("reading the answer failed: the connection closed in a chunk")
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ReadFailed(f"reading the answer failed: chunk size {size_text[:20]!r}") from None
        if size == 0:
            while _line(reader) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return bytes(body)
        body += _read_exactly(reader, size)
        _line(reader)  # the CRLF after the chunk


class _LineFailed(Exception):
    """What ``on_line`` raised, carried past the reader's own error handling."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _stream_lines(
    reader: io.BufferedReader[Any], headers: Headers, on_line: Callable[[bytes], None]
) -> bool:
    def hand(line: bytes) -> None:
        try:
            on_line(line)
        except Exception as exc:
            raise _LineFailed(exc) from exc

    return _read_lines(reader, headers, hand)


def _read_lines(
    reader: io.BufferedReader[Any], headers: Headers, on_line: Callable[[bytes], None]
) -> bool:
    """Hand a body's lines to ``on_line`` as they arrive; whether the connection ends with it.

    Each chunk of a chunked body is passed on when it has arrived (a line split over
    chunks is joined); a ``Content-Length`` body or one that ends with the connection is
    read line by line.  Lines are passed without their ``\r\n`` or ``\n``.
    """
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        pending = b""
        readline = reader.readline
        while True:
            size_line = readline(MAX_LINE + 1)  # _line() inlined: two a streamed chunk
            if not size_line:
                raise ReadFailed("reading the answer failed: the connection closed in a chunk")
            if len(size_line) > MAX_LINE:
                raise ReadFailed("reading the answer failed: a header line longer than 64 KiB")
            size_text = size_line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ReadFailed(
                    f"reading the answer failed: chunk size {size_text[:20]!r}"
                ) from None
            if size == 0:
                while _line(reader) not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                if pending:
                    on_line(pending.rstrip(b"\r"))
                return False
            pending += _read_exactly(reader, size)
            if len(readline(MAX_LINE + 1)) > MAX_LINE:  # the CRLF after the chunk
                raise ReadFailed("reading the answer failed: a header line longer than 64 KiB")
            *lines, pending = pending.split(b"\n")
            for line in lines:
                on_line(line.rstrip(b"\r"))
    length = headers.get("Content-Length")
    if length is not None and not length.strip().isdigit():
        raise ReadFailed(f"reading the answer failed: Content-Length {length!r}")
    left = int(length) if length is not None else -1
    while left != 0:
        line = reader.readline(left) if left > 0 else reader.readline()
        if not line:
            if left > 0:
                raise ReadFailed("reading the answer failed: the connection closed in the body")
            return True  # the body ended with the connection
        if left > 0:
            left -= len(line)
        on_line(line.rstrip(b"\r\n"))
    return False


def _remaining(deadline: float) -> float:
    """Seconds left before ``deadline``; ``TimeoutError`` when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


def _wait_for(sock: socket.socket, deadline: float, *, write: bool = False) -> None:
    """Wait until ``sock`` can be read (or written); ``TimeoutError`` when the deadline
    passes first."""
    if not hasattr(select, "poll"):  # Windows: select() (sockets only there, no fd limit)
        readers, writers = ([], [sock]) if write else ([sock], [])
        while not any(select.select(readers, writers, [], _remaining(deadline))):
            pass
        return
    poller = select.poll()
    poller.register(sock, select.POLLOUT if write else select.POLLIN)
    while not poller.poll(_remaining(deadline) * 1000.0):
        pass  # woken without an event before the time ran out: _remaining() decides


def _send_all(sock: socket.socket, data: bytes, deadline: float) -> None:
    """Send ``data`` on the non-blocking ``sock`` by ``deadline`` (``TimeoutError``)."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            _wait_for(sock, deadline, write=True)


class _DeadlineReader(io.RawIOBase):
    """Reads a non-blocking socket, waiting only for the time left before the deadline.

    Each read waits (poll) first: a read is asked for when the buffer has run dry, and
    the next piece of a reply (its start, a streamed token) is then seldom there yet,
    so trying first would mostly cost a third system call."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            _wait_for(self._sock, self._deadline)
            try:
                return self._sock.recv_into(buffer)
            except BlockingIOError:  # readable, then not (another reader): wait again
                continue
