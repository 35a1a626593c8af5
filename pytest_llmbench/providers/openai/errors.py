"""What went wrong talking to an OpenAI-compatible endpoint, and whether to try again.

:func:`sdk_errors` reads the ``openai`` client's exceptions as the transport taxonomy
(:mod:`pytest_llmbench.providers.transport`); :func:`status_error` reads an error
reply of the lean client as the ``openai`` client would (``Error code: 429 - ...``),
so both transports fail with the same :class:`~.transport.HttpStatus`.
:func:`status_failure` and :func:`connection_failure` word a failed attempt and say
whether (and after how long) to try again; :func:`retry_after_s` reads a 429's wait.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pytest_llmbench.providers.base import ProviderError
from pytest_llmbench.providers.deadline import DeadlinePassed
from pytest_llmbench.providers.endpoints import Endpoint
from pytest_llmbench.providers.transport import (
    HttpStatus,
    Kind,
    TransportError,
    cause_kind,
    connect_reason,
    one_line,
    seconds,
)
from pytest_llmbench.providers.wire import Reply

__all__ = [
    "Attempt",
    "backoff",
    "client_module",
    "connection_failure",
    "error_code",
    "rejects_format",
    "rejects_streaming",
    "retry_after_s",
    "sdk_errors",
    "status_error",
    "status_failure",
]

_REJECTS_FORMAT = ("response_format", "json_schema", "json_object", "response format")
_STREAM_WORD = re.compile(r"\bstream(?:_options)?\b", re.IGNORECASE)
"""``stream`` or ``stream_options`` as a word (not ``upstream``)."""


def client_module() -> ModuleType:
    """The ``openai`` package, imported on first use: it takes about a second to import,
    which a run that never needs it (no https endpoint) should not pay."""
    import openai

    return openai


@contextlib.contextmanager
def sdk_errors() -> Iterator[None]:
    """The ``openai`` client's errors (and a passed deadline), as the transport taxonomy."""
    sdk = client_module()
    try:
        yield
    except sdk.APIStatusError as exc:
        try:
            headers = dict(exc.response.headers.items())
        except Exception:  # a response without headers: nothing to honour
            headers = {}
        message = str(exc.message)
        raise HttpStatus(
            exc.status_code,
            _error_text(exc.body, message),
            message=message,
            body=exc.body,
            headers=headers,
            origin=exc,
        ) from exc
    except sdk.APITimeoutError as exc:
        raise TransportError(str(exc), Kind.TIMEOUT, origin=exc) from exc
    except sdk.APIConnectionError as exc:
        kind = Kind.CUT if cause_kind(exc) is Kind.CUT else Kind.CONNECT
        raise TransportError(str(exc), kind, origin=exc) from exc
    except DeadlinePassed as exc:
        raise TransportError(str(exc), Kind.TIMEOUT, origin=exc) from exc


def status_error(reply: Reply) -> HttpStatus:
    """An error reply from the lean client, as the ``openai`` client would raise it."""
    text = reply.body.decode("utf-8", errors="replace").strip()
    message = f"Error code: {reply.status}"
    body: Any = text
    try:
        body = json.loads(text)
    except ValueError:
        pass
    else:
        error = body.get("error", body) if isinstance(body, Mapping) else None
        detail = error.get("message") if isinstance(error, Mapping) else None
        if isinstance(detail, str) and detail:
            message += f" - {detail}"
    data = body.get("error", body) if isinstance(body, Mapping) else body
    return HttpStatus(
        reply.status,
        _error_text(data, message),
        message=message,
        body=data,
        headers=dict(reply.headers.items()),
    )


def _error_text(body: Any, message: str) -> str:
    """The server's own error text: ``error.message``, ``detail``, else the client's."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str) and inner:
            return inner
        if body.get("detail"):
            return str(body["detail"])
    if isinstance(body, str) and body:
        return body
    return message


def error_code(exc: HttpStatus) -> str | None:
    """The error's ``code`` (``insufficient_quota``...)."""
    body: Any = exc.body
    inner = body.get("error", body) if isinstance(body, Mapping) else None
    code = inner.get("code") if isinstance(inner, Mapping) else None
    return str(code) if code else None


def rejects_format(exc: HttpStatus) -> bool:
    """An error that says the endpoint does not take the response format we sent."""
    if exc.status not in (400, 422, 500, 501):
        return False
    text = exc.error.lower()
    param = exc.body.get("error", {}) if isinstance(exc.body, Mapping) else {}
    if isinstance(param, Mapping) and param.get("param") == "response_format":
        return True
    return any(word in text for word in _REJECTS_FORMAT)


