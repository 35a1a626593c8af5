"""Which response format an OpenAI-compatible endpoint takes, per model, remembered.

With ``structured=auto`` (the default) a JSON Schema is sent as ``response_format:
json_schema``; an endpoint that rejects it gets ``json_object`` with the schema, then
no response format (the prompt alone).  The choice is kept per model for the rest of
the run and, with a state directory, between runs, keyed by the server's identity
(:mod:`pytest_llmbench.providers.capabilities`), so the rejected request is made once
per server and model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pytest_llmbench.providers.capabilities import ServerIdentity, StructuredMemory
from pytest_llmbench.providers.endpoints import Endpoint
from pytest_llmbench.providers.openai.discovery import identities
from pytest_llmbench.providers.openai.replies import Listing
from pytest_llmbench.providers.transport import HttpStatus

__all__ = ["DOWNGRADE", "StructuredChoice"]

DOWNGRADE = {"json_schema": "json_object", "json_object": "prompt"}
"""After a mode was rejected: the next one to try."""
_MODES = ("json_schema", "json_object", "prompt")


class StructuredChoice:
    """The response format to send per model of one endpoint (thread-safe).

    ``list_models`` makes the ``GET /models`` that tells who serves a model, when
    discovery has not (its failures: the transport taxonomy's).
    """

    def __init__(
        self, endpoint: Endpoint, memory: StructuredMemory, list_models: Callable[[], Listing]
    ) -> None:
        self.endpoint = endpoint
        self._memory = memory
        self._list_models = list_models
        self._lock = threading.Lock()
        self._chosen: dict[str, str] = {}
        self._identities: dict[str, ServerIdentity] | None = None
        """Per model, the server's identity from ``GET /models`` (``None``: not read yet)."""
        self._server = ""
        """The ``Server`` header of the endpoint's ``GET /models`` reply."""

    def learn(self, found: Listing) -> None:
        """Who serves each model, from a ``GET /models`` reply."""
        self._identities = identities(found, self.endpoint.base_url)
        self._server = found.server

    def identity(self, model: str) -> ServerIdentity | None:
        """Who serves ``model`` here; ``GET /models`` once if discovery did not run.

        ``None`` when the listing cannot be had (the endpoint is down: the request
        itself will say so).  A model the listing lacks is known by the header alone.
        """
        if self._identities is None:
            try:
                self.learn(self._list_models())
            except HttpStatus as exc:
                server = exc.headers.get("server") or ""
                self._identities, self._server = {}, server
            except Exception:  # unreachable, malformed: nothing to go by
                return None
        identity = self._identities.get(model) if self._identities is not None else None
        return identity or ServerIdentity(self.endpoint.base_url, model, self._server)

    def mode(self, model: str) -> str:
        """What to send for a request with a schema: the current choice."""
        mode = self.endpoint.structured
        if mode == "none":
            return "prompt"
        if mode != "auto":
            return mode
        with self._lock:
            current = self._chosen.get(model)
        if current is not None:
            return current
        remembered = None
        if self._memory.knows(self.endpoint.base_url, model):
            identity = self.identity(model)
            remembered = self._memory.recall(identity) if identity is not None else None
        with self._lock:
            return self._chosen.setdefault(model, remembered or "json_schema")

    def downgrade(self, model: str, tried: str, why: str) -> str | None:
        """After ``tried`` was rejected: the next mode to try (``auto`` only), else ``None``.

        The new choice is remembered for this server (see the module doc)."""
        if self.endpoint.structured != "auto":
            return None
        following = DOWNGRADE.get(tried)
        if following is None:
            return None
        with self._lock:
            current = self._chosen.get(model, "json_schema")
            changed = _MODES.index(current) < _MODES.index(following)
            if changed:
                self._chosen[model] = following
            chosen = self._chosen[model]
        if changed and self._memory.path is not None:
            identity = self.identity(model)
            if identity is not None:
                self._memory.remember(identity, chosen, f"{tried} rejected: {why}")
        return chosen
