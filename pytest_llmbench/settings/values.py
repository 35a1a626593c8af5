"""The values of the ``--llm-*`` options and ``llm_*`` ini keys: one ``parse_*`` function
per kind of value, each raising :class:`OptionError` with a message that names the option.

The pytest plugin turns an :class:`OptionError` into a usage error (at parse time, as an
option's ``type=``, and when an ini value is read). Pure: no pytest; what a value needs
(selection rules, the cache modes, ranking policies) is imported when it is parsed.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "DEFAULT_REGISTRY_PATH",
    "DIST_MODES",
    "FAIL_ON",
    "GENERIC_OFF",
    "MAX_REPEAT",
    "MAX_RETRIES",
    "MAX_TIMEOUT_S",
    "OptionError",
    "parse_gguf",
    "parse_timeout",
]


class OptionError(ValueError):
    """A value an option or ini key does not take; the message names the option."""


DIST_MODES = ("model", "xdist")
FAIL_ON = ("case", "champion")
DEFAULT_REGISTRY_PATH = "__default__"
"""What ``--llm-update-registry`` holds when given without a path."""
GENERIC_OFF = math.inf
"""What ``parse_threshold("off")`` returns: a similarity no answer reaches."""
MAX_REPEAT = 1000
"""The most repeats ``--llm-repeat`` (and a case file's ``repeat:``) may ask for."""
MAX_TIMEOUT_S = 86400.0
"""The longest ``--llm-timeout``: one day."""
MAX_RETRIES = 10
"""The most retries ``llm_retries`` may ask for."""


# -- parsing: one function per kind of value, raising a usage error that names the option


def parse_timeout(value: str, name: str = "--llm-timeout") -> float:
    """A positive, finite number of seconds, at most :data:`MAX_TIMEOUT_S`."""
    try:
        number = float(value)
    except ValueError:
        raise OptionError(f"{name}: expected a number of seconds, got {value!r}") from None
    if not math.isfinite(number):
        raise OptionError(
            f"{name}: expected a finite number of seconds, got {value!r} "
            f"(at most {MAX_TIMEOUT_S:g})"
        )
    if number <= 0:
        raise OptionError(f"{name}: expected a positive number of seconds, got {value!r}")
    if number > MAX_TIMEOUT_S:
        raise OptionError(
            f"{name}: expected at most {MAX_TIMEOUT_S:g} seconds (one day), got {value!r}"
        )
    return number


_HOSTNAME = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$|^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$"
)


def parse_ollama_host(value: str, name: str = "--llm-ollama-host") -> str:
    """An Ollama server: ``[http[s]://]HOST[:PORT][/path]`` with a port from 1 to 65535."""
    import urllib.parse

    from pytest_llmbench.safety.redaction import redact, register_secret

    text = value.strip()
    shown = redact(text)
    example = "give it as http://HOST:PORT, e.g. http://127.0.0.1:11434"
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "http", text
    if scheme.lower() not in ("http", "https"):
        raise OptionError(
            f"{name}: {shown!r} is not an Ollama server URL: Ollama speaks http or https, "
            f"not {scheme}; {example}"
        )
    split = urllib.parse.urlsplit(f"{scheme}://{rest}")
    register_secret(split.password)  # masked wherever it would show
    if not _HOSTNAME.match(split.hostname or ""):
        raise OptionError(f"{name}: {shown!r} has no valid host name; {example}")
    try:
        port = split.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise OptionError(f"{name}: {shown!r} has a bad port; a port is a number from 1 to 65535")
    return text


def parse_repeat(value: str, name: str = "--llm-repeat") -> int:
    """A whole number from 1 to :data:`MAX_REPEAT`."""
    try:
        number = int(value)
    except ValueError:
        raise OptionError(f"{name}: expected a whole number, got {value!r}") from None
    if number < 1:
        raise OptionError(f"{name}: expected a whole number of at least 1, got {value!r}")
    if number > MAX_REPEAT:
        raise OptionError(
            f"{name}: expected at most {MAX_REPEAT} repeats, got {value!r} "
            "(split a longer benchmark into several runs)"
        )
    return number


MAX_COUNT = 1024
"""The most threads or requests in flight an option takes."""


def parse_count(value: str, name: str) -> int:
    """A whole number from 1 to :data:`MAX_COUNT` (threads, requests in flight)."""
    try:
        number = int(value)
    except ValueError:
        raise OptionError(f"{name}: expected a whole number, got {value!r}") from None
    if not 1 <= number <= MAX_COUNT:
        raise OptionError(f"{name}: expected a whole number from 1 to {MAX_COUNT}, got {value!r}")
    return number


