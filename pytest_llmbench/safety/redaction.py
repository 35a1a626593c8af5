"""Keep secrets out of everything the plugin shows or writes.

API keys are read from environment variables (never from config) and registered
here with :func:`register_secret`; :func:`redact` replaces every registered value
with ``***`` and also masks what looks like a credential whatever its origin:
``Authorization: Bearer ...`` headers, bare ``Bearer ...`` tokens, ``api_key=...``
pairs and passwords in URLs (``https://user:***@host``).

The plugin applies it to every provider error, to every string of a result record,
to the ``--llm-json`` document, to JUnit properties (they come from result records),
to the header lines and to the response cache files (what is printed or written as text
goes through :func:`pytest_llmbench.safety.sanitising.shown`, which also escapes control
characters).  Pure module; the registry is per process (under xdist every worker
registers the keys it reads).

:func:`register_environment_secrets` registers the values of environment variables
whose names look secret (``*KEY*``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``), so a
case file or a model that echoes one cannot get it into a report.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "MASK",
    "redact",
    "redact_data",
    "register_environment_secrets",
    "register_secret",
    "registered_secrets",
]

MASK = "***"
MIN_SECRET_LENGTH = 6
"""Shorter values are not registered: masking ``abc`` everywhere would garble reports."""

_LOCK = threading.Lock()
_SECRETS: set[str] = set()
_SECRETS_PATTERN: re.Pattern[str] | None = None
"""Every registered secret in one alternation, longest first (rebuilt when one is added)."""


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
    global _SECRETS_PATTERN
    with _LOCK:
        if value in _SECRETS:
            return
        _SECRETS.add(value)
        ordered = sorted(_SECRETS, key=len, reverse=True)
        _SECRETS_PATTERN = re.compile("|".join(map(re.escape, ordered)))


SECRET_NAME = re.compile(r"(?i)KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL")
"""Environment variable names whose values are registered as secrets."""


def register_environment_secrets(environ: Mapping[str, str] | None = None) -> None:
    """Register the value of every variable whose name looks secret (``OPENAI_API_KEY``,
    ``GH_TOKEN``, ``AWS_SECRET_ACCESS_KEY``, ``DB_PASSWORD``)."""
    for name, value in (os.environ if environ is None else environ).items():
        if SECRET_NAME.search(name) and not _plainly_no_secret(value.strip()):
            register_secret(value)


_NO_SECRET_WORDS = frozenset({"true", "false", "yes", "no", "none", "null", "auto", "disabled"})


def _plainly_no_secret(value: str) -> bool:
    """Settings that merely sit in a secret-looking variable (``PIP_KEYRING_PROVIDER=disabled``,
    ``PASSWORD_STORE_DIR=/home/me/.password-store``): masking them would garble reports."""
    return value.casefold() in _NO_SECRET_WORDS or value.startswith(("/", "~", "./", "../"))


def registered_secrets() -> frozenset[str]:
    with _LOCK:
        return frozenset(_SECRETS)


def _may_hold_credentials(text: str) -> bool:
    """Whether any of :data:`_PATTERNS` could match: the words they need, or a URL with ``@``."""
    if "@" in text and "://" in text:
        return True
    low = text.lower()
    return "authorization" in low or "bearer" in low or ("api" in low and "key" in low)


def redact(text: str) -> str:
    """``text`` with every registered secret and every credential-looking part masked.

    Called on every result record and journal line: text without a registered secret
    and without a credential hint (most model answers) costs one scan per step.
    """
    if not text:
        return text
    secrets = _SECRETS_PATTERN
    if secrets is not None:
        text = secrets.sub(MASK, text)
    if not _may_hold_credentials(text):
        return text
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
