"""Which Ollama host serves each model, and which hosts went away: failover's memory.

A host that answered before and now refuses connections (or cuts a request and then
refuses one) has gone away.  A model that other hosts serve too moves to one of them
that answers; a model served only there fails at once, with the gone host's message.
Before each later request a gone host is probed with a short TCP connect: a restarted
server is used again as soon as it listens.
"""

from __future__ import annotations

import socket
import threading
import urllib.parse
from collections.abc import Mapping, Sequence

from pytest_llmbench.providers.base import ProviderError
from pytest_llmbench.providers.transport import one_line

__all__ = ["HostGone", "HostStates"]


class HostGone(ProviderError):
    """The host went away during a request (the provider fails over or gives up)."""


class HostStates:
    """Per model its host and every host that has it; the hosts that answered and the
    ones that went away (thread-safe).  ``probe_timeout_s`` bounds a probe's connect."""

    def __init__(self, probe_timeout_s: float) -> None:
        self.probe_timeout_s = probe_timeout_s
        self.discovered = False
        """Whether discovery assigned the models their hosts."""
        self._lock = threading.Lock()
        self._model_hosts: dict[str, str] = {}
        self._answered: set[str] = set()
        """Hosts that answered at least once (so a refused connection means "went away")."""
        self._gone: dict[str, str] = {}
        """Hosts that went away -> the message their models' requests fail with
        (when no other host serves the model); probed again before each request."""
        self._presence: dict[str, tuple[str, ...]] = {}
        """Model -> every host that has it (discovery): where it can fail over to."""

    def host_of(self, model: str) -> str | None:
        """The host serving ``model`` (``None``: not known)."""
        return self._model_hosts.get(model)

    def assign(
        self, chosen: Mapping[str, str], presence: Mapping[str, Sequence[str]]
    ) -> dict[str, str]:
        """Discovery's choice: each model's host (one already serving it keeps it) and
        every host that has it; the hosts the models are served by now."""
        with self._lock:
            for name, host in chosen.items():
                self._model_hosts.setdefault(name, host)
                self._presence[name] = tuple(presence[name])
            self.discovered = True
            return {name: self._model_hosts[name] for name in chosen}

    def answered(self, host: str) -> None:
        """``host`` answered: it is known to serve, and back if it had gone."""
        with self._lock:
            self._answered.add(host)
            self._gone.pop(host, None)

    def has_answered(self, host: str) -> bool:
        with self._lock:
            return host in self._answered

    def live_host(self, model: str, host: str, failover: bool) -> tuple[str, bool]:
        """The host to send ``model``'s next request to (its own: ``host``), and whether
        a gone one was probed.

        ``host``, unless that went away and still refuses connections: then (with
        ``failover``) another host of the model that answers; none: the gone message.
        """
        with self._lock:
            message = self._gone.get(host)
        if message is None:
            return host, False
        if self.unreachable(host) is None:
            return host, True
        other = self.move(model, host) if failover else None
        if other is None:
            raise ProviderError(message)
        return other, True

    def move(self, model: str, gone: str) -> str | None:
        """Serve ``model`` from another of its hosts that answers (``None``: none does)."""
        with self._lock:
            candidates = [h for h in self._presence.get(model, ()) if h != gone]
            down = set(self._gone)
        for host in candidates:
            if host not in down or self.unreachable(host) is None:
                with self._lock:
                    self._model_hosts[model] = host
                return host
        return None

    def unreachable(self, host: str) -> str | None:
        """Why ``host`` accepts no TCP connection now (within ``probe_timeout_s``), or ``None``.

        A host that went away and accepts one is back (a restarted server): used again.
        """
        split = urllib.parse.urlsplit(host)
        default = 443 if split.scheme == "https" else 80
        try:
            address = (split.hostname or "127.0.0.1", split.port or default)
            with socket.create_connection(address, timeout=self.probe_timeout_s):
                pass
        except TimeoutError:
            return "connection timed out"
        except ConnectionRefusedError:
            return "connection refused"
        except (OSError, ValueError) as exc:
            return f"cannot connect: {one_line(exc, 80)}"
        with self._lock:
            self._gone.pop(host, None)
        return None

    def went_away(self, host: str, reason: str) -> HostGone:
        """Mark ``host`` gone: its models move elsewhere or fail at once with this message."""
        message = (
            f"ollama at {host} stopped answering ({reason}); "
            "requests to it fail at once until it accepts connections again"
        )
        with self._lock:
            return HostGone(self._gone.setdefault(host, message))
