"""The HTTP clients of one Ollama provider: per host, the lean client
(:mod:`~pytest_llmbench.providers.wire`) where it can serve the host, and the ``ollama``
client per purpose, made on first use.

The ``ollama`` client (with httpx and pydantic, about 0.2 s of CPU to import) is
imported only when a host needs it.  :meth:`Clients.close` closes every connection (they
reopen on demand), and so does garbage collection or interpreter exit.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import TYPE_CHECKING

from pytest_llmbench.providers.base import BuiltinSettings
from pytest_llmbench.providers.wire import ChatWire, usable_for

if TYPE_CHECKING:
    import ollama

__all__ = ["Clients"]


class Clients:
    """The clients for every host of one provider (thread-safe).

    Generation uses ``settings.timeout_s`` (connecting: at most
    ``settings.discovery_timeout_s``); discovery uses ``settings.discovery_timeout_s``.
    """

    def __init__(self, settings: BuiltinSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], ollama.Client] = {}
        self._wires: dict[str, ChatWire | None] = {}
        """Per host, the lean client (``None``: the ollama client does it)."""
        self._finalizer = weakref.finalize(self, _close_clients, self._clients, self._wires)

    def close(self) -> None:
        """Close the HTTP connections (they reopen on demand)."""
        with self._lock:
            _close_clients(self._clients, self._wires)

    def client(self, host: str, purpose: str) -> ollama.Client:
        """The cached client for one host; ``purpose`` is ``"generate"`` or ``"discover"``."""
        import httpx
        import ollama

        key = (host, purpose)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                discovery = float(self.settings.discovery_timeout_s)
                if purpose == "discover":
                    timeout = httpx.Timeout(discovery)
                else:
                    total = float(self.settings.timeout_s)
                    timeout = httpx.Timeout(total, connect=min(total, discovery))
                # Plain http needs no TLS: verify=False spares httpx loading the CA
                # bundle (~60 ms per client) for a context it would never use.
                plain = host.startswith("http://")
                client = ollama.Client(host=host, timeout=timeout, verify=not plain)
                self._clients[key] = client
            return client

    def wire(self, host: str) -> ChatWire | None:
        """The lean client for ``host`` (``None``: use the ollama client)."""
        with self._lock:
            if host not in self._wires:
                usable = self.settings.lean_http and usable_for(host)
                self._wires[host] = (
                    ChatWire(
                        host,
                        timeout_s=float(self.settings.timeout_s),
                        connect_timeout_s=float(self.settings.discovery_timeout_s),
                    )
                    if usable
                    else None
                )
            return self._wires[host]

    def drop_wire(self, host: str, wire: ChatWire) -> None:
        """``host`` redirects: the ollama client (which follows redirects) takes it over."""
        with self._lock:
            self._wires[host] = None
        wire.close()

    def abandon(self, host: str, client: ollama.Client) -> None:
        """Close a client whose call passed its deadline (a new one serves the next call)."""
        with self._lock:
            if self._clients.get((host, "generate")) is client:
                del self._clients[(host, "generate")]
        with contextlib.suppress(Exception):  # closing must never raise
            client.close()  # type: ignore[no-untyped-call]


def _close_clients(
    clients: dict[tuple[str, str], ollama.Client], wires: dict[str, ChatWire | None]
) -> None:
    for client in list(clients.values()):
        with contextlib.suppress(Exception):  # closing must never raise
            client.close()  # type: ignore[no-untyped-call]
    clients.clear()
    for wire in list(wires.values()):
        if wire is not None:
            wire.close()
