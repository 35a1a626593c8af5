"""A streamed chat completion (``stream: true``, Server-Sent Events), read as it arrives.

Each event is a line ``data: {chunk}``; a chunk's ``choices[0].delta.content`` is a
piece of the answer, the last chunk (asked for with ``stream_options:
{include_usage: true}``) has no choices and the ``usage``; ``data: [DONE]`` ends the
stream.  llama.cpp's server adds ``timings`` to its last chunk (``prompt_ms``: reading
the prompt, ``predicted_ms``: generating), which are kept as the prefill and
generation times.  A ``data: {"error": ...}`` event is the server's failure after the
stream began.  A server that ignores ``stream`` and answers with one JSON completion
is read as that completion.

:class:`CompletionStream` keeps the pieces, times them
(:class:`~pytest_llmbench.providers.streaming.TokenTimer`) and gives the whole answer
as a non-streamed completion reads (:meth:`CompletionStream.completion`), so the
answer and its scoring are what they were without streaming.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_llmbench.providers.openai.replies import get
from pytest_llmbench.providers.streaming import TokenTimer
from pytest_llmbench.providers.transport import HttpStatus

__all__ = ["STREAM_OPTIONS", "CompletionStream", "server_timings"]

STREAM_OPTIONS = {"include_usage": True}
"""What a streamed request asks for besides ``stream``: the usage in the last chunk."""


class CompletionStream:
    """One streamed chat completion, fed line by line (lean client) or chunk by chunk
    (the ``openai`` client's stream)."""

    __slots__ = ("_parts", "_plain", "_sse", "timer", "timings", "usage")

    def __init__(self) -> None:
        self.timer = TokenTimer()
        self._parts: list[str] = []
        self._plain: list[bytes] = []
        self._sse = False
        self.usage: Any = None
        self.timings: Any = None

    def line(self, raw: bytes) -> None:
        """One line of the reply's body from the lean client."""
        if not raw.startswith(b"data:"):
            if not self._sse and raw.strip():
                self._plain.append(raw)  # not an event stream: a plain JSON reply
            return
        self._sse = True
        data = raw[5:].strip()
        if not data or data == b"[DONE]":
            return
        self.chunk(json.loads(data))

    def chunk(self, chunk: Any) -> None:
        """One chunk (a JSON object, or the ``openai`` client's ``ChatCompletionChunk``)."""
        choices = get(chunk, "choices")
        if choices:
            delta = get(choices[0], "delta")
            content = get(delta, "content") if delta is not None else None
            if isinstance(content, str) and content:
                self.timer.token()
                self._parts.append(content)
        error = get(chunk, "error")
        if error is not None:
            message = get(error, "message")
            raise HttpStatus(500, str(message if message is not None else error))
        usage = get(chunk, "usage")
        if usage is not None:
            self.usage = usage
        timings = get(chunk, "timings")
        if timings is not None:
            self.timings = timings

    def completion(self) -> Any:
        """The whole answer as a non-streamed chat completion (what :func:`.replies.answer`
        reads), with the ``timings`` the server reported."""
        if not self._sse and self._plain:
            return json.loads(b"\n".join(self._plain))
        return {
            "choices": [{"message": {"role": "assistant", "content": "".join(self._parts)}}],
            "usage": self.usage if self.usage is not None else self._counted_usage(),
            "timings": self.timings,
        }

    def _counted_usage(self) -> dict[str, int] | None:
        """The usage of a stream whose server sent none (llama-cpp-python's server ignores
        ``include_usage``): llama.cpp's ``timings`` counts when it sent them, else the
        answer's tokens counted as its content chunks (one token a chunk on llama.cpp-based
        servers); the prompt's tokens stay unknown then."""
        if self.timings is not None and get(self.timings, "predicted_n") is not None:
            usage = {"completion_tokens": int(get(self.timings, "predicted_n"))}
            if get(self.timings, "prompt_n") is not None:
                usage["prompt_tokens"] = int(get(self.timings, "prompt_n"))
            return usage
        return {"completion_tokens": len(self._parts)} if self._parts else None


def server_timings(completion: Any) -> tuple[float | None, float | None]:
    """(prefill ms, generation ms) from llama.cpp's ``timings`` (``prompt_ms``,
    ``predicted_ms``); ``None`` for what the server did not report."""
    timings = get(completion, "timings")
    if timings is None:
        return None, None
    return _ms(get(timings, "prompt_ms")), _ms(get(timings, "predicted_ms"))


def _ms(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None
