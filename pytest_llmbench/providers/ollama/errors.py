"""What went wrong talking to Ollama, in one line that names the URL and says what to do.

:func:`classify` reads the ``ollama`` client's exceptions (its ``ResponseError`` and
``RequestError``, the builtin ``ConnectionError`` it wraps httpx's connect error in,
httpx's own errors) and a reply of the wrong shape (from either transport) as the
transport taxonomy (:mod:`pytest_llmbench.providers.transport`); the lean client's
errors are in it already.  :func:`failure` and :func:`discovery_failure` word the
taxonomy's errors for a request and for discovery.  ``ollama`` and pydantic are never
imported here: an exception can be one of theirs only once they are.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator

from pytest_llmbench.providers.base import ModelNotFound, ProviderError
from pytest_llmbench.providers.transport import (
    TIMEOUTS,
    HttpStatus,
    Kind,
    TransportError,
    connect_reason,
    from_httpx,
    one_line,
    seconds,
)

__all__ = ["NOT_REACHABLE_HINT", "classify", "discovery_failure", "failure", "transport_errors"]

NOT_REACHABLE_HINT = (
    "start it with `ollama serve`, or point --llm-ollama-host / OLLAMA_HOST at a running server"
)

# Exceptions that mean "the reply was not what the protocol promises": bad JSON
# (json.JSONDecodeError is a ValueError), a JSON value of the wrong shape (pydantic's
# ValidationError is a ValueError; ``cls(**[...])`` is a TypeError), and so on.
_MALFORMED = (ValueError, TypeError, KeyError, AttributeError)


def classify(exc: BaseException) -> TransportError | None:
    """``exc`` as the transport taxonomy has it; ``None``: not a failure of the transport
    or of the reply (a bug: the caller lets it through)."""
    if isinstance(exc, TransportError):
        return exc
    ollama = sys.modules.get("ollama")
    if ollama is not None and isinstance(exc, ollama.ResponseError):
        return HttpStatus(exc.status_code, str(exc.error), message=str(exc), origin=exc)
    if ollama is not None and isinstance(exc, ollama.RequestError):
        return TransportError(str(exc.error), Kind.REJECTED, origin=exc)
    if isinstance(exc, ConnectionError):  # the ollama client's wrapping of httpx.ConnectError
        return TransportError(str(exc), Kind.CONNECT, origin=exc)
    found = from_httpx(exc)
    if found is not None:
        return found
    if isinstance(exc, _MALFORMED):
        return TransportError(_malformed_reason(exc), Kind.MALFORMED, origin=exc)
    return None


@contextlib.contextmanager
def transport_errors() -> Iterator[None]:
    """Raise what fails inside as the taxonomy's error (see :func:`classify`)."""
    try:
        yield
    except TransportError:
        raise
    except Exception as exc:
        found = classify(exc)
        if found is None:
            raise
        raise found from exc


def _malformed_reason(exc: BaseException) -> str:
    """What was wrong with a reply, in a few words."""
    pydantic = sys.modules.get("pydantic")  # not imported: not a pydantic error
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg} at character {exc.pos})"
    if pydantic is not None and isinstance(exc, pydantic.ValidationError):
        errors = exc.errors()
        if errors:
            first = errors[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "reply"
            return one_line(f"{where}: {first.get('msg', 'invalid')}", 120)
    return one_line(f"{type(exc).__name__}: {exc}", 120)


def failure(
    exc: BaseException, *, host: str, model: str, action: str, timeout_s: float, connect_s: float
) -> ProviderError:
    """One clear line for anything that went wrong when ``action`` (``generate``,
    ``load``...) of ``model`` went to ``host``; ``connect_s``: the connect timeout."""
    if isinstance(exc, ProviderError):
        return exc
    if not isinstance(exc, TransportError):
        return ProviderError(
            f"unexpected error from ollama at {host} ({action} ollama/{model}): "
            f"{type(exc).__name__}: {one_line(exc, 120)}"
        )
    if isinstance(exc, HttpStatus):
        detail = one_line(exc.error) or "(no error text)"
        if exc.status == 404:
            return ModelNotFound(
                f"model '{model}' not found on {host}: pull it with `ollama pull {model}`"
            )
        if exc.status > 0:
            return ProviderError(
                f"ollama at {host} answered HTTP {exc.status} to {action} ollama/{model}: {detail}"
            )
        return ProviderError(f"ollama at {host} failed to {action} ollama/{model}: {detail}")
    kind = exc.kind
    if kind is Kind.REJECTED:
        return ProviderError(f"bad request for ollama/{model}: {one_line(exc)}")
    if kind is Kind.CONNECT:
        return ProviderError(
            f"Ollama is not reachable at {host} ({connect_reason(exc)}): "
            "start it with `ollama serve`"
        )
    if kind is Kind.CONNECT_TIMEOUT:
        return ProviderError(
            f"Ollama is not reachable at {host} (no connection within "
            f"{seconds(min(timeout_s, connect_s))}): start it with `ollama serve`"
        )
    if kind is Kind.TIMEOUT:
        return ProviderError(f"no answer from ollama/{model} within {seconds(timeout_s)}")
    if kind is Kind.CUT:
        return ProviderError(
            f"ollama at {host} closed the connection during {action} of ollama/{model} "
            "(did the server stop or crash?)"
        )
    if kind is Kind.MALFORMED:
        return ProviderError(
            f"malformed reply from ollama at {host} to {action} ollama/{model}: {exc}"
        )
    return ProviderError(f"talking to ollama at {host} failed: {one_line(exc)}")


def discovery_failure(exc: BaseException, path: str, timeout_s: float) -> tuple[bool, str] | None:
    """Whether a discovery request's failure means the host is not reachable (else it
    answered badly), and why in a few words; ``None``: not a failure of the host."""
    if not isinstance(exc, TransportError) or exc.kind is Kind.REJECTED:
        return None
    if isinstance(exc, HttpStatus):
        return False, f"HTTP {exc.status}: {one_line(exc.error)}"
    if exc.kind is Kind.CONNECT:
        return True, connect_reason(exc)
    if exc.kind in TIMEOUTS:
        return True, f"no answer within {seconds(timeout_s)}"
    if exc.kind is Kind.MALFORMED:
        return False, f"malformed reply to {path}: {exc}"
    return True, one_line(exc)
