"""What went wrong on the way to a server: one taxonomy for every HTTP transport.

The HTTP providers reach their servers over two transports: the lean client
(:mod:`.wire`) and the official SDK clients (``ollama``, ``openai``, both on httpx).
Every failure of either is one :class:`TransportError` with a :class:`Kind`, and the
provider classes handle only these:

* :attr:`Kind.CONNECT`: no connection (refused, unreachable, no such host);
  :attr:`~TransportError.origin` tells why (:func:`connect_reason`);
* :attr:`Kind.CONNECT_TIMEOUT`: no connection within the connect timeout;
* :attr:`Kind.TIMEOUT`: no answer within the timeout (sending, reading, the call's deadline);
* :attr:`Kind.CUT`: the connection closed or broke after the request went out;
* :attr:`Kind.STATUS`: an HTTP error status (:class:`HttpStatus`: the status, the
  server's error text, the error body and the headers);
* :attr:`Kind.MALFORMED`: a reply that is not what the protocol promises (the message
  says what was wrong);
* :attr:`Kind.REJECTED`: the client would not send the request (its own argument checks);
* :attr:`Kind.OTHER`: anything else the HTTP stack reports.

The lean client's errors are :class:`TransportError` kinds themselves; :func:`from_httpx`
maps the httpx errors under both SDKs (``httpx``, and ``httpx2`` under ``openai``), and
each provider's ``errors`` module maps its SDK's own exceptions.  Nothing here imports
an SDK or httpx: an exception can be an httpx one only once httpx is imported.

The few words the providers' messages share are here too: :func:`one_line`,
:func:`seconds` and :func:`connect_reason`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from pytest_llmbench import formatting
from pytest_llmbench.providers.deadline import DeadlinePassed
from pytest_llmbench.safety.redaction import redact

__all__ = [
    "MAX_DETAIL",
    "TIMEOUTS",
    "HttpStatus",
    "Kind",
    "TransportError",
    "cause_kind",
    "connect_reason",
    "from_httpx",
    "one_line",
    "seconds",
]

MAX_DETAIL = 200
"""How many characters of a server's or a client's text a message quotes (at most)."""


class Kind(enum.Enum):
    """What kind of failure a :class:`TransportError` is (see the module doc)."""

    CONNECT = "connect"
    CONNECT_TIMEOUT = "connect-timeout"
    TIMEOUT = "timeout"
    CUT = "cut"
    STATUS = "status"
    MALFORMED = "malformed"
    REJECTED = "rejected"
    OTHER = "other"


TIMEOUTS = frozenset({Kind.CONNECT_TIMEOUT, Kind.TIMEOUT})
"""No connection or no answer in time."""


class TransportError(Exception):
    """A request that got no usable reply, whichever transport carried it.

    ``kind`` says what happened; ``origin`` is the exception it was read from (the
    error itself for the lean client's): :func:`connect_reason` reads it.
    """

    kind: Kind = Kind.OTHER

    def __init__(
        self, message: str, kind: Kind | None = None, *, origin: BaseException | None = None
    ) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.origin: BaseException = self if origin is None else origin

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, {self.kind})"


class HttpStatus(TransportError):
    """An HTTP error reply (status >= 400, or the SDK's ``-1`` for none).

    ``error`` is the server's error text as the provider reads it, ``body`` the reply's
    error object (the reply itself when it has none) or its text, ``headers`` the reply's
    (names in lower case, whichever transport read them).
    """

    kind = Kind.STATUS

    def __init__(
        self,
        status: int,
        error: str,
        *,
        message: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        origin: BaseException | None = None,
    ) -> None:
        super().__init__(
            message if message is not None else f"{error} (status code: {status})", origin=origin
        )
        self.status = status
        self.error = error
        self.body = body
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in (headers or {}).items()}


def one_line(text: object, limit: int = MAX_DETAIL) -> str:
    """Squash a message onto one line, cap its length and mask any secret in it."""
    return redact(formatting.one_line(text, limit))


def seconds(value: float) -> str:
    """``2.5`` -> ``2.5 s``."""
    return f"{value:g} s"


def connect_reason(exc: BaseException, *, detail: bool = True) -> str:
    """Why a connection failed, in a few words (``connection refused``, ...).

    Reads the exception's chain (a :class:`TransportError` from its ``origin``): the
    ``ollama`` client wraps httpx's error in a builtin ``ConnectionError`` with a
    generic text, the ``openai`` client in its ``APIConnectionError``.  Nothing
    recognised: ``cannot connect``, with the error's own text when ``detail``.
    """
    if isinstance(exc, TransportError):
        exc = exc.origin
    cause: BaseException | None = exc
    for _ in range(7):
        if cause is None:
            break
        text = str(cause).lower()
        if "refused" in text:
            return "connection refused"
        if "name or service not known" in text or "nodename nor servname" in text:
            return "unknown host name"
        if "temporary failure in name resolution" in text or "getaddrinfo" in text:
            return "host name does not resolve"
        if "unreachable" in text:
            return "network unreachable"
        if _timed_out(cause):
            return "connection timed out"
        cause = cause.__cause__ or cause.__context__
    if not detail:
        return "cannot connect"
    shown = one_line(exc.__context__ or exc, 80)
    return f"cannot connect: {shown}" if shown else "cannot connect"


def _timed_out(exc: BaseException) -> bool:
    if isinstance(exc, TransportError):
        return exc.kind in TIMEOUTS
    return "TimeoutException" in _httpx_names(exc)


def _httpx_names(exc: BaseException) -> frozenset[str]:
    """The class names of an httpx (or httpx2) exception, its bases included; none else."""
    if not type(exc).__module__.startswith("httpx"):
        return frozenset()
    return frozenset(c.__name__ for c in type(exc).__mro__)


_HTTPX_KINDS = (
    ("ConnectTimeout", Kind.CONNECT_TIMEOUT),
    ("ConnectError", Kind.CONNECT),
    ("TimeoutException", Kind.TIMEOUT),
    ("RemoteProtocolError", Kind.CUT),
    ("ReadError", Kind.CUT),
    ("WriteError", Kind.CUT),
    ("HTTPError", Kind.OTHER),
)


def from_httpx(exc: BaseException) -> TransportError | None:
    """The taxonomy's error for an httpx (or httpx2) error or a passed deadline
    (:class:`~.deadline.DeadlinePassed`); ``None`` for anything else."""
    if isinstance(exc, DeadlinePassed):
        return TransportError(str(exc), Kind.TIMEOUT, origin=exc)
    names = _httpx_names(exc)
    for name, kind in _HTTPX_KINDS:
        if name in names:
            return TransportError(_text(exc), kind, origin=exc)
    return None


def cause_kind(exc: BaseException) -> Kind | None:
    """The kind of the first httpx error in ``exc``'s chain (an SDK's wrapped one)."""
    cause: BaseException | None = exc
    for _ in range(7):
        if cause is None:
            return None
        found = from_httpx(cause)
        if found is not None:
            return found.kind
        cause = cause.__cause__ or cause.__context__
    return None


def _text(exc: BaseException) -> str:
    """The error's text, or its type's name when it has none."""
    return str(exc) if one_line(exc) else type(exc).__name__
