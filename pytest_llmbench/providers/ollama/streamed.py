"""Ollama's streamed chat (``stream: true``): NDJSON lines read as they arrive.

Every line is a JSON object; those before the last carry a piece of the answer
(``message.content``), the last (``done: true``) carries the timing fields and counts
(``load_duration``, ``prompt_eval_duration``, ``eval_duration`` in nanoseconds,
``prompt_eval_count``, ``eval_count``).  A line ``{"error": ...}`` is the server's
failure after the stream began.  :class:`ChatStream` keeps the pieces, times them
(:class:`~pytest_llmbench.providers.streaming.TokenTimer`) and gives the whole reply
as the non-streamed ``/api/chat`` reply would read (:meth:`ChatStream.reply`), so the
answer and the timing fields are what they were without streaming.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from pytest_llmbench.providers.ollama.replies import parse
from pytest_llmbench.providers.streaming import TokenTimer
from pytest_llmbench.providers.transport import HttpStatus
from pytest_llmbench.providers.wire import ReadFailed

__all__ = ["ChatStream", "Streamed"]

_FINAL = (
    "model",
    "created_at",
    "done",
    "done_reason",
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


@dataclass(frozen=True)
class _Line:
    """A line that is JSON but not an object."""

    data: Any


@dataclass(frozen=True)
class Streamed:
    """A streamed chat's reply (as ``ChatResponse`` reads) and the timing of its chunks."""

    reply: Any
    timer: TokenTimer


class ChatStream:
    """One streamed ``/api/chat`` reply, fed line by line (lean client) or chunk by chunk
    (the ``ollama`` client's iterator)."""

    __slots__ = ("_last", "_parts", "timer")

    def __init__(self) -> None:
        self.timer = TokenTimer()
        self._parts: list[str] = []
        self._last: Any = None

    def line(self, raw: bytes) -> None:
        """One NDJSON line from the lean client."""
        if not raw.strip():
            return
        data = json.loads(raw)
        if type(data) is not dict:  # read as the reply, it fails as the reply would
            self._last = _Line(data)
            return
        message = data.get("message")
        content = message.get("content") if type(message) is dict else None
        if type(content) is str and content:
            self.timer.token()
            self._parts.append(content)
        if "error" in data:
            error = data["error"]
            raise HttpStatus(500, error if isinstance(error, str) else str(error))
        if data.get("done"):
            self._last = data

    def chunk(self, chunk: Any) -> None:
        """One ``ChatResponse`` of the ``ollama`` client's stream."""
        message = getattr(chunk, "message", None)
        content = getattr(message, "content", None)
        if isinstance(content, str) and content:
            self.timer.token()
            self._parts.append(content)
        if getattr(chunk, "done", False):
            self._last = chunk

    def reply(self) -> Streamed:
        """The whole reply: the last line's fields with the whole answer as its message."""
        last = self._last
        if last is None:
            raise ReadFailed("reading the answer failed: the stream ended before its last line")
        text = "".join(self._parts)
        if isinstance(last, _Line):
            return Streamed(parse("ChatResponse", last.data), self.timer)
        if isinstance(last, dict):
            merged = dict(last)
            message = last.get("message")
            if type(message) is dict:
                merged["message"] = {**message, "content": text}
            elif "message" not in last and text:
                merged["message"] = {"role": "assistant", "content": text}
            return Streamed(parse("ChatResponse", merged), self.timer)
        fields = {name: getattr(last, name, None) for name in _FINAL}
        return Streamed(
            SimpleNamespace(**fields, message=SimpleNamespace(content=text)), self.timer
        )
