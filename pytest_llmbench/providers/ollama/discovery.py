"""Which models the Ollama hosts serve: host addresses, ``/api/tags``, ``/api/show``.

:func:`list_hosts` asks every host for its models (and each model's capabilities and
context length) through a ``call`` the provider gives it, over whichever transport
serves the host; :func:`outcome` turns what it found into one :class:`Discovery`:
the models, or one problem that names every host and says what to do.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_llmbench.providers.base import DEFAULT_OLLAMA_HOST, Discovery, ModelInfo
from pytest_llmbench.providers.ollama.errors import NOT_REACHABLE_HINT, discovery_failure

__all__ = ["DEFAULT_HOST", "Found", "list_hosts", "normalize_host", "outcome"]

DEFAULT_HOST = DEFAULT_OLLAMA_HOST
_DEFAULT_PORT = 11434

Call = Callable[[str, str, "Mapping[str, Any] | None", str], Any]
"""``call(host, path, payload, kind)``: ``GET`` (no payload) or ``POST`` ``path`` on
``host``, the reply read as the ``ollama`` reply type ``kind``; failures in the
transport taxonomy."""


def normalize_host(host: str) -> str:
    """Turn a host as users write it into the base URL the client will use.

    Follows the rules of ``OLLAMA_HOST``: no scheme means ``http://`` and, when no
    port is given either, port 11434; an explicit scheme without a port keeps the
    scheme's default port.  ``localhost:11434`` -> ``http://localhost:11434``.
    """
    text = host.strip()
    if not text:
        return DEFAULT_HOST
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "http", text
        default_port: int | None = _DEFAULT_PORT
    else:
        scheme = scheme.lower()
        default_port = None
    split = urllib.parse.urlsplit(f"{scheme}://{rest}")
    hostname = split.hostname or "127.0.0.1"
    if ":" in hostname:  # IPv6 literal
        hostname = f"[{hostname}]"
    try:
        port = split.port
    except ValueError:
        port = None
    if port is None:
        port = default_port
    netloc = hostname if port is None else f"{hostname}:{port}"
    path = split.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


@dataclass
class Found:
    """What the hosts said: each model once (from the first host that lists it), every
    host of each model, and the hosts that answered, could not be reached or broke."""

    models: dict[str, ModelInfo] = field(default_factory=dict)
    presence: dict[str, list[str]] = field(default_factory=dict)
    reachable: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)


def list_hosts(
    hosts: tuple[str, ...], call: Call, *, timeout_s: float, answered: Callable[[str], None]
) -> Found:
    """Ask each host for its models; ``answered(host)`` for each host that lists them.

    A host whose ``/api/show`` fails to connect or times out is not asked again for
    the rest of its models (they are listed without capabilities).
    """
    found = Found()
    for host in hosts:
        try:
            listing = call(host, "/api/tags", None, "ListResponse")
        except Exception as exc:
            failure = discovery_failure(exc, "/api/tags", timeout_s)
            if failure is None:
                raise
            gone, reason = failure
            (found.unreachable if gone else found.broken).append(f"{host} ({reason})")
            continue
        found.reachable.append(host)
        answered(host)
        show_ok = True
        for entry in listing.models:
            name = entry.model
            if not name:
                continue
            found.presence.setdefault(name, [])
            if host not in found.presence[name]:
                found.presence[name].append(host)
            if name in found.models:
                continue
            info = model_info(host, entry)
            if show_ok:
                extra, show_ok = _show_details(call, host, name, timeout_s)
                if extra:
                    info = dataclasses.replace(info, details={**info.details, **extra})
            found.models[name] = info
    return found


def outcome(found: Found, chosen: Mapping[str, str]) -> Discovery:
    """The discovery: the models sorted by name, each on its ``chosen`` host (the others
    that have it under ``details["hosts"]``), or the problem why there are none."""
    models = dict(found.models)
    for name, info in models.items():
        hosts = found.presence[name]
        if len(hosts) > 1 or chosen[name] != info.details.get("host"):
            details = {**info.details, "host": chosen[name], "hosts": list(hosts)}
            models[name] = dataclasses.replace(info, details=details)
    if models:
        # By name: the same order on every run and every xdist worker, whatever the
        # servers' own order (most recently modified first) says.
        ordered = tuple(sorted(models.values(), key=lambda m: m.name))
        notes = [f"Ollama is not reachable at {where}" for where in found.unreachable]
        notes += [f"Ollama could not list its models at {where}" for where in found.broken]
        return Discovery(models=ordered, notes=tuple(notes))
    if found.reachable:
        where = ", ".join(found.reachable)
        return Discovery(
            problem=f"Ollama at {where} has no models",
            hint="pull one, e.g. `ollama pull qwen2.5:7b`",
        )
    parts: list[str] = []
    if found.unreachable:
        parts.append("Ollama is not reachable at " + ", ".join(found.unreachable))
    if found.broken:
        parts.append("Ollama could not list its models at " + ", ".join(found.broken))
    hint = NOT_REACHABLE_HINT if found.unreachable else "check the Ollama server's log"
    return Discovery(problem="; ".join(parts), hint=hint)


def model_info(host: str, entry: Any) -> ModelInfo:
    """One model of a ``/api/tags`` listing (an ``ollama.ListResponse.Model``)."""
    d = entry.details
    details: dict[str, Any] = {
        "host": host,
        "parameter_size": (d.parameter_size or None) if d else None,
        "quantization_level": (d.quantization_level or None) if d else None,
        "families": list(d.families) if d and d.families else None,
        "format": (d.format or None) if d else None,
        "digest": entry.digest or None,
    }
    return ModelInfo(
        provider="ollama",
        name=entry.model or "",
        size_bytes=int(entry.size) if entry.size is not None else None,
        family=(d.family or None) if d else None,
        details=details,
    )


def _show_details(
    call: Call, host: str, name: str, timeout_s: float
) -> tuple[dict[str, Any], bool]:
    """Capabilities and context length from ``/api/show``.

    Returns the extra details and whether it is worth asking this host again
    (not after a connection problem or a timeout).
    """
    try:
        shown = call(host, "/api/show", {"model": name}, "ShowResponse")
    except Exception as exc:
        failure = discovery_failure(exc, "/api/show", timeout_s)
        if failure is None:
            raise
        gone, _ = failure
        return {}, not gone
    extra: dict[str, Any] = {}
    if shown.capabilities is not None:
        extra["capabilities"] = list(shown.capabilities)
    info = shown.modelinfo or {}
    arch = info.get("general.architecture")
    context = info.get(f"{arch}.context_length") if isinstance(arch, str) else None
    if isinstance(context, int):
        extra["context_length"] = context
    return extra, True
