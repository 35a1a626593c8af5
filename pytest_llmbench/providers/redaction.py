"""Keep secrets out of everything the plugin shows or writes.

API keys are read from environment variables (never from config) and registered
here with :func:`register_secret`; :func:`redact` replaces every registered value
with ``***`` and also masks what looks like a credential whatever its origin:
``Authorization: Bearer ...`` headers, bare ``Bearer ...`` tokens, ``api_key=...``
pairs and passwords in URLs (``https://user:***@host``).

The plugin applies it to every provider error, to every string of a result record,
to the ``--llm-json`` document, to JUnit properties (they come from result records),
to the header lines and to the response cache files.  Pure module; the registry is
per process (under xdist every worker registers the keys it reads).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MASK", "redact", "redact_data", "register_secret", "registered_secrets"]

MASK = "***"
MIN_SECRET_LENGTH = 6
"""Shorter values are not registered: masking ``abc`` everywhere would garble reports."""

_LOCK = threading.Lock()
_SECRETS: set[str] = set()


def _authorization(match: re.Match[str]) -> str:
    scheme = match.group(2)
    return f"{match.group(1)}{scheme} {MASK}" if scheme else f"{match.group(1)}{MASK}"


_Replacement = str | Callable[[re.Match[str]], str]

_PATTERNS: tuple[tuple[re.Pattern[str], _Replacement], ...] = (
    # Authorization: Bearer sk-..., "authorization": "Bearer ...", authorization=Basic ...
    (
        re.compile(
            r"""(?i)(authorization["']?\s*[:=]\s*["']?)(?:(bearer|basic|token)\s+)?[^\s"',;})\]]+"""
        ),
        _authorization,
    ),
    # a bare bearer token anywhere else
    (re.compile(r"(?i)\b(bearer)\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{4,}"), r"\1 " + MASK),
    # api_key=..., "api-key": "...", x-api-key: ...
    (
        re.compile(r"""(?i)((?:x-)?api[_-]?key["']?\s*[:=]\s*["']?)(?!\*\*\*)[^\s"',;}&]+"""),
        r"\1" + MASK,
    ),
    # https://user:password@host
    (re.compile(r"(://[^/\s:@]+:)[^/\s@]+@"), r"\1" + MASK + "@"),
)


def register_secret(value: str | None) -> None:
    """Mask ``value`` from now on (ignored when empty or shorter than 6 characters)."""
    if value is None:
        return
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH:
        return
    with _LOCK:
        _SECRETS.add(value)


def registered_secrets() -> frozenset[str]:
    with _LOCK:
        return frozenset(_SECRETS)


def redact(text: str) -> str:
    """``text`` with every registered secret and every credential-looking part masked."""
    if not text:
        return text
    for secret in sorted(registered_secrets(), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_data(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings, numbers) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value
