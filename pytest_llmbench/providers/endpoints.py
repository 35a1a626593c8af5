"""OpenAI-compatible endpoints as named in config.

Pure module (no ``openai`` import).  Each endpoint becomes a provider of its own,
so model ids read ``groq/llama-3.1-8b-instant`` or ``local/smollm2``.  One line per
endpoint, in the ``llm_openai_endpoints`` ini option or ``--llm-endpoint``::

    NAME = BASE_URL [key_env=ENVVAR] [models=a,b] [structured=auto|json_schema|json_object|none]
                    [retries=N] [backoff=SECONDS] [max_wait=SECONDS]

The API key is never written in config: ``key_env`` names the environment variable
that holds it.  ``openai`` is also the default endpoint (https://api.openai.com/v1, or
``$OPENAI_BASE_URL``, key from ``$OPENAI_API_KEY``) unless configured otherwise.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pytest_llmbench.safety.redaction import register_secret

__all__ = [
    "DEFAULT_OPENAI_URL",
    "RESERVED_NAMES",
    "STRUCTURED_MODES",
    "Endpoint",
    "EndpointError",
    "default_openai_endpoint",
    "endpoints_from_lines",
    "parse_endpoint",
]

DEFAULT_OPENAI_URL = "https://api.openai.com/v1"
STRUCTURED_MODES = ("auto", "json_schema", "json_object", "none")
RESERVED_NAMES = frozenset({"all", "ollama", "llamacpp"})
"""Names an endpoint cannot take: ``all`` is a model spec, the others are providers."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYS = ("key_env", "models", "structured", "retries", "backoff", "max_wait")


class EndpointError(ValueError):
    """A bad endpoint line; ``str()`` is the one-line usage error."""


@dataclass(frozen=True)
class Endpoint:
    """One OpenAI-compatible endpoint."""

    name: str
    base_url: str
    key_env: str | None = None
    """The environment variable that holds the API key (``None``: the endpoint needs none)."""
    models: tuple[str, ...] = ()
    """Models to offer; empty: whatever ``GET /models`` lists."""
    structured: str = "auto"
    """``auto`` tries json_schema, then json_object, then the prompt alone."""
    retries: int = 2
    """Extra attempts after a 429, a 5xx or a connection error."""
    backoff_s: float = 1.0
    """First wait after a 5xx or a connection error (doubled each time)."""
    max_wait_s: float = 60.0
    """The longest single wait; a longer Retry-After fails the call at once."""

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The key from ``key_env`` (``None`` when not set, empty, or no key_env)."""
        if self.key_env is None:
            return None
        env = os.environ if environ is None else environ
        value = env.get(self.key_env, "").strip()
        return value or None

    def describe(self) -> str:
        """The endpoint as a config line (never the key, only the variable's name)."""
        parts = [f"{self.name} = {self.base_url}"]
        if self.key_env:
            parts.append(f"key_env={self.key_env}")
        if self.models:
            parts.append(f"models={','.join(self.models)}")
        if self.structured != "auto":
            parts.append(f"structured={self.structured}")
        return " ".join(parts)


def default_openai_endpoint(environ: Mapping[str, str] | None = None) -> Endpoint:
    """``openai``: the OpenAI API (or ``$OPENAI_BASE_URL``), key from ``$OPENAI_API_KEY``."""
    env = os.environ if environ is None else environ
    url = env.get("OPENAI_BASE_URL", "").strip() or DEFAULT_OPENAI_URL
    return Endpoint("openai", url.rstrip("/"), key_env="OPENAI_API_KEY")


def _number(key: str, value: str, *, whole: bool = False) -> float:
    try:
        number = int(value) if whole else float(value)
    except ValueError:
        kind = "a whole number" if whole else "a number of seconds"
        raise EndpointError(f"{key}= expects {kind}, got {value!r}") from None
    if number < 0 or not math.isfinite(number):
        raise EndpointError(f"{key}= must not be negative, got {value!r}")
    return number


def parse_endpoint(line: str) -> Endpoint:
    """Parse ``NAME = BASE_URL [key=value ...]`` (also ``NAME=BASE_URL ...``)."""
    text = line.strip()
    name, sep, rest = text.partition("=")
    name = name.strip()
    words = rest.split()
    if not sep or not name or not words:
        raise EndpointError(f"expected 'NAME = BASE_URL [key_env=VAR] [models=a,b]', got {line!r}")
    if not _NAME.match(name):
        raise EndpointError(
            f"endpoint name {name!r} must be lower case letters, digits, '_', '.' or '-'"
        )
    if name in RESERVED_NAMES:
        raise EndpointError(f"endpoint name {name!r} is taken; choose another")
    url = words[0].rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url):
        raise EndpointError(f"endpoint {name}: base URL must start with http:// or https://")
    options: dict[str, str] = {}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq or key not in _KEYS:
            raise EndpointError(
                f"endpoint {name}: unknown setting {word!r} (known: {', '.join(_KEYS)})"
            )
        options[key] = value
    key_env = options.get("key_env")
    if key_env is not None and not _ENV.match(key_env):
        raise EndpointError(
            f"endpoint {name}: key_env= names an environment variable (e.g. GROQ_API_KEY), "
            "never the key itself"
        )
    structured = options.get("structured", "auto")
    if structured not in STRUCTURED_MODES:
        raise EndpointError(
            f"endpoint {name}: structured= must be one of {', '.join(STRUCTURED_MODES)}"
        )
    models = tuple(m.strip() for m in options.get("models", "").split(",") if m.strip())
    return Endpoint(
        name=name,
        base_url=url,
        key_env=key_env or None,
        models=models,
        structured=structured,
        retries=int(_number("retries", options.get("retries", "2"), whole=True)),
        backoff_s=_number("backoff", options.get("backoff", "1")),
        max_wait_s=_number("max_wait", options.get("max_wait", "60")),
    )


def endpoints_from_lines(lines: Iterable[str]) -> tuple[Endpoint, ...]:
    """The endpoints of ``NAME=URL ...`` lines (blank and ``#`` lines skipped; a later
    NAME wins).  Every key they name, and the default endpoint's, is registered for
    redaction at once, so that no message of this process can show it."""
    found: dict[str, Endpoint] = {}
    for line in lines:
        if not line.strip() or line.strip().startswith("#"):
            continue
        endpoint = parse_endpoint(line)
        found[endpoint.name] = endpoint
    for endpoint in (*found.values(), default_openai_endpoint()):
        register_secret(endpoint.api_key())
    return tuple(found.values())