def parse_threads(value: str, name: str = "--llm-threads") -> int:
    """``--llm-threads``: embedded llama.cpp threads per model."""
    return parse_count(value, name)


def parse_load(value: str, name: str = "--llm-load") -> int:
    """``--llm-load``: requests in flight per model in the load phase."""
    return parse_count(value, name)


def parse_consensus_pairs(value: str, name: str = "--llm-consensus-pairs") -> int:
    """How many consensus combinations to rank: a whole number from 1 to
    :data:`MAX_REPEAT`, its errors under its own name (not ``--llm-repeat``'s)."""
    try:
        number = int(value)
    except ValueError:
        raise OptionError(f"{name}: expected a whole number, got {value!r}") from None
    if not 1 <= number <= MAX_REPEAT:
        raise OptionError(f"{name}: expected a whole number from 1 to {MAX_REPEAT}, got {value!r}")
    return number


_VERSION_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def parse_prompt_versions(value: str) -> list[str]:
    """Comma-separated prompt version names (``v2`` or ``v1,v3``)."""
    names = [part.strip() for part in value.split(",") if part.strip()]
    bad = [name for name in names if not _VERSION_NAME.fullmatch(name)]
    if not names or bad:
        raise OptionError(f"expected prompt version names such as v2 or v1,v3, got {value!r}")
    return names


def parse_max_size(value: str, name: str = "--llm-max-size") -> str:
    """A size such as ``8GB`` (checked here; the text is kept for the header)."""
    from pytest_llmbench.selection.rules import SizeError, parse_size

    try:
        parse_size(value)
    except SizeError as exc:
        raise OptionError(f"{name}: {exc}") from None
    return value


def parse_cache_mode(value: str, name: str = "--llm-cache") -> str:
    from pytest_llmbench.execution.cache import MODES

    if value not in MODES:
        raise OptionError(f"{name} must be one of {', '.join(MODES)}, got {value!r}")
    return value


def parse_policy(value: str) -> str:
    from pytest_llmbench.analysis.ranking import POLICIES

    if value not in POLICIES:
        raise OptionError(f"--llm-rank: expected strict or weighted, got {value!r}")
    return value


def parse_rank_latency(value: str) -> str:
    """``--llm-rank-latency``: one of the ranking latencies."""
    from pytest_llmbench.analysis.ranking import LATENCIES

    if value not in LATENCIES:
        raise OptionError(
            f"--llm-rank-latency: expected one of {', '.join(LATENCIES)}, got {value!r}"
        )
    return value


def parse_dist_mode(value: str, name: str = "--llm-dist") -> str:
    """``--llm-dist``: ``model`` or ``xdist``."""
    mode = value.strip().casefold()
    if mode not in DIST_MODES:
        raise OptionError(f"{name}: expected model or xdist, got {value!r}")
    return mode


def parse_threshold(value: str, name: str = "--llm-generic-threshold") -> float:
    """``--llm-generic-threshold``: a similarity in (0, 1], or ``off``."""
    if value.strip().casefold() == "off":
        return GENERIC_OFF
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0 < number <= 1:
        raise OptionError(
            f"{name}: expected a similarity above 0 and at most 1, or 'off', got {value!r}"
        )
    return number


def parse_percent(value: str) -> float:
    """``--llm-max-slowdown``: a percentage (``20`` or ``20%``) as a fraction."""
    text = value.strip().removesuffix("%")
    try:
        number = float(text)
    except ValueError:
        raise OptionError(
            f"--llm-max-slowdown: expected a percentage such as 20 or 20%, got {value!r}"
        ) from None
    if not math.isfinite(number) or number < 0:
        raise OptionError(f"--llm-max-slowdown: expected 0 or more, got {value!r}")
    return number / 100.0


def parse_min_lead(value: str, name: str = "--llm-min-lead") -> float:
    """``--llm-min-lead``: a percentage below 100 (``5`` or ``5%``) as a fraction."""
    text = value.strip().removesuffix("%")
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not 0 <= number < 100:
        raise OptionError(
            f"{name}: expected a percentage from 0 to below 100 such as 5 or 5%, got {value!r}"
        )
    return number / 100.0


def _number(value: str, name: str, suffix: str, example: str) -> float:
    """``value`` as a number, ``suffix`` (a unit) allowed after it."""
    try:
        return float(value.strip().removesuffix(suffix).strip())
    except ValueError:
        raise OptionError(f"{name}: expected {example}, got {value!r}") from None


def parse_max_ms(value: str, name: str = "--llm-max-p95") -> float:
    """A positive number of milliseconds (``1500`` or ``1500ms``)."""
    number = _number(value, name, "ms", "milliseconds such as 1500")
    if not number > 0 or math.isinf(number):
        raise OptionError(f"{name}: expected a positive number of milliseconds, got {value!r}")
    return number