def rejects_streaming(exc: HttpStatus) -> bool:
    """An error that says the endpoint does not take ``stream`` or ``stream_options`` (a
    400 or 422 naming them: "Unrecognized request argument supplied: stream_options")."""
    if exc.status not in (400, 422):
        return False
    param = exc.body.get("error", {}) if isinstance(exc.body, Mapping) else {}
    if isinstance(param, Mapping) and param.get("param") in ("stream", "stream_options"):
        return True
    return _STREAM_WORD.search(exc.error) is not None


def retry_after_s(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """The wait a 429 asks for: ``retry-after-ms``, else ``Retry-After`` (seconds or HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value is None:
            continue
        try:
            waited = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(waited) and waited >= 0:
            return waited
    value = lowered.get("retry-after")
    if value:
        parsed = email.utils.parsedate_tz(value)
        if parsed is not None:
            when = email.utils.mktime_tz(parsed)
            return max(0.0, when - (time.time() if now is None else now))
    return None


@dataclass(frozen=True)
class Attempt:
    """Why an attempt failed and whether (and after how long) to try again."""

    error: ProviderError
    wait_s: float | None
    """Seconds to wait before the next attempt; ``None``: do not retry."""


def backoff(endpoint: Endpoint, retries: int) -> float:
    """The wait before retry number ``retries + 1``: doubling from ``backoff_s``."""
    return float(endpoint.backoff_s * (2**retries))


def status_failure(exc: HttpStatus, *, endpoint: Endpoint, model: str, retries: int) -> Attempt:
    """An HTTP error reply to ``model``'s request after ``retries`` retries; a final error
    keeps the server's ``Retry-After`` (429, 503) as ``retry_after_s``."""
    failed = _status_failure(exc, endpoint=endpoint, model=model, retries=retries)
    if failed.wait_s is None and exc.status in (429, 503):
        failed.error.retry_after_s = retry_after_s(exc.headers)
    return failed


def _status_failure(exc: HttpStatus, *, endpoint: Endpoint, model: str, retries: int) -> Attempt:
    status = exc.status
    detail = one_line(exc.error) or "(no error text)"
    where = f"{endpoint.name}/{model}"
    url = endpoint.base_url
    left = retries < endpoint.retries
    attempts = f" after {retries + 1} attempts" if retries else ""
    if status == 429 and error_code(exc) == "insufficient_quota":
        # OpenAI's "You exceeded your current quota": waiting will not help
        return Attempt(
            ProviderError(f"{url} refused {where}: out of quota (HTTP 429): {detail}"), None
        )
    if status == 429:
        wait = retry_after_s(exc.headers)
        if wait is None:
            wait = backoff(endpoint, retries)
        if left and wait <= endpoint.max_wait_s:
            return Attempt(ProviderError(detail), wait)
        why = (
            f"; it asks to retry after {seconds(wait)}, more than max_wait "
            f"{seconds(endpoint.max_wait_s)}"
            if left
            else ""
        )
        return Attempt(
            ProviderError(f"rate limited by {url} (HTTP 429){attempts} for {where}{why}: {detail}"),
            None,
        )
    if status in (401, 403):
        return Attempt(
            ProviderError(
                f"{url} rejected the API key from ${endpoint.key_env} "
                f"(HTTP {status}) for {where}: {detail}"
            ),
            None,
        )
    if status == 404:
        return Attempt(
            ProviderError(f"model '{model}' not found at {url} (HTTP 404): {detail}"), None
        )
    if status >= 500:
        wait = backoff(endpoint, retries)
        if left and wait <= endpoint.max_wait_s:
            return Attempt(ProviderError(detail), wait)
        return Attempt(
            ProviderError(f"{url} answered HTTP {status}{attempts} for {where}: {detail}"), None
        )
    return Attempt(ProviderError(f"{url} answered HTTP {status} for {where}: {detail}"), None)


def connection_failure(exc: TransportError, *, endpoint: Endpoint, retries: int) -> Attempt:
    """No connection, or it broke before the answer, after ``retries`` retries."""
    wait = backoff(endpoint, retries)
    if retries < endpoint.retries and wait <= endpoint.max_wait_s:
        return Attempt(ProviderError(str(exc)), wait)
    attempts = f" after {retries + 1} attempts" if retries else ""
    return Attempt(
        ProviderError(
            f"endpoint {endpoint.base_url} is not reachable "
            f"({connect_reason(exc, detail=False)}){attempts}: "
            "start the server or fix the endpoint's URL"
        ),
        None,
    )
