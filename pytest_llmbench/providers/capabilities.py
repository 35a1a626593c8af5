"""What a server accepts for structured output, remembered between runs.

An OpenAI-compatible endpoint is asked for structured output with ``response_format:
json_schema`` first; some reject it (llama.cpp's server answers HTTP 500) and take
``json_object`` with the schema, some take no response format at all.  Finding out
costs a rejected request per model, every run.  Once found, the choice is kept here,
in the state directory (``.llmbench/structured-output.json`` under the rootdir), and
the next run starts with it: the rejected probe happens once per server and model,
not once per run.

The key is the server's identity, not its URL alone: the base URL, the model, the
``Server`` header of its ``GET /models`` reply and the model's ``owned_by`` there.
A different server behind the same URL (another program, or one that names itself
differently after an upgrade) is asked again.  A server that changed without
changing either (rare) keeps the remembered, more modest mode; deleting the file
makes every server be asked again.

Pure standard library; no pytest.  Writes are atomic (a temporary file replaced),
and a file that cannot be read or written is ignored: remembering is an optimisation,
never a reason for a run to fail.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmbench.safety.atomic import write_atomic

__all__ = ["FILE_NAME", "ServerIdentity", "StructuredMemory"]

FILE_NAME = "structured-output.json"
_VERSION = 1


@dataclass(frozen=True)
class ServerIdentity:
    """Who answers for one model at one endpoint."""

    base_url: str
    model: str
    server: str = ""
    """The ``Server`` header of the ``GET /models`` reply (empty when there is none)."""
    owned_by: str = ""
    """The model's ``owned_by`` in the ``GET /models`` listing (empty when not listed)."""

    @property
    def key(self) -> str:
        return f"{self.base_url} {self.model} server={self.server!r} owned_by={self.owned_by!r}"


class StructuredMemory:
    """The remembered structured-output mode per server identity, in ``state_dir``.

    ``state_dir=None`` remembers nothing (every lookup misses, nothing is written).
    The file is read once, on the first lookup.
    """

    def __init__(self, state_dir: Path | None) -> None:
        self.path = state_dir / FILE_NAME if state_dir is not None else None
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] | None = None

    def recall(self, identity: ServerIdentity) -> str | None:
        """The mode remembered for this server and model, if any."""
        with self._lock:
            entry = self._load().get(identity.key)
        mode = entry.get("mode") if entry else None
        return mode if isinstance(mode, str) else None

    def knows(self, base_url: str, model: str) -> bool:
        """Whether anything is remembered for this URL and model (whatever the server)."""
        with self._lock:
            entries = self._load()
        return any(
            e.get("base_url") == base_url and e.get("model") == model for e in entries.values()
        )

    def remember(self, identity: ServerIdentity, mode: str, reason: str) -> None:
        """Keep ``mode`` for this server and model; ``reason`` says why (the rejection)."""
        if self.path is None:
            return
        entry = {
            "base_url": identity.base_url,
            "model": identity.model,
            "server": identity.server,
            "owned_by": identity.owned_by,
            "mode": mode,
            "reason": reason,
            "recorded": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        with self._lock:
            # Another process (an xdist worker, a parallel run) may have added its own.
            merged = {**self._load(), **self._read(), identity.key: entry}
            self._entries = merged
            self._write(merged)

    # -- the file ------------------------------------------------------------------

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return {}
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        entries = doc.get("servers") if isinstance(doc, dict) else None
        if not isinstance(entries, dict):
            return {}
        return {str(k): v for k, v in entries.items() if isinstance(v, dict)}

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        assert self.path is not None
        doc = {"version": _VERSION, "servers": entries}
        text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, [text])