def parse_rate(value: str, name: str = "--llm-max-error-rate") -> float:
    """A percentage from 0 to 100 (``5`` or ``5%``) as a fraction."""
    number = _number(value, name, "%", "a percentage such as 5 or 5%")
    if not 0 <= number <= 100:
        raise OptionError(f"{name}: expected a percentage from 0 to 100, got {value!r}")
    return number / 100.0


def parse_registry_file(value: str) -> str:
    """``--llm-update-registry PATH``: a YAML file, not a test path swallowed by the option."""
    if value != DEFAULT_REGISTRY_PATH and not value.endswith((".yaml", ".yml")):
        raise OptionError(
            f"--llm-update-registry: {value!r} is not a .yaml file; write "
            "--llm-update-registry=PATH.yaml, or put the option after the test paths"
        )
    return value


def parse_run_ref(value: str) -> str:
    """``--llm-resume RUN``: a run id, not a test path swallowed by the option."""
    if value != "latest" and ("/" in value or os.sep in value or os.path.exists(value)):
        raise OptionError(
            f"--llm-resume: {value!r} is a path, not a run id; write --llm-resume=RUN, "
            "or put the option after the test paths"
        )
    return value


def parse_prefetch(value: str, name: str = "--llm-prefetch") -> str:
    if value not in ("on", "off"):
        raise OptionError(f"{name} must be on or off, got {value!r}")
    return value


def _bounded(value: str, name: str, kind: type[float], low: float, high: float) -> float:
    """A number of ``kind`` from ``low`` to ``high`` (an ini value)."""
    text = value.strip()
    try:
        number = kind(text)
    except ValueError:
        raise OptionError(f"{name}: expected a number, got {text!r}") from None
    if not math.isfinite(number):
        raise OptionError(f"{name}: expected a finite number, got {text!r}")
    if number < low:
        raise OptionError(f"{name}: expected at least {low:g}, got {text!r}")
    if number > high:
        raise OptionError(f"{name}: expected at most {high:g}, got {text!r}")
    return number


def parse_retries(value: str, name: str = "llm_retries") -> int:
    """A whole number of retries from 0 to :data:`MAX_RETRIES`."""
    return int(_bounded(value, name, int, 0, MAX_RETRIES))


def parse_backoff(value: str, name: str = "llm_retry_backoff") -> float:
    """Seconds from 0 to 60."""
    return _bounded(value, name, float, 0.0, 60.0)


def parse_provider_options(lines: Iterable[str]) -> dict[str, dict[str, str]]:
    """``llm_provider_options`` lines: ``NAME key=value [key=value ...]``."""
    found: dict[str, dict[str, str]] = {}
    for line in lines:
        if not line.strip() or line.strip().startswith("#"):
            continue
        name, *pairs = line.split()
        own = found.setdefault(name, {})
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise OptionError(
                    f"llm_provider_options: expected NAME key=value ..., got {line.strip()!r}"
                )
            own[key] = value
    return found


def parse_gguf(entries: Iterable[str], root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """``NAME=PATH [chat_format=FORMAT]`` entries -> (name -> path, name -> chat format);
    a relative path is the rootdir's (``root``), and must be a file."""
    gguf: dict[str, str] = {}
    chat_formats: dict[str, str] = {}
    for entry in entries:
        name, _, path = entry.partition("=")
        path, chat_format = _gguf_chat_format(path.strip())
        if not name.strip() or not path or chat_format == "":
            raise OptionError(f"--llm-gguf expects NAME=PATH [chat_format=FORMAT], got {entry!r}")
        target = Path(path).expanduser()
        target = target if target.is_absolute() else root / target
        if not target.is_file():
            raise OptionError(
                f"--llm-gguf {name.strip()}: no GGUF file at {target}; give the path of a "
                ".gguf file (relative to the rootdir)"
            )
        gguf[name.strip()] = str(target)
        if chat_format is not None:
            chat_formats[name.strip()] = chat_format
    return gguf, chat_formats


def _gguf_chat_format(value: str) -> tuple[str, str | None]:
    """``PATH [chat_format=FORMAT]`` -> (path, format or ``None``; ``""`` when left empty)."""
    path, _, last = value.rpartition(" ")
    if path.strip() and last.startswith("chat_format="):
        return path.strip(), last.removeprefix("chat_format=")
    return value, None


def flatten(lists: Iterable[Iterable[str]]) -> tuple[str, ...]:
    return tuple(name for names in lists for name in names)


def path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None
